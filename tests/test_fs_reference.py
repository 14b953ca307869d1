"""The filesystem server's output as the reference server (@modelcontextprotocol/server-filesystem 2026.8.31) gives
it, through a real server over pipes: titles, output schemas and structured content (which the official SDK client
validates, in both eras), caps that keep every format parseable, links between allowed directories, and
`created` only where it is a birth time. The expected texts were taken from the reference with
`python -m bench.fs_compare`, which runs the two side by side.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from deskmcp.servers.filesystem.output import OUTPUT_CHARS
from hostpipes import deskmcp_command, pipe_server, sdk_client, sdk_session

REFERENCE_TITLES = {
    "read_file": "Read File (Deprecated)",
    "read_text_file": "Read Text File",
    "read_media_file": "Read Media File",
    "read_multiple_files": "Read Multiple Files",
    "write_file": "Write File",
    "edit_file": "Edit File",
    "create_directory": "Create Directory",
    "list_directory": "List Directory",
    "list_directory_with_sizes": "List Directory with Sizes",
    "directory_tree": "Directory Tree",
    "move_file": "Move File",
    "search_files": "Search Files",
    "get_file_info": "Get File Info",
    "list_allowed_directories": "List Allowed Directories",
}
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
TEXT_SCHEMA = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {"content": {"type": "string"}},
    "required": ["content"],
    "additionalProperties": False,
}
MEDIA_ITEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["image", "audio"]},
        "data": {"type": "string"},
        "mimeType": {"type": "string"},
    },
    "required": ["type", "data", "mimeType"],
    "additionalProperties": False,
}
RESOURCE_ITEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "const": "resource"},
        "resource": {
            "type": "object",
            "properties": {"uri": {"type": "string"}, "mimeType": {"type": "string"}, "blob": {"type": "string"}},
            "required": ["uri", "blob"],
            "additionalProperties": False,
        },
    },
    "required": ["type", "resource"],
    "additionalProperties": False,
}
MEDIA_SCHEMA = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {"content": {"type": "array", "items": {"anyOf": [MEDIA_ITEM, RESOURCE_ITEM]}}},
    "required": ["content"],
    "additionalProperties": False,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello\nworld\n")
    (root / "sub" / "b.txt").write_text("beta\n")
    (root / "pic.png").write_bytes(b"\x89PNG\r\n")
    return root


def every_call(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """A successful call of every tool (writes last, so the reads see the tree as built)."""
    a = str(root / "a.txt")
    return [
        ("read_text_file", {"path": a, "head": 1}),
        ("read_file", {"path": a}),
        ("read_media_file", {"path": str(root / "pic.png")}),
        ("read_multiple_files", {"paths": [a, "missing.txt"]}),
        ("list_directory", {"path": str(root)}),
        ("list_directory_with_sizes", {"path": str(root), "sortBy": "size"}),
        ("directory_tree", {"path": str(root)}),
        ("search_files", {"path": str(root), "pattern": "**/*.txt"}),
        ("search_file_contents", {"path": str(root), "query": "hello"}),
        ("get_file_info", {"path": a}),
        ("list_allowed_directories", {}),
        ("edit_file", {"path": a, "edits": [{"oldText": "world", "newText": "there"}]}),
        ("write_file", {"path": str(root / "new.txt"), "content": "n\n"}),
        ("create_directory", {"path": str(root / "made" / "deep")}),
        ("move_file", {"source": str(root / "new.txt"), "destination": str(root / "moved.txt")}),
    ]


def check_listing(tools: list[Any]) -> None:
    """Titles and output schemas are the reference's, byte for byte; our own tool has the text shape too."""
    by_name = {tool.name: tool for tool in tools}
    assert {name: by_name[name].title for name in REFERENCE_TITLES} == REFERENCE_TITLES
    for name, tool in by_name.items():
        assert tool.output_schema == (MEDIA_SCHEMA if name == "read_media_file" else TEXT_SCHEMA), name


