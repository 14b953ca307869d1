"""`deskmcp memory import FILE.jsonl` and `deskmcp memory export [FILE]`: the store named by the same settings
(`DESKMCP_MEMORY_PATH`, `DESKMCP_MEMORY_PROJECT`) as the server, so they may run while servers use it.

Exit codes: 0 done (an import may still have skipped bad lines, listed on stderr), 1 the store or the file could
not be used, 2 usage.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from deskmcp.servers.memory import SETTINGS, jsonl, open_store
from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store
from deskmcp.shared.settings import SettingsError, load_settings

SHOWN_PROBLEMS = 50


def _store() -> Store:
    return open_store(load_settings("memory", SETTINGS))


def import_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="deskmcp memory import",
        description="Import the JSONL file of @modelcontextprotocol/server-memory (MEMORY_FILE_PATH) or of "
        "`deskmcp memory export` into this project. Bad lines are reported and skipped; importing the same file "
        "again adds nothing.",
    )
    parser.add_argument("file", help="the JSONL file ('-' for standard input)")
    args = parser.parse_args(argv)
    try:
        store = _store()
        if args.file == "-":
            report = jsonl.import_file(store, sys.stdin.buffer)
        else:
            with open(args.file, "rb") as handle:
                report = jsonl.import_file(store, handle)
    except (SettingsError, MemoryServerError) as exc:
        print(f"deskmcp memory import: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"deskmcp memory import: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if report.problem_count > SHOWN_PROBLEMS:
        print(f"{args.file}: ... and {report.problem_count - SHOWN_PROBLEMS:,} more problems", file=sys.stderr)
    print(f"{args.file}: {report.summary()} (store {store.path}, project {store.project!r})")
    return 0


def export_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="deskmcp memory export",
        description="Write this project as the reference server's JSONL (entities, then relations), with "
        "timestamps as extra fields the reference ignores.",
    )
    parser.add_argument("file", nargs="?", help="where to write (replaced whole at the end); default: stdout")
    parser.add_argument("--no-timestamps", action="store_true", help="write only the reference server's fields")
    args = parser.parse_args(argv)
    timestamps = not args.no_timestamps
    try:
        store = _store()
        if args.file is None:
            out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
            jsonl.write_lines(store, out, timestamps=timestamps)
            out.flush()
            out.detach()
            return 0
        count = jsonl.export_file(store, Path(args.file), timestamps=timestamps)
    except (SettingsError, MemoryServerError) as exc:
        print(f"deskmcp memory export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = args.file or "standard output"
        print(f"deskmcp memory export: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"deskmcp memory export: {count:,} lines written to {args.file}", file=sys.stderr)
    return 0
