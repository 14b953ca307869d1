"""Live resources of the filesystem server on a 100,000-file tree, measured in one run.

    .venv/bin/python -m bench.fs_live [--tree DIR] [--changes 40] [--idle 10]

- first page of `resources/list` (targets: <= 50 ms), cold (the first request of a fresh server) and warm,
  and a page resumed from a cursor deep in the tree; the full walk of all pages for scale;
- change -> `notifications/resources/updated` latency on a subscribed file, handshake era and 2026-07-28,
  changes alternating write / truncate / rename-over (how editors save), 0.4 s apart (target p50 <= 150 ms);
- idle CPU of the server process over `--idle` seconds with subscriptions and the list-change watch of the
  whole tree active, against the same server with nothing subscribed and a bare SDK server.

The tree (100 folders x 10 subfolders x 100 files) is built in a temporary directory unless `--tree` names
one to keep between runs. The reference filesystem server has no resources, so there is no ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BARE_SDK, Session, deskmcp, percentile

TOP, SUB, FILES = 100, 10, 100
MARK = ".deskmcp-bench-tree"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def build_tree(root: Path) -> Path:
    """100,000 small files in 1,100 folders (kept when it is already there)."""
    if (root / MARK).exists():
        return root
    for top in range(TOP):
        for sub in range(SUB):
            folder = root / f"t{top:03}" / f"s{sub:02}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(FILES):
                (folder / f"f{index:03}.txt").write_bytes(b"line\n")
    (root / MARK).mkdir()  # a folder: not a resource
    return root


class LiveSession(Session):
    """A harness session whose stdout is read by a thread, so notifications are timed as they arrive."""

    def __init__(self, command: list[str], *, modern: bool = False) -> None:
        super().__init__(command)
        if not modern:  # 2026-07-28 has no handshake: the first enveloped request sets the era
            self.initialize()
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notes: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            message = json.loads(line)
            if "id" in message and "method" not in message:
                self.replies.put(message)
            elif "method" in message and "id" not in message:
                self.notes.put((time.perf_counter(), message))

    def call(self, method: str, params: dict[str, Any] | None = None, *, modern: bool = False) -> dict[str, Any]:
        if modern:
            params = {**(params or {}), "_meta": MODERN_META}
        self.write(self.encode(method, params))
        reply = self.replies.get(timeout=30)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]

    def send(self, method: str, params: dict[str, Any]) -> None:
        self.write(self.encode(method, {**params, "_meta": MODERN_META}))

    def next_note(self, method: str, timeout: float = 5) -> float:
        deadline = time.monotonic() + timeout
        while True:
            arrived, note = self.notes.get(timeout=max(0.01, deadline - time.monotonic()))
            if note["method"] == method:
                return arrived

    def cpu_seconds(self) -> float:
        """CPU time of all the server's threads, to the nanosecond (/proc/PID/stat counts 10 ms ticks)."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue
        return total / 1e9

    def inotify_watches(self) -> int:
        count = 0
        for fd in os.listdir(f"/proc/{self.process.pid}/fd"):
            try:
                if os.readlink(f"/proc/{self.process.pid}/fd/{fd}") == "anon_inode:inotify":
                    count += Path(f"/proc/{self.process.pid}/fdinfo/{fd}").read_text().count("inotify wd:")
            except OSError:
                continue
        return count


