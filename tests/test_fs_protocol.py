"""The filesystem server's tools as a desktop host meets them: `deskmcp filesystem DIR` over pipes, in both
protocol eras, with client roots, --read-only, bad input, progress and cancellation, and the Inspector CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import anyio
import mcp.types as types
import pytest
from deskmcp.servers.filesystem import roots as roots_module
from deskmcp.servers.filesystem.roots import ClientRoots
from deskmcp.servers.filesystem.sandbox import Sandbox
from hostpipes import (
    HANDSHAKE,
    PipeServer,
    deskmcp_command,
    inspector_json,
    pipe_server,
    run_inspector,
    sdk_client,
    sdk_session,
)

TOOLS = {
    "read_text_file",
    "read_file",
    "read_media_file",
    "read_multiple_files",
    "write_file",
    "edit_file",
    "create_directory",
    "list_directory",
    "list_directory_with_sizes",
    "directory_tree",
    "move_file",
    "search_files",
    "search_file_contents",
    "get_file_info",
    "list_allowed_directories",
}
WRITE_TOOLS = {"write_file", "edit_file", "create_directory", "move_file"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.txt").write_text("beta\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    return root


def text_of(result: dict[str, Any]) -> str:
    return result["content"][0]["text"]


def call_ok(server: PipeServer, name: str, arguments: dict[str, Any], *, modern: bool = False) -> str:
    result = server.call_tool(name, arguments, modern=modern)
    assert not result.get("isError"), result
    return text_of(result)


def call_error(server: PipeServer, name: str, arguments: dict[str, Any], *, modern: bool = False) -> str:
    result = server.call_tool(name, arguments, modern=modern)
    assert result.get("isError") is True, result
    return text_of(result)


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "2026"])
def test_tools_in_both_eras_and_bad_input_keeps_serving(root: Path, modern: bool) -> None:
    with pipe_server(deskmcp_command("filesystem", str(root))) as server:
        if not modern:
            server.initialize()
        listed = server.result("tools/list", modern=modern)["tools"]
        assert {tool["name"] for tool in listed} == TOOLS
        annotations = {tool["name"]: tool["annotations"] for tool in listed}
        assert annotations["read_text_file"]["readOnlyHint"] is True
        assert annotations["write_file"] == {
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": True,
            "openWorldHint": False,
        }
        edit_schema = next(t for t in listed if t["name"] == "edit_file")["inputSchema"]
        assert set(edit_schema["properties"]) == {"path", "edits", "dryRun"}

        assert call_ok(server, "read_text_file", {"path": str(root / "a.txt")}, modern=modern) == "alpha\n"
        call_ok(server, "write_file", {"path": "sub/c.txt", "content": "gamma"}, modern=modern)
        assert (root / "sub" / "c.txt").read_text() == "gamma"

        problems = {
            "path: Input should be a valid string (got integer)": ("read_text_file", {"path": 5}),
            "edits: required argument is missing": ("edit_file", {"path": "a.txt"}),
            "outside the allowed directories": ("read_text_file", {"path": str(root.parent / "outside.txt")}),
            "leads above the allowed directory": ("write_file", {"path": "../outside.txt", "content": "x"}),
            "NUL byte": ("read_text_file", {"path": "a.txt\u0000.png"}),
            "does not exist": ("get_file_info", {"path": "nope"}),
            "did you mean 'maxResults'": ("list_directory", {"path": ".", "max_results": 5}),
        }
        for expected, (name, arguments) in problems.items():
            assert expected in call_error(server, name, arguments, modern=modern)
        assert (root.parent / "outside.txt").read_text() == "secret\n"

        unknown = server.request("tools/call", {"name": "delete_everything", "arguments": {}}, modern=modern)
        assert unknown["error"]["code"] == -32602 and "read_text_file" in unknown["error"]["message"]
        assert call_ok(server, "list_allowed_directories", {}, modern=modern) == f"Allowed directories:\n{root}"
        assert server.close() == 0


class RootsClient(PipeServer):
    """A host that offers roots and answers `roots/list` with whatever `roots` holds."""

    roots: ClassVar[list[str]] = []

    def on_server_request(self, message: dict[str, Any]) -> None:
        if message["method"] == "roots/list":
            roots = [{"uri": uri, "name": "r"} for uri in self.roots]
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": {"roots": roots}})
        else:
            super().on_server_request(message)


def test_client_roots_narrow_from_the_first_call_and_follow_list_changed(root: Path) -> None:
    server = RootsClient(deskmcp_command("filesystem", str(root)))
    try:
        (root.parent / "elsewhere").mkdir()
        server.roots = [(root / "sub").as_uri(), (root.parent / "elsewhere").as_uri()]  # outside: cannot widen
        server.initialize(capabilities={"roots": {"listChanged": True}})
        assert "outside the allowed directories" in call_error(server, "read_text_file", {"path": str(root / "a.txt")})
        assert call_ok(server, "read_text_file", {"path": str(root / "sub" / "b.txt")}) == "beta\n"
        assert call_ok(server, "list_allowed_directories", {}) == f"Allowed directories:\n{root / 'sub'}"

        server.roots = [root.as_uri()]
        server.notify("notifications/roots/list_changed")
        deadline = time.monotonic() + 10
        while call_ok(server, "list_allowed_directories", {}) != f"Allowed directories:\n{root}":
            assert time.monotonic() < deadline, "roots/list_changed was not applied"
            time.sleep(0.05)
        assert call_ok(server, "read_text_file", {"path": str(root / "a.txt")}) == "alpha\n"
        assert server.close() == 0
    finally:
        server.kill()


def test_every_request_that_uses_the_roots_waits_for_the_clients_first_answer(root: Path) -> None:
    server = RootsClient(deskmcp_command("filesystem", str(root)))
    try:
        server.roots = [(root / "sub").as_uri()]
        server.initialize(capabilities={"roots": {}})
        outside = (root / "a.txt").as_uri()
        inside_root = {"name": "path", "value": f"{root}/"[1:]}  # template values have no leading '/'
        completion = {"ref": {"type": "ref/resource", "uri": "file:///{+path}"}, "argument": inside_root}
        requests = {  # all sent before the server's roots/list is answered (that happens while reading replies)
            "read": ("resources/read", {"uri": outside}),
            "subscribe": ("resources/subscribe", {"uri": outside}),
            "complete": ("completion/complete", completion),
            "list": ("resources/list", {}),
            "call": ("tools/call", {"name": "read_text_file", "arguments": {"path": str(root / "a.txt")}}),
        }
        sent = {key: server.send_request(method, params) for key, (method, params) in requests.items()}
        replies = {key: server.response(request_id) for key, request_id in sent.items()}
        assert "not under an allowed directory" in replies["read"]["error"]["message"]
        assert "not under an allowed directory" in replies["subscribe"]["error"]["message"]
        assert replies["complete"]["result"]["completion"]["values"] == [f"{root}/sub/"[1:]]
        assert [item["name"] for item in replies["list"]["result"]["resources"]] == ["b.txt"]
        assert "outside the allowed directories" in text_of(replies["call"]["result"])
        assert server.close() == 0
    finally:
        server.kill()


@pytest.mark.anyio
async def test_sdk_client_roots_callback_narrows(root: Path) -> None:
    async def list_roots(_context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=(root / "sub").as_uri())])

    async with sdk_session(deskmcp_command("filesystem", str(root)), list_roots_callback=list_roots) as session:
        allowed = await session.call_tool("list_allowed_directories", {})
        assert allowed.content[0].text == f"Allowed directories:\n{root / 'sub'}"
        refused = await session.call_tool("read_text_file", {"path": str(root / "a.txt")})
        assert refused.is_error and "outside the allowed directories" in refused.content[0].text


NO_ROOTS = "No allowed directories are configured. Configure allowed directories by passing them as arguments"


@pytest.mark.anyio
@pytest.mark.parametrize("configured", [True, False], ids=["configured", "none"])
async def test_a_client_whose_roots_list_fails_is_still_served(root: Path, configured: bool) -> None:
    asked = 0

    async def failing_roots(_context: Any) -> types.ErrorData:
        nonlocal asked
        asked += 1
        return types.ErrorData(code=types.INTERNAL_ERROR, message="the host's roots are not ready")

    command = deskmcp_command("filesystem", *([str(root)] if configured else []))
    async with sdk_session(command, list_roots_callback=failing_roots) as session:
        allowed = (await session.call_tool("list_allowed_directories", {})).content[0].text
        read = await session.call_tool("read_text_file", {"path": str(root / "a.txt")})
        assert asked == 1  # the tool calls above waited for the failed answer, then went on
        if configured:
            assert allowed == f"Allowed directories:\n{root}"
            assert not read.is_error and read.content[0].text == "alpha\n"
        else:
            assert "DESKMCP_FILESYSTEM_ROOTS" in allowed
            assert read.is_error and read.content[0].text.startswith(NO_ROOTS)


class SilentRootsClient(PipeServer):
    """A host that offers roots and never answers `roots/list`."""

    def on_server_request(self, message: dict[str, Any]) -> None:
        if message["method"] != "roots/list":
            super().on_server_request(message)


def test_a_client_that_never_answers_roots_list_is_served_after_a_bounded_wait(root: Path) -> None:
    configured = SilentRootsClient(deskmcp_command("filesystem", str(root)))
    unconfigured = SilentRootsClient(deskmcp_command("filesystem"))
    servers = (configured, unconfigured)
    try:
        for server in servers:  # both at once: each first call waits for the roots the client never sends
            server.initialize(capabilities={"roots": {"listChanged": True}})
        arguments = {"name": "read_text_file", "arguments": {"path": str(root / "a.txt")}}
        pending = [(server, server.send_request("tools/call", arguments)) for server in servers]
        read, refused = (server.response(request, timeout=60)["result"] for server, request in pending)
        assert not read.get("isError") and text_of(read) == "alpha\n"
        assert refused["isError"] and text_of(refused).startswith(NO_ROOTS)
        assert call_ok(configured, "list_allowed_directories", {}) == f"Allowed directories:\n{root}"
        assert "DESKMCP_FILESYSTEM_ROOTS" in call_ok(unconfigured, "list_allowed_directories", {})
        for server in servers:
            assert server.close() == 0  # the unanswered request does not hold up the exit
    finally:
        for server in servers:
            server.kill()


class MalformedRootsClient(PipeServer):
    """A host that answers `roots/list` with a result that is not a list of roots."""

    def on_server_request(self, message: dict[str, Any]) -> None:
        if message["method"] == "roots/list":
            roots = [{"name": "no uri"}, {"uri": "https://example.com/x"}]
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": {"roots": roots}})
        else:
            super().on_server_request(message)


def test_a_malformed_roots_answer_is_a_warning_and_the_configured_roots_apply(root: Path) -> None:
    server = MalformedRootsClient(deskmcp_command("filesystem", str(root)))
    try:
        server.initialize(capabilities={"roots": {}})
        assert call_ok(server, "read_text_file", {"path": str(root / "a.txt")}) == "alpha\n"
        assert call_ok(server, "list_allowed_directories", {}) == f"Allowed directories:\n{root}"
        assert server.close() == 0
        assert "roots/list failed" in server.stderr and "roots.0.uri" in server.stderr
        assert "Traceback" not in server.stderr and "ERROR" not in server.stderr
    finally:
        server.kill()


def roots_context(list_roots: Any) -> Any:
    """What `ClientRoots` reads of a request context: a tool call on a handshake-era session that offers roots."""
    capabilities = types.ClientCapabilities(roots=types.RootsCapability(list_changed=True))
    session = SimpleNamespace(client_capabilities=capabilities, list_roots=list_roots)
    return SimpleNamespace(method="tools/call", protocol_version=HANDSHAKE, session=session)


@pytest.mark.anyio
async def test_unanswered_roots_are_waited_for_once_not_by_every_call(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roots_module, "FIRST_ROOTS_WAIT", 0.05)
    client_roots = ClientRoots(Sandbox([root]))
    ctx = roots_context(anyio.sleep_forever)  # roots/list is sent and never answered
    async with anyio.create_task_group() as group:
        group.start_soon(client_roots.refresh, ctx)
        await client_roots.wait_first(ctx)  # the first call waits FIRST_ROOTS_WAIT, then goes on
        with anyio.CancelScope() as later:
            later.cancel()  # any wait at all in a later call would be cancelled here
            await client_roots.wait_first(ctx)
        assert not later.cancelled_caught, "a later call waited again for roots that never came"
        group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_an_unanswered_roots_request_times_out_with_a_warning(
    root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(roots_module, "ROOTS_REQUEST_TIMEOUT", 0.05)
    client_roots = ClientRoots(Sandbox([root]))
    await client_roots.refresh(roots_context(anyio.sleep_forever))
    assert "roots/list failed (no answer within 0.05 s); keeping the current roots" in caplog.text


@pytest.mark.anyio
async def test_sdk_client_in_the_2026_era(root: Path) -> None:
    async with sdk_client(deskmcp_command("filesystem", str(root))) as client:
        assert client.session.protocol_version == "2026-07-28"
        tools = await client.list_tools()
        assert {tool.name for tool in tools.tools} == TOOLS
        found = await client.call_tool("search_files", {"path": ".", "pattern": "**/*.txt"})
        assert found.content[0].text.splitlines() == [str(root / "a.txt"), str(root / "sub" / "b.txt")]
        edited = await client.call_tool(
            "edit_file", {"path": "a.txt", "edits": [{"oldText": "alpha", "newText": "ALPHA"}], "dryRun": True}
        )
        assert "-alpha\n+ALPHA" in edited.content[0].text and (root / "a.txt").read_text() == "alpha\n"


def snapshot(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): p.read_bytes() if p.is_file() else None for p in directory.rglob("*")}


READ_ONLY_REFUSALS = [
    ("write_file", {"path": "a.txt", "content": "x"}),
    ("write_file", {"path": "new.txt", "content": "x"}),
    ("edit_file", {"path": "a.txt", "edits": [{"oldText": "alpha", "newText": "ALPHA"}]}),
    ("edit_file", {"path": "a.txt", "edits": [{"oldText": "alpha", "newText": "ALPHA"}], "dryRun": True}),
    ("create_directory", {"path": "made/deeper"}),
    ("move_file", {"source": "a.txt", "destination": "z.txt"}),
    ("move_file", {"source": "sub", "destination": "moved"}),
]


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "2026"])
def test_read_only_lists_no_write_tools_and_refuses_writes(root: Path, modern: bool) -> None:
    before = snapshot(root)
    with pipe_server(deskmcp_command("filesystem", "--read-only", str(root))) as server:
        if not modern:
            server.initialize()
        listed = {tool["name"] for tool in server.result("tools/list", modern=modern)["tools"]}
        assert listed == TOOLS - WRITE_TOOLS
        for name, arguments in READ_ONLY_REFUSALS:
            message = call_error(server, name, arguments, modern=modern)
            assert message == f"{name} is not available: this server was started with --read-only"
        assert call_ok(server, "read_text_file", {"path": "a.txt"}, modern=modern) == "alpha\n"
        assert server.close() == 0
    assert snapshot(root) == before


@pytest.mark.anyio
async def test_read_only_with_the_sdk_client_in_the_2026_era(root: Path) -> None:
    before = snapshot(root)
    async with sdk_client(deskmcp_command("filesystem", "--read-only", str(root))) as client:
        assert client.session.protocol_version == "2026-07-28"
        assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS - WRITE_TOOLS
        for name, arguments in READ_ONLY_REFUSALS:
            refused = await client.call_tool(name, arguments)
            assert refused.is_error and "--read-only" in refused.content[0].text
    assert snapshot(root) == before


def test_no_roots_starts_and_says_how_to_configure(tmp_path: Path) -> None:
    with pipe_server(deskmcp_command("filesystem")) as server:
        server.initialize()
        assert "DESKMCP_FILESYSTEM_ROOTS" in call_ok(server, "list_allowed_directories", {})
        message = call_error(server, "read_text_file", {"path": str(tmp_path)})
        assert "No allowed directories are configured" in message and "deskmcp filesystem /path/to/dir" in message
        assert server.close() == 0


def test_roots_from_the_environment_and_a_bad_root(tmp_path: Path, root: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    env = {"DESKMCP_FILESYSTEM_ROOTS": os.pathsep.join([str(other), ""])}
    with pipe_server(deskmcp_command("filesystem", str(root)), env=env) as server:
        server.initialize()
        assert call_ok(server, "list_allowed_directories", {}).splitlines()[1:] == [str(root), str(other)]
    with pipe_server(deskmcp_command("filesystem", str(root), str(tmp_path / "missing"))) as server:
        server.initialize()
        result = server.call_tool("list_allowed_directories", {})
        assert text_of(result) == f"Allowed directories:\n{root}"  # the reference's text; ours follows it
        note = result["content"][1]["text"]
        assert note.startswith("Not available: allowed directory") and "missing" in note
        assert server.close() == 0
        assert "cannot be used" in server.stderr and "serving without it" in server.stderr
    with pipe_server(deskmcp_command("filesystem", str(tmp_path / "missing"))) as server:
        server.initialize()  # starts anyway: a host shows a dead server, not the reason
        message = call_error(server, "read_text_file", {"path": str(tmp_path / "missing" / "a")})
        assert "No allowed directories" in message and "missing" in message and "cannot be used" in message


def test_long_search_reports_progress_and_stops_when_cancelled(tmp_path: Path) -> None:
    big = tmp_path / "big"
    for folder in range(40):
        (big / f"d{folder}").mkdir(parents=True)
        for number in range(100):
            (big / f"d{folder}" / f"f{number}.txt").write_text("lorem ipsum dolor\n" * 1500)
    with pipe_server(deskmcp_command("filesystem", str(big))) as server:
        server.initialize()
        request = server.send_request(
            "tools/call",
            {
                "name": "search_file_contents",
                "arguments": {"path": ".", "query": r"\bnever(?:found|seen)\b", "isRegex": True},
                "_meta": {"progressToken": "search-1"},
            },
        )
        progress = server.wait_notification("notifications/progress", timeout=20)
        assert progress["params"]["progressToken"] == "search-1" and "entries" in progress["params"]["message"]
        server.notify("notifications/cancelled", {"requestId": request, "reason": "user"})
        cpu_before = server.cpu_seconds()
        time.sleep(0.8)
        assert server.cpu_seconds() - cpu_before < 0.4, "the search kept running after cancellation"
        assert call_ok(server, "list_allowed_directories", {}) == f"Allowed directories:\n{big}"
        assert not any(m.get("id") == request for m in _drain(server))


def _drain(server: PipeServer) -> list[dict[str, Any]]:
    seen = []
    while not server.messages.empty():
        message = server.messages.get_nowait()
        if isinstance(message, dict):
            seen.append(message)
    return seen


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_lists_strict_schemas_and_calls_a_tool(root: Path, era: str) -> None:
    command = deskmcp_command("filesystem", str(root))
    listing = run_inspector(command, "--method", "tools/list", "--strict", "--protocol-era", era)
    assert listing.returncode == 0, listing.stderr
    assert {tool["name"] for tool in json.loads(listing.stdout)["result"]["tools"]} == TOOLS
    called = inspector_json(
        command,
        "--method", "tools/call", "--tool-name", "read_text_file",
        "--tool-args-json", json.dumps({"path": str(root / "a.txt"), "head": 1}),
        "--protocol-era", era,
    )  # fmt: skip
    assert called["result"]["content"][0]["text"] == "alpha"


def test_check_config_shows_the_effective_directories(tmp_path: Path, root: Path) -> None:
    import subprocess

    from hostpipes import host_env

    command = deskmcp_command("filesystem", str(root), str(tmp_path / "gone"), "--read-only", "--check-config")
    env = host_env({"DESKMCP_FILESYSTEM_MAX_READ_BYTES": "1MiB"})  # sizes take units, as RESOURCE_MAX_BYTES does
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "DESKMCP_FILESYSTEM_MAX_READ_BYTES = 1048576" in completed.stdout
    assert f"allowed directories:\n  {root.resolve()}\n  not available:" in completed.stdout
    assert "read-only: yes" in completed.stdout
