"""Remote mode: every server over Streamable HTTP, driven by the official SDK client and by raw HTTP.

Each test starts a real `deskmcp <server> --transport http --port 0` subprocess. Covered: the bearer token
(none, wrong, right; never logged; required off loopback), Host/Origin checks, both protocol eras,
notifications over SSE, two clients whose subscriptions, roots and cancellations stay apart, the limits,
resuming a broken stream, replies written as on stdio, and SIGTERM with a request in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from deskmcp.servers.filesystem.uris import path_to_uri
from deskmcp.shared.http import SessionEvents, approximate_size
from hostpipes import (
    ECHO_SERVER,
    HANDSHAKE,
    MODERN,
    deskmcp_command,
    host_env,
    inotify_watches,
    modern_meta,
    next_event,
)
from httphost import (
    EVENT_STREAM,
    TOKEN,
    RawSession,
    bearer,
    http_server,
    initialize_request,
    sdk_http_client,
    sse_messages,
    wait_until,
)
from mcp import MCPError
from mcp.client.subscriptions import ResourceUpdated
from mcp.server.streamable_http import EventMessage
from mcp.shared.exceptions import MCPDeprecationWarning

WITH_TOKEN = {"DESKMCP_HTTP_TOKEN": TOKEN}
QUIET = 0.6  # seconds without a notification that count as "none came" (a change arrives in well under that)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = (tmp_path / "root").resolve()
    for relative, text in {"a/one.txt": "one", "b/two.txt": "two", "top.txt": "top"}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


class Inbox:
    """Notifications a client's message handler received."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    async def handler(self, message: Any) -> None:
        if not isinstance(message, Exception):
            self.items.append(message)

    def of(self, kind: type) -> list[Any]:
        return [item for item in self.items if isinstance(item, kind)]


def roots_of(folders: list[Path]) -> Any:
    """A client's roots callback answering with whatever `folders` holds when asked."""

    async def list_roots(_context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=path_to_uri(folder)) for folder in folders])

    return list_roots


# --- authentication and DNS-rebinding protection --------------------------------------------------------


@pytest.mark.anyio
async def test_a_token_is_required_compared_whole_and_never_logged() -> None:
    env = {**WITH_TOKEN, "DESKMCP_LOG_LEVEL": "debug"}
    with http_server(deskmcp_command("calculator"), env) as server:
        async with httpx2.AsyncClient() as http:
            for headers in (
                {},
                bearer("wrong-token-0123456789"),
                bearer(TOKEN[:-1]),
                bearer(TOKEN + "x"),
                {"Authorization": TOKEN},
            ):
                response = await http.post(server.url, json=initialize_request(), headers={**EVENT_STREAM, **headers})
                assert response.status_code == 401, (headers, response.text)
                assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        with pytest.raises(Exception):  # noqa: B017 - the SDK client wraps the 401 in its own error types
            async with sdk_http_client(server.url, token="wrong-token-0123456789", mode="legacy") as client:
                await client.list_tools()
        async with sdk_http_client(server.url, mode="legacy") as client:
            assert "5" in (await client.call_tool("calculate", {"expression": "2+3"})).content[0].text
        assert server.stop() == 0
    assert TOKEN not in server.stderr


def test_listening_beyond_loopback_needs_a_token_of_some_length(tmp_path: Path) -> None:
    def start(env: dict[str, str]) -> Any:
        command = deskmcp_command("calculator", "--transport", "http", "--host", "0.0.0.0", "--port", "0")
        return subprocess.run(command, capture_output=True, text=True, env=host_env(env), timeout=60)

    refused = start({})
    assert refused.returncode == 1 and "listens beyond this machine" in refused.stderr
    assert "DESKMCP_HTTP_TOKEN" in refused.stderr and "DESKMCP_HTTP_TOKEN_FILE" in refused.stderr
    short = start({"DESKMCP_HTTP_TOKEN": "short"})
    assert short.returncode == 1 and "DESKMCP_HTTP_TOKEN: the value is not valid" in short.stderr
    assert "short" not in short.stderr.replace("DESKMCP_HTTP_TOKEN: the value", "")
    (tmp_path / "token").write_text(TOKEN + "\n")
    token_file = {"DESKMCP_HTTP_TOKEN_FILE": str(tmp_path / "token")}
    with http_server(deskmcp_command("calculator", "--host", "0.0.0.0"), token_file) as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        with httpx2.Client() as http:
            local = f"http://127.0.0.1:{port}/mcp"
            assert http.post(local, json=initialize_request(), headers=EVENT_STREAM).status_code == 401
            answer = http.post(local, json=initialize_request(), headers={**EVENT_STREAM, **bearer()})
            assert answer.status_code == 200, answer.text


