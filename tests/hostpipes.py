"""Start a server the way a desktop host does and talk newline-delimited JSON-RPC over its pipes.

A fresh subprocess with only the environment a host passes (HOME, PATH, ... plus the config's `env`),
stdin/stdout as the wire, stderr captured. Also: the official SDK client in both protocol eras, and the
MCP Inspector CLI.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent
ECHO_SERVER = [sys.executable, str(ROOT / "tests" / "echo_server.py")]
HOST_ENV_KEYS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "SYSTEMROOT", "APPDATA", "USERPROFILE", "TEMP")
MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"


def deskmcp_command(*args: str) -> list[str]:
    """`deskmcp ARGS` through the installed console script, as a client config would run it."""
    script = shutil.which("deskmcp", path=str(Path(sys.executable).parent))
    return [script, *args] if script else [sys.executable, "-m", "deskmcp.shared.cli", *args]


def host_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a desktop host gives a server: a short safe list plus the config's `env`."""
    env = {key: os.environ[key] for key in HOST_ENV_KEYS if key in os.environ}
    return {**env, **(extra or {})}


def modern_meta() -> dict[str, Any]:
    """The per-request `_meta` envelope of protocol 2026-07-28."""
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "pipes", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }


class PipeServer:
    """One server process and its three pipes."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None, cwd: str | Path | None = None):
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=host_env(env),
            cwd=cwd,
        )
        self.messages: queue.Queue[dict[str, Any] | bytes | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.unclaimed: dict[Any, dict[str, Any]] = {}  # responses read while waiting for another request
        self.raw_stdout = bytearray()
        self._stderr = bytearray()
        self._ids = itertools.count(1)
        self._stdout_thread = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_thread.start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.raw_stdout += line
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                self.messages.put(line)  # not JSON: a test will fail on it
        self.messages.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr
        for line in self.process.stderr:
            self._stderr += line

    # writing

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def send_request(self, method: str, params: dict[str, Any] | None = None, *, modern: bool = False) -> int:
        request_id = next(self._ids)
        if modern:
            params = {**(params or {}), "_meta": {**modern_meta(), **(params or {}).get("_meta", {})}}
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return request_id

    # reading

    def next_message(self, timeout: float = 10) -> dict[str, Any]:
        message = self.messages.get(timeout=timeout)
        if message is None:
            raise EOFError(f"server closed stdout; stderr:\n{self.stderr}")
        if isinstance(message, bytes):
            raise AssertionError(f"non-JSON line on stdout: {message!r}")
        return message

    def response(self, request_id: Any, timeout: float = 10) -> dict[str, Any]:
        """The response to `request_id`; notifications seen meanwhile are kept in `notifications`, and
        responses to other requests are kept for their own `response` call (so pipelined requests work)."""
        if request_id in self.unclaimed:
            return self.unclaimed.pop(request_id)
        deadline = time.monotonic() + timeout
        while True:
            message = self.next_message(max(0.01, deadline - time.monotonic()))
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            elif "method" in message:
                self.on_server_request(message)
            elif message.get("id") == request_id:
                return message
            else:
                self.unclaimed[message.get("id")] = message

    def on_server_request(self, message: dict[str, Any]) -> None:
        """Answer a server->client request (roots/list, ping); override per test."""
        if message["method"] == "ping":
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        else:
            self.send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "not supported"}})

    def wait_notification(self, method: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for index, note in enumerate(self.notifications):
                if note["method"] == method:
                    return self.notifications.pop(index)
            message = self.next_message(max(0.01, deadline - time.monotonic()))
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            elif "method" in message:
                self.on_server_request(message)

    def request(self, method: str, params: dict[str, Any] | None = None, *, modern: bool = False, timeout: float = 10):
        return self.response(self.send_request(method, params, modern=modern), timeout)

    def result(self, method: str, params: dict[str, Any] | None = None, *, modern: bool = False) -> dict[str, Any]:
        reply = self.request(method, params, modern=modern)
        assert "result" in reply, reply
        return reply["result"]

    def initialize(self, protocol: str = HANDSHAKE, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.result(
            "initialize",
            {
                "protocolVersion": protocol,
                "capabilities": capabilities or {},
                "clientInfo": {"name": "pipes", "version": "0"},
            },
        )
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: dict[str, Any], *, modern: bool = False) -> dict[str, Any]:
        return self.result("tools/call", {"name": name, "arguments": arguments}, modern=modern)

    # ending

    def close(self, timeout: float = 15) -> int:
        """Close stdin (what a host does first) and wait for the exit code."""
        with contextlib.suppress(OSError):
            assert self.process.stdin
            self.process.stdin.close()
        try:
            return self.process.wait(timeout)
        finally:
            # The process has exited, but what it wrote may still be in the pipes: read them to the end.
            self._stdout_thread.join(10)
            self._stderr_thread.join(10)

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (Linux: /proc; a test that needs it is skipped elsewhere)."""
        if not Path("/proc/self/stat").exists():
            pytest.skip("CPU time is read from /proc, which only Linux has")
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")


