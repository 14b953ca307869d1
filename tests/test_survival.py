"""No message a client can send stops a server: focused regressions, run against every server in `SERVERS`.

The seeded fuzz of the same property is in `test_fuzz.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hostpipes import PipeServer, pipe_server
from server_cases import SERVERS, ServerCase, server_ids

LONE = "\ud800"  # a lone surrogate: legal as a JSON escape, not encodable as UTF-8


@pytest.fixture(scope="module", params=SERVERS, ids=server_ids())
def case(request: pytest.FixtureRequest) -> ServerCase:
    return request.param


@pytest.fixture(scope="module")
def survivor(case: ServerCase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipeServer]:
    """One server per entry of SERVERS that takes every message of this module in turn."""
    folder = tmp_path_factory.mktemp(case.name)
    (folder / "note.txt").write_text("hello\n")
    with pipe_server(case.command(folder), env=case.env(folder)) as running:
        running.initialize()
        yield running
        assert running.close() == 0, running.stderr


def assert_serving_valid_json_lines(server: PipeServer) -> None:
    """The server still answers, and everything it wrote is strict UTF-8 JSON, one message a line."""
    assert "tools" in server.result("tools/list")
    for line in bytes(server.raw_stdout).splitlines():
        message = json.loads(line.decode("utf-8"), parse_constant=_no_constants)
        assert message["jsonrpc"] == "2.0"


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def test_a_lone_surrogate_in_a_request_id_comes_back_as_the_same_id(survivor):
    for request_id in (LONE, f"a{LONE}b\udfff", "\udc80"):
        survivor.send({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
        assert survivor.response(request_id) == {"jsonrpc": "2.0", "id": request_id, "result": {}}
    assert_serving_valid_json_lines(survivor)


def test_a_lone_surrogate_in_a_method_name_is_method_not_found(survivor):
    survivor.send({"jsonrpc": "2.0", "id": "m1", "method": f"tools/{LONE}"})
    assert survivor.response("m1")["error"]["code"] == -32601
    assert_serving_valid_json_lines(survivor)


def test_a_lone_surrogate_the_reply_echoes_is_written_as_an_escape(survivor, case):
    method, params = case.echo(f"x{LONE}y")
    reply = survivor.request(method, params)
    assert f"x{LONE}y" in json.dumps(reply, ensure_ascii=False)
    assert b"x\\ud800y" in survivor.raw_stdout
    assert_serving_valid_json_lines(survivor)


def test_a_lone_surrogate_in_the_id_of_an_invalid_request_is_echoed(survivor):
    survivor.send({"jsonrpc": "1.0", "id": f"bad{LONE}", "method": "ping"})
    reply = survivor.response(f"bad{LONE}")
    assert reply["error"]["code"] == -32600
    assert_serving_valid_json_lines(survivor)


def test_a_lone_surrogate_in_argument_names_and_values(survivor):
    name = survivor.result("tools/list")["tools"][0]["name"]
    survivor.send(
        {"jsonrpc": "2.0", "id": "args", "method": "tools/call", "params": {"name": name, "arguments": {LONE: LONE}}}
    )
    assert "result" in survivor.response("args")
    assert_serving_valid_json_lines(survivor)


@pytest.mark.parametrize("request_id", [[1], {"a": 1}, None, 1.5, True, LONE, 10**100])
def test_a_cancellation_naming_any_request_id_is_ignored(survivor, request_id):
    survivor.notify("notifications/cancelled", {"requestId": request_id})
    assert_serving_valid_json_lines(survivor)
