"""The only way the filesystem server touches files: confined to the allowed roots, whatever the path says.

Every operation starts at an opened, verified root directory and walks the path one component at a time
through directory handles (`dirops`): `openat(O_NOFOLLOW | O_DIRECTORY)` for directories, `O_NOFOLLOW |
O_NONBLOCK` then `fstat` for files. What was checked is what is used, so a parent swapped for a symlink
between check and use is never followed (read, write, create, move source and destination).

Policies (the design notes in the README repeat them):
- `..` moves up the components already walked, never above the root it started in.
- Symlinks are followed only by resolving their target through this same walker: a target inside the roots is
  used; one leading outside, or dangling, is refused, at any component. Listings show such links as neither
  file nor directory. Moves move the link itself.
- Only regular files are read or replaced; FIFOs, sockets and devices are refused from `lstat`, before any open,
  and again by `fstat` after it, so a swapped-in FIFO cannot block.
- Writes are atomic: a temp file in the same directory (exclusive create), fsync, then rename over the target;
  the permission bits are preserved (set-user/group-ID dropped). New files and move destinations are created
  exclusively: something that appears concurrently is never replaced.
- Hard links: reads are allowed (a hard link is a name the owner of the directory gave the file; our tools
  cannot create one). Writes replace the *name* inside the root, never the shared inode, so another name of
  the file (possibly outside the roots) keeps its old content; the write result says so.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final

from deskmcp.servers.filesystem import dirops
from deskmcp.servers.filesystem.filetimes import creation_time
from deskmcp.servers.filesystem.paths import (
    NATIVE,
    AccessDenied,
    Flavour,
    NotFound,
)
from deskmcp.servers.filesystem.rootset import RootSet, RootView
from deskmcp.servers.filesystem.textfiles import read_within
from deskmcp.servers.filesystem.walker import (
    Located,
    Root,
    TooLarge,
    Walk,
    changed_error,
    os_error,
    require_regular,
)
from deskmcp.shared.errors import DomainError

__all__ = ["AccessDenied", "Entry", "NotFound", "Sandbox", "WriteOutcome"]

logger = logging.getLogger(__name__)

RACE_RETRIES: Final = 3
KEPT_MODE_BITS: Final = 0o1777  # not set-user-ID / set-group-ID: new content must not inherit privileges


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry, as a listing shows it."""

    name: str
    is_dir: bool
    is_file: bool  # regular file (not FIFO/device/socket); symlinks are neither unless resolved inside
    size: int
    mtime: float
    is_link: bool  # a symlink (or Windows junction); is_dir/is_file then describe its target inside the roots


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    created: bool
    hard_links: int  # other names the replaced file had (their content is unchanged)
    path: Path


class _Raced(Exception):
    """The entry changed kind between the walk and the use (e.g. swapped for a symlink): walk again."""


