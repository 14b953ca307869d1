"""Path text -> (root, components), without touching the disk.

The components returned here are exactly the strings later opened one by one under a root handle: nothing
is stripped, unquoted or Unicode-normalised between this check and the use (GHSA-7rgq-gccq-qphx was a check
that stripped a trailing quote the open kept). Only the *root prefix* is compared loosely, and only as
loosely as the root's own volume compares names (case, NFC/NFD); that comparison decides which opened root
handle the rest is walked under, so it can never reach outside a root.
"""

from __future__ import annotations

import ntpath
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from deskmcp.shared.errors import DomainError

MAX_PATH_CHARS: Final = 4096
MAX_COMPONENT_BYTES: Final = 255
# Win32 rewrites these before the file system sees them, so a check could see another name than the open.
WINDOWS_FORBIDDEN_CHARS: Final = frozenset('<>:"|?*') | frozenset(map(chr, range(32)))
WINDOWS_DEVICE_NAMES: Final = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"] + [f"{p}{n}" for p in ("COM", "LPT") for n in "0123456789¹²³"]
)
HOW_TO_CONFIGURE: Final = (
    "Configure allowed directories by passing them as arguments (`deskmcp filesystem /path/to/dir ...` in the "
    "client config's args), by setting DESKMCP_FILESYSTEM_ROOTS (separated by os.pathsep), or by using a client "
    "that offers roots."
)


class AccessDenied(DomainError):
    """The path is outside the allowed directories, or is a kind of path that is never accepted."""


class NotFound(DomainError):
    """The path is inside the roots but does not exist."""


class ThroughAFile(DomainError):
    """A component of the path that should be a directory is a file (so the path cannot exist)."""


@dataclass(frozen=True, slots=True)
class Flavour:
    """How one OS spells paths: the rules for splitting them and for their component names."""

    windows: bool

    def split(self, path: str) -> tuple[str, list[str]]:
        """(anchor, components); the anchor is '' for a relative path. '.' and empty components dropped."""
        if self.windows:
            drive, rest = ntpath.splitdrive(path)
            absolute = rest[:1] in ("\\", "/")
            anchor = (drive + "\\") if absolute else drive
            parts = rest.replace("/", "\\").split("\\")
        else:
            anchor = "/" if path.startswith("/") else ""
            parts = path.split("/")
        return anchor, [part for part in parts if part not in ("", ".")]


POSIX: Final = Flavour(windows=False)
WINDOWS: Final = Flavour(windows=True)
NATIVE: Final = WINDOWS if os.name == "nt" else POSIX


def check_text(path: object, flavour: Flavour = NATIVE) -> str:
    """`path` if it is a string that can name a file at all; otherwise `AccessDenied` saying why."""
    if not isinstance(path, str):
        msg = f"a path must be a string, got {type(path).__name__}"
        raise AccessDenied(msg)
    if not path:
        msg = "the path is empty; give an absolute path inside an allowed directory, or a relative one"
        raise AccessDenied(msg)
    if "\x00" in path:
        msg = f"the path {path!r} contains a NUL byte, which no file name can contain"
        raise AccessDenied(msg)
    if len(path) > MAX_PATH_CHARS:
        msg = f"the path is {len(path)} characters long; the limit is {MAX_PATH_CHARS}"
        raise AccessDenied(msg)
    try:
        os.fsencode(path)
    except UnicodeError:
        msg = f"the path {path!r} contains text that is not valid Unicode (a lone surrogate)"
        raise AccessDenied(msg) from None
    if flavour.windows and (path.startswith(("\\\\?\\", "\\\\.\\", "//?/", "//./", "\\??\\"))):
        msg = f"the path {path!r} uses the Windows device namespace, which is never accepted"
        raise AccessDenied(msg)
    return path


def check_component(name: str, shown: str, flavour: Flavour = NATIVE) -> None:
    """Refuse a component the OS would rename, or that is too long, before anything is opened with it."""
    if len(os.fsencode(name)) > MAX_COMPONENT_BYTES:
        msg = f"the path {shown!r} has a component longer than {MAX_COMPONENT_BYTES} bytes"
        raise AccessDenied(msg)
    if not flavour.windows or name in (".", ".."):
        return
    problem = None
    if any(char in WINDOWS_FORBIDDEN_CHARS for char in name):
        problem = "contains a character Windows does not allow in names (or an alternate data stream ':')"
    elif name[-1] in ". ":
        problem = "ends with a dot or space, which Windows strips (so '.. ' would mean '..')"
    elif name.split(".")[0].rstrip(" ").upper() in WINDOWS_DEVICE_NAMES:
        problem = "is a reserved Windows device name"
    if problem:
        msg = f"the path {shown!r} has a component {name!r} that {problem}"
        raise AccessDenied(msg)


def expand_home(path: str, flavour: Flavour = NATIVE) -> str:
    """`~` and `~/...` (not `~user`) against the home directory, once, before anything else looks at it."""
    if path == "~" or path.startswith(("~/", "~\\") if flavour.windows else "~/"):
        return os.path.expanduser("~") + path[1:]
    return path


def fold_for(ignores_case: bool, ignores_normalisation: bool) -> Callable[[str], str]:
    """How a volume compares names: exactly, NFC-equal, or NFC-equal ignoring case."""
    if ignores_case:
        return lambda name: unicodedata.normalize("NFC", name).casefold()
    if ignores_normalisation:
        return lambda name: unicodedata.normalize("NFC", name)
    return str


def normalisation_insensitive(platform: str = sys.platform) -> bool:
    """APFS and HFS+ look names up regardless of NFC/NFD; ext4, NTFS and the rest compare code points."""
    return platform == "darwin"


@dataclass(frozen=True, slots=True)
class RootSpelling:
    """The ways one root's absolute path may be written: its real path and the spellings it was given as."""

    anchor: str
    parts: tuple[str, ...]
    fold: Callable[[str], str]

    def remainder(self, anchor: str, parts: Sequence[str], flavour: Flavour) -> list[str] | None:
        """The components of `anchor/parts` below this root, or None when the path is not under it."""
        fold = self.fold
        if flavour.windows:
            if anchor.casefold() != self.anchor.casefold():
                return None
        elif anchor != self.anchor:
            return None
        size = len(self.parts)
        if len(parts) < size:
            return None
        for given, own in zip(parts, self.parts, strict=False):
            if given != own and fold(given) != fold(own):
                return None
        return list(parts[size:])


def spelling(path: str, fold: Callable[[str], str], flavour: Flavour = NATIVE) -> RootSpelling:
    anchor, parts = flavour.split(path)
    return RootSpelling(anchor, tuple(parts), fold)
