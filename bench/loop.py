"""The shared loop against a bare SDK low-level server, measured in one run.

    .venv/bin/python -m bench.loop [--runs 7] [--n 1000] [--count 1000]

Both servers expose `add(a, b)`; ours goes through deskmcp's framing, middleware, tool registration and
strict argument validation (tests/echo_server.py). Targets (issue 2): start-up and round trip at most
1.15x the bare server; peak RSS at most bare + 10 MB. Rounds alternate the two servers so that drift on a
shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench.harness import BARE_SDK, ROOT, percentile, pipelined, round_trips_us, startup_ms

OURS = [sys.executable, str(ROOT / "tests" / "echo_server.py")]
ADD = {"name": "add", "arguments": {"a": 2, "b": 3}}


def measure(command: list[str], args: argparse.Namespace) -> dict[str, float]:
    starts = startup_ms(command, runs=args.runs)
    trips = round_trips_us(command, "tools/call", ADD, n=args.n)
    burst = pipelined(command, "tools/call", ADD, count=args.count)
    assert burst["errors"] == 0, burst
    return {
        "startup_ms": statistics.median(starts),
        "p50_us": percentile(trips, 50),
        "p99_us": percentile(trips, 99),
        "req_per_s": burst["req_per_s"],
        "peak_rss_mb": burst["peak_rss_mb"] or float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes for start-up")
    parser.add_argument("--n", type=int, default=1000, help="sequential round trips")
    parser.add_argument("--count", type=int, default=1000, help="pipelined requests")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    args = parser.parse_args()
    rounds: dict[str, list[dict[str, float]]] = {"bare": [], "deskmcp": []}
    for _ in range(args.rounds):
        rounds["bare"].append(measure(BARE_SDK, args))
        rounds["deskmcp"].append(measure(OURS, args))
    median = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in rounds.items()}
    bare, ours = median["bare"], median["deskmcp"]
    print(f"{'metric':<14}{'bare SDK':>12}{'deskmcp':>12}{'ratio':>10}  target")
    rows = [
        ("startup ms", "startup_ms", "<= 1.15x"),
        ("p50 us", "p50_us", "<= 1.15x"),
        ("p99 us", "p99_us", ""),
        ("req/s", "req_per_s", "(higher is better)"),
    ]
    for label, key, target in rows:
        print(f"{label:<14}{bare[key]:>12.1f}{ours[key]:>12.1f}{ours[key] / bare[key]:>9.2f}x  {target}")
    delta = ours["peak_rss_mb"] - bare["peak_rss_mb"]
    print(f"{'peak RSS MB':<14}{bare['peak_rss_mb']:>12.1f}{ours['peak_rss_mb']:>12.1f}{delta:>+9.1f}   <= +10 MB")


if __name__ == "__main__":
    main()
