"""The shared stdio loop through a real subprocess: framing, hostile input, end of input, signals, errors."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time

import pytest
from hostpipes import ECHO_SERVER, PipeServer, pipe_server

ADD = {"name": "add", "arguments": {"a": 2, "b": 3}}


def assert_still_serving(server: PipeServer) -> None:
    """After whatever came before, a valid request is still answered correctly."""
    result = server.result("tools/call", ADD)
    assert result["structuredContent"] == {"total": 5}


@pytest.fixture
def server():
    with pipe_server(ECHO_SERVER) as running:
        running.initialize()
        yield running


@pytest.fixture(scope="module")
def survivor():
    """One server that takes every hostile input of this module in turn, and must keep serving throughout."""
    with pipe_server(ECHO_SERVER) as running:
        running.initialize()
        yield running
        assert running.close() == 0


def error_of(server: PipeServer, raw: bytes) -> dict:
    server.send_raw(raw)
    reply = server.next_message()
    assert "error" in reply, reply
    return reply


# --- framing and hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"this is not json\n", -32700, "Parse error"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/li\n', -32700, "Parse error"),  # truncated
        (b"[]\n", -32600, "array"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n', -32600, "batches"),
        (b"42\n", -32600, "expected a JSON object"),
        (b'"just a string"\n', -32600, "expected a JSON object"),
        (b"\xff\xfe\xfa broken utf-8\n", -32700, "UTF-8"),
        (b"[" * 100_000 + b"\n", -32700, "Parse error"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1' + b"0" * 5000 + b"}}\n", -32700, "digits"),
    ],
)
def test_malformed_lines_get_an_error_with_null_id_and_the_server_keeps_serving(survivor, raw, code, words):
    reply = error_of(survivor, raw)
    assert reply["id"] is None
    assert reply["error"]["code"] == code
    assert words in reply["error"]["message"]
    assert_still_serving(survivor)


@pytest.mark.parametrize(
    ("message", "echoed_id", "words"),
    [
        ({"id": 7, "method": "tools/list"}, 7, '"jsonrpc"'),
        ({"jsonrpc": "1.0", "id": 8, "method": "tools/list"}, 8, '"jsonrpc"'),
        ({"jsonrpc": "2.0", "id": True, "method": "tools/list"}, None, '"id"'),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}, None, '"id"'),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}, None, '"id"'),
        ({"jsonrpc": "2.0", "id": 9, "method": 123}, 9, '"method"'),
        ({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": [1, 2]}, 10, '"params"'),
        ({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": "x"}, 11, '"params"'),
        ({"jsonrpc": "2.0", "id": 12}, 12, "needs"),
        ({"jsonrpc": "2.0", "id": 13, "result": {}, "error": {}}, 13, "needs"),
    ],
)
def test_json_that_is_not_json_rpc_gets_invalid_request_with_the_id_echoed(survivor, message, echoed_id, words):
    reply = error_of(survivor, json.dumps(message).encode() + b"\n")
    assert reply["error"]["code"] == -32600
    assert reply["id"] == echoed_id
    assert words in reply["error"]["message"]
    assert_still_serving(survivor)


def test_unknown_method_is_method_not_found(survivor):
    reply = survivor.request("no/such/method")
    assert reply["error"]["code"] == -32601
    assert_still_serving(survivor)


def test_a_notification_sent_with_an_id_is_answered_not_dropped(survivor):
    reply = survivor.request("notifications/initialized")
    assert reply["error"]["code"] == -32601
    assert_still_serving(survivor)


def test_wrong_params_shape_for_a_known_method_is_invalid_params(survivor):
    reply = survivor.request("tools/call", {"name": 5})
    assert reply["error"]["code"] == -32602
    assert_still_serving(survivor)


def test_blank_lines_and_crlf_are_accepted(survivor):
    survivor.send_raw(b"\n\r\n   \n")
    survivor.send_raw(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}).encode() + b"\r\n")
    assert "tools" in survivor.response(99)["result"]


def test_random_bytes_each_get_an_error_and_the_server_survives(survivor):
    rng = random.Random(1234)
    lines = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b"") for _ in range(200)]
    lines = [line for line in lines if line.strip()]
    survivor.send_raw(b"\n".join(lines) + b"\n")
    for _ in lines:
        reply = survivor.next_message()
        assert reply["error"]["code"] in (-32700, -32600)
    assert_still_serving(survivor)


def test_a_line_over_the_limit_is_refused_and_skipped_in_bounded_memory():
    limit = 1024 * 1024
    with pipe_server(ECHO_SERVER, env={"DESKMCP_MAX_LINE_BYTES": str(limit)}) as server:
        server.initialize()
        huge = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"x": "a" * (40 * limit)}})
        server.send_raw(huge.encode() + b"\n")
        reply = server.next_message()
        assert reply["error"]["code"] == -32600
        assert "limit" in reply["error"]["message"]
        assert_still_serving(server)
        if sys.platform.startswith("linux"):
            status = open(f"/proc/{server.process.pid}/status").read()
            peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
            assert peak_kb < 150 * 1024, f"a 40 MiB line raised peak RSS to {peak_kb} kB"


def test_stray_print_in_a_handler_cannot_corrupt_the_wire(server):
    result = server.call_tool("chatter", {})
    assert result["content"][0]["text"] == "ok"
    assert_still_serving(server)
    assert server.close() == 0
    for line in server.raw_stdout.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"
    assert "stray output from a handler" in server.stderr


# --- errors -----------------------------------------------------------------------------------------------


def test_a_tool_that_crashes_gives_an_is_error_result_and_a_traceback_on_stderr(server):
    result = server.call_tool("crash", {})
    assert result["isError"] is True
    assert "Internal error" in result["content"][0]["text"]
    assert_still_serving(server)
    server.close()
    assert "Traceback" in server.stderr


def test_a_handler_that_crashes_gives_internal_error_never_code_0(survivor):
    reply = survivor.request("prompts/list")
    assert reply["error"]["code"] == -32603
    assert "prompts/list" in reply["error"]["message"]
    assert_still_serving(survivor)


def test_wrong_argument_types_name_the_field_and_the_expectation(survivor):
    result = survivor.call_tool("add", {"a": "two"})
    assert result["isError"] is True
    assert "a: Input should be a valid integer (got string)" in result["content"][0]["text"]
    missing = survivor.call_tool("add", {})
    assert "a: required argument is missing" in missing["content"][0]["text"]
    extra = survivor.call_tool("echo", {"text": "x", "shout": True})
    assert extra == {"content": [{"type": "text", "text": "x"}], "isError": False}  # ignored, as zod does
    near_miss = survivor.call_tool("echo", {"text": "x", "MODE": "upper"})
    assert "MODE: unknown argument; did you mean 'mode'?" in near_miss["content"][0]["text"]
    wrong_choice = survivor.call_tool("echo", {"text": "x", "mode": "loud"})
    assert "mode:" in wrong_choice["content"][0]["text"] and "'plain' or 'upper'" in wrong_choice["content"][0]["text"]


def test_unknown_tool_is_a_protocol_error_naming_the_tools(survivor):
    reply = survivor.request("tools/call", {"name": "nope", "arguments": {}})
    assert reply["error"]["code"] == -32602
    assert "add" in reply["error"]["message"]


def test_an_expected_tool_failure_is_an_is_error_result_with_its_message(survivor):
    result = survivor.call_tool("fail", {"reason": "disk full"})
    assert result == {"content": [{"type": "text", "text": "failed as asked: disk full"}], "isError": True}


# --- end of input, signals, cancellation, progress --------------------------------------------------------


def test_a_thousand_pipelined_requests_then_eof_get_a_thousand_responses():
    with pipe_server(ECHO_SERVER) as server:
        server.initialize()
        lines = [
            json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {**ADD}}).encode()
            for i in range(1, 1001)
        ]
        server.send_raw(b"\n".join(lines) + b"\n")
        assert server.close() == 0
        ids = set()
        for line in server.raw_stdout.splitlines()[1:]:
            reply = json.loads(line)
            assert reply["result"]["structuredContent"] == {"total": 5}
            ids.add(reply["id"])
        assert ids == set(range(1, 1001))


def test_requests_in_flight_at_eof_are_finished_within_the_grace_period():
    with pipe_server(ECHO_SERVER) as server:
        server.initialize()
        slow = server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 0.6}})
        started = time.monotonic()
        assert server.close() == 0
        assert time.monotonic() - started >= 0.5
        assert server.response(slow)["result"]["content"][0]["text"] == "slept 0.6"


def test_the_grace_period_bounds_the_wait_at_eof():
    with pipe_server(ECHO_SERVER, env={"DESKMCP_SHUTDOWN_GRACE": "0.5"}) as server:
        server.initialize()
        slow = server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
        started = time.monotonic()
        assert server.close() == 0
        assert time.monotonic() - started < 5
        assert server.response(slow)["error"]["code"] == -32000  # the SDK's "Connection closed"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_reading_finishes_in_flight_work_and_exits_0(signum):
    with pipe_server(ECHO_SERVER) as server:
        server.initialize()
        slow = server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 0.5}})
        time.sleep(0.2)
        server.process.send_signal(signum)
        assert server.response(slow)["result"]["content"][0]["text"] == "slept 0.5"
        assert server.process.wait(10) == 0


def test_cancellation_stops_the_handler_and_no_response_is_sent(server):
    slow = server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 20}})
    spin = server.send_request("tools/call", {"name": "spin", "arguments": {"seconds": 20}})
    time.sleep(0.2)
    server.notify("notifications/cancelled", {"requestId": slow, "reason": "user pressed stop"})
    server.notify("notifications/cancelled", {"requestId": spin})
    assert_still_serving(server)
    started = time.monotonic()
    assert server.close() == 0  # nothing left in flight, so no grace wait
    assert time.monotonic() - started < 5
    answered = {json.loads(line).get("id") for line in server.raw_stdout.splitlines()}
    assert slow not in answered and spin not in answered


def test_a_cancellation_naming_the_id_as_a_string_counts_as_answered_at_eof(server):
    """The SDK cancels request 5 for requestId "5" (it correlates ids as the TypeScript SDK does); the wait at
    end of input must not then wait the whole grace period for an answer that never comes."""
    slow = server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 20}})
    time.sleep(0.2)
    server.notify("notifications/cancelled", {"requestId": str(slow)})
    assert_still_serving(server)
    started = time.monotonic()
    assert server.close() == 0
    assert time.monotonic() - started < 5
    assert slow not in {json.loads(line).get("id") for line in server.raw_stdout.splitlines()}


def test_progress_is_reported_when_the_client_sends_a_token(survivor):
    survivor.notifications.clear()
    params = {"name": "slow", "arguments": {"seconds": 0.2}, "_meta": {"progressToken": "tok-1"}}
    reply = survivor.request("tools/call", params)
    assert reply["result"]["content"][0]["text"] == "slept 0.2"
    progress = [n for n in survivor.notifications if n["method"] == "notifications/progress"]
    assert len(progress) == 10
    assert {n["params"]["progressToken"] for n in progress} == {"tok-1"}
    assert progress[-1]["params"]["progress"] == 9 and progress[-1]["params"]["total"] == 10


def test_no_progress_without_a_token(survivor):
    survivor.notifications.clear()
    survivor.call_tool("slow", {"seconds": 0.1})
    assert not [n for n in survivor.notifications if n["method"] == "notifications/progress"]


def test_the_modern_era_is_served_on_the_same_binary():
    with pipe_server(ECHO_SERVER) as server:
        discover = server.result("server/discover", {}, modern=True)
        assert "2026-07-28" in discover["supportedVersions"]
        result = server.call_tool("add", {"a": 40, "b": 2}, modern=True)
        assert result["structuredContent"] == {"total": 42}
        bad = server.request("nope", {}, modern=True)
        assert bad["error"]["code"] == -32601
        server.send_raw(b"{oops\n")
        assert server.next_message()["error"]["code"] == -32700


def test_no_reply_ever_uses_code_0(server):
    for method in ("prompts/list", "nope", "tools/call"):
        server.request(method, {"name": "crash", "arguments": {}} if method == "tools/call" else None)
    server.close()
    for line in server.raw_stdout.splitlines():
        assert json.loads(line).get("error", {}).get("code") != 0


# --- secrets ----------------------------------------------------------------------------------------------

SECRET = "sk-planted-7f3a9c21e8b04d56"


@pytest.mark.parametrize("via_file", [False, True], ids=["variable", "file"])
def test_a_planted_secret_never_appears_in_any_byte_the_server_writes(tmp_path, via_file):
    if via_file:
        secret_file = tmp_path / "token"
        secret_file.write_text(SECRET + "\n")
        env = {"DESKMCP_ECHO_TOKEN_FILE": str(secret_file)}
    else:
        env = {"DESKMCP_ECHO_TOKEN": SECRET}
    with pipe_server(ECHO_SERVER, env={**env, "DESKMCP_LOG_LEVEL": "debug"}) as server:
        server.initialize()
        assert "token configured: True; repr: Secret('***')" in server.call_tool("whoami", {})["content"][0]["text"]
        server.call_tool("crash", {})
        server.request("prompts/list")
        server.call_tool("add", {"a": SECRET})  # validation errors name the type received, never the value
        server.close()
    written = bytes(server.raw_stdout) + server.stderr.encode()
    assert b"Traceback" in written and b"boom with ***" in written  # logged, with the secret masked
    assert SECRET.encode() not in written


def test_check_config_masks_secrets_and_exits(tmp_path):
    import subprocess

    from hostpipes import host_env

    completed = subprocess.run(
        [*ECHO_SERVER, "--check-config"],
        env=host_env({"DESKMCP_ECHO_TOKEN": SECRET, "DESKMCP_ECHO_COUNT": "7"}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0
    assert "DESKMCP_ECHO_TOKEN = ***" in completed.stdout
    assert "DESKMCP_ECHO_COUNT = 7" in completed.stdout
    assert SECRET not in completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DESKMCP_ECHO_COUNT": "many"}, "DESKMCP_ECHO_COUNT"),
        ({"DESKMCP_ECHO_TOKEN": "a", "DESKMCP_ECHO_TOKEN_FILE": "/x"}, "both DESKMCP_ECHO_TOKEN and"),
        ({"DESKMCP_ECHO_TOKEN_FILE": "/nonexistent/token"}, "cannot be read"),
        ({"DESKMCP_LOG_LEVEL": "chatty"}, "DESKMCP_LOG_LEVEL must be one of"),
        ({"DESKMCP_MAX_LINE_BYTES": "-5"}, "DESKMCP_MAX_LINE_BYTES must be a positive number"),
    ],
)
def test_bad_settings_stop_the_server_before_it_serves(env, words):
    with pipe_server(ECHO_SERVER, env=env) as server:
        assert server.process.wait(30) == 1
        assert server.raw_stdout == b""
        assert words in server.stderr


def test_the_server_exits_0_promptly_at_eof_when_idle(server):
    started = time.monotonic()
    assert server.close() == 0
    assert time.monotonic() - started < 3


@pytest.mark.skipif(not hasattr(os, "getppid"), reason="POSIX")
def test_logs_go_to_stderr_at_the_configured_level():
    with pipe_server(ECHO_SERVER, env={"DESKMCP_LOG_LEVEL": "info"}) as server:
        server.initialize()
        server.send_request("tools/call", {"name": "slow", "arguments": {"seconds": 0.3}})
        server.close()
    assert "answering 1 request(s) still in flight" in server.stderr
    for line in server.raw_stdout.splitlines():
        json.loads(line)
