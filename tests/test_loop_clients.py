"""The shared loop driven by clients nobody on this team wrote: the official SDK client in both eras and the
MCP Inspector CLI."""

from __future__ import annotations

import json

import mcp.types as types
import pytest
from hostpipes import ECHO_SERVER, inspector_json, run_inspector, sdk_client, sdk_session


@pytest.mark.anyio
async def test_sdk_client_in_the_handshake_era():
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with sdk_session(ECHO_SERVER) as session:
        tools = await session.list_tools()
        assert {tool.name for tool in tools.tools} >= {"add", "echo", "slow"}
        result = await session.call_tool("add", {"a": 20, "b": 22})
        assert result.structured_content == {"total": 42} and not result.is_error
        bad = await session.call_tool("add", {"a": "x"})
        assert bad.is_error
        slow = await session.call_tool("slow", {"seconds": 0.1}, progress_callback=on_progress)
        assert slow.content[0].text == "slept 0.1"
        assert progress == list(range(10))
        await session.send_ping()


@pytest.mark.anyio
async def test_sdk_client_in_the_2026_era():
    async with sdk_client(ECHO_SERVER) as client:
        assert client.session.protocol_version == "2026-07-28"
        result = await client.call_tool("add", {"a": 1, "b": 2})
        assert result.structured_content == {"total": 3}
        echo = await client.call_tool("echo", {"text": "héllo ✓", "mode": "upper"})
        assert echo.content[0].text == "HÉLLO ✓"
        bad = await client.call_tool("fail", {"reason": "nope"})
        assert bad.is_error and isinstance(bad.content[0], types.TextContent)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_lists_portable_schemas_and_calls_a_tool(era):
    listing = run_inspector(ECHO_SERVER, "--method", "tools/list", "--strict", "--protocol-era", era)
    assert listing.returncode == 0, listing.stderr
    assert "add" in {tool["name"] for tool in json.loads(listing.stdout)["result"]["tools"]}
    called = inspector_json(
        ECHO_SERVER,
        "--method", "tools/call", "--tool-name", "add", "--tool-args-json", '{"a": 2, "b": 40}',
        "--protocol-era", era,
    )  # fmt: skip
    assert called["result"]["structuredContent"] == {"total": 42}
