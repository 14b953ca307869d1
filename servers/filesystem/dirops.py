"""Directory handles and the few system calls the sandbox makes through them, per OS.

POSIX (Linux, macOS, BSD): a handle is an open directory fd, and every call names one component relative to
it (`openat`, `fstatat`, `renameat`, `mkdirat`, ...) with `O_NOFOLLOW`, so the kernel never re-resolves a
path string that was checked earlier: a parent swapped for a symlink after the check is not followed.

Windows has no `dir_fd` calls (`os.supports_dir_fd` is empty there). The fallback, `PathOps`, keeps a
verified absolute path as the handle, refuses any component that is a reparse point (symlink, junction)
before using it, and re-checks every opened file by the final path of its handle (GetFinalPathNameByHandle),
so a swap between check and open is caught at open. Renames and mkdir by path keep a small window that the
fd calls close; it is documented, not hidden. `PathOps` also runs on Linux, which is how it is tested.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import sys
from collections.abc import Callable
from typing import Any, Final

from deskmcp.servers.filesystem.filetimes import statx_birth

O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
O_BINARY: Final = getattr(os, "O_BINARY", 0)
FILE_ATTRIBUTE_REPARSE_POINT: Final = 0x400
# errno values meaning "this component is a symlink" when opened with O_NOFOLLOW (EMLINK: FreeBSD).
LINK_ERRNOS: Final = frozenset({errno.ELOOP, errno.EMLINK, errno.ENOTDIR})

Handle = Any  # an fd (FdOps) or a verified absolute path (PathOps)


def is_link(st: os.stat_result) -> bool:
    """A symlink, or on Windows any reparse point (junctions are links too)."""
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & FILE_ATTRIBUTE_REPARSE_POINT)


def _link_error(name: str) -> OSError:
    return OSError(errno.ELOOP, "is a symbolic link", name)


# --- renaming without replacing -----------------------------------------------------------------------------


def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (AttributeError, OSError, TypeError):
        return None


RENAME_NOREPLACE: Final = 1  # Linux renameat2
RENAME_EXCL: Final = 4  # macOS renameatx_np
_renameat2 = _libc_function("renameat2") if sys.platform.startswith("linux") else None
_renameatx_np = _libc_function("renameatx_np") if sys.platform == "darwin" else None


def rename_noreplace_at(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """Rename that fails with FileExistsError instead of replacing `dst`, atomically where the OS can.

    Linux `renameat2(RENAME_NOREPLACE)` and macOS `renameatx_np(RENAME_EXCL)` do it in one call. Elsewhere, or on a
    file system that refuses the flag, the fallback checks then renames: a file created in between is replaced.
    """
    native, flag = (_renameat2, RENAME_NOREPLACE) if _renameat2 else (_renameatx_np, RENAME_EXCL)
    if native is not None:
        result = native(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst), flag)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), dst)
    try:
        os.stat(dst, dir_fd=dst_dir, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        return
    raise FileExistsError(errno.EEXIST, "File exists", dst)


# --- the final path of an open file -----------------------------------------------------------------------


def _final_path_windows(fd: int) -> str | None:
    import msvcrt

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    buffer = ctypes.create_unicode_buffer(32768)
    size = kernel32.GetFinalPathNameByHandleW(msvcrt.get_osfhandle(fd), buffer, len(buffer), 0)
    if size == 0 or size >= len(buffer):
        return None
    path = buffer.value
    if path.startswith("\\\\?\\UNC\\"):
        return "\\\\" + path[8:]
    return path[4:] if path.startswith("\\\\?\\") else path


def final_path(fd: int, platform: str = sys.platform) -> str | None:
    """Where an open file really is now, as the OS reports it; None where it cannot say."""
    try:
        if platform == "win32":
            return _final_path_windows(fd)
        if platform == "darwin":
            import fcntl

            raw = fcntl.fcntl(fd, 50, b"\0" * 1024)  # F_GETPATH
            return os.fsdecode(raw.split(b"\0", 1)[0])
        return os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ImportError, AttributeError, ValueError):
        return None


# --- the two backends ----------------------------------------------------------------------------------


class FdOps:
    """POSIX: directory fds and *at() calls; no path is resolved twice."""

    def open_root(self, path: str) -> int:
        fd = os.open(path, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
        return fd

    def open_dir(self, parent: int, name: str) -> int:
        return os.open(name, os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, dir_fd=parent)

    def dup(self, handle: int) -> int:
        return os.dup(handle)

    def close(self, handle: int) -> None:
        os.close(handle)

    def stat_dir(self, handle: int) -> os.stat_result:
        return os.fstat(handle)

    def lstat(self, parent: int, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)

    def readlink(self, parent: int, name: str) -> str:
        return os.readlink(name, dir_fd=parent)

    def open_file(self, parent: int, name: str, flags: int, mode: int = 0o666) -> int:
        return os.open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode, dir_fd=parent)

    def mkdir(self, parent: int, name: str) -> None:
        os.mkdir(name, dir_fd=parent)

    def rename(self, src_dir: int, src: str, dst_dir: int, dst: str, *, replace: bool) -> None:
        if replace:
            os.replace(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        else:
            rename_noreplace_at(src_dir, src, dst_dir, dst)

    def unlink(self, parent: int, name: str) -> None:
        os.unlink(name, dir_fd=parent)

    def scandir(self, handle: int) -> list[os.DirEntry[str]]:
        with os.scandir(handle) as entries:
            return list(entries)

    def birth_time(self, parent: int, name: str | None, st: os.stat_result) -> float | None:
        """What `statx` says where `stat` has no birth time (Linux); None where Python cannot ask."""
        return statx_birth(parent, name, st)


class PathOps:
    """Windows fallback (no dir_fd): verified path handles, links refused per component, opens re-verified."""

    def __init__(self, platform: str = sys.platform) -> None:
        self.platform = platform

    def _join(self, parent: str, name: str) -> str:
        return os.path.join(parent, name)

    def open_root(self, path: str) -> str:
        if not os.path.isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
        return path

    def open_dir(self, parent: str, name: str) -> str:
        path = self._join(parent, name)
        st = os.lstat(path)
        if is_link(st):
            raise _link_error(name)
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", name)
        return path

    def dup(self, handle: str) -> str:
        return handle

    def close(self, handle: str) -> None:
        return None

    def stat_dir(self, handle: str) -> os.stat_result:
        st = os.lstat(handle)
        if is_link(st):
            raise _link_error(handle)
        return st

    def lstat(self, parent: str, name: str) -> os.stat_result:
        return os.lstat(self._join(parent, name))

    def readlink(self, parent: str, name: str) -> str:
        target = os.readlink(self._join(parent, name))
        return target[4:] if target.startswith(("\\\\?\\", "\\??\\")) else target

    def open_file(self, parent: str, name: str, flags: int, mode: int = 0o666) -> int:
        path = self._join(parent, name)
        if not flags & os.O_CREAT and is_link(os.lstat(path)):
            raise _link_error(name)
        fd = os.open(path, flags | O_NOFOLLOW | O_BINARY | getattr(os, "O_NOINHERIT", 0), mode)
        actual = final_path(fd, self.platform)
        if actual is None or os.path.normcase(actual) != os.path.normcase(path):
            os.close(fd)
            if flags & os.O_CREAT and actual is not None:
                with contextlib.suppress(OSError):
                    os.unlink(actual)  # created through a swapped-in link: remove what was just made, by its real name
            raise _link_error(name)
        return fd

    def mkdir(self, parent: str, name: str) -> None:
        os.mkdir(self._join(parent, name))

    def rename(self, src_dir: str, src: str, dst_dir: str, dst: str, *, replace: bool) -> None:
        source, target = self._join(src_dir, src), self._join(dst_dir, dst)
        if replace:
            os.replace(source, target)
        elif os.name == "nt":
            os.rename(source, target)  # MoveFileEx without REPLACE_EXISTING: fails if the target exists
        elif os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", dst)
        else:
            os.rename(source, target)

    def unlink(self, parent: str, name: str) -> None:
        os.unlink(self._join(parent, name))

    def scandir(self, handle: str) -> list[os.DirEntry[str]]:
        with os.scandir(handle) as entries:
            return list(entries)

    def birth_time(self, parent: str, name: str | None, st: os.stat_result) -> float | None:
        return None  # Windows has it in `st` itself (st_birthtime, or st_ctime before Python 3.12)


def native_ops() -> FdOps | PathOps:
    """FdOps wherever the *at() calls exist (Linux, macOS, BSD); PathOps otherwise (Windows)."""
    needed = {os.open, os.stat, os.mkdir, os.rename, os.unlink, os.readlink}
    return FdOps() if needed <= os.supports_dir_fd and O_NOFOLLOW else PathOps()


def set_mode(fd: int, mode: int) -> None:
    """chmod an open file; Windows has no fchmod (its only mode bit, read-only, is not carried over)."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
