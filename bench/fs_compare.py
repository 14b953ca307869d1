"""The filesystem tools side by side with the reference server (@modelcontextprotocol/server-filesystem): the same
calls on the same trees, and every difference in what comes back.

    .venv/bin/python -m bench.fs_compare [--all]

Installs the reference from npm into bench/.peers/ when it is missing (as bench.fs_tools does), builds one tree
with the cases that tell servers apart (symlinks in, out of and between the allowed directories, a dangling
link, CRLF, binary, empty and hidden files, an empty folder), then runs each server on its own copy of it and
compares `tools/list` (titles, output schemas) and every call's first content block, `isError` and
`structuredContent`. Differences are printed as unified diffs, with the temp directory shown as `T`; `--all`
prints the calls that agree too. Not a test: the README's list of deliberate differences is what it shows.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import Session, deskmcp, install_reference


def build_tree(base: Path) -> tuple[Path, Path]:
    """Two allowed directories and, beside them, one that is not."""
    root, other, outside = base / "root", base / "root2", base / "outside"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    other.mkdir()
    outside.mkdir()
    for name, data in {
        "a.txt": b"hello\nworld\n",
        "B.md": b"# B\n",
        "_under.txt": b"_\n",
        ".hidden": b"h\n",
        "Zed.txt": b"z\n",
        "unicode-\u00fc.txt": b"u\n",
        "crlf.txt": b"one\r\ntwo\r\n",
        "no-newline.txt": b"last line",
        "big.txt": b"x" * 3000,
        "bin.dat": b"\x00\x01\x02",
        "pic.png": b"\x89PNG\r\n",
        "doc.pdf": b"%PDF-1.4\n",
        "sub/c.txt": b"c\n",
        "sub/deeper/d.txt": b"d",
    }.items():
        (root / name).write_bytes(data)
    (other / "t.txt").write_bytes(b"t\n")
    (outside / "secret.txt").write_bytes(b"secret\n")
    os.symlink("a.txt", root / "link-in")
    os.symlink("sub", root / "link-dir")
    os.symlink("nowhere", root / "link-dangling")
    os.symlink("../outside/secret.txt", root / "link-out")
    os.symlink("../root2/t.txt", root / "link-other-root")
    return root, other


def calls(root: Path) -> list[tuple[str, dict[str, Any]]]:
    a, sub = str(root / "a.txt"), str(root / "sub")
    read = [
        ("read_text_file", {"path": a}),
        ("read_text_file", {"path": "a.txt"}),
        ("read_text_file", {"path": a, "head": 1}),
        ("read_text_file", {"path": a, "head": 0}),
        ("read_text_file", {"path": a, "tail": 1}),
        ("read_text_file", {"path": a, "tail": 2}),
        ("read_text_file", {"path": str(root / "crlf.txt"), "head": 1}),
        ("read_text_file", {"path": str(root / "no-newline.txt"), "tail": 1}),
        ("read_text_file", {"path": str(root / "bin.dat")}),
        ("read_text_file", {"path": str(root / "link-in")}),
        ("read_text_file", {"path": str(root / "link-other-root")}),
        ("read_text_file", {"path": str(root / "link-out")}),
        ("read_text_file", {"path": str(root / ".." / "root2" / "t.txt")}),
        ("read_text_file", {"path": str(root / "missing.txt")}),
        ("read_text_file", {"path": sub}),
        ("read_file", {"path": a}),
        ("read_media_file", {"path": str(root / "pic.png")}),
        ("read_media_file", {"path": str(root / "doc.pdf")}),
        ("read_multiple_files", {"paths": [a, str(root / "missing.txt"), str(root / "sub" / "c.txt")]}),
    ]
    listing = [
        ("list_directory", {"path": str(root)}),
        ("list_directory", {"path": str(root / "empty")}),
        ("list_directory_with_sizes", {"path": str(root)}),
        ("list_directory_with_sizes", {"path": str(root), "sortBy": "size"}),
        ("list_directory_with_sizes", {"path": str(root / "empty")}),
        ("directory_tree", {"path": str(root)}),
        ("directory_tree", {"path": str(root), "excludePatterns": ["deeper"]}),
        ("directory_tree", {"path": str(root), "excludePatterns": ["*.txt"]}),
        ("search_files", {"path": str(root), "pattern": "*.txt"}),
        ("search_files", {"path": str(root), "pattern": "**/*.txt"}),
        ("search_files", {"path": str(root), "pattern": "**"}),
        ("search_files", {"path": str(root), "pattern": "**/*.txt", "excludePatterns": ["deeper"]}),
        ("search_files", {"path": str(root), "pattern": "*.none"}),
        ("get_file_info", {"path": a}),
        ("get_file_info", {"path": sub}),
        ("list_allowed_directories", {}),
    ]
    write = [
        ("edit_file", {"path": a, "edits": [{"oldText": "world", "newText": "there"}], "dryRun": True}),
        ("edit_file", {"path": str(root / "crlf.txt"), "edits": [{"oldText": "two", "newText": "2"}]}),
        ("read_text_file", {"path": str(root / "crlf.txt")}),
        ("edit_file", {"path": str(root / "no-newline.txt"), "edits": [{"oldText": "line", "newText": "one"}]}),
        ("edit_file", {"path": a, "edits": [{"oldText": "absent", "newText": "x"}]}),
        ("write_file", {"path": str(root / "new.txt"), "content": "n\n"}),
        ("create_directory", {"path": str(root / "made" / "deep")}),
        ("move_file", {"source": str(root / "new.txt"), "destination": str(root / "moved.txt")}),
        ("move_file", {"source": str(root / "moved.txt"), "destination": a}),
    ]
    return read + listing + write


def run(command: list[str], work: Path, base: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """tools/list and every call's result, on a fresh copy of the tree at `work`."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work, symlinks=True)
    root = work / "root"
    session = Session([*command, str(root), str(work / "root2")])
    try:
        session.initialize()
        listed = session.request("tools/list")["result"]
        results = []
        for name, arguments in calls(root):
            session.write(session.encode("tools/call", {"name": name, "arguments": arguments}))
            reply = session.read_response()
            results.append(reply.get("result", reply))
        return listed, results
    finally:
        session.close()


