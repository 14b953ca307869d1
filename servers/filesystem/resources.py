"""Files under the roots as MCP resources: URIs, listing pages, reading, path completion.

Plain domain functions over a `Sandbox` (no protocol types: a read is the shared layer's `Contents`); `live.py`
registers them in the shared resource table.

Listing order is a depth-first walk of each root in turn, entries sorted by name. A cursor names the
last file returned (its root and path components), so the next page resumes by listing only the
directories on that path and going on from there: one page costs the directories it touches, never
the whole tree, and files added or removed between pages neither repeat nor hide the others.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deskmcp.servers.filesystem.filetypes import OCTET_STREAM, is_binary_type, mime_type
from deskmcp.servers.filesystem.globs import Excludes, split_outside_braces
from deskmcp.servers.filesystem.paths import AccessDenied, NotFound, ThroughAFile
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.textfiles import looks_binary
from deskmcp.servers.filesystem.uris import IS_WINDOWS, InvalidResource, child_uri, path_to_uri, uri_to_path
from deskmcp.servers.filesystem.walker import TooLarge
from deskmcp.shared import errors
from deskmcp.shared.errors import DomainError
from deskmcp.shared.resources import Contents

DEFAULT_IGNORES: Final = (".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj", ".pijul", ".fossil-settings")
TEMPLATE: Final = "file:///{+path}"
CURSOR_VERSION: Final = 1
MAX_COMPLETIONS: Final = 100
_SEPARATORS: Final = frozenset("/\\\x00")
MAX_DEPTH: Final = 256  # deeper than any real tree; stops a walk that a link loop would make endless


class ResourceNotFound(errors.NotFound):
    """No such file under the allowed roots (outside them counts as not found)."""


class ResourceTooLarge(errors.InvalidArgument):
    """The file is over the size limit for `resources/read`."""


class ResourceUnreadable(DomainError):
    """The file exists under a root but cannot be read now (permission denied, an I/O error)."""


# A resource that is outside the roots or no longer exists (a path through a file cannot exist either).
GONE: Final = (AccessDenied, NotFound, ThroughAFile, FileNotFoundError, NotADirectoryError)


def _not_found(uri: str, exc: Exception) -> ResourceNotFound:
    """Outside the roots counts as not found, as does a path that no longer exists."""
    if isinstance(exc, AccessDenied):
        return ResourceNotFound(f"{uri} is not under an allowed directory: {exc}")
    return ResourceNotFound(f"{uri} does not exist (it may have been moved or deleted); list resources again")


def _unreadable(uri: str, exc: Exception) -> ResourceUnreadable:
    if isinstance(exc, DomainError):  # already says what could not be done: "permission denied: cannot read 'x'"
        return ResourceUnreadable(f"{uri}: {exc}")
    return ResourceUnreadable(f"{uri} cannot be read: {getattr(exc, 'strerror', None) or exc}")


# --- what counts as a resource --------------------------------------------------------------------------


class IgnoreRules(Excludes):
    """Names and relative paths left out of listings, completion and list-change watching.

    Exclude patterns as search_files reads them (`globs`): a pattern without '/' matches any single name
    (`node_modules`, `*.pyc`, `dist/`); one with '/' matches the path below a root (`build/out`, `docs/*.tmp`,
    `/build` for the top-level one only; `*` stays within one name and `**` spans folders). `!name` in the
    setting takes a default (`.git`) out.
    """

    def __init__(self, patterns: Sequence[str] = DEFAULT_IGNORES) -> None:
        super().__init__(patterns)

    def __repr__(self) -> str:
        return f"IgnoreRules({self.patterns!r})"

    @classmethod
    def parse(cls, text: str | None) -> IgnoreRules:
        """Defaults plus the comma-separated patterns in `text` (a comma inside `{}` is part of its pattern)."""
        extra = [p.strip().replace("\\", "/") for p in split_outside_braces(text or "")]
        extra = [p for p in extra if p.strip("/") and p != "!"]
        removed = {p[1:].strip("/") for p in extra if p.startswith("!")}
        added = [p for p in extra if not p.startswith("!")]
        kept = [p for p in DEFAULT_IGNORES if p not in removed]
        return cls(tuple(dict.fromkeys([*kept, *added])))

    def ignores(self, name: str, relative: str) -> bool:
        """Whether the entry `name`, at `relative` (posix path below its root), is left out."""
        return self.excluded(relative, name)

    def ignores_path(self, parts: Sequence[str]) -> bool:
        """Whether any component of the path below a root is left out (so the path is too)."""
        return any(self.excluded("/".join(parts[: i + 1]), name) for i, name in enumerate(parts))


# --- listing --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileResource:
    uri: str
    name: str  # the path below its root, '/'-separated
    mime_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Position:
    """The last file of a page: its root and its path components below it."""

    root: str
    after: tuple[str, ...]


def encode_cursor(position: Position) -> str:
    payload = json.dumps({"v": CURSOR_VERSION, "root": position.root, "after": list(position.after)})
    return base64.urlsafe_b64encode(payload.encode("utf-8", "surrogateescape")).decode("ascii")


def decode_cursor(cursor: str, roots: Sequence[Path]) -> Position:
    """The position a cursor from `encode_cursor` names; `InvalidResource` for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8", "surrogateescape"))
        root, after = data["root"], tuple(data["after"])
        valid = data["v"] == CURSOR_VERSION and isinstance(root, str) and 0 < len(after) <= MAX_DEPTH
        valid = valid and all(
            isinstance(p, str) and p not in ("", ".", "..") and not _SEPARATORS & set(p) for p in after
        )
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        valid = False
    if not valid:
        msg = "invalid cursor: pass back the nextCursor of the previous resources/list page unchanged"
        raise InvalidResource(msg)
    if root not in {str(r) for r in roots}:
        msg = "the cursor's root is no longer an allowed directory; start again without a cursor"
        raise InvalidResource(msg)
    return Position(root, after)


