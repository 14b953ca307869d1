"""Files as resources: URIs, ignore rules, the listing cursor, reading, completion; then over pipes, both eras."""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from deskmcp.servers.filesystem import resources as res
from deskmcp.servers.filesystem.globs import Excludes
from deskmcp.servers.filesystem.live import parse_size, protocol_error
from deskmcp.servers.filesystem.paths import AccessDenied, NotFound
from deskmcp.servers.filesystem.resources import (
    IgnoreRules,
    Position,
    ResourceNotFound,
    ResourceTooLarge,
    ResourceUnreadable,
    complete_path,
    decode_content,
    decode_cursor,
    encode_cursor,
    list_page,
    read_resource,
)
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.uris import InvalidResource, path_to_uri, uri_to_path
from deskmcp.shared.errors import DomainError
from hostpipes import HANDSHAKE, MODERN, deskmcp_command, inspector_json, pipe_server, sdk_client, sdk_session

RULES = IgnoreRules()


def make_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def all_names(sandbox: Sandbox, page_size: int, rules: IgnoreRules = RULES) -> list[str]:
    """Every resource name, page by page, with each cursor going through its text form."""
    names, position = [], None
    while True:
        page, following = list_page(sandbox, rules, position, page_size)
        names += [item.name for item in page]
        if following is None:
            return names
        position = decode_cursor(encode_cursor(following), sandbox.roots)


# --- URIs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("/home/me/notes.txt", "file:///home/me/notes.txt"),
        ("/a b/c#d?e%f.txt", "file:///a%20b/c%23d%3Fe%25f.txt"),
        ("/données/é.md", "file:///donn%C3%A9es/%C3%A9.md"),
        ("/x/\udcff.bin", "file:///x/%FF.bin"),  # a name that is not UTF-8 keeps its raw byte
    ],
)
def test_posix_paths_and_uris_round_trip(path: str, uri: str) -> None:
    assert path_to_uri(path, windows=False) == uri
    assert uri_to_path(uri, windows=False) == path


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("C:\\Users\\me\\a b.txt", "file:///C:/Users/me/a%20b.txt"),
        ("D:\\é#.txt", "file:///D:/%C3%A9%23.txt"),
        ("\\\\server\\share\\x.txt", "file://server/share/x.txt"),
    ],
)
def test_windows_paths_and_uris_round_trip(path: str, uri: str) -> None:
    assert path_to_uri(path, windows=True) == uri
    assert uri_to_path(uri, windows=True) == path


@pytest.mark.parametrize("windows", [False, True])
def test_child_uris_match_full_conversion(windows: bool) -> None:
    for root, parts in (("/", ("a b", "c")), ("/srv/x", ("é#", "%")), ("C:\\", ("d", "e f")), ("C:\\w", ("ü",))):
        if windows != root.startswith("C:"):
            continue
        separator = "\\" if windows else "/"
        full = root.rstrip(separator) + separator + separator.join(parts)
        base = res.path_to_uri(root, windows=windows)
        assert res.child_uri(base, parts) == path_to_uri(full, windows=windows)


def test_uri_accepts_localhost_and_upper_case_scheme() -> None:
    assert uri_to_path("FILE://localhost/tmp/x", windows=False) == "/tmp/x"
    assert uri_to_path("file://LocalHost/tmp/x", windows=False) == "/tmp/x"
    assert uri_to_path("file://LOCALHOST/C:/x", windows=True) == "C:\\x"


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("", "empty"),
        ("https://example.com/x", "not a file:// URI"),
        ("memo://counter", "not a file:// URI"),
        ("file:///tmp/x?y", "query or fragment"),
        ("file:///tmp/x#y", "query or fragment"),
        ("file:///tmp/a%00b", "NUL"),
        ("file://evil.example/etc/passwd", "host"),
        ("file:relative/path", "no absolute path"),
        ("file://[::1/tmp/x", "not a valid URI"),
        ("file:///tmp/50%", "not followed by two hex digits"),
        ("file:///tmp/%zz", "not followed by two hex digits"),
        ("file:///tmp/%4.txt", "not followed by two hex digits"),
    ],
)
def test_bad_uris_are_refused_with_a_reason(uri: str, says: str) -> None:
    with pytest.raises(InvalidResource, match=says):
        uri_to_path(uri, windows=False)


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("file:///Users/me", "drive letter"),
        ("file:///C:/%FF", "UTF-8"),
        ("file:///C:/x?y", "query or fragment"),
        ("file:///C:/50%", "not followed by two hex digits"),
        ("file://[::1/C:/x", "not a valid URI"),
        ("file://user@server/share/x", "not a server name"),
        ("file://[::1]/share/x", "not a server name"),
        ("file://server:445/share/x", "not a server name"),
        ("file://./C:/Windows/x", "not a server name"),
    ],
)
def test_bad_windows_uris_are_refused_with_a_reason(uri: str, says: str) -> None:
    with pytest.raises(InvalidResource, match=says):
        uri_to_path(uri, windows=True)