def shown(value: Any, work: Path) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
    return text.replace(os.path.realpath(work), "T").replace(str(work), "T").replace("\r", "\\r")


def report(label: str, reference: str, ours: str, show_all: bool) -> bool:
    if reference == ours:
        if show_all:
            print(f"SAME {label}")
        return True
    print(f"DIFF {label}")
    for line in difflib.unified_diff(reference.splitlines(), ours.splitlines(), "reference", "deskmcp", lineterm=""):
        print(f"    {line}")
    return False


def compare_listing(reference: dict[str, Any], ours: dict[str, Any], show_all: bool) -> int:
    theirs = {tool["name"]: tool for tool in reference["tools"]}
    mine = {tool["name"]: tool for tool in ours["tools"]}
    differences = 0
    for name, tool in theirs.items():
        own = mine.get(name, {})
        for key in ("title", "outputSchema"):
            theirs_, ours_ = shown(tool.get(key), Path()), shown(own.get(key), Path())
            differences += not report(f"tools/list {name} {key}", theirs_, ours_, show_all)
    return differences


def compare_calls(reference: list[dict[str, Any]], ours: list[dict[str, Any]], work: Path, show_all: bool) -> int:
    differences = 0
    for (name, arguments), theirs, mine in zip(calls(work / "root"), reference, ours, strict=True):
        label = f"{name} {shown(json.dumps(arguments, ensure_ascii=False), work)}"

        def summary(result: dict[str, Any]) -> str:
            first = result.get("content", [{}])[0]
            text = first.get("text", json.dumps(first, indent=1, sort_keys=True))
            structured = result.get("structuredContent")
            agrees = structured == {"content": text} or structured == {"content": result.get("content")}
            extra = "\n".join(block.get("text", "") for block in result.get("content", [])[1:])
            return "\n".join(
                [
                    shown(text, work),
                    f"[isError: {bool(result.get('isError'))}]",
                    f"[structuredContent: {'the content' if agrees else shown(structured, work)}]",
                    *([f"[more blocks: {shown(extra, work)}]"] if extra else []),
                ]
            )

        differences += not report(label, summary(theirs), summary(mine), show_all)
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="print the calls that agree too")
    args = parser.parse_args()
    reference_argv = install_reference("filesystem")
    with tempfile.TemporaryDirectory(prefix="deskmcp-compare-") as scratch:
        base, work = Path(scratch) / "tree", Path(scratch) / "work"
        base.mkdir()
        build_tree(base)
        their_tools, their_results = run(reference_argv, work, base)
        our_tools, our_results = run(deskmcp("filesystem"), work, base)
        differences = compare_listing(their_tools, our_tools, args.all)
        differences += compare_calls(their_results, our_results, work, args.all)
    print(f"{differences} difference(s) in {len(calls(Path()))} calls and 2 x {len(their_tools['tools'])} listings")


if __name__ == "__main__":
    main()
