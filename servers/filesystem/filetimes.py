"""When a file was created, where the OS records it; nothing where it does not.

`st_ctime` is the creation time only on Windows before Python 3.12; on POSIX it is the inode *change* time,
which a `chmod` or a new hard link moves, so it is never reported as `created`. The birth time is
`st_birthtime` on macOS, the BSDs and Windows (Python 3.12+). Linux keeps one on most file systems but
`os.stat` does not return it; `os.statx` (Python 3.15+, Linux 4.11+, glibc 2.28+) does, and where neither
is available the answer leaves `created` out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Final

STATX_INO: Final = getattr(os, "STATX_INO", 0x100)
STATX_BTIME: Final = getattr(os, "STATX_BTIME", 0x800)
STATX: Final[Callable[..., Any] | None] = getattr(os, "statx", None)


def creation_time(st: os.stat_result, linux_birth: float | None = None, platform: str = sys.platform) -> float | None:
    """The birth time of the file `st` describes; `linux_birth` is what `statx` said, where it could be asked."""
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        return birth if birth > 0 else None  # 0 or -1: the file system keeps none (FreeBSD, some macOS volumes)
    if platform == "win32":
        return st.st_ctime  # Python < 3.12: there st_ctime is the creation time
    return linux_birth


def statx_birth(
    handle: int, name: str | None, st: os.stat_result, statx: Callable[..., Any] | None = STATX
) -> float | None:
    """The birth time of `name` in the directory fd `handle` (or of `handle` itself when `name` is None), if this
    Python has `os.statx` and the file system keeps one; None otherwise, or if the entry is no longer `st`'s."""
    if statx is None:
        return None
    try:
        if name is None:
            found = statx(handle, STATX_BTIME | STATX_INO)
        else:
            found = statx(name, STATX_BTIME | STATX_INO, dir_fd=handle, follow_symlinks=False)
    except (OSError, TypeError, ValueError):
        return None
    if not found.stx_mask & STATX_BTIME or found.stx_ino != st.st_ino:
        return None
    return found.stx_btime