def test_relative_paths_have_no_uri() -> None:
    with pytest.raises(InvalidResource, match="absolute"):
        path_to_uri("notes.txt", windows=False)
    with pytest.raises(InvalidResource, match="absolute"):
        path_to_uri("notes.txt", windows=True)


# --- ignore rules, MIME types, sizes --------------------------------------------------------------------


def test_default_rules_skip_version_control_folders() -> None:
    for name in (".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj"):
        assert RULES.ignores(name, name)
    assert not RULES.ignores(".github", ".github")
    assert not RULES.ignores(".gitignore", ".gitignore")


def test_an_unbalanced_brace_in_the_setting_does_not_swallow_the_patterns_after_it() -> None:
    rules = IgnoreRules.parse("node_modules,foo{bar,*.pyc")
    assert rules.ignores("q.pyc", "q.pyc") and rules.ignores("node_modules", "node_modules")
    assert IgnoreRules.parse("a}b,*.log").ignores("x.log", "x.log")


def test_configured_patterns_add_names_paths_and_remove_defaults() -> None:
    rules = IgnoreRules.parse(" node_modules, *.pyc ,build/out,!.git, ")
    assert rules.ignores("node_modules", "web/node_modules")
    assert rules.ignores("x.pyc", "pkg/x.pyc")
    assert rules.ignores("out", "build/out")
    assert not rules.ignores("out", "src/out")
    assert not rules.ignores(".git", ".git")
    assert rules.ignores(".hg", ".hg")
    assert rules.ignores_path(("web", "node_modules", "lib", "x.js"))
    assert not rules.ignores_path(("web", "src", "x.js"))


def test_a_leading_slash_anchors_an_ignore_pattern_at_the_root_and_a_trailing_one_keeps_a_name() -> None:
    rules = IgnoreRules.parse("/build, dist/, !.git/")
    assert rules.ignores_path(("build", "x.o")) and not rules.ignores_path(("src", "build", "x.o"))
    assert rules.ignores_path(("dist",)) and rules.ignores_path(("web", "dist", "app.js"))
    assert not rules.ignores_path((".git", "HEAD"))


def test_ignore_patterns_mean_what_search_excludes_mean(tmp_path: Path) -> None:
    """One pattern language: `*` stays within a name and `**` spans folders (with fnmatch, `docs/*.tmp` also
    hid docs/old/b.tmp and `notes/**/*.bak` missed notes/a.bak); braces expand."""
    rules = IgnoreRules.parse("docs/*.tmp, notes/**/*.bak, *.{pyc,pyo}")
    expected = {
        "docs/a.tmp": True,
        "docs/old/b.tmp": False,
        "notes/a.bak": True,
        "notes/2024/jan/c.bak": True,
        "pkg/m.pyo": True,
        "docs/a.txt": False,
    }
    search_excludes = Excludes(list(rules.patterns))
    assert {p: rules.ignores_path(tuple(p.split("/"))) for p in expected} == expected
    assert {p: search_excludes.excluded(p) for p in expected} == expected
    root = make_tree(tmp_path, dict.fromkeys(expected, "x"))
    assert all_names(Sandbox([root]), 2, rules) == sorted(p for p, ignored in expected.items() if not ignored)


