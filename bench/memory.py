"""The memory server against the reference (@modelcontextprotocol/server-memory), at 1k, 10k and 100k entities.

    .venv/bin/python -m bench.memory [--sizes 1000 10000 100000] [--n 200]

For each size the same graph is built twice: N entities (a two-word name and a number, 3 observations of 6-10
words from a 5,000-word vocabulary, a type from 8) and N relations, into our store through the domain functions
(1,000 entities a call) and as the reference's JSONL file. Both servers are then driven over their pipes
(handshake era, one call at a time, after warm-up calls), workload by workload, ours then the reference, in the
same run:

- search_nodes, three kinds of query: a full entity name (1 match), two words of one observation (a few
  matches), one vocabulary word (hundreds of matches at 100k: ours returns its first page of ~20,000 tokens and
  the total, the reference every match);
- create_entities (one new entity with 3 observations a call), open_nodes (one name);
- read_graph and a resources/read of memory://knowledge-graph (ours: the first page; the reference: everything,
  so only up to 10k);
- peak RSS of each server process at the end (Linux /proc);
- the floor for the one-word query: a bare SDK server (bench/bare_sdk_server.py) answering every call with our
  largest one-word reply, byte for byte, so what is left is the SDK, the pipes and the client's parsing.

The reference re-reads its whole file on every call, so it gets fewer calls as the graph grows (--reference-n).
Targets (issue 8): at 100k, search_nodes p50 <= 5 ms, create_entities p50 <= 2 ms, open_nodes p50 <= 2 ms,
peak RSS <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench.harness import BARE_SDK, Session, deskmcp, install_reference, percentile

SYLLABLES: Final = "ka lo mi ra ten vo sil dar en qui bro zet ul pha nor gri est ta wen ox".split()
TYPES: Final = ("person", "project", "place", "organization", "event", "concept", "tool", "document")
REFERENCE_N: Final = {1_000: 50, 10_000: 20, 100_000: 5}
FLOOR: Final = "floor: bare SDK, same reply"


class Graph:
    """A deterministic graph of `size` entities and as many relations."""

    def __init__(self, size: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        # Three syllables each, so (almost) no word is the start of another, as with real words.
        words = sorted({"".join(rng.choice(SYLLABLES) for _ in range(3)) for _ in range(20_000)})
        self.vocabulary = rng.sample(words, 5000)
        self.entities = [self.entity(i) for i in range(size)]
        names = [e["name"] for e in self.entities]
        self.relations = [
            {
                "from": names[i],
                "to": names[rng.randrange(size)],
                "relationType": rng.choice(["knows", "part_of", "uses"]),
            }
            for i in range(size)
        ]

    def sentence(self) -> str:
        return " ".join(self.rng.choice(self.vocabulary) for _ in range(self.rng.randint(6, 10)))

    def entity(self, number: int, prefix: str = "") -> dict[str, Any]:
        words = [self.rng.choice(self.vocabulary).title() for _ in range(2)]
        return {
            "name": f"{prefix}{words[0]} {words[1]} {number}",
            "entityType": self.rng.choice(TYPES),
            "observations": [self.sentence() for _ in range(3)],
        }

    def queries(self, kind: str, count: int) -> list[str]:
        rng = random.Random(kind)
        picks = [self.entities[rng.randrange(len(self.entities))] for _ in range(count)]
        if kind == "name":
            return [e["name"] for e in picks]
        if kind == "two words":
            return [" ".join(rng.sample(e["observations"][0].split(), 2)) for e in picks]
        return [rng.choice(self.vocabulary) for _ in range(count)]

    def write_jsonl(self, path: Path) -> None:
        lines = [json.dumps({"type": "entity", **e}, separators=(",", ":")) for e in self.entities]
        lines += [json.dumps({"type": "relation", **r}, separators=(",", ":")) for r in self.relations]
        path.write_text("\n".join(lines), encoding="utf-8")

    def build_store(self, path: Path) -> None:
        from deskmcp.servers.memory import graph
        from deskmcp.servers.memory.store import Store

        store = Store(path)
        for start in range(0, len(self.entities), 1000):
            graph.create_entities(store, self.entities[start : start + 1000])
        for start in range(0, len(self.relations), 1000):
            graph.create_relations(store, self.relations[start : start + 1000])
        store.close()


def timed_calls(session: Session, calls: list[dict[str, Any]], warmup: int) -> tuple[list[float], int, dict[str, Any]]:
    """Milliseconds per call (after `warmup` of them), the largest reply text in characters, and that reply's
    result. A call is a tools/call's params, or `{"uri": ...}` for a resources/read."""
    times, largest, biggest = [], 0, {}
    for index, params in enumerate(calls):
        method = "resources/read" if "uri" in params else "tools/call"
        start = time.perf_counter()
        reply = session.request(method, params)
        elapsed = (time.perf_counter() - start) * 1000
        blocks = reply["result"]["contents" if "uri" in params else "content"]
        if (size := sum(len(block.get("text", "")) for block in blocks)) > largest:
            largest, biggest = size, reply["result"]
        if index >= warmup:
            times.append(elapsed)
    return times, largest, biggest