class Sandbox:
    """Confined file access under the allowed roots (configured, narrowed by the client's roots)."""

    def __init__(
        self, roots: Sequence[str | Path], *, read_only: bool = False, ops: Any = None, strict: bool = True
    ) -> None:
        """`strict=False` leaves out configured roots that cannot be opened (`unusable_roots`) instead of raising."""
        self.read_only = read_only
        self._ops = ops or dirops.native_ops()
        self._flavour: Flavour = NATIVE
        self._roots = RootSet(self._ops, self._flavour, roots, strict=strict)
        self._listeners: list[Callable[[], None]] = []

    # --- roots ----------------------------------------------------------------------------------------

    @property
    def unusable_roots(self) -> tuple[str, ...]:
        """Why each configured root that could not be opened was left out."""
        return tuple(self._roots.unusable)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The effective allowed roots: absolute, resolved (configured ∩ client)."""
        return tuple(root.path for root in self._roots.effective)

    def add_roots_listener(self, callback: Callable[[], None]) -> None:
        """`callback()` runs after the effective roots change."""
        self._listeners.append(callback)

    def set_client_roots(self, uris_or_paths: Sequence[str] | None) -> tuple[Path, ...]:
        """Apply the client's roots (None: it offers none) server-wide: they narrow the configured roots, never
        widen them. With several clients each keeps its own view instead (`client_view`)."""
        with self.viewing(None):
            if self._roots.apply_client(uris_or_paths):
                for callback in list(self._listeners):
                    try:
                        callback()
                    except Exception:
                        logger.exception("roots listener failed")
            return self.roots

    @property
    def configured_roots(self) -> tuple[Path, ...]:
        """The roots the server was started with (that could be opened), before any client narrows them."""
        return tuple(root.path for root in self._roots.configured)

    def client_view(self, uris_or_paths: Sequence[str] | None) -> RootView:
        """What one client's roots leave it (for one client of many; touches the disk: call it in a thread)."""
        return self._roots.narrowed(uris_or_paths)

    def viewing(self, view: RootView | None) -> AbstractContextManager[None]:
        """Within the block (and worker threads it starts), `view` is in force; None: the server-wide roots."""
        return self._roots.activate(view)

    def enter_view(self, view: RootView) -> None:
        """Put `view` in force for the rest of the current request (its task and the threads it starts)."""
        self._roots.enter(view)

    def describe_roots(self) -> str:
        return self._roots.describe()

    def how_to_configure(self) -> str:
        return str(self._roots.no_roots())

    # --- the walk ---------------------------------------------------------------------------------------

    @contextmanager
    def _locate(
        self,
        path: str | Path,
        *,
        follow: bool = True,
        must_exist: bool = True,
        create_dirs: bool = False,
        roots: tuple[Root, ...] | None = None,
    ) -> Iterator[Located]:
        roots = self._roots.effective if roots is None else roots
        if not roots:
            raise self._roots.no_roots()
        shown = os.fspath(path) if isinstance(path, Path) else path
        root, parts = self._roots.split(shown, roots)
        walker = Walk(self._ops, self._flavour, roots, root, shown, create_dirs=create_dirs)
        try:
            yield walker.run(parts, follow=follow, must_exist=must_exist)
        finally:
            walker.close()

    @contextmanager
    def _locate_parent(self, path: str | Path) -> Iterator[Located]:
        """Where a file is to be written: its directory must exist (the message says how to make it)."""
        try:
            with self._locate(path, must_exist=False) as where:
                yield where
        except NotFound as exc:
            raise NotFound(f"{exc}; create the directory first with create_directory") from None

    # --- reading --------------------------------------------------------------------------------------

    def resolve(self, path: str | Path) -> Path:
        """The confined, real absolute path (existing, or to be created in an existing directory)."""
        with self._locate(path, must_exist=False) as where:
            return where.path

    def stat(self, path: str | Path) -> os.stat_result:
        """stat of the file or directory (symlinks inside the roots followed)."""
        return self._stat(path, birth=False)[0]

    def stat_created(self, path: str | Path) -> tuple[os.stat_result, float | None]:
        """`stat`, and the file's birth time where the OS records one (`filetimes`)."""
        return self._stat(path, birth=True)

    def _stat(self, path: str | Path, *, birth: bool) -> tuple[os.stat_result, float | None]:
        for _ in range(RACE_RETRIES):
            with self._locate(path) as where:
                if where.name is None:
                    try:
                        st = self._ops.stat_dir(where.parent)
                    except OSError as exc:
                        raise os_error(exc, path, "stat") from None
                else:
                    st = self._lstat(where, path)
                    if dirops.is_link(st):
                        continue  # swapped for a link since the walk: walk again
                created = creation_time(st, self._ops.birth_time(where.parent, where.name, st)) if birth else None
                return st, created
        raise changed_error(path)

    def list_dir(self, path: str | Path, *, stat_entries: bool = True) -> list[Entry]:
        """The entries of a directory, sorted by name; never follows a symlink out of the roots.

        With `stat_entries=False` only the kinds are looked up (no stat per entry; size and mtime are 0).
        """
        with self._open_dir(path) as (where, handle):
            entries = self._ops.scandir(handle)
            return sorted((self._entry(where, e, stat_entries) for e in entries), key=lambda e: e.name)

    def list_names(self, path: str | Path) -> list[tuple[str, bool]]:
        """(name, is a directory) of a directory's entries, sorted; no stat per entry (links resolved inside)."""
        with self._open_dir(path) as (where, handle):
            named = [
                (e.name, e.is_dir(follow_symlinks=False) or self._link_is_dir(where, e))
                for e in self._ops.scandir(handle)
            ]
        named.sort(key=itemgetter(0))
        return named

    def _link_is_dir(self, where: Located, entry: os.DirEntry[str]) -> bool:
        return entry.is_symlink() and self._entry(where, entry, False).is_dir

    def _entry(self, where: Located, entry: os.DirEntry[str], stat_entries: bool) -> Entry:
        try:
            if not stat_entries and not entry.is_symlink():
                is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
                return Entry(entry.name, is_dir, is_file, 0, 0.0, is_link=False)
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return Entry(entry.name, False, False, 0, 0.0, is_link=False)
        linked = dirops.is_link(st)
        if linked:
            try:
                st = self._stat_parts(where.root, (*where.parts, entry.name))
            except (DomainError, OSError):
                return Entry(entry.name, False, False, st.st_size, st.st_mtime, is_link=True)
        mode = st.st_mode
        return Entry(entry.name, stat.S_ISDIR(mode), stat.S_ISREG(mode), st.st_size, st.st_mtime, is_link=linked)

    def _stat_parts(self, root: Root, parts: Sequence[str]) -> os.stat_result:
        walker = Walk(self._ops, self._flavour, self._roots.effective, root, "/".join(parts))
        try:
            where = walker.run(list(parts), follow=True, must_exist=True)
            st = self._ops.stat_dir(where.parent) if where.name is None else self._lstat(where, "")
        finally:
            walker.close()
        if dirops.is_link(st):
            raise changed_error("/".join(parts))
        return st

    @contextmanager
    def _open_dir(self, path: str | Path) -> Iterator[tuple[Located, Any]]:
        """The directory, open; an `OSError` while it is opened or listed becomes a `DomainError` naming it."""
        with self._locate(path) as where:
            handle = None
            try:
                if where.name is not None:
                    handle = self._ops.open_dir(where.parent, where.name)
                    where = Located(where.root, handle, None, where.parts)
                yield where, where.parent
            except OSError as exc:
                raise os_error(exc, path, "list") from None
            finally:
                if handle is not None:
                    self._ops.close(handle)

    def open_read(self, path: str | Path) -> AbstractContextManager[IO[bytes]]:
        """An open binary file (regular files only; never blocks on a FIFO or device) for a `with` block, in
        which an `OSError` (an I/O error while reading) becomes a `DomainError` naming the path."""
        for _ in range(RACE_RETRIES):
            with self._locate(path) as where:
                if where.name is None:
                    raise DomainError(f"{path!r} is a directory, not a file; use list_directory for it")
                try:
                    return _reading(os.fdopen(self._open_regular(where, path), "rb"), path)
                except _Raced:
                    continue
        raise changed_error(path)

    def read_bytes(self, path: str | Path, limit: int) -> bytes:
        """The whole content of a regular file, refused if larger than `limit` bytes."""
        with self.open_read(path) as handle:
            return read_within(handle, path, limit)

    def _lstat(self, where: Located, path: str | Path) -> os.stat_result:
        try:
            return self._ops.lstat(where.parent, where.name)
        except OSError as exc:
            raise os_error(exc, path, "stat") from None

    def _open_regular(self, where: Located, path: str | Path) -> int:
        st = self._lstat(where, path)
        if dirops.is_link(st):
            raise _Raced
        require_regular(st, path)
        try:
            fd = self._ops.open_file(where.parent, where.name, os.O_RDONLY | dirops.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in dirops.LINK_ERRNOS:
                raise _Raced from None
            raise os_error(exc, path, "open") from None
        try:
            require_regular(os.fstat(fd), path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def walk(
        self,
        path: str | Path,
        *,
        max_depth: int | None = None,
        descend: Callable[[str], bool] | None = None,
    ) -> Iterator[tuple[str, os.DirEntry[str], int, Any]]:
        """(relative path, entry, depth, directory) of everything below a directory, depth first, names sorted.

        Symlinked directories are reported, not entered (no loops, nothing outside). `descend(relative)` may
        prune a directory; depth 0 is the directory's own entries. `directory` is an opaque handle of the
        directory holding the entry, valid until the walk moves on, for `read_entry`.
        """
        ops = self._ops
        with self._open_dir(path) as (_where, top):
            stack: list[tuple[Any, str, int, Iterator[os.DirEntry[str]]]] = []
            opened: list[Any] = []
            stack.append((top, "", 0, iter(sorted(ops.scandir(top), key=_by_name))))
            try:
                while stack:
                    handle, prefix, depth, entries = stack[-1]
                    for entry in entries:
                        relative = prefix + entry.name
                        yield relative, entry, depth, handle
                        if max_depth is not None and depth + 1 >= max_depth:
                            continue
                        if not _is_plain_dir(entry) or (descend is not None and not descend(relative)):
                            continue
                        child = self._open_child(handle, entry.name)
                        if child is not None:
                            opened.append(child)
                            stack.append((child, relative + "/", depth + 1, iter(_sorted_listing(ops, child))))
                            break
                    else:
                        stack.pop()
                        if handle is not top:
                            opened.remove(handle)
                            ops.close(handle)
            finally:
                for handle in opened:
                    ops.close(handle)

    def _open_child(self, handle: Any, name: str) -> Any:
        try:
            return self._ops.open_dir(handle, name)
        except OSError:
            return None  # vanished, unreadable, or swapped for a link since the listing: not entered

    def read_entry(self, directory: Any, name: str, limit: int) -> bytes | None:
        """Content of a regular file met in a walk, opened from the walked directory (no second walk); None
        when it cannot be read or is no longer a regular file; `TooLarge` when it is over `limit` bytes."""
        try:
            fd = self._ops.open_file(directory, name, os.O_RDONLY | dirops.O_NONBLOCK)
        except OSError:
            return None
        try:
            return read_within(fd, name, limit)
        except TooLarge:
            raise
        except (OSError, DomainError):  # unreadable, or no longer a regular file
            return None
        finally:
            os.close(fd)

    # --- writing --------------------------------------------------------------------------------------

    def check_writable(self, path: str | Path) -> None:
        if self.read_only:
            msg = f"cannot change {path!r}: this server was started with --read-only"
            raise AccessDenied(msg)

    def write_bytes(self, path: str | Path, data: bytes, *, expected: os.stat_result | None = None) -> WriteOutcome:
        """Create or replace a regular file atomically (temp file + rename), keeping its permission bits.

        With `expected` (the stat of the file when it was read), a file changed since then is left alone.
        """
        self.check_writable(path)
        for _ in range(RACE_RETRIES):
            with self._locate_parent(path) as where:
                if where.name is None:
                    raise DomainError(f"{path!r} is a directory; give a file path inside it")
                try:
                    return self._replace(where, path, data, expected)
                except _Raced:
                    continue
        raise changed_error(path)

    def _replace(self, where: Located, path: str | Path, data: bytes, expected: os.stat_result | None) -> WriteOutcome:
        ops = self._ops
        try:
            old = ops.lstat(where.parent, where.name)
        except FileNotFoundError:
            old = None
        except OSError as exc:
            raise os_error(exc, path, "write") from None
        if old is not None:
            if dirops.is_link(old):
                raise _Raced
            require_regular(old, path)
        if expected is not None and (old is None or _version(old) != _version(expected)):
            msg = f"{path!r} changed on disk since it was read; nothing was written. Read it again and retry"
            raise DomainError(msg)
        mode = (old.st_mode & KEPT_MODE_BITS) if old is not None else None
        try:
            temp = self._write_temp(where, data, mode)
        except OSError as exc:  # disk full, quota, I/O error: the temp file is gone, the target untouched
            raise os_error(exc, path, "write") from None
        try:
            ops.rename(where.parent, temp, where.parent, where.name, replace=old is not None)
        except FileExistsError:
            msg = f"{path!r} was created by something else while it was being written; it was left untouched"
            raise DomainError(msg) from None
        except OSError as exc:
            raise os_error(exc, path, "write") from None
        finally:
            with suppress(OSError):
                ops.unlink(where.parent, temp)
        links = old.st_nlink - 1 if old is not None else 0
        return WriteOutcome(created=old is None, hard_links=max(links, 0), path=where.path)

    def _write_temp(self, where: Located, data: bytes, mode: int | None) -> str:
        """A fully written, fsynced temp file beside the target (exclusive create, never a link).

        An `OSError` on the way (a full disk, a quota) propagates once the partial temp file is removed.
        """
        name = f".{where.name[:40]}.{secrets.token_hex(4)}.deskmcp-tmp"  # short: a 255-byte name still fits
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = self._ops.open_file(where.parent, name, flags, 0o666 if mode is None else 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as handle:
                handle.write(data)
            if mode is not None:
                dirops.set_mode(fd, mode)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with suppress(OSError):
                self._ops.unlink(where.parent, name)
            raise
        os.close(fd)
        return name

    def make_dirs(self, path: str | Path) -> Path:
        """Create a directory and any missing parents (existing directories are fine)."""
        self.check_writable(path)
        with self._locate(path, must_exist=False, create_dirs=True) as where:
            if where.name is not None:
                try:
                    self._ops.mkdir(where.parent, where.name)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise os_error(exc, path, "create") from None
                try:
                    self._ops.close(self._ops.open_dir(where.parent, where.name))
                except OSError as exc:
                    if exc.errno in dirops.LINK_ERRNOS | {errno.ENOTDIR}:
                        raise DomainError(f"{path!r} exists and is not a directory") from None
                    raise os_error(exc, path, "create") from None
            return where.path

    def move(self, source: str | Path, destination: str | Path) -> tuple[Path, Path]:
        """Rename a file or directory (a symlink moves as itself); the destination must not exist."""
        self.check_writable(source)
        with (
            self._locate(source, follow=False) as src,
            self._locate(destination, follow=False, must_exist=False) as dst,
        ):
            if src.name is None:
                raise AccessDenied(f"{source!r} is an allowed directory itself; it cannot be moved")
            if dst.name is None:
                raise DomainError(f"destination {destination!r} already exists; nothing was moved")
            self._lstat(src, source)
            try:
                self._ops.rename(src.parent, src.name, dst.parent, dst.name, replace=False)
            except FileExistsError:
                raise DomainError(f"destination {destination!r} already exists; nothing was moved") from None
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    msg = f"{source!r} and {destination!r} are on different file systems; nothing was moved"
                    raise DomainError(msg) from None
                if exc.errno == errno.EINVAL:
                    msg = f"cannot move {source!r} into itself ({destination!r}); nothing was moved"
                    raise DomainError(msg) from None
                raise os_error(exc, destination, "move") from None
            return src.path, dst.path


# --- helpers --------------------------------------------------------------------------------------------


@contextmanager
def _reading(handle: IO[bytes], path: str | Path) -> Iterator[IO[bytes]]:
    with handle:
        try:
            yield handle
        except OSError as exc:
            raise os_error(exc, path, "read") from None


def _version(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _sorted_listing(ops: Any, handle: Any) -> list[os.DirEntry[str]]:
    try:
        return sorted(ops.scandir(handle), key=_by_name)
    except OSError:
        return []


def _by_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _is_plain_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
