"""Walking a path one component at a time from an opened root, as the sandbox does for every operation.

A walk holds a stack of open directory handles (`dirops`). `..` pops the stack and never goes above the root
the walk is in, except inside a symlink's target. A component that is a symlink is replaced by its target's
components; an absolute target restarts at the root that holds it, and a relative one that climbs out of its
root (`../other_root/file`) continues in whichever root holds where it leads, or is refused. So links are
resolved by this same walker and can never lead outside the roots; a link at the end of the path whose target
does not exist is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from deskmcp.servers.filesystem import dirops
from deskmcp.servers.filesystem.paths import (
    AccessDenied,
    Flavour,
    NotFound,
    RootSpelling,
    ThroughAFile,
    check_component,
)
from deskmcp.shared.errors import DomainError

MAX_LINK_HOPS: Final = 40


class RootHandle:
    """An opened root directory; closed when the last operation holding it lets go."""

    def __init__(self, ops: Any, handle: Any) -> None:
        self.ops, self.handle = ops, handle

    def __del__(self) -> None:
        with suppress(Exception):
            self.ops.close(self.handle)


@dataclass(frozen=True, slots=True)
class Root:
    path: Path
    handle: RootHandle
    spellings: tuple[RootSpelling, ...]


@dataclass(slots=True)
class Located:
    """Where a path leads: the directory holding it (an open handle) and its name there."""

    root: Root
    parent: Any
    name: str | None  # None: the path is the directory `parent` itself
    parts: tuple[str, ...]  # components below the root

    @property
    def path(self) -> Path:
        return self.root.path.joinpath(*self.parts)


def volume_ignores_case(path: str) -> bool:
    """Whether the volume holding `path` finds names regardless of case (macOS, Windows defaults)."""
    head, tail = os.path.split(path)
    while tail and tail.swapcase() == tail:
        head, tail = os.path.split(head)
    if not tail:
        return os.name == "nt"
    try:
        swapped = os.stat(os.path.join(head, tail.swapcase()))
        own = os.stat(os.path.join(head, tail))
    except OSError:
        return False
    return (swapped.st_dev, swapped.st_ino) == (own.st_dev, own.st_ino)


class Walk:
    """One walk of a path's components from a root handle; holds the directory handles it opened."""

    def __init__(
        self, ops: Any, flavour: Flavour, roots: tuple[Root, ...], root: Root, shown: str, *, create_dirs: bool = False
    ) -> None:
        self.ops, self.flavour, self.roots, self.root = ops, flavour, roots, root
        self.shown, self.create_dirs = shown, create_dirs
        self.handles: list[Any] = [self.ops.dup(root.handle.handle)]
        self.names: list[str] = []
        self.through_link: str | None = None  # the last symlink followed, for messages
        self.from_links = 0  # how many of the components still to walk come from links' targets (they lead)

    def close(self) -> None:
        while self.handles:
            with suppress(OSError):
                self.ops.close(self.handles.pop())

    def run(self, parts: list[str], *, follow: bool, must_exist: bool) -> Located:
        pending, hops = deque(parts), 0
        while pending:
            name = pending.popleft()
            from_link, self.from_links = self.from_links > 0, max(self.from_links - 1, 0)
            if name in ("", "."):
                continue
            if name == "..":
                self._up(pending, from_link=from_link)
                continue
            check_component(name, self.shown, self.flavour)
            if not pending:
                target = self._leaf(name, follow=follow, must_exist=must_exist, from_link=from_link)
                if target is None:
                    return Located(self.root, self.handles[-1], name, (*self.names, name))
                name, link = target
            else:
                link = self._enter(name)
                if link is None:
                    continue
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise DomainError(f"{self.shown!r}: too many levels of symbolic links")
            pending.extendleft(reversed(self._splice(name, link)))
        return Located(self.root, self.handles[-1], None, tuple(self.names))

    def _up(self, pending: deque[str], *, from_link: bool) -> None:
        if self.names:
            self.ops.close(self.handles.pop())
            self.names.pop()
        elif from_link:
            self._leave_root(pending)
        else:
            msg = f"{self.shown!r} leads above the allowed directory {self.root.path}; use a path inside it"
            raise AccessDenied(msg)

    def _leave_root(self, pending: deque[str]) -> None:
        """`..` at the top of a root inside a link's target: the target goes on from the root's parent, and
        the walk with it if that is in a root (the link's own or another), matched as an absolute target is.

        The root's path is real (no links in it), so climbing it by text is exact; the first name below it is
        compared with the roots' spellings, never opened, and the rest is walked from the matched root's handle.
        """
        anchor, above = self.flavour.split(str(self.root.path))
        above = above[:-1]  # `..` of the root; of "/" or "C:\\" it is itself
        while pending and self.from_links and pending[0] in ("", ".", ".."):  # the target's own, not the path's
            self.from_links -= 1
            if pending.popleft() == ".." and above:
                above.pop()
        waiting = len(pending)
        matched = match_root(self.roots, anchor, [*above, *pending], self.flavour)
        if matched is None:
            raise self._link_outside(self.through_link or "")
        root, rest = matched
        self._restart(root)
        pending.clear()
        pending.extend(rest)
        self.from_links = max(self.from_links - (waiting - len(rest)), 0)

    def _restart(self, root: Root) -> None:
        """Continue the walk at the top of `root`."""
        self.close()
        self.root = root
        self.handles, self.names = [self.ops.dup(root.handle.handle)], []

    def _leaf(self, name: str, *, follow: bool, must_exist: bool, from_link: bool) -> tuple[str, str] | None:
        """None when `name` is the target; (name, link text) when it is a symlink to follow."""
        try:
            st = self.ops.lstat(self.handles[-1], name)
        except FileNotFoundError:
            if from_link:
                msg = f"{self.shown!r} is a symbolic link whose target does not exist; dangling links are refused"
                raise AccessDenied(msg) from None
            if must_exist:
                raise NotFound(self._missing(name)) from None
            return None
        except OSError as exc:
            raise os_error(exc, self.shown, "open") from None
        if follow and dirops.is_link(st):
            return name, self._readlink(name)
        return None

    def _enter(self, name: str) -> str | None:
        """Open directory `name` onto the stack; its link text instead when it is a symlink."""
        try:
            handle = self.ops.open_dir(self.handles[-1], name)
        except FileNotFoundError:
            if not self.create_dirs:
                raise NotFound(self._missing(name)) from None
            with suppress(FileExistsError):
                self.ops.mkdir(self.handles[-1], name)
            return self._enter_created(name)
        except OSError as exc:
            if exc.errno not in dirops.LINK_ERRNOS:
                raise os_error(exc, self.shown, "open") from None
            try:
                st = self.ops.lstat(self.handles[-1], name)
            except OSError:
                raise changed_error(self.shown) from None
            if not dirops.is_link(st):
                raise ThroughAFile(f"{self.shown!r}: {name!r} is not a directory") from None
            return self._readlink(name)
        self.handles.append(handle)
        self.names.append(name)
        return None

    def _enter_created(self, name: str) -> None:
        try:
            handle = self.ops.open_dir(self.handles[-1], name)
        except OSError:
            raise changed_error(self.shown) from None
        self.handles.append(handle)
        self.names.append(name)

    def _readlink(self, name: str) -> str:
        try:
            return self.ops.readlink(self.handles[-1], name)
        except OSError:
            raise changed_error(self.shown) from None

    def _splice(self, name: str, link: str) -> list[str]:
        """The components to walk instead of the link `name`; an absolute target restarts at its root."""
        flavour = self.flavour
        self.through_link = name
        anchor, parts = flavour.split(link)
        if anchor:
            matched = match_root(self.roots, anchor, parts, flavour)
            if matched is None:
                raise self._link_outside(name)
            root, parts = matched
            self._restart(root)
        self.from_links += len(parts)
        return parts

    def _link_outside(self, name: str) -> AccessDenied:
        msg = f"{self.shown!r} goes through the symbolic link {name!r}, which points outside the allowed directories"
        return AccessDenied(msg)

    def _missing(self, name: str) -> str:
        where = self.root.path.joinpath(*self.names)
        return f"{self.shown!r} does not exist (no {name!r} in {where})"