def timed_ms(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def listing(tree: Path, command: list[str]) -> dict[str, Any]:
    session = LiveSession(command)
    try:
        cold = timed_ms(lambda: session.call("resources/list"))
        listed_at = time.perf_counter()  # a client that lists is told of list changes: the tree watch starts
        while session.inotify_watches() < TOP * (SUB + 1) + 1 and time.perf_counter() - listed_at < 60:
            time.sleep(0.01)
        tree_watch_s = time.perf_counter() - listed_at
        start, pages, files, cursor = time.perf_counter(), 0, 0, None
        deep_cursor = None
        while True:
            result = session.call("resources/list", {"cursor": cursor} if cursor else {})
            pages, files, cursor = pages + 1, files + len(result["resources"]), result.get("nextCursor")
            if pages == 150:
                deep_cursor = cursor
            if cursor is None:
                break
        walk_s = time.perf_counter() - start
        watches = session.inotify_watches()
        warm = [timed_ms(lambda: session.call("resources/list")) for _ in range(50)]
        deep = [timed_ms(lambda: session.call("resources/list", {"cursor": deep_cursor})) for _ in range(50)]
        return {
            "cold": cold,
            "warm": warm,
            "deep": deep,
            "walk_s": walk_s,
            "pages": pages,
            "files": files,
            "watches": watches,
            "tree_watch_s": tree_watch_s,
        }
    finally:
        session.close()


def change_file(path: Path, kind: int) -> None:
    if kind == 0:
        with path.open("a") as handle:
            handle.write("more\n")
    elif kind == 1:
        path.write_bytes(b"")
    else:
        temporary = path.with_name(f".{path.name}.swp")
        temporary.write_bytes(b"saved\n")
        os.replace(temporary, path)


def latencies(tree: Path, command: list[str], changes: int, modern: bool) -> list[float]:
    target = tree / "t050" / "s05" / ("f050.txt" if modern else "f051.txt")
    uri = target.as_uri()
    session = LiveSession(command, modern=modern)
    try:
        if modern:
            session.send("subscriptions/listen", {"notifications": {"resourceSubscriptions": [uri]}})
            session.next_note("notifications/subscriptions/acknowledged")
        else:
            session.call("resources/subscribe", {"uri": uri})
        times = []
        for index in range(changes):
            # Apart by more than the server's per-file update interval (0.25 s), with jitter so that changes
            # do not stay in step with the watcher's 40 ms wake-ups.
            time.sleep(0.4 + random.uniform(0, 0.04))
            start = time.perf_counter()
            change_file(target, index % 3)
            times.append((session.next_note("notifications/resources/updated") - start) * 1000)
        return times
    finally:
        session.close()


def idle_cpu(tree: Path, command: list[str], seconds: float, live: bool) -> tuple[float, int]:
    """CPU seconds the server uses over `seconds` of idling, and the inotify watches it holds."""
    session = LiveSession(command)
    try:
        if live and command is not BARE_SDK:
            for top in range(0, TOP, 10):  # 10 subscriptions in 10 folders, plus list changes of the tree
                session.call("resources/subscribe", {"uri": (tree / f"t{top:03}" / "s00" / "f000.txt").as_uri()})
            session.call("resources/list")
            deadline = time.monotonic() + 60
            while session.inotify_watches() < TOP * (SUB + 1) + 11 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)
        watches = session.inotify_watches()
        before = session.cpu_seconds()
        time.sleep(seconds)
        return session.cpu_seconds() - before, watches
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="build (or reuse) the 100,000-file tree here and keep it")
    parser.add_argument("--changes", type=int, default=40, help="changes timed per protocol era")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idling measured")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("this benchmark reads CPU time and inotify watches from /proc (Linux)")
    scratch = None if args.tree else Path(tempfile.mkdtemp(prefix="deskmcp-fs-live-"))
    try:
        tree = (args.tree or scratch).resolve()
        tree.mkdir(parents=True, exist_ok=True)
        built = timed_ms(lambda: build_tree(tree)) / 1000
        print(f"tree: {TOP * SUB * FILES:,} files in {TOP * (SUB + 1):,} folders at {tree} (ready in {built:.1f} s)")
        command = deskmcp("filesystem", str(tree))
        listed = listing(tree, command)
        legacy = latencies(tree, command, args.changes, modern=False)
        modern = latencies(tree, command, args.changes, modern=True)
        idle_live, live_watches = idle_cpu(tree, command, args.idle, live=True)
        idle_plain, _ = idle_cpu(tree, command, args.idle, live=False)
        idle_bare, _ = idle_cpu(tree, BARE_SDK, args.idle, live=False)
        report(listed, legacy, modern, (idle_live, live_watches, idle_plain, idle_bare), args.idle)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def report(listed: dict[str, Any], legacy: list[float], modern: list[float], idle: tuple, seconds: float) -> None:
    idle_live, live_watches, idle_plain, idle_bare = idle
    print(f"\n{'resources/list':<44}{'ms':>10}  target")
    print(f"{'first page, cold (first request)':<44}{listed['cold']:>10.1f}  <= 50")
    print(f"{'first page, warm, p50 / p99':<44}{_pair(listed['warm'])}  <= 50")
    print(f"{'page 151 (from a cursor), p50 / p99':<44}{_pair(listed['deep'])}")
    walk = f"{listed['walk_s']:.2f} s for {listed['files']:,} files in {listed['pages']} pages"
    print(f"{'all pages':<44}{walk}")
    ready = f"{listed['watches']} inotify watches, in place {listed['tree_watch_s']:.2f} s after the first list"
    print(f"{'list-change watch of the tree':<44}{ready}")
    print(f"\n{'change -> resources/updated':<44}{'ms':>10}  target")
    print(f"{'handshake era, p50 / p99':<44}{_pair(legacy)}  p50 <= 150")
    print(f"{'2026-07-28 listen stream, p50 / p99':<44}{_pair(modern)}  p50 <= 150")
    print(f"\n{f'idle CPU over {seconds:.0f} s':<44}{'CPU s':>10}{'% core':>9}")
    for label, value in (
        (f"deskmcp, 10 subscriptions + tree ({live_watches} watches)", idle_live),
        ("deskmcp, nothing subscribed", idle_plain),
        ("bare SDK server", idle_bare),
    ):
        print(f"{label:<44}{value:>10.4f}{value / seconds * 100:>8.3f}%")


def _pair(values: list[float]) -> str:
    return f"{statistics.median(values):>5.1f} / {percentile(values, 99):.1f}".rjust(10)


if __name__ == "__main__":
    main()