@pytest.mark.anyio
async def test_foreign_host_and_origin_get_403_before_authentication() -> None:
    env = {
        **WITH_TOKEN,
        "DESKMCP_HTTP_ALLOWED_HOSTS": "mcp.example.com",
        "DESKMCP_HTTP_ALLOWED_ORIGINS": "https://app.example.com",
    }
    with http_server(deskmcp_command("calculator"), env) as server:
        async with httpx2.AsyncClient() as http:

            async def post(headers: dict[str, str]) -> Any:
                return await http.post(server.url, json=initialize_request(), headers={**EVENT_STREAM, **headers})

            for refused, header in (
                ({"Host": "evil.example"}, "Host"),
                ({"Host": "localhost.evil.example:80"}, "Host"),
                ({"Origin": "http://evil.example"}, "Origin"),
                ({"Origin": "http://localhost.evil.example"}, "Origin"),
                ({"Origin": "null"}, "Origin"),
            ):
                for token in (None, TOKEN):  # refused whether or not the token is right: 403, never 401
                    response = await post({**refused, **bearer(token)})
                    assert response.status_code == 403, (refused, response.text)
                    assert f"this {header} header is not allowed" in response.text
            for allowed in (
                {"Origin": "http://localhost:5173"},
                {"Origin": "http://127.0.0.1:6274"},
                {"Host": "mcp.example.com"},
                {"Origin": "https://app.example.com"},
                {"Host": "[::1]:8080"},
            ):
                response = await post({**allowed, **bearer()})
                assert response.status_code == 200, (allowed, response.text)


# --- both eras, notifications ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_both_eras_serve_the_same_tools_and_errors() -> None:
    with http_server(deskmcp_command("calculator"), WITH_TOKEN) as server:
        listed = {}
        for mode, protocol in (("legacy", HANDSHAKE), ("auto", MODERN)):
            async with sdk_http_client(server.url, mode=mode) as client:
                assert client.session.protocol_version == protocol
                listed[mode] = sorted(tool.name for tool in (await client.list_tools()).tools)
                result = await client.call_tool("calculate", {"expression": "6*7"})
                assert not result.is_error and "42" in result.content[0].text
                refused = await client.call_tool("calculate", {"expression": "2 +"})
                assert refused.is_error
                with pytest.raises(MCPError) as unknown:
                    await client.read_resource("calc://nothing")
                assert unknown.value.error.code in (-32601, -32602)  # no resources: not found, never code 0
        assert listed["legacy"] == listed["auto"] == ["calculate", "statistics"]


@pytest.mark.anyio
async def test_a_subscribed_file_change_arrives_over_http_in_both_eras(tree: Path) -> None:
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    uri = path_to_uri(tree / "a" / "one.txt")
    with http_server(deskmcp_command("filesystem", str(tree)), WITH_TOKEN) as server:
        inbox = Inbox()
        async with sdk_http_client(server.url, mode="legacy", message_handler=inbox.handler) as client:
            await client.subscribe_resource(uri)
            (tree / "a" / "one.txt").write_text("changed over there")
            await wait_until(lambda: inbox.of(types.ResourceUpdatedNotification), what="resources/updated over SSE")
            assert inbox.of(types.ResourceUpdatedNotification)[0].params.uri == uri
            assert (await client.read_resource(uri)).contents[0].text == "changed over there"
        async with sdk_http_client(server.url) as client:
            async with client.listen(resource_subscriptions=[uri]) as events:
                (tree / "a" / "one.txt").write_text("and again")
                assert (await next_event(events, ResourceUpdated, timeout=10)).uri == uri
            # a listen stream still open when the server stops ends with its final result, not a hang
            async with client.listen(resource_subscriptions=[uri]):
                started = time.monotonic()
                assert server.stop() == 0
        assert time.monotonic() - started < 8