@dataclass(slots=True)
class _Frame:
    """One directory of the walk: its path below the root and the names still to visit (sorted)."""

    parts: tuple[str, ...]
    after: str | None  # resume after this name; None: from the start
    pending: Iterator[tuple[str, bool, int, bool]] | None = None


def _sorted_entries(
    sandbox: Sandbox, root: Path, frame: _Frame, rules: IgnoreRules
) -> Iterator[tuple[str, bool, int, bool]]:
    """(name, is_dir, size, is_link) of the directory's files and folders after `frame.after`, by name."""
    directory = root.joinpath(*frame.parts)
    try:
        entries = sandbox.list_dir(directory)
    except (OSError, DomainError):  # vanished, unreadable or refused: the walk goes on around it
        return iter(())
    chosen = []
    for entry in entries:
        if frame.after is not None and entry.name <= frame.after:
            continue
        if not (entry.is_file or entry.is_dir):
            continue
        if rules.ignores(entry.name, "/".join((*frame.parts, entry.name))):
            continue
        chosen.append((entry.name, entry.is_dir, entry.size, entry.is_link))
    chosen.sort()
    return iter(chosen)


def _walk_root(
    sandbox: Sandbox, root: Path, after: tuple[str, ...], rules: IgnoreRules
) -> Iterator[tuple[tuple[str, ...], int]]:
    """(path components, size) of every file of `root` after `after`, in listing order, lazily.

    Linked folders are not walked into: their files are listed where they really are, and a link to an
    ancestor cannot make the walk endless.
    """
    stack = [_Frame(after[:depth], after[depth]) for depth in range(len(after))] or [_Frame((), None)]
    while stack:
        frame = stack[-1]
        if frame.pending is None:
            frame.pending = _sorted_entries(sandbox, root, frame, rules)
        entry = next(frame.pending, None)
        if entry is None:
            stack.pop()
            continue
        name, is_dir, size, is_link = entry
        parts = (*frame.parts, name)
        if not is_dir:
            yield parts, size
        elif len(parts) < MAX_DEPTH and not is_link:
            stack.append(_Frame(parts, None))


def list_page(
    sandbox: Sandbox, rules: IgnoreRules, position: Position | None, limit: int
) -> tuple[list[FileResource], Position | None]:
    """Up to `limit` files after `position`, and the position to resume from (None at the end)."""
    roots = list(sandbox.roots)
    start = 0
    after: tuple[str, ...] = ()
    if position is not None:
        names = [str(r) for r in roots]
        if position.root not in names:
            msg = "the cursor's root is no longer an allowed directory; start again without a cursor"
            raise InvalidResource(msg)
        start, after = names.index(position.root), position.after
    page: list[FileResource] = []
    last = Position("", ())
    for index in range(start, len(roots)):
        root = roots[index]
        base = path_to_uri(root)
        for parts, size in _walk_root(sandbox, root, after if index == start else (), rules):
            if len(page) == limit:  # one more file exists, so there is a next page
                return page, last
            page.append(FileResource(child_uri(base, parts), "/".join(parts), mime_type(parts[-1]), size))
            last = Position(str(root), parts)
    return page, None