def test_mime_types_are_the_same_on_every_os() -> None:
    assert res.mime_type("a.py") == "text/x-python"
    assert res.mime_type("README.md") == "text/markdown"
    assert res.mime_type("app.ts") == "text/x-typescript"  # not video/mp2t
    assert res.mime_type("logo.png") == "image/png"
    assert res.mime_type("Makefile") == "text/plain"
    assert res.mime_type("data.weird") == "application/octet-stream"
    assert [res.mime_type(f"memo{suffix}") for suffix in (".m4a", ".avif", ".HEIC")] == [
        "audio/mp4",
        "image/avif",
        "image/heic",
    ]


def test_content_is_text_only_when_it_is_utf8_without_nuls() -> None:
    assert decode_content("a.txt", "héllo".encode()).text == "héllo"
    unknown = decode_content("notes.weird", b"plain words")
    assert (unknown.text, unknown.mime_type) == ("plain words", "text/plain")
    nul = decode_content("a.txt", b"ab\x00cd")
    assert (nul.text, nul.data, nul.mime_type) == (None, b"ab\x00cd", "application/octet-stream")
    latin1 = decode_content("a.txt", "café".encode("latin-1"))
    assert latin1.text is None and latin1.data == "café".encode("latin-1")
    png = decode_content("x.png", b"\x89PNG\r\n\x1a\n")
    assert (png.mime_type, png.text) == ("image/png", None)
    svg = decode_content("x.svg", b"<svg/>")
    assert (svg.mime_type, svg.data) == ("image/svg+xml", b"<svg/>")  # image/* is always a blob


@pytest.mark.parametrize(("text", "size"), [("10485760", 10485760), ("10MiB", 10485760), ("512 kib", 524288)])
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "10 parsecs", "1.5MiB"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive size"):
        parse_size(text)


# --- the listing cursor ---------------------------------------------------------------------------------


def test_every_page_size_lists_every_file_once_in_the_same_order(tmp_path: Path) -> None:
    files = {f"d{i}/s{j}/f{k}.txt": "x" for i in range(3) for j in range(3) for k in range(4)}
    files |= {"top.txt": "x", "d1/loose.md": "x", "empty/.keep": "", ".git/HEAD": "ref", "d2/.svn/x": "y"}
    sandbox = Sandbox([make_tree(tmp_path, files)])
    (tmp_path / "bare").mkdir()
    expected = all_names(sandbox, 10_000)
    assert len(expected) == len(files) - 2  # .git and .svn skipped
    assert expected == sorted(expected, key=lambda name: name.split("/"))  # depth-first, by name
    for size in (1, 2, 7, 36, 39, 40):
        assert all_names(sandbox, size) == expected


def test_last_page_has_no_cursor_and_a_full_page_looks_ahead(tmp_path: Path) -> None:
    sandbox = Sandbox([make_tree(tmp_path, {"a.txt": "1", "b.txt": "2"})])
    page, following = list_page(sandbox, RULES, None, 2)
    assert [p.name for p in page] == ["a.txt", "b.txt"] and following is None
    page, following = list_page(sandbox, RULES, None, 1)
    assert following == Position(str(sandbox.roots[0]), ("a.txt",))


def test_a_page_lists_only_the_folders_it_needs(tmp_path: Path) -> None:
    """The cursor resumes from its path: a page never walks the whole tree."""
    make_tree(tmp_path, {f"d{i:02}/f{k}.txt": "x" for i in range(30) for k in range(5)})

    class Counting(Sandbox):
        def list_dir(self, path: str | Path) -> list:
            self.listed.append(str(path))
            return super().list_dir(path)

        def resolve(self, path: str | Path) -> Path:
            self.listed.append(f"resolve {path}")
            return super().resolve(path)

    sandbox = Counting([tmp_path])
    sandbox.listed = []
    list_page(sandbox, RULES, None, 3)
    assert len(sandbox.listed) == 2  # the root and d00 (and no second walk to d00 to see whether it is a link)
    sandbox.listed = []
    page, _ = list_page(sandbox, RULES, Position(str(tmp_path), ("d17", "f2.txt")), 4)
    assert [p.name for p in page] == ["d17/f3.txt", "d17/f4.txt", "d18/f0.txt", "d18/f1.txt"]
    assert len(sandbox.listed) == 3  # d17, the root (to move on), d18