def workloads(graph: Graph, n: int) -> dict[str, list[dict[str, Any]]]:
    def search(kind: str) -> list[dict[str, Any]]:
        return [{"name": "search_nodes", "arguments": {"query": q}} for q in graph.queries(kind, n)]

    rng = random.Random(1)
    names = [graph.entities[rng.randrange(len(graph.entities))]["name"] for _ in range(n)]
    return {
        "search_nodes: a name": search("name"),
        "search_nodes: two words": search("two words"),
        "search_nodes: one word": search("one word"),
        "create_entities": [
            {"name": "create_entities", "arguments": {"entities": [graph.entity(i, "new ")]}} for i in range(n)
        ],
        "open_nodes": [{"name": "open_nodes", "arguments": {"names": [name]}} for name in names],
        "read_graph": [{"name": "read_graph", "arguments": {}}] * max(3, n // 20),
        "resource knowledge-graph": [{"uri": "memory://knowledge-graph"}] * max(3, n // 20),
    }


def measure(
    command: list[str],
    env: dict[str, str],
    plan: dict[str, list[dict[str, Any]]],
    n: int,
    skip: set[str],
    replies: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """p50, p90 and largest reply of each workload, and peak RSS; `replies` receives each workload's largest."""
    session = Session(command, env)
    results: dict[str, Any] = {}
    try:
        session.initialize()
        for label, calls in plan.items():
            if label in skip:
                continue
            count = min(n, len(calls))
            warmup = min(10, max(1, count // 10))
            times, largest, biggest = timed_calls(session, calls[: count + warmup], warmup)
            results[label] = {"p50_ms": percentile(times, 50), "p90_ms": percentile(times, 90), "text_chars": largest}
            if replies is not None:
                replies[label] = biggest
        results["peak_rss_mb"] = session.peak_rss_mb()
    finally:
        session.close()
    return results


def measure_floor(reply: dict[str, Any], folder: Path, n: int) -> dict[str, Any]:
    """A bare SDK server sending `reply` (a tools/call result) for every call: what no server sending it beats."""
    path = folder / "floor-reply.json"
    path.write_text(json.dumps(reply), encoding="utf-8")
    calls = [{"name": "reply", "arguments": {}}] * (n + 10)
    return measure([*BARE_SDK, str(path)], {}, {FLOOR: calls}, n, set())[FLOOR]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--n", type=int, default=200, help="calls measured per workload on our server")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    reference = None if args.no_reference else install_reference("memory")
    report = []
    with tempfile.TemporaryDirectory(prefix="deskmcp-bench-memory-") as scratch:
        for size in args.sizes:
            graph = Graph(size)
            folder = Path(scratch) / str(size)
            folder.mkdir()
            start = time.perf_counter()
            graph.build_store(folder / "memory.sqlite3")
            built = time.perf_counter() - start
            graph.write_jsonl(folder / "memory.jsonl")
            plan = workloads(graph, args.n + 10)
            replies: dict[str, Any] = {}
            env = {"DESKMCP_MEMORY_PATH": str(folder / "memory.sqlite3")}
            ours = measure(deskmcp("memory"), env, plan, args.n, set(), replies)
            ours[FLOOR] = measure_floor(replies["search_nodes: one word"], folder, args.n)
            theirs = None
            if reference is not None:
                skip = {"read_graph", "resource knowledge-graph"} if size > 10_000 else set()
                env = {"MEMORY_FILE_PATH": str(folder / "memory.jsonl")}
                theirs = measure(reference, env, plan, REFERENCE_N.get(size, 5), skip)
            report.append({"size": size, "build_s": round(built, 1), "ours": ours, "reference": theirs})
            print_size(report[-1])
    print(json.dumps(report))


def print_size(row: dict[str, Any]) -> None:
    ours, theirs = row["ours"], row["reference"] or {}
    print(f"\n{row['size']:,} entities and relations (our store built in {row['build_s']} s)")
    print(f"{'workload':<26} {'ours p50 ms':>11} {'p90':>7} {'reply chars':>11} {'reference p50 ms':>17} {'chars':>10}")
    for label, mine in ours.items():
        if label == "peak_rss_mb":
            continue
        other = theirs.get(label)
        other_ms = f"{other['p50_ms']:.1f}" if other else "-"
        other_chars = f"{other['text_chars']:,}" if other else "-"
        print(
            f"{label:<26} {mine['p50_ms']:>11.2f} {mine['p90_ms']:>7.2f} {mine['text_chars']:>11,} {other_ms:>17} "
            f"{other_chars:>10}"
        )
    their_rss = theirs.get("peak_rss_mb")
    their_rss_text = f"{their_rss:.0f}" if their_rss else "-"
    print(f"{'peak RSS MB':<26} {ours['peak_rss_mb'] or 0:>11.0f} {'':>7} {'':>11} {their_rss_text:>17}")


if __name__ == "__main__":
    main()
