"""Start a server with `--transport http` and talk to it: the official SDK client over Streamable HTTP, or raw
HTTP for what a client library would hide (status codes, headers, SSE events).

The server runs as a subprocess on a free port (`--port 0`); it says on stderr where it listens, which is how
`HttpServer` finds the URL.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import anyio
from hostpipes import HANDSHAKE, host_env

TOKEN = "test-token-0123456789abcdef"
SERVING = re.compile(r"serving MCP \(Streamable HTTP\) at (\S+)")
EVENT_STREAM = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class HttpServer:
    """`COMMAND --transport http --port 0` as a subprocess (a host's environment plus `env`), stderr collected."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        argv = [*command, "--transport", "http", "--port", "0"]
        self.process = subprocess.Popen(argv, stderr=subprocess.PIPE, env=host_env(env), text=True)
        self._lines: list[str] = []
        self._listening = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._listening.wait(60) or self.url is None:
            self.process.kill()
            raise AssertionError(f"the server did not start listening:\n{self.stderr}")

    url: str | None = None

    def _read_stderr(self) -> None:
        assert self.process.stderr
        for line in self.process.stderr:
            self._lines.append(line)
            if self.url is None and (found := SERVING.search(line)):
                self.url = found.group(1)
                self._listening.set()
        self._listening.set()

    @property
    def stderr(self) -> str:
        return "".join(self._lines)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def http_server(command: Sequence[str], env: dict[str, str] | None = None) -> Iterator[HttpServer]:
    """`http_server(deskmcp_command("calculator"), {...})`: started, and killed afterwards if still running."""
    server = HttpServer(command, env)
    try:
        yield server
    finally:
        server.kill()


def bearer(token: str | None = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@contextlib.asynccontextmanager
async def sdk_http_client(
    url: str, *, token: str | None = TOKEN, mode: str = "auto", **kwargs: Any
) -> AsyncIterator[Any]:
    """The official SDK client over Streamable HTTP; `mode="legacy"` for the handshake era."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with create_mcp_http_client(headers=bearer(token)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **kwargs) as client:
            yield client


# --- raw HTTP -------------------------------------------------------------------------------------------


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages in an SSE body (priming events, with empty data, left out)."""
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]


def initialize_request(request_id: int = 1, protocol: str = HANDSHAKE) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": protocol, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }


class RawSession:
    """A handshake-era session driven with plain HTTP requests (httpx2, the SDK's HTTP library)."""

    def __init__(self, client: Any, url: str, token: str | None = TOKEN) -> None:
        self.client, self.url = client, url
        self.headers = {**EVENT_STREAM, **bearer(token), "MCP-Protocol-Version": HANDSHAKE}

    async def open(self) -> RawSession:
        response = await self.client.post(self.url, json=initialize_request(), headers=self.headers)
        assert response.status_code == 200, response.text
        self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        await self.notify("notifications/initialized")
        return self

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message = {"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})}
        response = await self.client.post(self.url, json=message, headers=self.headers)
        assert response.status_code == 202, response.text

    async def request(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> Any:
        """The HTTP response to one JSON-RPC request (an SSE body)."""
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        return await self.client.post(self.url, json=message, headers=self.headers)

    async def result(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.request(request_id, method, params)
        assert response.status_code == 200, response.text
        (reply,) = [m for m in sse_messages(response.text) if m.get("id") == request_id]
        return reply


async def wait_until(predicate: Any, timeout: float = 10, what: str = "the condition") -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)
    assert predicate(), what
