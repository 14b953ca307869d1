"""Changing a host's config file so that nothing is ever lost.

Under an exclusive lock the file is read, changed in memory, and written to a temp file in the same folder that
is fsynced and renamed over the original, so a crash leaves the old file or the new one, never half of either.
The lock makes two installers take turns, and each re-reads the file once it holds the lock, so neither loses the
other's entry; if the bytes change under us anyway (the host itself rewriting the file) we start again. The first
time deskmcp changes a file it keeps a copy of it beside it (`<name>.deskmcp-backup`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import platformdirs
from deskmcp.install.documents import ConfigError

BACKUP_SUFFIX: Final = ".deskmcp-backup"
LOCK_TIMEOUT: Final = 15.0
ATTEMPTS: Final = 3
NEW_FILE_MODE: Final = 0o600  # a config may hold credentials; the user's eyes only


class FileError(ConfigError):
    """The file cannot be read or written; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Outcome:
    path: Path
    old: str | None  # None: the file did not exist
    new: str
    written: bool
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _try_lock(handle: IO[bytes]) -> bool:
    """One non-blocking attempt at an exclusive lock: `fcntl.flock` on POSIX, `msvcrt.locking` on Windows."""
    if os.name == "nt":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    # On POSIX, closing the handle releases the flock.


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold deskmcp's lock for `path`. The lock file lives in deskmcp's cache folder, named by the path's hash,
    so the host's folder (and a project's .vscode/) gets no stray file."""
    folder = Path(platformdirs.user_cache_dir("deskmcp")) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(os.path.normcase(str(path)).encode()).hexdigest()[:32] + ".lock"
    deadline = time.monotonic() + timeout
    with open(folder / name, "a+b") as handle:
        while not _try_lock(handle):
            if time.monotonic() > deadline:
                msg = f"another deskmcp is changing {path} (waited {timeout:.0f} s for its lock); try again"
                raise FileError(msg)
            time.sleep(0.02)
        try:
            yield
        finally:
            _unlock(handle)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        msg = f"{path} is a folder, not a config file"
        raise FileError(msg) from None
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise FileError(msg) from None


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 text (a BOM is kept in the text, and so written back); an error names the line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = f"{path}: line {line}, column {column}: not UTF-8 text; deskmcp left the file unchanged"
        raise FileError(msg) from None


def _check_writable(path: Path, raw: bytes | None) -> None:
    if raw is None:
        return
    mode = path.stat().st_mode
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        msg = f"{path} is read-only; deskmcp left it unchanged. Make it writable (chmod u+w) and run again."
        raise FileError(msg)


def _write_atomically(path: Path, data: bytes, mode: int, expected: bytes | None) -> bool:
    """Write `data` to `path` by temp file, fsync and rename; False (nothing written) if `path` no longer holds
    `expected` just before the rename."""
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".deskmcp-tmp", dir=path.parent)
    except OSError as exc:
        msg = f"cannot write in {path.parent}: {exc.strerror or exc}; {path.name} is unchanged"
        raise FileError(msg) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, stat.S_IMODE(mode))
        if _read(path) != expected:
            os.unlink(temp)
            return False
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        msg = f"cannot replace {path}: {exc.strerror or exc} (is it open in another program?); it is unchanged"
        raise FileError(msg) from None
    _fsync_folder(path.parent)
    return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles to sync)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def change(path: Path, edit: Callable[[str | None], str], *, create: bool, dry_run: bool = False) -> Outcome:
    """Apply `edit` (old text, None for a missing file -> new text) to the file at `path`, safely.

    A missing file is created (with its folder) only if `create`; a symlinked file is changed where it points.
    With `dry_run` nothing is written. `ConfigError`s from `edit` leave the file untouched.
    """
    target = Path(os.path.realpath(path))
    with locked(target):
        for _ in range(ATTEMPTS):
            raw = _read(target)
            if raw is None and not create:
                msg = f"{path} does not exist"
                raise FileError(msg)
            old = None if raw is None else decode(raw, path)
            new = edit(old)
            if new == old or dry_run:
                return Outcome(path, old, new, written=False)
            _check_writable(target, raw)
            if raw is None:
                target.parent.mkdir(parents=True, exist_ok=True)
            mode = NEW_FILE_MODE if raw is None else target.stat().st_mode
            backup = _keep_backup(target, raw, mode)
            if _write_atomically(target, new.encode("utf-8"), mode, raw):
                return Outcome(path, old, new, written=True, backup=backup)
            if backup is not None:
                backup.unlink()  # it holds what the file was before it changed under us; the next attempt keeps that
    msg = f"{path} kept changing while deskmcp was writing it (is the host rewriting it?); it is unchanged"
    raise FileError(msg)


def _keep_backup(target: Path, raw: bytes | None, mode: int) -> Path | None:
    """Copy the file as it was before deskmcp's first change to it (later changes keep that first copy)."""
    backup = backup_path(target)
    if raw is None or backup.exists():
        return None
    _write_atomically(backup, raw, mode, None)
    return backup