# --- roots and errors --------------------------------------------------------------------------------


def match_root(roots: Sequence[Root], anchor: str, parts: list[str], flavour: Flavour) -> tuple[Root, list[str]] | None:
    for root in roots:
        for spelled in root.spellings:
            rest = spelled.remainder(anchor, parts, flavour)
            if rest is not None:
                return root, rest
    return None


def is_within(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def outermost(roots: tuple[Root, ...]) -> tuple[Root, ...]:
    """Drop roots inside other roots (and duplicates): each place has exactly one root to walk from."""
    kept: list[Root] = []
    for root in roots:
        if any(is_within(other.path, root.path) for other in kept):
            continue
        kept = [other for other in kept if not is_within(root.path, other.path)]
        kept.append(root)
    return tuple(kept)


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(st: os.stat_result, path: str | Path) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise DomainError(f"{os.fspath(path)!r} is {_kind(st)}; only regular files can be read or written")


class TooLarge(DomainError):
    """A file is over a read limit (callers that map errors tell this apart from other refusals)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size  # at least this many bytes


def too_big(path: str | Path, size: int, limit: int) -> TooLarge:
    return TooLarge(
        f"{os.fspath(path)!r} is {size:,} bytes, over the {limit:,}-byte limit; "
        "read part of it with head or tail, or raise the limit in the server settings",
        size,
    )


def changed_error(path: str | Path) -> DomainError:
    return DomainError(f"{os.fspath(path)!r} changed while it was being accessed (a component was replaced); try again")


def os_error(exc: OSError, path: str | Path, action: str) -> DomainError:
    shown = os.fspath(path)
    if exc.errno == errno.ENOENT:
        return NotFound(f"{shown!r} does not exist")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DomainError(f"permission denied: cannot {action} {shown!r}")
    if exc.errno == errno.ENOTDIR:
        return ThroughAFile(f"{shown!r}: a component of the path is not a directory")
    if exc.errno == errno.EISDIR:
        return DomainError(f"{shown!r} is a directory")
    if exc.errno == errno.ENAMETOOLONG:
        return AccessDenied(f"{shown!r}: the path or a name in it is too long")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DomainError(f"cannot {action} {shown!r}: no space left on the device")
    if exc.errno == errno.EROFS:
        return DomainError(f"cannot {action} {shown!r}: the file system is read-only")
    return DomainError(f"cannot {action} {shown!r}: {exc.strerror or exc}")