# --- many clients: state per session --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.skipif(sys.platform != "linux", reason="watch counts are read from Linux /proc")
async def test_two_clients_keep_their_own_roots_and_subscriptions(tree: Path) -> None:
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    one, two = tree / "a" / "one.txt", tree / "b" / "two.txt"
    roots_a, roots_b = [tree / "a"], [tree / "b"]
    with http_server(deskmcp_command("filesystem", str(tree)), WITH_TOKEN) as server:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with (
            sdk_http_client(
                server.url, mode="legacy", message_handler=inbox_a.handler, list_roots_callback=roots_of(roots_a)
            ) as a,
            sdk_http_client(
                server.url, mode="legacy", message_handler=inbox_b.handler, list_roots_callback=roots_of(roots_b)
            ) as b,
        ):
            assert [r.name for r in (await a.list_resources()).resources] == ["one.txt"]
            assert [r.name for r in (await b.list_resources()).resources] == ["two.txt"]
            listed = await a.call_tool("list_allowed_directories", {})
            assert str(tree / "a") in listed.content[0].text and str(tree / "b") not in listed.content[0].text
            assert (await b.call_tool("read_text_file", {"path": str(one)})).is_error  # outside b's roots
            with pytest.raises(MCPError, match="not under an allowed directory"):
                await a.subscribe_resource(path_to_uri(two))
            await a.subscribe_resource(path_to_uri(one))
            await b.subscribe_resource(path_to_uri(two))
            assert inotify_watches(server.process.pid) > 0
            one.write_text("for a")
            await wait_until(lambda: inbox_a.of(types.ResourceUpdatedNotification), what="a's notification")
            two.write_text("for b")
            await wait_until(lambda: inbox_b.of(types.ResourceUpdatedNotification), what="b's notification")
            await anyio.sleep(QUIET)
            assert [n.params.uri for n in inbox_a.of(types.ResourceUpdatedNotification)] == [path_to_uri(one)]
            assert [n.params.uri for n in inbox_b.of(types.ResourceUpdatedNotification)] == [path_to_uri(two)]
            roots_a.append(tree / "b")  # a's roots change: a sees more, b sees what it saw
            await a.session.send_roots_list_changed()
            assert [r.name for r in (await a.list_resources()).resources] == ["one.txt", "two.txt"]
            assert [r.name for r in (await b.list_resources()).resources] == ["two.txt"]
            assert not inbox_b.of(types.ResourceListChangedNotification)  # a's roots are no news to b
        # both sessions ended (the SDK client deletes its session): their subscriptions and watches are gone
        await wait_until(lambda: inotify_watches(server.process.pid) == 0, what="watches released")
        async with sdk_http_client(server.url, mode="legacy") as c:  # a client without roots: the configured ones
            names = sorted(r.name for r in (await c.list_resources()).resources)
            assert names == ["a/one.txt", "b/two.txt", "top.txt"]


@pytest.mark.anyio
async def test_a_cancellation_reaches_only_the_session_it_came_from() -> None:
    """Both sessions run request id 7; session A cancels its 7, session B's 7 still finishes."""
    with http_server(ECHO_SERVER, WITH_TOKEN) as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            a, b = await RawSession(http, server.url).open(), await RawSession(http, server.url).open()
            answers: dict[str, Any] = {}

            async def call(name: str, session: RawSession) -> None:
                response = await session.request(7, "tools/call", {"name": "slow", "arguments": {"seconds": 2.0}})
                answers[name] = [m for m in sse_messages(response.text) if m.get("id") == 7]

            async with anyio.create_task_group() as group:
                group.start_soon(call, "a", a)
                group.start_soon(call, "b", b)
                await anyio.sleep(0.8)  # both calls are running
                await a.notify("notifications/cancelled", {"requestId": 7, "reason": "changed my mind"})
        assert answers["b"][0]["result"]["content"][0]["text"] == "slept 2.0"
        assert answers["a"][0]["error"]["code"] == -32800  # how the 2025 wire ends a cancelled request's stream


