"""The filesystem sandbox directly, one test (or more) per attack class of issue 4 section 5.

Layout of every test: `tmp_path/root` is the allowed directory, `tmp_path/outside` holds a secret that no
operation may read, change or create files in.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from deskmcp.servers.filesystem import dirops
from deskmcp.servers.filesystem.dirops import FdOps, PathOps
from deskmcp.servers.filesystem.paths import (
    POSIX,
    WINDOWS,
    AccessDenied,
    NotFound,
    check_component,
    check_text,
    fold_for,
    spelling,
)
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.uris import client_root_path
from deskmcp.shared.errors import DomainError

SECRET = b"SECRET outside the roots"
OPS = {"fd": FdOps, "path": lambda: PathOps("linux")}


@pytest.fixture(params=sorted(OPS))
def ops(request: pytest.FixtureRequest) -> FdOps | PathOps:
    """Both backends: FdOps (POSIX) and PathOps (the Windows fallback, runnable here)."""
    return OPS[request.param]()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.txt").write_text("inside a")
    (root / "sub" / "b.txt").write_text("inside b")
    (outside / "secret.txt").write_bytes(SECRET)
    return tmp_path


@pytest.fixture
def box(tree: Path, ops: FdOps | PathOps) -> Sandbox:
    return Sandbox([tree / "root"], ops=ops)


def outside_untouched(tree: Path) -> None:
    assert sorted(p.name for p in (tree / "outside").iterdir()) == ["secret.txt"]
    assert (tree / "outside" / "secret.txt").read_bytes() == SECRET


# --- ordinary use ---------------------------------------------------------------------------------------


def test_reads_lists_and_resolves_inside(box: Sandbox, tree: Path) -> None:
    root = tree / "root"
    assert box.roots == (root,)
    assert box.read_bytes(root / "a.txt", 100) == b"inside a"
    assert box.read_bytes("sub/b.txt", 100) == b"inside b"  # relative to the first root
    assert box.resolve("sub/new.txt") == root / "sub" / "new.txt"
    assert [(e.name, e.is_dir, e.is_file) for e in box.list_dir(root)] == [("a.txt", False, True), ("sub", True, False)]
    assert stat.S_ISDIR(box.stat(".").st_mode)


def test_writes_are_atomic_keep_mode_and_leave_no_temp_files(box: Sandbox, tree: Path) -> None:
    target = tree / "root" / "a.txt"
    target.chmod(0o640 | stat.S_ISUID)
    outcome = box.write_bytes(target, b"new")
    assert not outcome.created
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # permission bits kept, set-user-ID dropped
    assert box.write_bytes("sub/c.txt", b"made").created
    assert sorted(p.name for p in (tree / "root").rglob("*")) == ["a.txt", "b.txt", "c.txt", "sub"]


class DiskFull:
    """Where a write fails: the data (half of it lands, then ENOSPC), the fsync, or the rename over the target."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, ops: FdOps | PathOps, stage: str) -> None:
        if stage == "data":
            monkeypatch.setattr(os, "fdopen", self._half_then_full)
        elif stage == "fsync":
            monkeypatch.setattr(os, "fsync", self._fail)
        else:
            monkeypatch.setattr(ops, "rename", self._fail)

    @staticmethod
    def _fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _half_then_full(self, fd: int, *_args: object, **_kwargs: object) -> object:
        class Writer:
            def __enter__(self) -> Writer:
                return self

            def __exit__(self, *_exc: object) -> None:
                return None

            def write(self, data: bytes) -> int:
                os.write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return Writer()


@pytest.mark.parametrize("stage", ["data", "fsync", "rename"])
@pytest.mark.parametrize("name", ["a.txt", "sub/new.txt"])
def test_a_write_that_cannot_complete_leaves_no_temp_file_and_the_original_untouched(
    box: Sandbox, tree: Path, ops: FdOps | PathOps, monkeypatch: pytest.MonkeyPatch, stage: str, name: str
) -> None:
    root = tree / "root"
    before = {p.relative_to(root): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}
    with monkeypatch.context() as patched:
        DiskFull(patched, ops, stage)
        with pytest.raises(DomainError, match=f"cannot write {name!r}: no space left on the device"):
            box.write_bytes(name, b"new content that does not fit")
    assert {p.relative_to(root): p.read_bytes() if p.is_file() else None for p in root.rglob("*")} == before