def test_changes_between_pages_neither_repeat_nor_hide_other_files(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/1.txt": "", "a/2.txt": "", "b/1.txt": "", "b/2.txt": "", "c/1.txt": ""})
    sandbox = Sandbox([tmp_path])
    page, following = list_page(sandbox, RULES, None, 2)
    assert [p.name for p in page] == ["a/1.txt", "a/2.txt"]
    (tmp_path / "a" / "2.txt").unlink()  # the cursor's own file is gone
    (tmp_path / "a" / "0.txt").write_text("")  # before the cursor: not listed now
    (tmp_path / "b" / "3.txt").write_text("")  # after it: listed
    rest = []
    while following is not None:
        page, following = list_page(sandbox, RULES, following, 2)
        rest += [p.name for p in page]
    assert rest == ["b/1.txt", "b/2.txt", "b/3.txt", "c/1.txt"]
    shutil.rmtree(tmp_path / "a")  # the cursor's whole folder is gone
    page, _ = list_page(sandbox, RULES, Position(str(tmp_path), ("a", "2.txt")), 10)
    assert [p.name for p in page] == ["b/1.txt", "b/2.txt", "b/3.txt", "c/1.txt"]


def test_pages_continue_across_roots(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"x.txt": "", "y.txt": ""})
    two = make_tree(tmp_path / "two", {"z.txt": ""})
    sandbox = Sandbox([one, two])
    names, position, uris = [], None, []
    while True:
        page, position = list_page(sandbox, RULES, position, 2)
        names += [p.name for p in page]
        uris += [p.uri for p in page]
        if position is None:
            break
    assert names == ["x.txt", "y.txt", "z.txt"]
    assert uris[-1] == path_to_uri(two / "z.txt")


def test_linked_folders_are_not_walked_and_loops_end(tmp_path: Path) -> None:
    make_tree(tmp_path, {"real/a.txt": "1", "real/b.txt": "2"})
    (tmp_path / "real" / "loop").symlink_to(tmp_path)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real" / "a.txt")
    (tmp_path / "out.txt").symlink_to("/etc/hostname")
    names = all_names(Sandbox([tmp_path]), 1)
    assert names == ["link.txt", "real/a.txt", "real/b.txt"]


def test_resources_have_uri_name_type_and_size(tmp_path: Path) -> None:
    make_tree(tmp_path, {"docs/read me.md": "# hi\n", "img.png": b"\x89PNG\r\n"})
    page, _ = list_page(Sandbox([tmp_path]), RULES, None, 10)
    real = tmp_path.resolve()
    assert [(p.uri, p.name, p.mime_type, p.size) for p in page] == [
        (path_to_uri(real / "docs" / "read me.md"), "docs/read me.md", "text/markdown", 5),
        (path_to_uri(real / "img.png"), "img.png", "image/png", 6),
    ]
    assert page[0].uri.endswith("/docs/read%20me.md")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        encode_cursor(Position("/", ("..", "etc"))),
        encode_cursor(Position("/", ("a/b",))),
        encode_cursor(Position("/", ("a\\..\\..",))),
        encode_cursor(Position("/", ("a\x00",))),
        encode_cursor(Position("/", ("a",) * 300)),
        encode_cursor(Position("/", ())),
        base64.urlsafe_b64encode(b'{"v": 9, "root": "/", "after": ["a"]}').decode(),
    ],
)
def test_tampered_cursors_are_refused(tmp_path: Path, cursor: str) -> None:
    with pytest.raises(InvalidResource, match="cursor"):
        decode_cursor(cursor, (Path("/"),))


def test_a_cursor_for_another_root_is_refused(tmp_path: Path) -> None:
    cursor = encode_cursor(Position("/somewhere/else", ("a.txt",)))
    with pytest.raises(InvalidResource, match="no longer an allowed directory"):
        decode_cursor(cursor, (tmp_path,))


# --- reading and completion -----------------------------------------------------------------------------