# --- limits ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_body_size_session_count_and_idle_sessions_are_limited_with_clear_refusals() -> None:
    env = {
        **WITH_TOKEN,
        "DESKMCP_HTTP_MAX_BODY": "2KiB",
        "DESKMCP_HTTP_MAX_SESSIONS": "1",
        "DESKMCP_HTTP_SESSION_IDLE_TIMEOUT": "1",
    }
    with http_server(deskmcp_command("calculator"), env) as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            first = await RawSession(http, server.url).open()
            big = await first.request(
                2, "tools/call", {"name": "calculate", "arguments": {"expression": "1+" * 1500 + "1"}}
            )
            assert big.status_code == 413 and "too large" in big.text
            second = await http.post(server.url, json=initialize_request(), headers={**EVENT_STREAM, **bearer()})
            assert second.status_code == 503 and "Too many open sessions" in second.text
            assert (await first.result(3, "ping"))["result"] == {}
            await anyio.sleep(2.5)  # idle past the timeout: the session is closed and its id unknown
            expired = await first.request(4, "ping")
            assert expired.status_code == 404 and "Session not found" in expired.text
            again = await RawSession(http, server.url).open()  # the room it held is free again
            assert (await again.result(5, "ping"))["result"] == {}


# --- what goes over the wire ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_broken_stream_resumes_from_the_last_event_it_saw(tree: Path) -> None:
    with http_server(deskmcp_command("filesystem", str(tree)), WITH_TOKEN) as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            session = await RawSession(http, server.url).open()
            response = await session.request(
                2, "tools/call", {"name": "read_text_file", "arguments": {"path": "top.txt"}}
            )
            events = [line[4:].strip() for line in response.text.splitlines() if line.startswith("id:")]
            assert len(events) == 2, response.text  # the priming event, then the answer
            headers = {**session.headers, "Accept": "text/event-stream", "Last-Event-ID": events[0]}
            async with http.stream("GET", server.url, headers=headers) as replay:
                assert replay.status_code == 200
                async for line in replay.aiter_lines():  # the answer again, as if the first stream had broken
                    if line.startswith("data:") and line[5:].strip():
                        assert json.loads(line[5:])["result"]["content"][0]["text"] == "top"
                        break


@pytest.mark.anyio
@pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8 needs a POSIX file system")
async def test_replies_are_valid_json_whatever_they_hold(tmp_path: Path) -> None:
    """A name that is not UTF-8 reaches a reply as a lone surrogate; the SDK's HTTP writer fails on it, ours
    writes the same escape as stdio. In the 2026 era a lone surrogate id round-trips; in the handshake era the
    SDK refuses it as a parse error (400), and the server serves on."""
    (tmp_path / os.fsdecode(b"\xff.txt")).write_text("x")
    with http_server(deskmcp_command("filesystem", str(tmp_path)), WITH_TOKEN) as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            session = await RawSession(http, server.url).open()
            listing = await session.result(2, "tools/call", {"name": "list_directory", "arguments": {"path": "."}})
            assert listing["result"]["content"][0]["text"] == "[FILE] \udcff.txt"
            lone = '{"jsonrpc":"2.0","id":"a\\ud800","method":"ping"}'
            parse_error = await http.post(server.url, content=lone, headers=session.headers)
            assert parse_error.status_code == 400 and json.loads(parse_error.text)["error"]["code"] == -32700
            routing = {
                "MCP-Protocol-Version": MODERN,
                "Mcp-Method": "tools/call",
                "Mcp-Name": "list_allowed_directories",
            }
            modern = {**EVENT_STREAM, **bearer(), **routing}
            params = json.dumps({"_meta": modern_meta(), "name": "list_allowed_directories", "arguments": {}})
            request = '{"jsonrpc":"2.0","id":"b\\ud800","method":"tools/call","params":' + params + "}"
            answer = await http.post(server.url, content=request, headers=modern)
            assert answer.status_code == 200 and json.loads(answer.text)["id"] == "b\ud800"
            assert (await session.result(3, "ping"))["result"] == {}


HOSTILE_BODIES = [
    b"{",
    b"\xff\xfe",
    b"[]",
    b"[" * 100_000,
    b'[{"jsonrpc":"2.0","id":5,"method":"ping"}]',
    b'{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}',
    b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
    b'{"jsonrpc":"2.0","id":3,"method":"\\ud800"}',
    b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}',
    b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"\\ud800","arguments":{}}}',
    b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"crash","arguments":{}}}',
    b'{"jsonrpc":"2.0","id":7,"method":"prompts/list"}',
    b'{"jsonrpc":"2.0","id":8,"result":{}}',
    b'{"jsonrpc":"2.0","id":9,"error":{"code":0,"message":"x"}}',
    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"\\ud800"}}',
    b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
]