def test_write_refuses_a_file_changed_since_it_was_read(box: Sandbox, tree: Path) -> None:
    seen = box.stat("a.txt")
    time.sleep(0.01)
    (tree / "root" / "a.txt").write_text("someone else's edit")
    with pytest.raises(DomainError, match="changed on disk since it was read"):
        box.write_bytes("a.txt", b"mine", expected=seen)
    assert (tree / "root" / "a.txt").read_text() == "someone else's edit"


def test_make_dirs_and_move(box: Sandbox, tree: Path) -> None:
    root = tree / "root"
    assert box.make_dirs("x/y/z") == root / "x" / "y" / "z"
    box.make_dirs("x/y")  # existing: fine
    with pytest.raises(DomainError, match="not a directory"):
        box.make_dirs("a.txt/q")
    box.move("a.txt", "x/y/a2.txt")
    assert (root / "x" / "y" / "a2.txt").read_text() == "inside a"
    with pytest.raises(DomainError, match="already exists; nothing was moved"):
        box.move("sub/b.txt", "x/y/a2.txt")
    assert (root / "sub" / "b.txt").exists()
    with pytest.raises(AccessDenied, match="cannot be moved"):
        box.move(str(root), "elsewhere")
    with pytest.raises(DomainError, match="into itself"):
        box.move("x", "x/y/inner")


def test_walk_is_sorted_depth_first_and_prunable(box: Sandbox, tree: Path) -> None:
    (tree / "root" / "sub" / "deep").mkdir()
    (tree / "root" / "sub" / "deep" / "d.txt").write_text("d")
    seen = [(relative, depth) for relative, _entry, depth, _dir in box.walk(".")]
    assert seen == [("a.txt", 0), ("sub", 0), ("sub/b.txt", 1), ("sub/deep", 1), ("sub/deep/d.txt", 2)]
    assert [r for r, _e, _d, _h in box.walk(".", max_depth=1)] == ["a.txt", "sub"]
    assert [r for r, _e, _d, _h in box.walk(".", descend=lambda rel: rel != "sub/deep")][-1] == "sub/deep"


# --- sibling folders sharing a prefix (CVE-2025-53110), quotes and whitespace (GHSA-7rgq-gccq-qphx) ----------


@pytest.mark.parametrize("sibling", ["root_evil", "root'", "root ", 'root"', "root.bak"])
def test_sibling_sharing_the_prefix_is_outside(tree: Path, ops: FdOps | PathOps, sibling: str) -> None:
    (tree / sibling).mkdir()
    (tree / sibling / "s.txt").write_bytes(SECRET)
    box = Sandbox([tree / "root"], ops=ops)
    with pytest.raises(AccessDenied, match="outside the allowed directories"):
        box.read_bytes(str(tree / sibling / "s.txt"), 100)


@pytest.mark.parametrize("spelled", ["'{root}/a.txt'", '"{root}/a.txt"', " {root}/a.txt", "{root}/a.txt "])
def test_quotes_and_whitespace_are_never_stripped(box: Sandbox, tree: Path, spelled: str) -> None:
    path = spelled.format(root=tree / "root")
    with pytest.raises((AccessDenied, NotFound)):
        box.read_bytes(path, 100)


# --- .. ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["..", "../outside/secret.txt", "sub/../../outside/secret.txt", "{root}/../outside/secret.txt", "sub/../.."],
)
def test_dotdot_never_leaves_the_root(box: Sandbox, tree: Path, path: str) -> None:
    with pytest.raises(AccessDenied, match="leads above the allowed directory"):
        box.read_bytes(path.format(root=tree / "root"), 100)


def test_dotdot_inside_the_root_is_fine(box: Sandbox) -> None:
    assert box.read_bytes("sub/../sub/./b.txt", 100) == b"inside b"


# --- symlinks (CVE-2025-53109) ----------------------------------------------------------------------------