def test_read_refuses_outside_missing_folders_and_big_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", {"big.bin": b"x" * 2000, "ok.txt": "fine", "sub/x": ""})
    make_tree(tmp_path, {"root-sibling/secret.txt": "no"})
    sandbox = Sandbox([root])
    assert read_resource(sandbox, path_to_uri(root / "ok.txt"), 100).text == "fine"
    with pytest.raises(ResourceTooLarge, match="2,000 bytes, over the 1,000-byte limit"):
        read_resource(sandbox, path_to_uri(root / "big.bin"), 1000)
    with pytest.raises(ResourceNotFound, match="not under an allowed directory"):
        read_resource(sandbox, path_to_uri(tmp_path / "root-sibling" / "secret.txt"), 100)
    with pytest.raises(ResourceNotFound, match="does not exist"):
        read_resource(sandbox, path_to_uri(root / "gone.txt"), 100)
    with pytest.raises(InvalidResource, match="is a folder"):
        read_resource(sandbox, path_to_uri(root / "sub"), 100)
    (root / "escape.txt").symlink_to(tmp_path / "root-sibling" / "secret.txt")
    with pytest.raises(ResourceNotFound, match="not under an allowed directory"):
        read_resource(sandbox, path_to_uri(root / "escape.txt"), 100)


def test_a_read_refused_for_another_reason_is_not_called_too_large_or_missing(tmp_path: Path) -> None:
    # Tests run as root, who may read a mode-000 file; a sandbox that refuses stands in for it.
    from deskmcp.servers.filesystem.walker import too_big

    class Refusing(Sandbox):
        def __init__(self, roots: list[Path], error: Exception) -> None:
            super().__init__(roots)
            self.error = error

        def read_bytes(self, path: str | Path, limit: int) -> bytes:
            raise self.error

    root = make_tree(tmp_path / "root", {"locked.txt": "x"})
    uri = path_to_uri(root / "locked.txt")
    # It exists, so it is not "not found" (-32002) either: the message says what went wrong.
    with pytest.raises(ResourceUnreadable, match=r"locked.txt: permission denied: cannot read 'locked.txt'$"):
        read_resource(Refusing([root], DomainError("permission denied: cannot read 'locked.txt'")), uri, 100)
    with pytest.raises(ResourceUnreadable, match=r"locked.txt cannot be read: Permission denied$"):
        read_resource(Refusing([root], PermissionError(13, "Permission denied")), uri, 100)
    with pytest.raises(ResourceUnreadable, match=r"locked.txt cannot be read: Input/output error$"):
        read_resource(Refusing([root], OSError(errno.EIO, os.strerror(errno.EIO))), uri, 100)
    with pytest.raises(ResourceTooLarge, match="over the 100-byte limit"):
        read_resource(Refusing([root], too_big(root / "locked.txt", 500, 100)), uri, 100)
    # Swapped for a link leading outside, or deleted, between the stat and the read: not found, as before.
    with pytest.raises(ResourceNotFound, match="not under an allowed directory"):
        read_resource(Refusing([root], AccessDenied("a link leads outside")), uri, 100)
    with pytest.raises(ResourceNotFound, match="does not exist"):
        read_resource(Refusing([root], NotFound("gone")), uri, 100)


@pytest.mark.parametrize(("protocol", "not_found_code"), [(HANDSHAKE, -32002), (MODERN, -32602)])
def test_each_era_gets_its_code_for_a_missing_and_an_unreadable_resource(protocol: str, not_found_code: int) -> None:
    """Missing is -32002 in the handshake era and -32602 in 2026-07-28 (SEP-2164); a file that exists but cannot
    be read is a server-side failure, -32603 in both, with the reason in the message."""
    ctx: Any = SimpleNamespace(protocol_version=protocol)
    uri, reason = "file:///r/x", "file:///r/x cannot be read: Input/output error"
    missing = protocol_error(ctx, ResourceNotFound("file:///r/x does not exist"), uri)
    unreadable = protocol_error(ctx, ResourceUnreadable(reason), uri)
    assert (missing.error.code, missing.error.data) == (not_found_code, {"uri": uri})
    assert (unreadable.error.code, unreadable.error.message, unreadable.error.data) == (-32603, reason, {"uri": uri})


