"""The filesystem tools in process: through the tool registry (argument validation included) and their domain
modules (globs, regex guard, head/tail, edits). The protocol is in test_fs_protocol.py."""

from __future__ import annotations

import base64
import errno
import io
import json
import mimetypes
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import anyio.to_thread
import pytest
from deskmcp.servers.filesystem import dirops, search, textfiles
from deskmcp.servers.filesystem.filetimes import STATX_BTIME, STATX_INO, creation_time, statx_birth
from deskmcp.servers.filesystem.filetypes import mime_type
from deskmcp.servers.filesystem.globs import Excludes, Glob
from deskmcp.servers.filesystem.output import OutputCap
from deskmcp.servers.filesystem.regexguard import compile_guarded
from deskmcp.servers.filesystem.resources import ResourceUnreadable, read_resource
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.tools import WRITE_TOOLS, Limits, build_registry, build_tools, ticker
from deskmcp.servers.filesystem.uris import path_to_uri
from deskmcp.shared.errors import DomainError
from deskmcp.shared.tools import ToolCancelled, ToolContext, ToolRegistry

LIMIT = 64 * 1024


class Tools:
    """Call tools the way `tools/call` does: validated arguments, errors as isError results."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.registry = ToolRegistry(build_tools(sandbox, Limits(max_read_bytes=LIMIT)))
        self.progress: list[tuple[float, Any, Any]] = []

        async def report_progress(progress: float, total: Any = None, message: Any = None) -> None:
            self.progress.append((progress, total, message))

        self.request = SimpleNamespace(session=SimpleNamespace(report_progress=report_progress))

    def result(self, name: str, **arguments: Any) -> Any:
        spec = self.registry.tools[name]
        context = ToolContext(self.request)  # type: ignore[arg-type]
        return anyio.run(self.registry.call, spec, arguments, context)

    def text(self, name: str, **arguments: Any) -> str:
        """The result's first block: the reference's text (also its structured content)."""
        result = self.result(name, **arguments)
        assert not result.is_error, result.content[0].text
        assert result.structured_content == {"content": result.content[0].text}
        return result.content[0].text

    def notes(self, name: str, **arguments: Any) -> list[str]:
        """The text blocks after the first: what deskmcp adds (a truncation note, counts)."""
        result = self.result(name, **arguments)
        assert not result.is_error, result.content[0].text
        return [block.text for block in result.content[1:]]

    def whole(self, name: str, **arguments: Any) -> str:
        return "\n".join([self.text(name, **arguments), *self.notes(name, **arguments)])

    def error(self, name: str, **arguments: Any) -> str:
        result = self.result(name, **arguments)
        assert result.is_error, result.content[0].text
        return result.content[0].text


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "README.md").write_text("# Title\nhello world\n")
    (root / "src" / "main.py").write_text("import os\n\ndef main():\n    return 1\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    return 'Hello'\n")
    (root / "docs" / "guide.md").write_text("Guide\n")
    (root / "node_modules" / "dep" / "index.js").write_text("hello from a dependency\n")
    return root


@pytest.fixture
def tools(root: Path) -> Tools:
    return Tools(Sandbox([root]))


# --- reading -----------------------------------------------------------------------------------------


def test_read_text_file_whole_head_tail_and_alias(tools: Tools, root: Path) -> None:
    assert tools.text("read_text_file", path=str(root / "src" / "main.py")).startswith("import os\n")
    assert tools.text("read_text_file", path="src/main.py", head=2) == "import os\n"
    assert tools.text("read_text_file", path="src/main.py", tail=1) == "    return 1"  # not "" (reference bug)
    assert tools.text("read_file", path="src/main.py", head=1) == "import os"
    assert "head or tail, not both" in tools.error("read_text_file", path="src/main.py", head=1, tail=1)


def test_huge_files_are_refused_whole_but_stream_head_and_tail(tools: Tools, root: Path) -> None:
    big = root / "big.log"
    with big.open("w") as handle:
        for number in range(20_000):
            handle.write(f"line {number}\n")
    message = tools.error("read_text_file", path="big.log")
    assert "over the 65,536-byte limit" in message and "head or tail" in message
    assert tools.text("read_text_file", path="big.log", head=2) == "line 0\nline 1"
    assert tools.text("read_text_file", path="big.log", tail=2) == "line 19998\nline 19999"
    (root / "one_line.txt").write_bytes(b"x" * (LIMIT * 3))
    assert tools.text("read_text_file", path="one_line.txt", head=1) == "x" * LIMIT
    assert tools.notes("read_text_file", path="one_line.txt", head=1) == [
        "Truncated: the requested lines exceed the 65,536-byte read limit; 1 line(s) are shown."
    ]


def test_binary_files_point_to_read_media_file(tools: Tools, root: Path) -> None:
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    assert "read_media_file" in tools.error("read_text_file", path="blob.bin")


def test_read_media_file_blocks(tools: Tools, root: Path) -> None:
    (root / "pic.png").write_bytes(b"\x89PNG\r\n")
    (root / "tune.mp3").write_bytes(b"ID3")
    (root / "doc.pdf").write_bytes(b"%PDF")
    image = tools.result("read_media_file", path="pic.png").content[0]
    assert (image.type, image.mime_type, base64.b64decode(image.data)) == ("image", "image/png", b"\x89PNG\r\n")
    assert tools.result("read_media_file", path="tune.mp3").content[0].type == "audio"
    embedded = tools.result("read_media_file", path="doc.pdf").content[0]
    assert embedded.type == "resource" and embedded.resource.uri == path_to_uri(root / "doc.pdf")
    assert embedded.resource.mime_type == "application/pdf"


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("tune.wav", "audio", "audio/wav"),
        ("tune.flac", "audio", "audio/flac"),
        ("scan.tiff", "image", "image/tiff"),
        ("notes.weird", "resource", "application/octet-stream"),
    ],
)
def test_media_types_are_the_resources_fixed_table_not_the_hosts(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: str, mime: str
) -> None:
    monkeypatch.setattr(mimetypes, "guess_type", lambda *_args, **_kwargs: ("image/x-from-this-host", None))
    (root / name).write_bytes(b"data")
    block = tools.result("read_media_file", path=name).content[0]
    assert block.type == kind
    assert (block.resource.mime_type if kind == "resource" else block.mime_type) == mime == mime_type(name)


def test_an_embedded_resource_has_the_files_resource_uri(tools: Tools, root: Path) -> None:
    name = "a #1?%é\udcff.pdf"  # characters a URI must escape, and a name that is not UTF-8
    (root / name).write_bytes(b"%PDF")
    uri = tools.result("read_media_file", path=name).content[0].resource.uri
    assert uri == path_to_uri(root / name) and uri.endswith("/a%20%231%3F%25%C3%A9%FF.pdf")
    assert read_resource(Sandbox([root]), uri, LIMIT).data == b"%PDF"


def test_read_multiple_files_reports_each_error_inline(tools: Tools, root: Path) -> None:
    text = tools.text("read_multiple_files", paths=["README.md", "missing.txt", "/etc/passwd"])
    parts = text.split("\n---\n")
    assert parts[0] == "README.md:\n# Title\nhello world\n\n"
    assert parts[1].startswith("missing.txt: Error - ") and "does not exist" in parts[1]
    assert "outside the allowed directories" in parts[2]
    assert "paths" in tools.error("read_multiple_files", paths=[])


def test_read_multiple_files_counts_the_bytes_read_against_the_limit(tools: Tools, root: Path) -> None:
    # Invalid UTF-8 decodes to U+FFFD (3 bytes once re-encoded): the budget is what was read, not that.
    (root / "bad.bin.txt").write_bytes(b"\xff" * (LIMIT // 2))
    (root / "small.txt").write_text("b")
    text = tools.text("read_multiple_files", paths=["bad.bin.txt", "small.txt"])
    assert text.split("\n---\n")[1] == "small.txt:\nb\n"


class FailingDisk:
    """Reads of one file fail with EIO (a failing disk or network share); other files read normally."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
        self.inode = target.stat().st_ino
        self.fdopen, self.read = os.fdopen, os.read
        monkeypatch.setattr(os, "fdopen", self._fdopen)
        monkeypatch.setattr(os, "read", self._read)

    def _fdopen(self, fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" in mode and os.fstat(fd).st_ino == self.inode:
            return io.BufferedReader(EIOFile(fd, "rb"))
        return self.fdopen(fd, mode, *args, **kwargs)

    def _read(self, fd: int, size: int) -> bytes:
        if os.fstat(fd).st_ino == self.inode:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return self.read(fd, size)


class EIOFile(io.FileIO):
    def readinto(self, _buffer: Any) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def readall(self) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("read_text_file", {}),
        ("read_text_file", {"head": 1}),
        ("read_text_file", {"tail": 1}),
        ("read_file", {}),
        ("read_media_file", {}),
        ("edit_file", {"edits": [{"oldText": "hello", "newText": "bye"}]}),
    ],
)
def test_an_io_error_while_reading_is_a_clear_error(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch, tool: str, arguments: dict[str, Any]
) -> None:
    FailingDisk(monkeypatch, root / "README.md")
    assert tools.error(tool, path="README.md", **arguments) == "cannot read 'README.md': Input/output error"
    assert (root / "README.md").read_text() == "# Title\nhello world\n"