def test_symlinks_leading_outside_are_refused_at_any_component(box: Sandbox, tree: Path) -> None:
    root, outside = tree / "root", tree / "outside"
    (root / "file_link").symlink_to(outside / "secret.txt")
    (root / "dir_link").symlink_to(outside)
    (root / "sub" / "up").symlink_to("../../outside")
    (root / "sub" / "inner").symlink_to(root / "sub")  # inside: fine on its own
    for path in ["file_link", "dir_link/secret.txt", "sub/up/secret.txt", "sub/inner/up/secret.txt"]:
        with pytest.raises(AccessDenied, match="symbolic link"):
            box.read_bytes(path, 100)
    with pytest.raises(AccessDenied):
        box.write_bytes("dir_link/new.txt", b"x")
    with pytest.raises(AccessDenied):
        box.write_bytes("file_link", b"x")
    with pytest.raises(AccessDenied):
        box.make_dirs("dir_link/made")
    with pytest.raises(AccessDenied):
        box.move("a.txt", "dir_link/moved.txt")
    with pytest.raises(AccessDenied):
        box.move("dir_link/secret.txt", "stolen.txt")
    with pytest.raises(AccessDenied):
        box.list_dir("dir_link")
    outside_untouched(tree)


def test_dangling_symlinks_are_refused_even_for_writes(box: Sandbox, tree: Path) -> None:
    root = tree / "root"
    (root / "dangling_out").symlink_to(tree / "outside" / "created.txt")
    (root / "dangling_in").symlink_to(root / "not_yet.txt")
    for path in ("dangling_out", "dangling_in"):
        with pytest.raises(AccessDenied):
            box.write_bytes(path, b"x")
        with pytest.raises(AccessDenied):
            box.read_bytes(path, 100)
    outside_untouched(tree)
    assert not (root / "not_yet.txt").exists()


def test_symlinks_inside_the_roots_are_followed_through_the_walker(box: Sandbox, tree: Path) -> None:
    root = tree / "root"
    (root / "to_sub").symlink_to("sub")
    (root / "abs_b").symlink_to(root / "sub" / "b.txt")
    assert box.read_bytes("to_sub/b.txt", 100) == b"inside b"
    box.write_bytes("abs_b", b"through the link")
    assert (root / "sub" / "b.txt").read_bytes() == b"through the link"
    assert (root / "abs_b").is_symlink()  # the link stays a link
    for stat_entries in (True, False):
        kinds = {e.name: (e.is_dir, e.is_file, e.is_link) for e in box.list_dir(".", stat_entries=stat_entries)}
        assert kinds["to_sub"] == (True, False, True) and kinds["abs_b"] == (False, True, True)
        assert kinds["sub"] == (True, False, False) and kinds["a.txt"] == (False, True, False)
    box.move("to_sub", "renamed_link")  # moves the link itself
    assert (root / "renamed_link").is_symlink() and (root / "sub").is_dir()


@pytest.fixture
def two_roots(tree: Path) -> tuple[Path, Path]:
    """root and root2 both allowed; links in root lead into root2 by relative paths."""
    root, other = tree / "root", tree / "root2"
    (other / "deep").mkdir(parents=True)
    (other / "t.txt").write_bytes(b"in root2")
    (other / "deep" / "b.txt").write_bytes(b"inside deep")
    (root / "rel").symlink_to("../root2/t.txt")
    (root / "sub" / "up").symlink_to("../../root2")
    (root / "back").symlink_to("../root/a.txt")  # out of its own root and back in
    (root / "out").symlink_to("../outside/secret.txt")
    (root / "over").symlink_to("../root2/../outside/secret.txt")  # into root2, then above it
    return root, other


def test_a_relative_link_may_lead_into_another_root(two_roots: tuple[Path, Path], tree: Path, ops: Any) -> None:
    root, other = two_roots
    box = Sandbox([root, other], ops=ops)
    assert box.read_bytes("rel", 100) == b"in root2" and box.resolve("rel") == other / "t.txt"
    assert box.read_bytes("sub/up/deep/b.txt", 100) == b"inside deep"
    assert box.read_bytes("back", 100) == b"inside a"
    box.write_bytes("sub/up/new.txt", b"through the link")
    assert (other / "new.txt").read_bytes() == b"through the link"
    for path in ("out", "over", "out/x"):
        with pytest.raises(AccessDenied, match="points outside the allowed directories"):
            box.read_bytes(path, 100)
    (root / "into-sub").symlink_to("sub")
    for path in ("../root2/t.txt", "into-sub/../../root2/t.txt", "sub/up/../root/a.txt"):
        with pytest.raises(AccessDenied, match="leads above the allowed directory"):
            box.read_bytes(path, 100)  # the path's own `..` stops at the root, after a link as before one
    alone = Sandbox([root], ops=ops)
    for path in ("rel", "sub/up/t.txt"):
        with pytest.raises(AccessDenied, match="points outside the allowed directories"):
            alone.read_bytes(path, 100)
    assert alone.read_bytes("back", 100) == b"inside a"
    outside_untouched(tree)


