"""Streamable HTTP against stdio, measured in one run.

    .venv/bin/python -m bench.remote [--rounds 3] [--n 500] [--clients 10] [--seconds 5]

The loop's test server (tests/echo_server.py) and its `add(a, b)`, so the transport is most of what is
measured. Raw clients on both sides (pipes; HTTP/1.1 keep-alive with httpx2, the SDK's HTTP library), no SDK
client in the way:

- round trip: sequential `tools/call`, one client: stdio; an HTTP handshake-era session (each request a POST
  answered on its own SSE stream); HTTP 2026-07-28 (each request a self-contained POST, no session); and, as the
  floor HTTP itself sets, the same POST to a bare uvicorn + Starlette app (bench/bare_http_server.py);
- throughput: `--clients` HTTP sessions at once, each sending its next request as soon as the last is
  answered, for `--seconds`; stdio's one client pipelining 1000 requests is shown beside it.

Rounds alternate the transports so that drift on a shared machine hits all alike; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from bench.harness import HOST_ENV_KEYS, INITIALIZE, ROOT, percentile, pipelined, round_trips_us

ECHO = [sys.executable, str(ROOT / "tests" / "echo_server.py")]
BARE_HTTP = [sys.executable, str(ROOT / "bench" / "bare_http_server.py")]
ADD = {"name": "add", "arguments": {"a": 2, "b": 3}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@contextmanager
def http_server(command: list[str]) -> Iterator[str]:
    """A server that says `... at URL` on stderr once it listens; yields the URL."""
    env = {key: os.environ[key] for key in HOST_ENV_KEYS if key in os.environ}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr
        line = process.stderr.readline()
        url = re.search(r"at (\S+)", line)
        assert url, line
        threading.Thread(target=process.stderr.read, daemon=True).start()
        port = int(url.group(1).rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 30
        while True:  # the bare server says where it will listen just before it does
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url.group(1)
    finally:
        process.terminate()
        process.wait(30)


def answer(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC reply in a JSON or SSE response body."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    data = [line[5:] for line in response.text.splitlines() if line.startswith("data:") and line[5:].strip()]
    return json.loads(data[-1])


class HttpSession:
    """A handshake-era session (sequential requests), or with `modern` a 2026-07-28 client (no session)."""

    def __init__(self, client: Any, url: str, *, modern: bool = False) -> None:
        self.client, self.url, self.modern = client, url, modern
        self.headers = dict(HEADERS)
        if modern:
            self.headers |= {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "add"}
        self.next_id = 1

    def request_body(self) -> dict[str, Any]:
        self.next_id += 1
        params = {**ADD, "_meta": MODERN_META} if self.modern else ADD
        return {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": params}

    def opened(self, response: httpx2.Response) -> None:
        if not self.modern:
            self.headers |= {"Mcp-Session-Id": response.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}

    def check(self, response: httpx2.Response) -> None:
        reply = answer(response)
        if response.status_code != 200 or "error" in reply or reply["result"].get("isError"):
            raise RuntimeError(f"tools/call failed: {response.status_code} {reply}")


def http_round_trips_us(url: str, *, modern: bool, n: int, warmup: int = 50) -> list[float]:
    with httpx2.Client(timeout=30) as client:
        session = HttpSession(client, url, modern=modern)
        if not modern:
            session.opened(client.post(url, json=INITIALIZE, headers=session.headers))
            client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session.headers)
        times = []
        for index in range(warmup + n):
            start = time.perf_counter()
            session.check(client.post(url, json=session.request_body(), headers=session.headers))
            if index >= warmup:
                times.append((time.perf_counter() - start) * 1e6)
        return times


async def http_throughput(url: str, clients: int, seconds: float) -> float:
    """Requests per second with `clients` sessions each keeping one request in flight."""
    done = 0
    opened = 0
    all_open = asyncio.Event()
    stop_at = float("inf")

    async def one_client() -> None:
        nonlocal done, opened
        async with httpx2.AsyncClient(timeout=30) as client:
            session = HttpSession(client, url)
            session.opened(await client.post(url, json=INITIALIZE, headers=session.headers))
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await client.post(url, json=note, headers=session.headers)
            opened += 1
            if opened == clients:
                all_open.set()
            await all_open.wait()
            while time.perf_counter() < stop_at:
                session.check(await client.post(url, json=session.request_body(), headers=session.headers))
                done += 1

    tasks = [asyncio.create_task(one_client()) for _ in range(clients)]
    await all_open.wait()
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*tasks)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--n", type=int, default=500, help="sequential round trips per transport and round")
    parser.add_argument("--clients", type=int, default=10, help="concurrent HTTP sessions for throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the throughput run lasts")
    args = parser.parse_args()
    p50: dict[str, list[float]] = {"stdio": [], "http session": [], "http 2026-07-28": [], "bare HTTP POST": []}
    p99: dict[str, list[float]] = {key: [] for key in p50}
    rates: dict[str, list[float]] = {"http clients": [], "stdio pipelined": []}
    with http_server([*ECHO, "--transport", "http", "--port", "0"]) as url, http_server(BARE_HTTP) as bare:
        for _ in range(args.rounds):
            runs = {
                "stdio": round_trips_us(ECHO, "tools/call", ADD, n=args.n),
                "http session": http_round_trips_us(url, modern=False, n=args.n),
                "http 2026-07-28": http_round_trips_us(url, modern=True, n=args.n),
                "bare HTTP POST": http_round_trips_us(bare, modern=True, n=args.n),
            }
            for key, times in runs.items():
                p50[key].append(percentile(times, 50))
                p99[key].append(percentile(times, 99))
            rates["http clients"].append(asyncio.run(http_throughput(url, args.clients, args.seconds)))
            rates["stdio pipelined"].append(pipelined(ECHO, "tools/call", ADD, count=1000)["req_per_s"])
    stdio = statistics.median(p50["stdio"])
    print(f"{'round trip (tools/call add)':<30}{'p50 us':>10}{'p99 us':>10}{'vs stdio':>10}")
    for key in p50:
        median = statistics.median(p50[key])
        print(f"{key:<30}{median:>10.0f}{statistics.median(p99[key]):>10.0f}{median / stdio:>9.2f}x")
    print(f"\n{'throughput':<30}{'req/s':>10}")
    print(f"{f'http, {args.clients} clients at once':<30}{statistics.median(rates['http clients']):>10.0f}")
    print(f"{'stdio, 1 client pipelining':<30}{statistics.median(rates['stdio pipelined']):>10.0f}")


if __name__ == "__main__":
    main()