def locate(roots: Iterable[Path], path: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The root `path` is under (or is) and its components below it; None when it is under none."""
    for root in roots:
        if path == root or path.is_relative_to(root):
            return root, path.relative_to(root).parts
    return None


# --- reading --------------------------------------------------------------------------------------------


def _stat(sandbox: Sandbox, uri: str, path: str) -> os.stat_result:
    try:
        return sandbox.stat(path)
    except GONE as exc:
        raise _not_found(uri, exc) from None
    except (OSError, DomainError) as exc:
        raise _unreadable(uri, exc) from None


def read_resource(sandbox: Sandbox, uri: str, limit: int) -> Contents:
    """The content of the file `uri` names, through the sandbox, refusing more than `limit` bytes."""
    path = uri_to_path(uri)
    info = _stat(sandbox, uri, path)
    if stat.S_ISDIR(info.st_mode):
        msg = f"{uri} is a folder, not a file; list its files with resources/list or the list_directory tool"
        raise InvalidResource(msg)
    if not stat.S_ISREG(info.st_mode):
        msg = f"{uri} is not a regular file (a FIFO, socket or device), so it is not served as a resource"
        raise InvalidResource(msg)
    if info.st_size > limit:
        raise ResourceTooLarge(_too_large(uri, info.st_size, limit))
    try:
        data = sandbox.read_bytes(path, limit)
    except GONE as exc:
        raise _not_found(uri, exc) from None  # moved, deleted or swapped since the stat
    except TooLarge as exc:  # grown past the limit since the stat
        raise ResourceTooLarge(f"{uri}: {exc}") from None
    except (OSError, DomainError) as exc:  # e.g. permission denied, or swapped for a FIFO since the stat
        raise _unreadable(uri, exc) from None
    return decode_content(os.path.basename(path), data)


def _too_large(uri: str, size: int, limit: int) -> str:
    return (
        f"{uri} is {size:,} bytes, over the {limit:,}-byte limit for resources/read; read part of it with the "
        "read_text_file tool (head/tail), or raise DESKMCP_FILESYSTEM_RESOURCE_MAX_BYTES"
    )


def decode_content(name: str, data: bytes) -> Contents:
    """Text when the bytes are UTF-8 without NULs and the type is not a binary one; a blob otherwise."""
    mime = mime_type(name)
    if not is_binary_type(mime) and not looks_binary(data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return Contents(text=text, mime_type="text/plain" if mime == OCTET_STREAM else mime)
    if mime.startswith("text/"):
        mime = OCTET_STREAM  # named like text, but its bytes are not
    return Contents(data=data, mime_type=mime)


# --- the file:// template and its completion ------------------------------------------------------------


def template_value(path: Path | str, *, windows: bool = IS_WINDOWS) -> str:
    """What `path` fills into `file:///{+path}`: `home/me/x` for /home/me/x, `C:/Users/x` for C:\\Users\\x."""
    text = str(path)
    return text.replace("\\", "/") if windows else text.lstrip("/")


def _value_path(value: str, *, windows: bool = IS_WINDOWS) -> Path:
    return Path(value.replace("/", "\\")) if windows else Path("/" + value.lstrip("/"))


def complete_path(
    sandbox: Sandbox, rules: IgnoreRules, value: str, limit: int = MAX_COMPLETIONS
) -> tuple[list[str], int]:
    """Template values that extend `value` by one name (folders end in '/'), and how many there are."""
    roots = sandbox.roots
    head, _, prefix = value.rpartition("/")
    directory = _value_path(head) if head else None
    located = locate(roots, directory) if directory is not None else None
    if located is None:  # still above the roots: offer the roots themselves
        matches = [template_value(root) + "/" for root in roots if template_value(root).startswith(value)]
        return sorted(matches)[:limit], len(matches)
    _, parts = located
    if rules.ignores_path(parts):  # inside an ignored folder such as .git
        return [], 0
    try:
        entries = sandbox.list_dir(directory, stat_entries=False)
    except (OSError, DomainError):
        return [], 0
    matches = []
    for entry in entries:
        if not entry.name.startswith(prefix) or not (entry.is_dir or entry.is_file):
            continue
        if rules.ignores(entry.name, "/".join((*parts, entry.name))):
            continue
        matches.append(f"{head}/{entry.name}" + ("/" if entry.is_dir else ""))
    matches.sort()
    return matches[:limit], len(matches)