def test_a_link_climbing_above_the_file_system_root_stays_there(tree: Path, ops: Any) -> None:
    """`..` of "/" is "/": with "/" as the root, a link may climb as far as it likes and lands where the OS says."""
    climbing = "../" * (len(tree.parts) + 3) + str(tree / "root" / "a.txt").lstrip("/")
    (tree / "root" / "climb").symlink_to(climbing)
    assert Sandbox(["/"], ops=ops).read_bytes(str(tree / "root" / "climb"), 100) == b"inside a"


def test_symlink_loops_end(box: Sandbox, tree: Path) -> None:
    root = tree / "root"
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    with pytest.raises(DomainError, match="too many levels of symbolic links"):
        box.read_bytes("a/x", 100)


def test_listing_never_reports_outside_link_targets(box: Sandbox, tree: Path) -> None:
    (tree / "root" / "out").symlink_to(tree / "outside")
    entry = next(e for e in box.list_dir(".") if e.name == "out")
    assert (entry.is_dir, entry.is_file, entry.is_link) == (False, False, True)
    assert [r for r, _e, _d, _h in box.walk(".")] == ["a.txt", "out", "sub", "sub/b.txt"]  # not entered


# --- a parent swapped for a symlink between check and use (GHSA-53mr-w429-c597, GHSA-p9cv-8g75-4xcg) -----------


class SwapOnce(FdOps):
    """Runs `swap()` at the first call of `method`: after the path was walked and checked, before it is used."""

    def __init__(self, method: str, swap: object) -> None:
        self.method, self.swap = method, swap

    def __getattribute__(self, name: str) -> object:
        attribute = super().__getattribute__(name)
        if name == object.__getattribute__(self, "method") and object.__getattribute__(self, "swap"):
            swap, self.swap = self.swap, None

            def hooked(*args: object, **kwargs: object) -> object:
                swap()  # type: ignore[operator]
                return attribute(*args, **kwargs)

            return hooked
        return attribute


def swap_for_link(directory: Path, target: Path) -> object:
    def swap() -> None:
        directory.rename(directory.with_name(directory.name + "_original"))
        directory.symlink_to(target)

    return swap


@pytest.mark.parametrize("method", ["lstat", "open_file"])
def test_read_after_the_parent_was_swapped_uses_the_checked_directory(tree: Path, method: str) -> None:
    (tree / "outside" / "b.txt").write_bytes(SECRET)
    box = Sandbox([tree / "root"], ops=SwapOnce(method, swap_for_link(tree / "root" / "sub", tree / "outside")))
    assert box.read_bytes("sub/b.txt", 100) == b"inside b"


@pytest.mark.parametrize("method", ["lstat", "open_file", "rename"])
def test_write_after_the_parent_was_swapped_lands_inside(tree: Path, method: str) -> None:
    box = Sandbox([tree / "root"], ops=SwapOnce(method, swap_for_link(tree / "root" / "sub", tree / "outside")))
    box.write_bytes("sub/new.txt", b"payload")
    outside_untouched(tree)
    assert (tree / "root" / "sub_original" / "new.txt").read_bytes() == b"payload"


def test_create_directory_after_the_parent_was_swapped_lands_inside(tree: Path) -> None:
    box = Sandbox([tree / "root"], ops=SwapOnce("mkdir", swap_for_link(tree / "root" / "sub", tree / "outside")))
    box.make_dirs("sub/made/deeper")
    outside_untouched(tree)
    assert (tree / "root" / "sub_original" / "made" / "deeper").is_dir()


def test_move_after_source_and_destination_parents_were_swapped_stays_inside(tree: Path) -> None:
    root = tree / "root"
    (root / "dst").mkdir()
    (tree / "outside" / "b.txt").write_bytes(SECRET)

    def swap_both() -> None:
        swap_for_link(root / "sub", tree / "outside")()  # type: ignore[operator]
        swap_for_link(root / "dst", tree / "outside")()  # type: ignore[operator]

    box = Sandbox([root], ops=SwapOnce("rename", swap_both))
    box.move("sub/b.txt", "dst/moved.txt")
    assert sorted(p.name for p in (tree / "outside").iterdir()) == ["b.txt", "secret.txt"]
    assert (tree / "outside" / "b.txt").read_bytes() == SECRET
    assert (root / "dst_original" / "moved.txt").read_bytes() == b"inside b"


