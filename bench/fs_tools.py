"""The filesystem tools against the reference server (@modelcontextprotocol/server-filesystem), in one run.

    .venv/bin/python -m bench.fs_tools [--rounds 3] [--n 10]

Builds its trees in a temp dir (10,000 files in 100 folders; one folder of 10,000 files), installs the
reference server from npm into bench/.peers/ when it is missing, and times sequential tools/call round trips
(raw pipe, handshake era) on both servers, alternating rounds so that drift on a shared machine hits both.
Both servers are asked for the same output: ours gets `maxResults` high enough to list everything, as the
reference always does. Targets (issue 4): search_files over the 10,000-file tree at least 10x faster.
The reference has no content search; ours is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Session, deskmcp, install_reference, percentile, round_trips_us


def build_fixtures(base: Path) -> tuple[Path, Path]:
    """A tree of 100 folders x 100 files (half .md), and one folder of 10,000 files."""
    tree, flat = base / "tree", base / "flat"
    for folder in range(100):
        directory = tree / f"dir{folder:03}"
        directory.mkdir(parents=True)
        for number in range(100):
            suffix = "md" if number % 2 else "txt"
            (directory / f"note{number:03}.{suffix}").write_text(f"# note {folder}-{number}\nsome text here\n")
    flat.mkdir()
    for number in range(10_000):
        (flat / f"file{number:05}.txt").write_text("x\n")
    return tree, flat


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def output_lines(command: list[str], params: dict[str, Any]) -> list[str]:
    session = Session(command)
    try:
        session.initialize()
        reply = session.request("tools/call", params)
        return reply["result"]["content"][0]["text"].splitlines()
    finally:
        session.close()


def median_p50(samples: list[list[float]]) -> float:
    return statistics.median(percentile(run, 50) for run in samples)


def compare(
    label: str,
    ours: Callable[[], list[float]],
    theirs: Callable[[], list[float]] | None,
    rounds: int,
) -> dict[str, Any]:
    mine, reference = [], []
    for _ in range(rounds):
        mine.append(ours())
        if theirs is not None:
            reference.append(theirs())
    row = {"workload": label, "ours_ms": median_p50(mine) / 1000}
    if reference:
        row["reference_ms"] = median_p50(reference) / 1000
        row["speedup"] = row["reference_ms"] / row["ours_ms"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (fresh processes) per workload")
    parser.add_argument("--n", type=int, default=10, help="sequential calls measured per round")
    args = parser.parse_args()
    reference_argv = install_reference("filesystem")
    with tempfile.TemporaryDirectory(prefix="deskmcp-bench-fs-") as scratch:
        tree, flat = build_fixtures(Path(scratch))
        ours = {path: deskmcp("filesystem", str(path)) for path in (tree, flat)}
        theirs = {path: [*reference_argv, str(path)] for path in (tree, flat)}
        search = {"path": str(tree), "pattern": "**/*.md", "excludePatterns": []}
        listing = {"path": str(flat)}
        workloads = [
            ("search_files **/*.md, 10,000 files in 100 folders", tree, "search_files", search, {"maxResults": 10_000}),
            ("list_directory, one folder of 10,000 files", flat, "list_directory", listing, {"maxResults": 10_000}),
        ]
        rows = []
        for label, where, name, arguments, extra in workloads:
            mine, reference = call(name, {**arguments, **extra}), call(name, arguments)
            assert sorted(output_lines(ours[where], mine)) == sorted(output_lines(theirs[where], reference)), label
            rows.append(
                compare(
                    label,
                    lambda w=where, p=mine: round_trips_us(ours[w], "tools/call", p, n=args.n, warmup=2),
                    lambda w=where, p=reference: round_trips_us(theirs[w], "tools/call", p, n=args.n, warmup=2),
                    args.rounds,
                )
            )
        content = call("search_file_contents", {"path": str(tree), "query": "note 42-", "maxResults": 1000})
        rows.append(
            compare(
                "search_file_contents 'note 42-' (literal), same tree",
                lambda: round_trips_us(ours[tree], "tools/call", content, n=args.n, warmup=2),
                None,
                args.rounds,
            )
        )
        regex = call("search_file_contents", {"path": str(tree), "query": r"note \d+-7\d\b", "isRegex": True})
        rows.append(
            compare(
                "search_file_contents regex, same tree",
                lambda: round_trips_us(ours[tree], "tools/call", regex, n=args.n, warmup=2),
                None,
                args.rounds,
            )
        )
    print(f"{'workload':<52} {'ours p50 ms':>12} {'reference p50 ms':>17} {'speedup':>8}")
    for row in rows:
        reference_ms = f"{row['reference_ms']:.1f}" if "reference_ms" in row else "-"
        speedup = f"{row['speedup']:.1f}x" if "speedup" in row else "-"
        print(f"{row['workload']:<52} {row['ours_ms']:>12.1f} {reference_ms:>17} {speedup:>8}")
    print(json.dumps({"rounds": args.rounds, "n": args.n, "rows": rows}))


if __name__ == "__main__":
    main()