def test_a_path_through_a_file_is_not_found(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", {"a/f.txt": "x"})
    with pytest.raises(ResourceNotFound, match="does not exist"):
        read_resource(Sandbox([root]), path_to_uri(root / "a" / "f.txt" / "nope"), 100)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_read_never_blocks_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InvalidResource, match="not a regular file"):
        read_resource(Sandbox([tmp_path]), path_to_uri(tmp_path / "pipe"), 100)


def test_completion_extends_the_path_one_name_at_a_time(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "proj", {"src/main.py": "", "src/mod.py": "", "setup.cfg": "", ".git/HEAD": ""})
    sandbox = Sandbox([root])
    base = res.template_value(root.resolve())
    assert complete_path(sandbox, RULES, base[:3]) == ([base + "/"], 1)
    assert complete_path(sandbox, RULES, base + "/") == ([base + "/setup.cfg", base + "/src/"], 2)
    assert complete_path(sandbox, RULES, base + "/src/m") == ([base + "/src/main.py", base + "/src/mod.py"], 2)
    assert complete_path(sandbox, RULES, base + "/src/m", limit=1) == ([base + "/src/main.py"], 2)
    assert complete_path(sandbox, RULES, "etc/pass") == ([], 0)
    (tmp_path / "proj-sibling").mkdir()
    (tmp_path / "proj-sibling" / "secret.txt").write_text("no")
    assert complete_path(sandbox, RULES, base + "/../proj-sibling/") == ([], 0)
    assert complete_path(sandbox, RULES, base + "/src/../../proj-sibling/s") == ([], 0)
    assert complete_path(sandbox, RULES, base + "/.git/") == ([], 0)  # ignored folders are not offered inside


# --- over pipes, both eras ------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_tree(
        tmp_path / "root",
        {
            "notes/todo.md": "# todo\n- write tests\n",
            "notes/ideas.txt": "live resources\n",
            "pics/dot.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "data/big.log": "y" * 5000,
            "src/app.py": "print('hi')\n",
            ".git/config": "[core]\n",
        },
    )
    make_tree(tmp_path, {"root-evil/secret.txt": "secret"})
    return root.resolve()


def server(root: Path) -> list[str]:
    return deskmcp_command("filesystem", str(root))


LIMITS = {"DESKMCP_FILESYSTEM_RESOURCES_PAGE_SIZE": "2", "DESKMCP_FILESYSTEM_RESOURCE_MAX_BYTES": "4096"}
EXPECTED_NAMES = ["data/big.log", "notes/ideas.txt", "notes/todo.md", "pics/dot.png", "src/app.py"]