@pytest.mark.parametrize("method", ["lstat", "open_file"])
def test_a_link_into_another_root_walks_the_checked_directories_there_too(
    two_roots: tuple[Path, Path], tree: Path, method: str
) -> None:
    """root2/deep is swapped for a link to outside at the first `method` call: at the link `up` (lstat), which then
    sees the swapped-in link and refuses it, or after the walk (open_file), which reads what was checked."""
    root, other = two_roots
    (tree / "outside" / "b.txt").write_bytes(SECRET)
    box = Sandbox([root, other], ops=SwapOnce(method, swap_for_link(other / "deep", tree / "outside")))
    if method == "lstat":
        with pytest.raises(AccessDenied, match="'deep', which points outside the allowed directories"):
            box.read_bytes("sub/up/deep/b.txt", 100)
    else:
        assert box.read_bytes("sub/up/deep/b.txt", 100) == b"inside deep"


def test_racing_swapper_never_lets_a_read_or_write_escape(tree: Path) -> None:
    """A thread flips root/sub between the real directory and a symlink to outside while we read and write."""
    root, outside = tree / "root", tree / "outside"
    (outside / "b.txt").write_bytes(SECRET)
    box = Sandbox([root])
    stop = threading.Event()
    flips = 0

    def swapper() -> None:
        nonlocal flips
        while not stop.is_set():
            os.rename(root / "sub", root / "hidden")
            os.symlink(outside, root / "sub")
            os.unlink(root / "sub")
            os.rename(root / "hidden", root / "sub")
            flips += 1
            time.sleep(0.0001)  # leave windows where the real directory is in place

    thread = threading.Thread(target=swapper)
    thread.start()
    attempts = 0
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            attempts += 1
            try:
                assert box.read_bytes("sub/b.txt", 100) == b"inside b"
            except (AccessDenied, NotFound, DomainError):
                pass
            try:
                box.write_bytes("sub/w.txt", b"written")
            except (AccessDenied, NotFound, DomainError):
                pass
    finally:
        stop.set()
        thread.join()
    assert flips > 50 and attempts > 100
    assert sorted(p.name for p in outside.iterdir()) == ["b.txt", "secret.txt"]
    assert (outside / "b.txt").read_bytes() == SECRET


# --- case and Unicode normalisation (GHSA-4gxg-m5jx-9j57) -----------------------------------------------------


