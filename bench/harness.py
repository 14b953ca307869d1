"""A raw-pipe client for measuring stdio MCP servers: start-up, round trips, pipelined throughput, peak RSS.

It speaks newline-delimited JSON-RPC directly (no SDK client), so what it measures is the server plus two
pipes. Benchmarks built on it compare servers *in the same run* and report ratios: absolute times drift
on shared machines. Peak RSS is read from /proc (Linux); elsewhere it is reported as None.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
PEERS: Final = ROOT / "bench" / ".peers"  # the reference servers, from npm (gitignored)
REFERENCE_VERSION: Final = "2026.8.31"  # npm's `latest` of @modelcontextprotocol/server-filesystem and -memory
BARE_SDK = [sys.executable, str(ROOT / "bench" / "bare_sdk_server.py")]
HOST_ENV_KEYS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "SYSTEMROOT", "APPDATA", "USERPROFILE", "TEMP")
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


def deskmcp(*args: str) -> list[str]:
    """argv of the installed `deskmcp` console script."""
    script = Path(sys.executable).parent / ("deskmcp.exe" if os.name == "nt" else "deskmcp")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "deskmcp.shared.cli", *args]


def reference_entry(server: str) -> Path:
    """Where the reference `server` ("filesystem", "memory") lands in bench/.peers."""
    return PEERS / "node_modules" / "@modelcontextprotocol" / f"server-{server}" / "dist" / "index.js"


def install_reference(server: str) -> list[str]:
    """argv of the reference `server`, installed from npm on first use."""
    entry = reference_entry(server)
    if not entry.exists():
        PEERS.mkdir(parents=True, exist_ok=True)
        manifest = PEERS / "package.json"
        if not manifest.exists():
            manifest.write_text('{"name": "deskmcp-bench-peers", "private": true}\n')
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install the reference servers (bench/.peers)")
        package = f"@modelcontextprotocol/server-{server}@{REFERENCE_VERSION}"
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", package], cwd=PEERS, check=True)
    return ["node", str(entry)]


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class Session:
    """One server process in the handshake era, driven request by request."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        base = {k: os.environ[k] for k in HOST_ENV_KEYS if k in os.environ}
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**base, **(env or {})},
            cwd=cwd,
        )
        self._next_id = 1

    def write(self, data: bytes) -> None:
        assert self.process.stdin
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read_response(self) -> dict[str, Any]:
        """The next response line, skipping notifications and answering server requests (roots/list: none)."""
        assert self.process.stdout
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise EOFError("server closed stdout")
            message = json.loads(line)
            if "method" not in message:
                return message
            if "id" in message:  # a server->client request such as roots/list
                answer = {"roots": []} if message["method"] == "roots/list" else {}
                self.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": answer}).encode() + b"\n")

    def initialize(self) -> dict[str, Any]:
        self.write(json.dumps(INITIALIZE).encode() + b"\n")
        reply = self.read_response()
        self.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        return reply

    def encode(self, method: str, params: dict[str, Any] | None) -> bytes:
        self._next_id += 1
        message = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        return json.dumps(message).encode() + b"\n"

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.write(self.encode(method, params))
        reply = self.read_response()
        if "error" in reply or reply.get("result", {}).get("isError"):
            raise RuntimeError(f"{method} failed: {reply}")
        return reply

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def close(self) -> int:
        assert self.process.stdin
        self.process.stdin.close()
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def startup_ms(command: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None, runs: int = 7):
    """Spawn -> initialize response, in milliseconds, once per fresh process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session = Session(command, env, cwd)
        session.initialize()
        times.append((time.perf_counter() - start) * 1000)
        session.close()
    return times


def round_trips_us(
    command: Sequence[str],
    method: str,
    params: dict[str, Any] | None,
    n: int = 1000,
    warmup: int = 50,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> list[float]:
    """Sequential request -> response times in microseconds (after `warmup` unmeasured calls)."""
    session = Session(command, env, cwd)
    try:
        session.initialize()
        for _ in range(warmup):
            session.request(method, params)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            session.request(method, params)
            times.append((time.perf_counter() - start) * 1e6)
        return times
    finally:
        session.close()


def pipelined(
    command: Sequence[str],
    method: str,
    params: dict[str, Any] | None,
    count: int = 1000,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> dict[str, Any]:
    """`count` requests written at once; requests per second until the last answer, and peak RSS."""
    session = Session(command, env, cwd)
    try:
        session.initialize()
        payload = b"".join(session.encode(method, params) for _ in range(count))
        start = time.perf_counter()
        writer = threading.Thread(target=session.write, args=(payload,))
        writer.start()
        errors = 0
        for _ in range(count):
            reply = session.read_response()
            errors += "error" in reply or bool(reply.get("result", {}).get("isError"))
        elapsed = time.perf_counter() - start
        writer.join()
        return {"req_per_s": count / elapsed, "peak_rss_mb": session.peak_rss_mb(), "errors": errors}
    finally:
        session.close()


if __name__ == "__main__":  # .ci/install-peers: the reference servers the comparison tests run beside ours
    for name in sys.argv[1:]:
        install_reference(name)