def check_result(name: str, result: Any) -> None:
    assert not result.is_error, result.content[0].text
    first = result.content[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    if name == "read_media_file":
        assert result.structured_content == {"content": [first]}
        assert first["type"] == "image" and first["mimeType"] == "image/png"
    else:
        assert result.structured_content == {"content": first["text"]}


@pytest.mark.anyio
async def test_the_sdk_client_validates_every_result_in_the_handshake_era(root: Path) -> None:
    async with sdk_session(deskmcp_command("filesystem", str(root))) as session:
        check_listing((await session.list_tools()).tools)
        for name, arguments in every_call(root):
            check_result(name, await session.call_tool(name, arguments))  # raises if it does not validate


@pytest.mark.anyio
async def test_the_sdk_client_validates_every_result_in_the_2026_era(root: Path) -> None:
    async with sdk_client(deskmcp_command("filesystem", str(root))) as client:
        assert client.session.protocol_version == "2026-07-28"
        check_listing((await client.list_tools()).tools)
        for name, arguments in every_call(root):
            check_result(name, await client.call_tool(name, arguments))


def test_texts_are_the_references_and_notes_follow_in_their_own_block(root: Path) -> None:
    (root / "empty").mkdir()
    (root / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    with pipe_server(deskmcp_command("filesystem", str(root))) as server:
        server.initialize()

        def blocks(name: str, arguments: dict[str, Any]) -> list[str]:
            result = server.call_tool(name, arguments)
            assert not result.get("isError"), result
            assert result["structuredContent"] == {"content": result["content"][0]["text"]}
            return [block["text"] for block in result["content"]]

        assert blocks("list_directory", {"path": "empty"}) == ["", "(empty directory)"]  # the reference says ""
        assert blocks("read_text_file", {"path": "a.txt", "head": 0}) == ["hello\nworld\n"]  # 0: not given
        diff = blocks("edit_file", {"path": "crlf.txt", "edits": [{"oldText": "two", "newText": "2"}]})
        real = os.path.realpath(root / "crlf.txt")
        assert diff == [
            f"```diff\nIndex: {real}\n{'=' * 67}\n--- {real}\toriginal\n+++ {real}\tmodified\n"
            "@@ -1,2 +1,2 @@\n one\n-two\n+2\n```\n\n"
        ]
        assert (root / "crlf.txt").read_bytes() == b"one\r\n2\r\n"  # the reference writes LF; CRLF is kept
        assert server.close() == 0


def test_a_large_tree_stays_parseable_and_bounded_and_says_how_to_see_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for folder in range(40):
        (root / f"folder{folder:02}").mkdir(parents=True)
        for number in range(80):
            (root / f"folder{folder:02}" / f"file-with-a-longish-name-{number:03}.txt").write_text("x")
    with pipe_server(deskmcp_command("filesystem", str(root))) as server:
        server.initialize()
        tree = server.call_tool("directory_tree", {"path": "."})
        text, note = (block["text"] for block in tree["content"])
        assert len(text) <= OUTPUT_CHARS and tree["structuredContent"] == {"content": text}
        nodes = json.loads(text)  # the note is not in the JSON
        assert [node["name"] for node in nodes] == [f"folder{folder:02}" for folder in range(40)]
        whole = [node for node in nodes if "children" in node]
        assert whole and all(len(node["children"]) == 80 for node in whole)  # a folder is shown whole or not at all
        assert f'{40 - len(whole)} directories have no "children" key' in note and "maxDepth" in note
        shallow = server.call_tool("directory_tree", {"path": ".", "maxDepth": 1})
        assert len(shallow["content"]) == 1 and len(json.loads(shallow["content"][0]["text"])) == 40

        found = server.call_tool("search_files", {"path": ".", "pattern": "**/*.txt"})
        paths, note = (block["text"] for block in found["content"])
        shown = paths.splitlines()
        assert len(paths) <= OUTPUT_CHARS and all(line.startswith(str(root)) for line in shown)
        assert note.startswith(f"{3200 - len(shown):,} more matches not shown: this output stops at about 48,000")
        every = server.call_tool("search_files", {"path": ".", "pattern": "**/*.txt", "maxResults": 5000})
        assert len(every["content"]) == 1 and len(every["content"][0]["text"].splitlines()) == 3200

        listed = server.call_tool("list_directory", {"path": "folder00", "maxResults": 10})
        assert listed["content"][0]["text"].splitlines()[-1] == "[FILE] file-with-a-longish-name-009.txt"
        assert listed["content"][1]["text"].startswith("70 more entries not shown: this output stops at maxResults=10")
        assert server.close() == 0


def test_read_multiple_files_names_what_was_left_of_the_limit(root: Path) -> None:
    (root / "first.txt").write_text("1" * 600)
    (root / "second.txt").write_text("2" * 600)
    (root / "huge.txt").write_text("3" * 1500)
    env = {"DESKMCP_FILESYSTEM_MAX_READ_BYTES": "1000"}
    with pipe_server(deskmcp_command("filesystem", str(root)), env=env) as server:
        server.initialize()
        result = server.call_tool("read_multiple_files", {"paths": ["first.txt", "second.txt", "huge.txt"]})
        first, second, huge = result["content"][0]["text"].split("\n---\n")
        assert first == "first.txt:\n" + "1" * 600 + "\n"
        assert second == (
            "second.txt: Error - 'second.txt' was not read: it is 600 bytes, more than the 400 bytes left of the "
            "1,000-byte limit for one call (the files before it used the rest); read it in a call of its own"
        )
        assert huge.startswith("huge.txt: Error - 'huge.txt' is 1,500 bytes, over the 1,000-byte limit;")
        assert server.close() == 0


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """root and root2 allowed; links in root to root2 (relative and absolute), outside, nowhere, and inside."""
    root, other, outside = tmp_path / "root", tmp_path / "root2", tmp_path / "outside"
    for directory in (root / "sub", other / "deep", outside):
        directory.mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (other / "t.txt").write_text("t\n")
    (outside / "secret.txt").write_text("secret\n")
    (root / "to-other").symlink_to("../root2/t.txt")
    (root / "sub" / "to-other-deep").symlink_to("../../root2/deep")
    (root / "to-other-absolute").symlink_to(other / "t.txt")
    (root / "to-outside").symlink_to("../outside/secret.txt")
    (root / "dangling").symlink_to("nowhere.txt")
    (root / "to-sub").symlink_to("sub")
    return root, other


def test_a_relative_link_into_another_allowed_directory_works_like_an_absolute_one(linked: tuple[Path, Path]) -> None:
    root, other = linked
    with pipe_server(deskmcp_command("filesystem", str(root), str(other))) as server:
        server.initialize()
        for path in ("to-other", "to-other-absolute"):
            assert server.call_tool("read_text_file", {"path": path})["content"][0]["text"] == "t\n"
        write = server.call_tool("write_file", {"path": "sub/to-other-deep/new.txt", "content": "via link"})
        assert not write.get("isError") and (other / "deep" / "new.txt").read_text() == "via link"
        refused = server.call_tool("read_text_file", {"path": "to-outside"})
        assert refused["isError"] and "points outside the allowed directories" in refused["content"][0]["text"]
        assert server.close() == 0
    with pipe_server(deskmcp_command("filesystem", str(root))) as server:  # root2 not allowed: refused
        server.initialize()
        refused = server.call_tool("read_text_file", {"path": "to-other"})
        assert refused["isError"] and "points outside the allowed directories" in refused["content"][0]["text"]
        assert server.close() == 0


def test_search_files_leaves_out_the_links_every_other_tool_refuses(linked: tuple[Path, Path]) -> None:
    root, other = linked
    with pipe_server(deskmcp_command("filesystem", str(root), str(other))) as server:
        server.initialize()
        found = server.call_tool("search_files", {"path": str(root), "pattern": "*"})["content"][0]["text"]
        names = [Path(line).name for line in found.splitlines()]
        assert names == ["a.txt", "sub", "to-other", "to-other-absolute", "to-sub"]  # as the reference lists them
        for line in found.splitlines():  # and every one of them can be used
            assert not server.call_tool("get_file_info", {"path": line}).get("isError"), line
        assert server.close() == 0


def test_created_is_a_birth_time_or_absent_never_the_change_time(root: Path) -> None:
    target = root / "a.txt"
    with pipe_server(deskmcp_command("filesystem", str(root))) as server:
        server.initialize()

        def info() -> dict[str, str]:
            text = server.call_tool("get_file_info", {"path": "a.txt"})["content"][0]["text"]
            return dict(line.split(": ", 1) for line in text.splitlines())

        before = info()
        os.utime(target, (1_000_000_000, 1_000_000_000))  # modified and accessed move; so does the change time
        target.chmod(0o600)
        after = info()
        assert after["modified"] == "2001-09-09T01:46:40+00:00" and after["permissions"] == "600"
        birth = getattr(os.stat(target), "st_birthtime", None)
        if birth is None and not (sys.platform.startswith("linux") and hasattr(os, "statx")):
            assert "created" not in before and "created" not in after  # this OS and Python record no birth time
        else:
            assert before["created"] == after["created"]  # a birth time does not move
        assert server.close() == 0