@pytest.mark.anyio
async def test_no_body_or_header_a_client_sends_breaks_a_reply_or_the_server() -> None:
    """Malformed and hostile bodies, in a session, with a session id that is not ASCII, and with a bogus protocol
    version: every answer is a refusal or valid JSON-RPC without error code 0, and the session serves on."""
    with http_server(ECHO_SERVER, WITH_TOKEN) as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            session = await RawSession(http, server.url).open()
            variants = [
                session.headers,
                {**session.headers, "Mcp-Session-Id": b"\xff\xfe\x80"},
                {**session.headers, "MCP-Protocol-Version": "garbage"},
            ]
            for body in HOSTILE_BODIES:
                for headers in variants:
                    response = await http.post(server.url, content=body, headers=headers)
                    assert response.status_code < 500, (body[:60], headers, response.text[:200])
                    messages = sse_messages(response.text)
                    if response.headers["content-type"].startswith("text/event-stream"):
                        assert messages, (body[:60], response.text[:200])  # a request's stream ends with its answer
                    for message in messages:
                        assert message.get("error", {}).get("code") != 0, (body[:60], message)
            assert (await session.result(99, "ping"))["result"] == {}
        assert server.stop() == 0


# --- shutdown -------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sigterm_lets_the_request_in_flight_finish_and_closes_the_streams() -> None:
    with http_server(ECHO_SERVER, WITH_TOKEN) as server:
        async with sdk_http_client(server.url, mode="legacy") as client:
            await client.list_tools()  # the session is open, and with it the client's notification stream
            result: list[Any] = []

            async def slow_call() -> None:
                result.append(await client.call_tool("slow", {"seconds": 2.0}))

            async with anyio.create_task_group() as group:
                group.start_soon(slow_call)
                await anyio.sleep(0.6)  # the call is running
                started = time.monotonic()
                server.process.send_signal(15)
            assert result[0].content[0].text == "slept 2.0"
            assert await anyio.to_thread.run_sync(server.process.wait, 20) == 0
            assert time.monotonic() - started < 6  # not held up by the open notification stream
        with pytest.raises(httpx2.ConnectError):
            httpx2.post(server.url, json=initialize_request(), headers={**EVENT_STREAM, **bearer()})


# --- the resume buffer ----------------------------------------------------------------------------------


def note(text: str) -> types.JSONRPCNotification:
    return types.JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": text})


@pytest.mark.anyio
async def test_the_resume_buffer_replays_one_stream_after_an_event_and_stays_within_its_budget() -> None:
    events = SessionEvents(budget=1000)
    first = await events.store_event("_GET_stream", None)  # a priming event
    kept = [await events.store_event(stream, note(text)) for stream, text in (("_GET_stream", "a"), ("7", "b"))]
    await events.store_event("_GET_stream", note("c"))
    replayed: list[EventMessage] = []

    async def resend(event: EventMessage) -> None:
        replayed.append(event)

    assert await events.replay_events_after(first, resend) == "_GET_stream"
    assert [m.message.params["data"] for m in replayed] == ["a", "c"]  # not stream 7's "b"
    assert replayed[0].event_id == kept[0]
    assert await events.replay_events_after("not-an-event", resend) is None
    await events.store_event("_GET_stream", note("x" * 2000))  # larger than the budget: not kept
    for index in range(20):
        await events.store_event("_GET_stream", note(f"{index:0>100}"))
    assert approximate_size(note("x" * 2000)) > 2000
    assert sum(approximate_size(m) for _, m, _ in events._events.values()) <= 1000
    assert await events.replay_events_after(first, resend) is None  # the oldest events are gone


@pytest.mark.anyio
async def test_error_replies_count_against_the_resume_budget() -> None:
    """An error repeats what the request named (a URI of megabytes, say): counted at its size, it cannot make the
    buffer hold more than its budget."""
    events = SessionEvents(budget=10_000)
    uri = "file:///" + "x" * 3000
    error = types.JSONRPCError(
        jsonrpc="2.0", id=1, error=types.ErrorData(code=-32002, message=f"no resource {uri!r}", data={"uri": uri})
    )
    assert approximate_size(error) > 6000
    for _ in range(10):
        await events.store_event("1", error)
    assert len(events._events) == 1 and events._bytes <= 10_000