@pytest.mark.anyio
async def test_handshake_client_lists_reads_and_completes(tree: Path) -> None:
    import mcp.types as types
    from mcp import MCPError

    async with sdk_session(server(tree), env=LIMITS) as session:
        names, cursor, pages = [], None, 0
        while True:
            page = await session.list_resources(params=types.PaginatedRequestParams(cursor=cursor))
            names += [r.name for r in page.resources]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert names == EXPECTED_NAMES and pages == 3
        first = (await session.list_resources()).resources[0]
        assert (first.uri, first.mime_type, first.size) == (path_to_uri(tree / "data/big.log"), "text/plain", 5000)

        todo = (await session.read_resource(path_to_uri(tree / "notes/todo.md"))).contents[0]
        assert (todo.mime_type, todo.text) == ("text/markdown", "# todo\n- write tests\n")
        png = (await session.read_resource(path_to_uri(tree / "pics/dot.png"))).contents[0]
        assert (png.mime_type, base64.b64decode(png.blob)) == ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00")

        errors = {}
        for label, uri in {
            "big": path_to_uri(tree / "data/big.log"),
            "missing": path_to_uri(tree / "notes/gone.txt"),
            "outside": path_to_uri(tree.parent / "root-evil/secret.txt"),
            "not-file": "https://example.com/x",
            "malformed": "file://[::1/x",
        }.items():
            with pytest.raises(MCPError) as caught:
                await session.read_resource(uri)
            errors[label] = (caught.value.error.code, caught.value.error.message)
        assert errors["big"][0] == -32602 and "5,000 bytes, over the 4,096-byte limit" in errors["big"][1]
        assert errors["missing"][0] == -32002 and "does not exist" in errors["missing"][1]
        assert errors["outside"][0] == -32002 and "not under an allowed directory" in errors["outside"][1]
        assert errors["not-file"][0] == -32602 and "not a file:// URI" in errors["not-file"][1]
        assert errors["malformed"][0] == -32602 and "not a valid URI" in errors["malformed"][1]
        with pytest.raises(MCPError, match="invalid cursor"):
            await session.list_resources(params=types.PaginatedRequestParams(cursor="forged"))

        templates = (await session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["file:///{+path}"]
        base = res.template_value(tree)
        ref = types.ResourceTemplateReference(uri="file:///{+path}")
        done = await session.complete(ref, {"name": "path", "value": base + "/no"})
        assert done.completion.values == [base + "/notes/"]
        done = await session.complete(ref, {"name": "path", "value": base + "/notes/"})
        assert done.completion.values == [base + "/notes/ideas.txt", base + "/notes/todo.md"]
        assert (done.completion.total, done.completion.has_more) == (2, False)


@pytest.mark.anyio
async def test_modern_client_lists_reads_and_gets_its_own_error_codes(tree: Path) -> None:
    from mcp import MCPError

    async with sdk_client(server(tree), env=LIMITS) as client:
        assert client.session.protocol_version == MODERN
        names, cursor = [], None
        while True:
            page = await client.list_resources(cursor=cursor)
            names += [r.name for r in page.resources]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert names == EXPECTED_NAMES
        app = (await client.read_resource(path_to_uri(tree / "src/app.py"))).contents[0]
        assert (app.mime_type, app.text) == ("text/x-python", "print('hi')\n")
        with pytest.raises(MCPError) as caught:
            await client.read_resource(path_to_uri(tree / "notes/gone.txt"))
        assert caught.value.error.code == -32602 and "does not exist" in caught.value.error.message
        with pytest.raises(MCPError) as caught:
            await client.read_resource(path_to_uri(tree.parent / "root-evil/secret.txt"))
        assert caught.value.error.code == -32602 and "not under an allowed directory" in caught.value.error.message


def test_capabilities_and_a_server_without_roots(tree: Path) -> None:
    with pipe_server(server(tree)) as pipe:
        capabilities = pipe.initialize()["capabilities"]
        assert capabilities["resources"] == {"subscribe": True, "listChanged": True}
        assert "completions" in capabilities
        pipe.close()
    with pipe_server(deskmcp_command("filesystem")) as pipe:
        pipe.initialize()
        assert pipe.result("resources/list") == {"resources": []}
        reply = pipe.request("resources/read", {"uri": path_to_uri(tree / "src/app.py")})
        assert reply["error"]["code"] == -32002 and "No allowed directories" in reply["error"]["message"]


def test_inspector_lists_and_reads_resources_in_both_eras(tree: Path, tmp_path: Path) -> None:
    """Handshake era as an Inspector config entry offering the tree as a root; 2026-07-28 ad hoc."""
    command = server(tree)
    entry = {"command": command[0], "args": command[1:], "roots": [{"uri": path_to_uri(tree), "name": "tree"}]}
    config = tmp_path / "inspector.json"
    config.write_text(json.dumps({"mcpServers": {"fs": entry}}))
    uri = path_to_uri(tree / "notes/todo.md")
    for target, era in (
        ([], ("--config", str(config), "--server", "fs", "--protocol-era", "legacy")),
        (command, ("--protocol-era", "modern")),
    ):
        listed = inspector_json(target, *era, "--method", "resources/list")
        assert [r["name"] for r in listed["result"]["resources"]] == EXPECTED_NAMES, era
        read = inspector_json(target, *era, "--method", "resources/read", "--uri", uri)
        assert read["result"]["contents"] == [
            {"uri": uri, "mimeType": "text/markdown", "text": "# todo\n- write tests\n"}
        ]