def test_other_case_and_other_normalisation_are_outside_on_a_sensitive_volume(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    (tmp_path / nfc).mkdir()
    (tmp_path / nfc / "a.txt").write_text("inside")
    (tmp_path / nfd).mkdir()  # a different directory here: Linux compares code points
    (tmp_path / nfd / "s.txt").write_bytes(SECRET)
    (tmp_path / "CAFE").mkdir()
    box = Sandbox([tmp_path / nfc])
    assert box.read_bytes(f"{tmp_path}/{nfc}/a.txt", 100) == b"inside"
    for spelled in (f"{tmp_path}/{nfd}/s.txt", f"{tmp_path}/{nfc.upper()}/a.txt"):
        with pytest.raises(AccessDenied, match="outside"):
            box.read_bytes(spelled, 100)


def test_root_prefix_folding_follows_the_volume() -> None:
    """On case-insensitive (macOS, Windows) or normalisation-insensitive (macOS) volumes the root prefix is
    compared as the volume compares; the rest of the path is still opened exactly as given."""
    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    mac = spelling(f"/Users/me/{nfc}", fold_for(True, True), POSIX)
    assert mac.remainder("/", ["users", "ME", nfd.lower(), "Sub", "x"], POSIX) == ["Sub", "x"]
    exact = spelling(f"/home/me/{nfc}", fold_for(False, False), POSIX)
    assert exact.remainder("/", ["home", "me", nfd, "x"], POSIX) is None
    assert exact.remainder("/", ["home", "me", f"{nfc}_evil", "x"], POSIX) is None
    windows = spelling("C:\\Users\\Me\\Project", fold_for(True, False), WINDOWS)
    anchor, parts = WINDOWS.split("c:/users/me/PROJECT/src\\main.py")
    assert windows.remainder(anchor, parts, WINDOWS) == ["src", "main.py"]
    anchor, parts = WINDOWS.split("D:\\Users\\Me\\Project\\x")
    assert windows.remainder(anchor, parts, WINDOWS) is None


def test_a_symlink_is_a_symlink_whatever_the_case_of_its_name(box: Sandbox, tree: Path) -> None:
    (tree / "root" / "Link").symlink_to(tree / "outside")
    with pytest.raises((AccessDenied, NotFound)):
        box.read_bytes("link/secret.txt", 100)
    with pytest.raises(AccessDenied):
        box.read_bytes("Link/secret.txt", 100)


# --- NUL, invalid Unicode, overlong paths ----------------------------------------------------------------


def test_nul_bytes_and_lone_surrogates_are_refused(box: Sandbox) -> None:
    with pytest.raises(AccessDenied, match="NUL byte"):
        box.read_bytes("a.txt\x00.png", 100)
    with pytest.raises(AccessDenied, match="not valid Unicode"):
        box.read_bytes("a\ud800.txt", 100)
    with pytest.raises(AccessDenied, match="must be a string"):
        box.read_bytes(5, 100)  # type: ignore[arg-type]


def test_overlong_paths_and_names_are_refused(box: Sandbox) -> None:
    with pytest.raises(AccessDenied, match="characters long; the limit is 4096"):
        box.read_bytes("a/" * 2100, 100)
    with pytest.raises(AccessDenied, match="longer than 255 bytes"):
        box.write_bytes("x" * 256, b"")
    with pytest.raises(AccessDenied, match="longer than 255 bytes"):
        box.read_bytes("é" * 128, 100)  # 256 bytes in UTF-8


# --- FIFOs and devices: never block ----------------------------------------------------------------------


def run_briefly(function: object) -> BaseException | object:
    """Run in a thread; a call that blocks fails the test instead of hanging it."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(function())  # type: ignore[operator]
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(5)
    assert outcome, "the call blocked"
    return outcome[0]


def test_fifos_are_refused_without_blocking(box: Sandbox, tree: Path) -> None:
    os.mkfifo(tree / "root" / "pipe")
    for call in (
        lambda: box.read_bytes("pipe", 100),
        lambda: box.open_read("pipe"),
        lambda: box.write_bytes("pipe", b""),
    ):
        failure = run_briefly(call)
        assert isinstance(failure, DomainError) and "FIFO" in str(failure)


def test_a_file_swapped_for_a_fifo_after_the_check_does_not_block(tree: Path) -> None:
    target = tree / "root" / "a.txt"

    def swap() -> None:
        target.unlink()
        os.mkfifo(target)

    box = Sandbox([tree / "root"], ops=SwapOnce("open_file", swap))
    failure = run_briefly(lambda: box.read_bytes("a.txt", 100))
    assert isinstance(failure, DomainError) and "FIFO" in str(failure)


def test_devices_are_refused(tmp_path: Path) -> None:
    box = Sandbox(["/dev"])
    for name in ("null", "zero"):
        failure = run_briefly(lambda name=name: box.read_bytes(name, 100))
        assert isinstance(failure, DomainError) and "character device" in str(failure)


# --- hard links --------------------------------------------------------------------------------------


def test_hard_links_read_allowed_write_replaces_only_the_name_inside(box: Sandbox, tree: Path) -> None:
    os.link(tree / "outside" / "secret.txt", tree / "root" / "linked.txt")
    assert box.read_bytes("linked.txt", 100) == SECRET  # documented: a hard link is a name the owner gave it
    outcome = box.write_bytes("linked.txt", b"replaced")
    assert outcome.hard_links == 1
    assert (tree / "root" / "linked.txt").read_bytes() == b"replaced"
    outside_untouched(tree)


# --- exclusive creation --------------------------------------------------------------------------------


def test_a_file_created_concurrently_is_never_replaced(tree: Path) -> None:
    target = tree / "root" / "new.txt"
    box = Sandbox([tree / "root"], ops=SwapOnce("rename", lambda: target.write_text("theirs")))
    with pytest.raises(DomainError, match="created by something else"):
        box.write_bytes("new.txt", b"ours")
    assert target.read_text() == "theirs"
    assert sorted(p.name for p in (tree / "root").iterdir()) == ["a.txt", "new.txt", "sub"]


def test_rename_noreplace_fallback_refuses_existing(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(FileExistsError):
            dirops.rename_noreplace_at(fd, "a", fd, "b")
        dirops.rename_noreplace_at(fd, "a", fd, "c")
    finally:
        os.close(fd)
    assert (tmp_path / "b").read_text() == "b" and (tmp_path / "c").read_text() == "a"


# --- roots --------------------------------------------------------------------------------------------


def test_no_roots_says_how_to_configure(tmp_path: Path) -> None:
    box = Sandbox([])
    with pytest.raises(AccessDenied, match="DESKMCP_FILESYSTEM_ROOTS"):
        box.read_bytes(tmp_path / "x", 10)


def test_configured_root_must_exist() -> None:
    with pytest.raises(ValueError, match="cannot be used"):
        Sandbox(["/no/such/dir"])


def test_a_client_root_keeps_the_spelling_of_a_symlinked_root(tmp_path: Path) -> None:
    """macOS: /tmp is a link to /private/tmp; configured and client roots both say /tmp/..."""
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "real" / "a.txt").write_text("a")
    (tmp_path / "real" / "inner" / "b.txt").write_text("b")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    box = Sandbox([tmp_path / "link"])
    box.set_client_roots([(tmp_path / "link").as_uri()])
    assert box.read_bytes(tmp_path / "link" / "a.txt", 10) == b"a"
    box.set_client_roots([(tmp_path / "link" / "inner").as_uri()])
    assert box.read_bytes(tmp_path / "link" / "inner" / "b.txt", 10) == b"b"
    unconfigured = Sandbox([])
    unconfigured.set_client_roots([(tmp_path / "link").as_uri()])
    assert unconfigured.read_bytes(tmp_path / "link" / "a.txt", 10) == b"a"


def test_an_unusable_root_is_left_out_when_not_strict(tmp_path: Path) -> None:
    box = Sandbox([tmp_path, "/no/such/dir"], strict=False)
    assert box.roots == (tmp_path.resolve(),)
    assert len(box.unusable_roots) == 1 and "'/no/such/dir' cannot be used" in box.unusable_roots[0]


def test_nested_roots_collapse_and_aliases_match(tmp_path: Path) -> None:
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "f.txt").write_text("f")
    box = Sandbox([tmp_path / "alias", tmp_path / "real" / "inner"])
    assert box.roots == (tmp_path / "real",)
    assert box.read_bytes(tmp_path / "alias" / "f.txt", 10) == b"f"  # the spelling it was configured as


def test_client_roots_narrow_never_widen(tree: Path) -> None:
    root = tree / "root"
    box = Sandbox([root])
    changes: list[tuple[Path, ...]] = []
    box.add_roots_listener(lambda: changes.append(box.roots))
    assert box.set_client_roots([(root / "sub").as_uri(), str(tree / "outside")]) == (root / "sub",)
    with pytest.raises(AccessDenied):
        box.read_bytes(root / "a.txt", 100)
    assert box.set_client_roots([tree.as_uri()]) == (root,)  # a wider client root: the configured one
    assert box.set_client_roots([str(tree / "outside")]) == ()
    with pytest.raises(AccessDenied, match="all outside the directories this server was started with"):
        box.read_bytes("a.txt", 100)
    assert box.set_client_roots([]) == (root,)  # an empty list (many hosts send one): the configured roots
    assert changes == [(root / "sub",), (root,), (), (root,)]


def test_client_roots_are_the_allow_list_when_none_are_configured(tree: Path) -> None:
    box = Sandbox([])
    box.set_client_roots([(tree / "root").as_uri()])
    assert box.read_bytes("a.txt", 100) == b"inside a"


@pytest.mark.parametrize(
    ("given", "windows", "path"),
    [
        ("file:///home/me/a%20b", False, "/home/me/a b"),
        ("FILE://localhost/home/me", False, "/home/me"),
        ("file:///x/%FF", False, "/x/\udcff"),  # the raw byte, as resource URIs decode it (not U+FFFD)
        ("/plain/path", False, "/plain/path"),
        ("file:///C:/Users/me/a%20b", True, "C:\\Users\\me\\a b"),
        ("file://server/share/dir", True, "\\\\server\\share\\dir"),
        ("C:\\Users\\me", True, "C:\\Users\\me"),  # a plain path: its drive letter is not a URI scheme
        ("d:/work", True, "d:/work"),
        ("\\\\server\\share", True, "\\\\server\\share"),
        ("file:///home/50%", False, "/home/50%"),  # a hand-built root's stray '%' can only be literal
        ("file:///home/100%25", False, "/home/100%"),
    ],
)
def test_client_root_uris_and_paths(given: str, windows: bool, path: str) -> None:
    assert client_root_path(given, windows=windows) == path


@pytest.mark.parametrize(
    ("given", "windows", "says"),
    [
        ("file:///home/me?x=1", False, "query or fragment"),
        ("file:///home/me#top", False, "query or fragment"),
        ("file://otherhost/share", False, "host"),
        ("https://example.com/x", False, "not a file:// URI"),
        ("vscode-remote://wsl/home", False, "not a file:// URI"),
        ("relative/dir", False, "neither a file:// URI nor an absolute path"),
        ("C:\\Users\\me", False, "neither a file:// URI nor an absolute path"),
        ("file:///C:/%FF", True, "UTF-8"),
        ("file:///home/me", True, "drive letter"),
        ("C:relative", True, "neither a file:// URI nor an absolute path"),
        ("/no/drive", True, "neither a file:// URI nor an absolute path"),
        ("file://./C:/Windows", True, "not a server name"),  # \\.\C: is the device namespace
        ("file://../share", True, "not a server name"),
    ],
)
def test_client_roots_that_name_no_local_directory_are_refused(given: str, windows: bool, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        client_root_path(given, windows=windows)


def test_a_client_root_with_a_query_is_ignored_not_stripped(tree: Path) -> None:
    box = Sandbox([tree / "root"])
    assert box.set_client_roots([(tree / "root" / "sub").as_uri() + "?x", (tree / "root").as_uri() + "/sub"]) == (
        tree / "root" / "sub",
    )
    assert box.set_client_roots([(tree / "root").as_uri() + "?sub"]) == ()


def test_read_only_refuses_every_write(tree: Path) -> None:
    box = Sandbox([tree / "root"], read_only=True)
    for call in (
        lambda: box.write_bytes("a.txt", b"x"),
        lambda: box.make_dirs("d"),
        lambda: box.move("a.txt", "b.txt"),
    ):
        with pytest.raises(AccessDenied, match="--read-only"):
            call()
    assert (tree / "root" / "a.txt").read_text() == "inside a"


def test_reads_over_the_limit_are_refused(box: Sandbox) -> None:
    with pytest.raises(DomainError, match="over the 4-byte limit"):
        box.read_bytes("a.txt", 4)


# --- Windows path rules (pure; run here) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (".. ", "dot or space"),
        ("..\u0020\u0020", "dot or space"),
        ("secret.txt.", "dot or space"),
        ("a.txt:stream", "alternate data stream"),
        ("CON", "device name"),
        ("nul.txt", "device name"),
        ("COM1.log", "device name"),
        ("what?", "does not allow"),
    ],
)
def test_windows_component_rules(name: str, problem: str) -> None:
    with pytest.raises(AccessDenied, match=problem):
        check_component(name, name, WINDOWS)
    check_component(name.rstrip(". ") or "x", "x", POSIX)  # fine on POSIX


def test_windows_paths_split_and_device_namespace() -> None:
    assert WINDOWS.split("C:\\Users\\me/x\\.\\y") == ("C:\\", ["Users", "me", "x", "y"])
    assert WINDOWS.split("rel\\path") == ("", ["rel", "path"])
    assert WINDOWS.split("\\\\server\\share\\dir\\f") == ("\\\\server\\share\\", ["dir", "f"])
    for device in ("\\\\?\\C:\\x", "\\\\.\\pipe\\p", "//./c:/x"):
        with pytest.raises(AccessDenied, match="device namespace"):
            check_text(device, WINDOWS)


def test_path_backend_refuses_a_file_whose_final_path_moved(tree: Path) -> None:
    """PathOps re-checks an opened file by its final path: a parent swapped at the open is caught."""
    ops = PathOps("linux")
    root = tree / "root"
    parent = ops.open_dir(str(root), "sub")
    swap_for_link(root / "sub", tree / "outside")()  # type: ignore[operator]
    (tree / "outside" / "b.txt").write_bytes(SECRET)
    with pytest.raises(OSError) as raised:
        ops.open_file(parent, "b.txt", os.O_RDONLY)
    assert raised.value.errno == errno.ELOOP


def test_final_path_per_os(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert dirops.final_path(fd, "linux") == str(tmp_path)
        assert dirops.final_path(fd, "win32") is None  # no kernel32 here: "cannot say", never a guess
    finally:
        os.close(fd)