def test_an_io_error_in_read_multiple_files_is_reported_for_that_file(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FailingDisk(monkeypatch, root / "README.md")
    parts = tools.text("read_multiple_files", paths=["README.md", "docs/guide.md"]).split("\n---\n")
    assert parts == ["README.md: Error - cannot read 'README.md': Input/output error", "docs/guide.md:\nGuide\n\n"]


def test_an_io_error_on_the_other_read_paths_is_reported(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FailingDisk(monkeypatch, root / "README.md")
    with pytest.raises(ResourceUnreadable, match=r"README.md: cannot read '.*README.md': Input/output error$"):
        read_resource(Sandbox([root]), path_to_uri(root / "README.md"), LIMIT)
    assert "1 file(s) could not be read" in tools.whole("search_file_contents", path=".", query="hello")

    def failing_stat(*_args: Any) -> Any:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(dirops.FdOps, "stat_dir", failing_stat)
    assert tools.error("get_file_info", path=".") == "cannot stat '.': Input/output error"  # the root itself


def test_an_io_error_while_listing_is_a_clear_error(tools: Tools, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_scandir(*_args: Any) -> Any:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "scandir", failing_scandir)
    for tool in ("list_directory", "list_directory_with_sizes", "directory_tree", "search_files"):
        arguments = {"pattern": "*"} if tool == "search_files" else {}
        assert tools.error(tool, path="docs", **arguments) == "cannot list 'docs': Input/output error", tool


# --- writing ------------------------------------------------------------------------------------------


def test_write_file_creates_and_replaces(tools: Tools, root: Path) -> None:
    assert (
        tools.text("write_file", path="src/../notes.txt", content="été\n") == "Successfully wrote to src/../notes.txt"
    )
    assert (root / "notes.txt").read_text(encoding="utf-8") == "été\n"
    assert "create_directory" in tools.error("write_file", path="nodir/x.txt", content="x")
    assert "is a directory" in tools.error("write_file", path="src", content="x")


def test_write_file_through_a_hard_link_says_what_happened(tools: Tools, root: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.txt"
    other.write_text("old")
    os.link(other, root / "linked.txt")
    assert "other hard link" in tools.notes("write_file", path="linked.txt", content="new")[0]
    assert other.read_text() == "old"
    edited = tools.notes("edit_file", path="linked.txt", edits=[{"oldText": "new", "newText": "newer"}])
    assert edited == []  # the write above replaced the name: it has no other link now
    os.link(root / "linked.txt", tmp_path / "second.txt")
    edited = tools.notes("edit_file", path="linked.txt", edits=[{"oldText": "newer", "newText": "newest"}])
    assert "other hard link" in edited[0]
    assert (tmp_path / "second.txt").read_text() == "newer" and (root / "linked.txt").read_text() == "newest"


def test_a_full_disk_is_a_clear_error_and_the_file_is_kept(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    message = tools.error("write_file", path="README.md", content="new")
    assert message == "cannot write 'README.md': no space left on the device"  # not an internal error
    edit = [{"oldText": "hello", "newText": "bye"}]
    assert "no space left" in tools.error("edit_file", path="README.md", edits=edit)
    assert (root / "README.md").read_text() == "# Title\nhello world\n"
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "docs", "node_modules", "src"]


def test_a_lone_surrogate_in_content_is_refused_clearly_and_nothing_is_written(tools: Tools, root: Path) -> None:
    message = tools.error("write_file", path="README.md", content="a\ud800b")
    assert "lone surrogate" in message and "nothing was written" in message
    message = tools.error("edit_file", path="README.md", edits=[{"oldText": "hello", "newText": "\udfff"}])
    assert "lone surrogate" in message
    assert (root / "README.md").read_text() == "# Title\nhello world\n"


def test_edit_file_diff_dry_run_and_all_or_nothing(tools: Tools, root: Path) -> None:
    main = root / "src" / "main.py"
    before = main.read_text()
    preview = tools.text(
        "edit_file", path="src/main.py", edits=[{"oldText": "return 1", "newText": "return 2"}], dryRun=True
    )
    real = root / "src" / "main.py"  # the diff names the real path, as the reference's does
    assert preview.startswith(f"```diff\nIndex: {real}\n" + "=" * 67 + f"\n--- {real}\toriginal\n")
    assert "-    return 1\n+    return 2\n" in preview
    assert main.read_text() == before
    failing = [{"oldText": "import os", "newText": "import sys"}, {"oldText": "not there", "newText": "x"}]
    assert "edit 2: oldText was not found" in tools.error("edit_file", path="src/main.py", edits=failing)
    assert main.read_text() == before  # the first edit was not applied either
    tools.text("edit_file", path="src/main.py", edits=[{"oldText": "return 1", "newText": "return 2"}])
    assert main.read_text() == before.replace("return 1", "return 2")


REFERENCE_DIFFS = {  # what the reference server's edit_file returned for the same edits (jsdiff 8)
    "two hunks": (
        "".join(f"line {number}\n" for number in range(1, 31)),
        [("line 3\n", "LINE three\n"), ("line 20\nline 21\n", "")],
        "@@ -1,7 +1,7 @@\n line 1\n line 2\n-line 3\n+LINE three\n line 4\n line 5\n line 6\n line 7\n"
        "@@ -16,10 +16,8 @@\n line 16\n line 17\n line 18\n line 19\n-line 20\n-line 21\n line 22\n line 23\n"
        " line 24\n line 25\n",
    ),
    "no final newline": (
        "a\nb\nc",
        [("c", "c\nd")],
        "@@ -1,3 +1,4 @@\n a\n b\n-c\n\\ No newline at end of file\n+c\n+d\n\\ No newline at end of file\n",
    ),
    "CRLF": ("one\r\ntwo\r\nthree\r\n", [("two", "2")], "@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"),
    "everything removed": ("only\n", [("only\n", "")], "@@ -1,1 +0,0 @@\n-only\n"),
    "inserted first": ("x\ny\n", [("x\n", "new\nx\n")], "@@ -1,2 +1,3 @@\n+new\n x\n y\n"),
}


@pytest.mark.parametrize("case", sorted(REFERENCE_DIFFS))
def test_edit_diffs_are_the_reference_servers(case: str) -> None:
    before, edits, hunks = REFERENCE_DIFFS[case]
    header = f"Index: f.txt\n{'=' * 67}\n--- f.txt\toriginal\n+++ f.txt\tmodified\n"
    assert textfiles.unified_diff(before, textfiles.apply_edits(before, edits), "f.txt") == (
        f"```diff\n{header}{hunks}```\n"
    )
    fenced = textfiles.unified_diff("```\ncode\n```\n", "```\nmore code\n```\n", "f.txt")
    assert fenced.startswith("````diff\n") and fenced.endswith("\n````\n")


def test_edit_file_refuses_ambiguous_and_keeps_line_ends(tools: Tools, root: Path) -> None:
    (root / "dup.txt").write_text("x = 1\nx = 1\n")
    assert "matches 2 places" in tools.error("edit_file", path="dup.txt", edits=[{"oldText": "x = 1", "newText": "y"}])
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    tools.text("edit_file", path="win.txt", edits=[{"oldText": "one\ntwo", "newText": "1\n2"}])
    assert (root / "win.txt").read_bytes() == b"1\r\n2\r\n"
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert "not UTF-8" in tools.error("edit_file", path="latin1.txt", edits=[{"oldText": "caf", "newText": "x"}])


def test_edit_file_whitespace_tolerant_fallback_reindents(tools: Tools, root: Path) -> None:
    edits = [{"oldText": "def helper():\n  return 'Hello'", "newText": "def helper():\n  return 'Bye'"}]
    tools.text("edit_file", path="src/pkg/util.py", edits=edits)
    assert (root / "src" / "pkg" / "util.py").read_text() == "def helper():\n    return 'Bye'\n"


def test_edit_arguments_are_validated_strictly(tools: Tools) -> None:
    message = tools.error("edit_file", path="README.md", edits=[{"old": "a", "new": "b"}])
    assert "edits.0.oldText" in message and "edits.0.old: unknown argument" in message
    assert "dryrun: unknown argument" in tools.error("edit_file", path="README.md", edits=[], dryrun=True)


def test_create_directory_and_move_file(tools: Tools, root: Path) -> None:
    assert tools.text("create_directory", path="a/b/c") == "Successfully created directory a/b/c"
    assert tools.text("move_file", source="README.md", destination="a/b/c/README.md").startswith("Successfully moved")
    assert (root / "a" / "b" / "c" / "README.md").exists()
    assert "already exists" in tools.error("move_file", source="docs/guide.md", destination="a/b/c/README.md")


def test_read_only_has_no_write_tools_and_refuses_them(root: Path) -> None:
    registry = build_registry(Sandbox([root], read_only=True), Limits(LIMIT))
    assert not WRITE_TOOLS & set(registry.tools)

    async def call(name: str) -> Any:
        params = SimpleNamespace(name=name, arguments={"path": "README.md", "content": "y"})
        return await registry.on_call_tool(None, params)  # type: ignore[arg-type]

    for name in sorted(WRITE_TOOLS):
        result = anyio.run(call, name)
        assert result.is_error and "--read-only" in result.content[0].text
    assert WRITE_TOOLS == {"write_file", "edit_file", "create_directory", "move_file"}
    assert (root / "README.md").read_text() == "# Title\nhello world\n"


# --- listing -----------------------------------------------------------------------------------------


def test_list_directory_and_caps(tools: Tools, root: Path) -> None:
    assert tools.text("list_directory", path=".") == ("[FILE] README.md\n[DIR] docs\n[DIR] node_modules\n[DIR] src")
    assert tools.text("list_directory", path=".", maxResults=2) == "[FILE] README.md\n[DIR] docs"
    [note] = tools.notes("list_directory", path=".", maxResults=2)
    assert note.startswith("2 more entries not shown: this output stops at maxResults=2. Pass maxResults")
    assert "greater than or equal to 1" in tools.error("list_directory", path=".", maxResults=0)


def test_list_directory_with_sizes(tools: Tools, root: Path) -> None:
    (root / "big.bin").write_bytes(b"x" * 3000)
    text = tools.text("list_directory_with_sizes", path=".", sortBy="size")
    assert text.splitlines()[0] == "[FILE] big.bin" + " " * 24 + "   2.93 KB"
    assert text.endswith("Total: 2 files, 3 directories\nCombined size: 2.95 KB")
    assert "sortBy" in tools.error("list_directory_with_sizes", path=".", sortBy="date")
    first = tools.text("list_directory_with_sizes", path=".", sortBy="size", maxResults=1).splitlines()
    assert first == [text.splitlines()[0], "", "Total: 2 files, 3 directories", "Combined size: 2.95 KB"]
    [note] = tools.notes("list_directory_with_sizes", path=".", maxResults=1)
    assert note.startswith("4 more entries not shown: this output stops at maxResults=1.")


def test_directory_tree_depth_excludes_and_cap(tools: Tools) -> None:
    tree = json.loads(tools.text("directory_tree", path=".", excludePatterns=["node_modules"]))
    assert [n["name"] for n in tree] == ["README.md", "docs", "src"]
    src = tree[2]
    assert src["children"][0] == {"name": "main.py", "type": "file"}
    shallow = json.loads(tools.text("directory_tree", path=".", maxDepth=1))
    assert all("children" not in node for node in shallow)
    # 4 entries on the top level, 4 on the next, then node_modules/dep/index.js and src/pkg/util.py
    two_levels = json.loads(tools.text("directory_tree", path=".", maxResults=9))
    assert [len(node.get("children", [])) for node in two_levels] == [0, 1, 1, 2]
    dep, pkg = two_levels[2]["children"][0], two_levels[3]["children"][1]
    assert dep["children"] == [{"name": "index.js", "type": "file"}] and "children" not in pkg
    [note] = tools.notes("directory_tree", path=".", maxResults=9)
    assert note.startswith("The whole tree does not fit in this output, which stops at maxResults=9, so it is")
    assert '1 directories have no "children" key' in note
    top = json.loads(tools.text("directory_tree", path=".", maxResults=3))  # not even the top level fits
    assert [(node["name"], node["type"], "children" in node) for node in top] == [
        ("README.md", "file", False),
        ("docs", "directory", False),
        ("node_modules", "directory", False),
    ]
    assert tools.notes("directory_tree", path=".", maxResults=3)[0].startswith("Only the first 3 of the 4 entries")


def test_get_file_info_and_allowed_directories(tools: Tools, root: Path) -> None:
    info = dict(line.split(": ", 1) for line in tools.text("get_file_info", path="README.md").splitlines())
    assert info["size"] == "20" and info["isFile"] == "true" and info["isDirectory"] == "false"
    assert set(info) >= {"modified", "accessed", "permissions"}
    assert tools.text("list_allowed_directories") == f"Allowed directories:\n{root}"
    nothing = Tools(Sandbox([]))
    assert "DESKMCP_FILESYSTEM_ROOTS" in nothing.text("list_allowed_directories")
    assert "DESKMCP_FILESYSTEM_ROOTS" in nothing.error("read_text_file", path="/x")


def stat_of(**fields: float) -> Any:
    return SimpleNamespace(st_ctime=111.0, st_ino=7, **fields)


@pytest.mark.parametrize(
    ("st", "statx_said", "platform", "created"),
    [
        (stat_of(st_birthtime=50.0), None, "darwin", 50.0),  # macOS and the BSDs: st_birthtime
        (stat_of(st_birthtime=50.0), None, "win32", 50.0),  # Windows, Python 3.12+
        (stat_of(), None, "win32", 111.0),  # Windows before 3.12: st_ctime is the creation time there
        (stat_of(st_birthtime=0.0), None, "darwin", None),  # a volume that keeps none
        (stat_of(), None, "linux", None),  # Linux before Python 3.15: stat has none, and ctime is not it
        (stat_of(), 60.0, "linux", 60.0),  # Linux with os.statx
    ],
)
def test_created_is_the_birth_time_each_os_records(st: Any, statx_said: Any, platform: str, created: Any) -> None:
    assert creation_time(st, statx_said, platform) == created


def test_statx_is_asked_for_the_birth_time_of_the_same_file() -> None:
    calls: list[tuple[Any, ...]] = []

    def fake_statx(path: Any, mask: int, **kwargs: Any) -> Any:
        calls.append((path, mask, kwargs))
        return SimpleNamespace(stx_mask=STATX_BTIME | STATX_INO, stx_ino=7, stx_btime=42.5)

    assert statx_birth(3, "a.txt", stat_of(), fake_statx) == 42.5
    assert calls == [("a.txt", STATX_BTIME | STATX_INO, {"dir_fd": 3, "follow_symlinks": False})]
    assert statx_birth(3, None, stat_of(), fake_statx) == 42.5 and calls[-1] == (3, STATX_BTIME | STATX_INO, {})
    assert statx_birth(3, "a.txt", SimpleNamespace(st_ino=8), fake_statx) is None  # replaced since the stat
    no_btime = SimpleNamespace(stx_mask=STATX_INO, stx_ino=7, stx_btime=None)  # tmpfs keeps none
    assert statx_birth(3, "a.txt", stat_of(), lambda *_a, **_k: no_btime) is None
    assert statx_birth(3, "a.txt", stat_of(), None) is None  # Python < 3.15


# --- search ------------------------------------------------------------------------------------------


def test_a_pattern_that_cannot_compile_is_a_clear_refusal(tools: Tools) -> None:
    message = "the pattern '[z-a]' is not a valid glob: bad character range z-a"
    assert tools.error("search_files", path=".", pattern="[z-a]") == message
    assert tools.error("search_files", path=".", pattern="*", excludePatterns=["[z-a]"]) == message
    assert message in tools.error("search_file_contents", path=".", query="x", filePattern="[z-a]")


def test_search_files_glob_semantics(tools: Tools, root: Path) -> None:
    assert tools.text("search_files", path=".", pattern="*.md") == str(root / "README.md")
    found = tools.text("search_files", path=str(root), pattern="**/*.py").splitlines()
    assert found == [str(root / "src" / "main.py"), str(root / "src" / "pkg" / "util.py")]
    everything = tools.text("search_files", path=".", pattern="**/*", excludePatterns=["node_modules", "*.py"])
    assert "node_modules" not in everything and ".py" not in everything
    assert tools.text("search_files", path=".", pattern="**/*.rs") == "No matches found"
    assert tools.text("search_files", path=".", pattern="**", maxResults=2).splitlines() == [
        str(root / "README.md"),
        str(root / "docs"),
    ]
    [note] = tools.notes("search_files", path=".", pattern="**", maxResults=2)
    assert note.startswith("8 more matches not shown: this output stops at maxResults=2. Narrow the pattern")


def test_search_file_contents(tools: Tools, root: Path) -> None:
    text = tools.text("search_file_contents", path=".", query="hello", caseSensitive=False)
    assert f"{root / 'README.md'}:2: hello world" in text
    assert f"{root / 'src' / 'pkg' / 'util.py'}:2:     return 'Hello'" in text
    assert tools.notes("search_file_contents", path=".", query="hello", caseSensitive=False) == [
        "3 matching line(s) in 3 of 5 file(s) searched"
    ]
    only_py = tools.text("search_file_contents", path=".", query=r"def \w+\(", isRegex=True, filePattern="**/*.py")
    assert only_py.count(":") >= 2 and "README" not in only_py
    context = tools.text("search_file_contents", path="src", query="def main", contextLines=1)
    assert context.splitlines()[:3] == [
        f"{root / 'src' / 'main.py'}-2- ",
        f"{root / 'src' / 'main.py'}:3: def main():",
        f"{root / 'src' / 'main.py'}-4-     return 1",
    ]
    capped = tools.whole("search_file_contents", path=".", query="e", maxResults=1)
    assert "more matching lines not shown" in capped
    assert "No matches found" in tools.text("search_file_contents", path=".", query="zzz")


def test_a_match_on_a_long_line_is_shown_cut_and_does_not_hide_the_others(tools: Tools, root: Path) -> None:
    (root / "0.min.js").write_text("var hello=function(){};" * 4000 + "\n")  # 92,000 characters: over the cap
    text = tools.text("search_file_contents", path=".", query="hello")
    minified, *others = text.splitlines()
    start = ("var hello=function(){};" * 44)[:1000]
    assert minified == f"{root / '0.min.js'}:1: {start} [... 91,000 more characters]"
    assert f"{root / 'README.md'}:2: hello world" in others  # not "No matches found" with every match left out
    assert tools.notes("search_file_contents", path=".", query="hello") == [
        "3 matching line(s) in 3 of 6 file(s) searched"
    ]


def test_search_file_contents_refuses_dangerous_regexes(tools: Tools) -> None:
    assert "exponential time" in tools.error("search_file_contents", path=".", query="(a+)+$", isRegex=True)
    assert "invalid regular expression" in tools.error("search_file_contents", path=".", query="(", isRegex=True)


def test_search_skips_binary_files(tools: Tools, root: Path) -> None:
    (root / "data.bin").write_bytes(b"\x00hello")
    assert "data.bin" not in tools.text("search_file_contents", path=".", query="hello")


def test_search_skips_files_over_its_size_limit(tools: Tools, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "MAX_FILE_FOR_CONTENT_SEARCH", 20)  # README.md is 20 bytes; the others are larger
    text = tools.whole("search_file_contents", path=".", query="hello")
    assert "README.md:2: hello world" in text and "index.js" not in text
    assert "3 file(s) over 8 MiB were not searched" in text


def test_search_says_a_file_could_not_be_read_not_that_it_is_too_large(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refuse_readme(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.path.basename(path) == "README.md":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_readme)
    text = tools.whole("search_file_contents", path=".", query="hello")
    assert "index.js" in text and "README.md" not in text
    assert "over 8 MiB" not in text and "1 file(s) could not be read" in text


def test_a_cancelled_walk_stops(root: Path) -> None:
    for number in range(2000):
        (root / "docs" / f"f{number}.md").write_text("x")
    context = ToolContext(SimpleNamespace())  # type: ignore[arg-type]
    context.cancelled.set()
    visited = 0

    def counting(count: int) -> None:
        nonlocal visited
        visited = count
        ticker(context, "entries")(count)

    async def in_worker_thread() -> None:
        box = Sandbox([root])
        await anyio.to_thread.run_sync(lambda: search.find_paths(box, ".", "**/*.md", [], OutputCap(10), counting))

    with pytest.raises(ToolCancelled):
        anyio.run(in_worker_thread)
    assert visited == 256  # the first check stops it


def test_progress_is_reported_from_the_worker_thread(tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deskmcp.servers.filesystem.tools.PROGRESS_INTERVAL", 0.0)
    for number in range(600):
        (root / "docs" / f"f{number}.md").write_text("x")
    tools.text("search_files", path=".", pattern="**/*.md")
    assert tools.progress and tools.progress[0][2] == "256 entries"


# --- domain units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "src/deep/a.py", True),
        ("src/**", "src/a/b", True),
        ("src/*.{py,md}", "src/x.md", True),
        ("?.txt", "ab.txt", False),
        ("[a-c]*.txt", "b1.txt", True),
        ("[!a-c]*.txt", "b1.txt", False),
        ("\\*.txt", "*.txt", True),
        ("!*.py", "a.md", True),
        ("**/.env", "cfg/.env", True),
    ],
)
def test_globs_follow_minimatch(pattern: str, path: str, expected: bool) -> None:
    assert Glob(pattern).matches(path) is expected


def test_globs_prune_directories_that_cannot_match() -> None:
    glob = Glob("src/*/test_*.py")
    assert glob.may_contain("src") and glob.may_contain("src/pkg")
    assert not glob.may_contain("docs") and not glob.may_contain("src/pkg/deeper")
    assert Excludes(["build/out"]).excluded("build/out") and not Excludes(["build/out"]).excluded("x/build/out")


def test_exclude_patterns_anchor_with_a_leading_slash_as_gitignore_does() -> None:
    anchored, named = Excludes(["/build"]), Excludes(["build/"])
    assert anchored.excluded("build") and not anchored.excluded("src/build")
    assert named.excluded("build") and named.excluded("src/build")


@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(\w+\s?)*$", r"(a|ab)*c", r"(.*a){20}", r"(\w)\1", r"a*a*b", r"\w*x\w*y", r".*a.*b"]
)
def test_regex_guard_refuses_catastrophic_shapes(pattern: str) -> None:
    with pytest.raises(DomainError):
        compile_guarded(pattern, ignore_case=False)


def test_regex_guard_allows_ordinary_patterns() -> None:
    ordinary = (r"def \w+\(", r"^\s*import (os|sys)$", r"(foo|bar)+", r"[a-z]+@[a-z]+\.com", r"TODO|FIXME")
    for pattern in (*ordinary, r"\w+\s+\w+", r"\s*key\s*=\s*\d+", r'"[^"]*"', r"\d+\.\d+"):
        compile_guarded(pattern, ignore_case=True)


def test_long_lines_bound_regex_work(tmp_path: Path) -> None:
    (tmp_path / "min.js").write_text("a" * 200_000 + "\n")
    query = search.ContentQuery(r"a*b", True, True, 0, "**", [], OutputCap(10))  # quadratic: bounded by the line cap
    finished = threading.Event()
    result: list[search.ContentResult] = []

    def run() -> None:
        result.append(search.search_contents(Sandbox([tmp_path]), ".", query))
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(20), "a polynomial regex on a long line was not bounded"
    assert result[0].long_lines == 1


def test_head_and_tail_of_files_without_final_newline() -> None:
    data = b"a\nb\nc"
    assert textfiles.head(io.BytesIO(data), 5, 100) == ("a\nb\nc", None)
    assert textfiles.tail(io.BytesIO(data), 2, 100) == ("b\nc", None)
    assert textfiles.tail(io.BytesIO(b"a\r\nb\r\n"), 1, 100) == ("b", None)
    assert textfiles.head(io.BytesIO(b""), 3, 100) == ("", None)


def test_edit_file_does_not_write_over_a_change_made_after_it_read(
    tools: Tools, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmcp.servers.filesystem import listing

    original = listing.apply_edits

    def edit_while_someone_else_saves(before: str, edits: Any) -> str:
        (root / "README.md").write_text("someone else's longer change\n")  # between our read and our write
        return original(before, edits)

    monkeypatch.setattr(listing, "apply_edits", edit_while_someone_else_saves)
    message = tools.error("edit_file", path="README.md", edits=[{"oldText": "hello", "newText": "bye"}])
    assert "changed" in message
    assert (root / "README.md").read_text() == "someone else's longer change\n"
