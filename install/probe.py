"""Start a server the way a host does and talk to it over its pipes: for `doctor`, `call` and `bundle`.

A plain newline-delimited JSON-RPC client (no SDK session), so it can time start-up, keep the server's stderr, and
speak either protocol era: the handshake (`initialize`, what desktop hosts send today) or 2026-07-28
(`server/discover`, with the `_meta` envelope on every request).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

HANDSHAKE_VERSION: Final = "2025-11-25"
MODERN_VERSION: Final = "2026-07-28"
CLIENT_INFO: Final = {"name": "deskmcp-probe", "version": "1"}


class ProbeError(Exception):
    """The server did not start or did not answer as a host needs; the message says what happened."""


class RpcError(ProbeError):
    def __init__(self, error: Mapping[str, Any]) -> None:
        self.code = error.get("code")
        super().__init__(f"{error.get('message', 'error')} (JSON-RPC {self.code})")


class Connection:
    """One server process and its pipes."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        self.command = list(command)
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env),
                cwd=cwd,
            )
        except FileNotFoundError:
            raise ProbeError(f"the command {command[0]!r} was not found") from None
        except PermissionError:
            raise ProbeError(f"the command {command[0]!r} cannot be run (permission denied)") from None
        except OSError as exc:
            raise ProbeError(f"the command {command[0]!r} cannot be started: {exc.strerror or exc}") from None
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stderr = bytearray()
        self._ids = itertools.count(1)
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict):
                    self._messages.put(message)
        self._messages.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr
        for line in self.process.stderr:
            self._stderr += line

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise ProbeError("the server closed its input") from None

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def request(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ProbeError(f"no answer to {method} within {timeout:g} s") from None
            if message is None:
                self._messages.put(None)
                try:
                    code = self.process.wait(5)
                except subprocess.TimeoutExpired:
                    raise ProbeError(f"the server closed its output without answering {method}") from None
                raise ProbeError(f"the server exited (code {code}) before answering {method}")
            if "method" in message and "id" in message:  # a request from the server: we offer nothing
                reply = {"result": {}} if message["method"] == "ping" else {"error": {"code": -32601, "message": "-"}}
                self._send({"jsonrpc": "2.0", "id": message["id"], **reply})
            elif message.get("id") == request_id:
                if "error" in message:
                    raise RpcError(message["error"])
                return message.get("result", {})

    def close(self, timeout: float = 10) -> int | None:
        """Close stdin, as a host does first, and wait; kill if it does not exit."""
        with contextlib.suppress(OSError):
            assert self.process.stdin
            self.process.stdin.close()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(5)
        for thread in self._threads:
            thread.join(5)
        return code


def modern_params(params: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {**(params or {}), "_meta": meta}


@dataclass
class Report:
    """What one start of a server showed."""

    era: str
    ready_seconds: float = 0.0
    server: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    error: str | None = None


def _all_pages(connection: Connection, method: str, key: str, modern: bool, timeout: float) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        result = connection.request(method, modern_params(params) if modern else params, timeout)
        items += result.get(key, [])
        cursor = result.get("nextCursor")
        if not cursor:
            return items


def handshake(connection: Connection, timeout: float) -> dict[str, Any]:
    """`initialize` + `notifications/initialized`; the result."""
    params = {"protocolVersion": HANDSHAKE_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
    result = connection.request("initialize", params, timeout)
    connection.notify("notifications/initialized")
    return result


def check(command: Sequence[str], env: Mapping[str, str], era: str, timeout: float = 60) -> Report:
    """Start the server, complete the `era` ("handshake" or "modern") opening, list its tools and prompts."""
    report = Report(era)
    try:
        connection = Connection(command, env)
    except ProbeError as exc:
        report.error = str(exc)
        return report
    try:
        modern = era == "modern"
        if modern:
            result = connection.request("server/discover", modern_params(), timeout)
            if MODERN_VERSION not in result.get("supportedVersions", []):
                raise ProbeError(f"server/discover does not list {MODERN_VERSION}")
        else:
            result = handshake(connection, timeout)
        report.ready_seconds = time.monotonic() - connection.started
        meta = result.get("_meta", {})
        report.server = result.get("serverInfo") or meta.get("io.modelcontextprotocol/serverInfo", {})
        capabilities = result.get("capabilities", {})
        if "tools" in capabilities:
            report.tools = _all_pages(connection, "tools/list", "tools", modern, timeout)
        if "prompts" in capabilities:
            report.prompts = _all_pages(connection, "prompts/list", "prompts", modern, timeout)
    except ProbeError as exc:
        report.error = str(exc)
    finally:
        connection.close()
        report.stderr = connection.stderr
    return report