class Era:
    """One pipe server spoken to in one protocol era (a connection keeps the era of its first request)."""

    def __init__(self, pipe: PipeServer, modern: bool) -> None:
        self.pipe, self.modern = pipe, modern

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.pipe.request(method, params, modern=self.modern)

    def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.pipe.result(method, params, modern=self.modern)


@contextlib.contextmanager
def pipe_server(
    command: Sequence[str], env: dict[str, str] | None = None, cwd: str | Path | None = None
) -> Iterator[PipeServer]:
    server = PipeServer(command, env, cwd)
    try:
        yield server
    finally:
        server.kill()


# --- the official SDK client ---------------------------------------------------------------------------


def server_parameters(command: Sequence[str], env: dict[str, str] | None = None, cwd: str | Path | None = None) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=command[0], args=list(command[1:]), env=env or {}, cwd=cwd)


@contextlib.asynccontextmanager
async def sdk_session(
    command: Sequence[str], env: dict[str, str] | None = None, **session_kwargs: Any
) -> AsyncIterator[Any]:
    """Handshake era (what Claude Desktop and Cursor speak): `ClientSession.initialize()`."""
    from mcp import ClientSession, stdio_client

    async with stdio_client(server_parameters(command, env)) as (read, write):
        async with ClientSession(read, write, **session_kwargs) as session:
            await session.initialize()
            yield session


@contextlib.asynccontextmanager
async def sdk_client(
    command: Sequence[str], env: dict[str, str] | None = None, **client_kwargs: Any
) -> AsyncIterator[Any]:
    """2026-07-28 era: `mcp.Client` in its default auto mode (server/discover, `_meta` envelope)."""
    from mcp import Client

    async with Client(server_parameters(command, env), **client_kwargs) as client:
        yield client


async def next_event(subscription: Any, kind: type, timeout: float = 5) -> Any:
    """The next event of type `kind` on a 2026-07-28 listen stream (None if the stream ends first)."""
    with anyio.fail_after(timeout):
        async for event in subscription:
            if isinstance(event, kind):
                return event


# --- what a server process holds ------------------------------------------------------------------------


def inotify_watches(pid: int) -> int:
    """How many inotify watches process `pid` holds right now (Linux)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                count += sum(line.startswith("inotify wd:") for line in info)
        except OSError:
            continue
    return count


# --- the MCP Inspector CLI -----------------------------------------------------------------------------

INSPECTOR_VERSION = "2.12.0"
INSPECTOR_DEFAULT_DIR = ROOT / ".ci" / "inspector"


def inspector_launcher() -> Path | None:
    base = Path(os.environ.get("DESKMCP_INSPECTOR_DIR", INSPECTOR_DEFAULT_DIR))
    launcher = (
        base / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
    )
    return launcher if launcher.exists() else None


def reference_server(server: str) -> list[str]:
    """argv of the reference `server` ("memory", "filesystem"), as .ci/install-peers installs it; skipped where it
    is not installed (never in CI)."""
    entry = ROOT / "bench" / ".peers" / "node_modules" / "@modelcontextprotocol" / f"server-{server}" / "dist"
    if shutil.which("node") is None or not (entry / "index.js").exists():
        if os.environ.get("CI"):
            pytest.fail(f"the reference {server} server is not installed; .ci/run installs it")
        pytest.skip(f"reference {server} server not installed (run .ci/install-peers)")
    return ["node", str(entry / "index.js")]


def run_inspector(
    server_command: Sequence[str], *options: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`inspector --cli OPTIONS -- SERVER...`; skipped where the Inspector is not installed (never in CI)."""
    launcher = inspector_launcher()
    if launcher is None:
        if os.environ.get("CI"):
            pytest.fail("the MCP Inspector is not installed; .ci/run installs it")
        pytest.skip("MCP Inspector not installed (run .ci/install-inspector)")
    env_args = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
    command = ["node", str(launcher), "--cli", *env_args, *options, "--format", "json", "--", *server_command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def inspector_json(server_command: Sequence[str], *options: str, env: dict[str, str] | None = None) -> Any:
    completed = run_inspector(server_command, *options, env=env)
    assert completed.returncode == 0, f"inspector exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    return json.loads(completed.stdout)
