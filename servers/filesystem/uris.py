"""`file://` URIs and the paths they name, both ways, for POSIX and Windows (no disk access).

Every file name round-trips, including POSIX names that are not UTF-8; anything that is not a local,
absolute `file://` URI is refused with a message that says what is wrong. Resource URIs and the client's
roots both go through `uri_to_path`, so the two can never disagree about which path a URI names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import PureWindowsPath
from typing import Final
from urllib.parse import quote, unquote_to_bytes, urlsplit

from deskmcp.shared.errors import InvalidArgument

IS_WINDOWS: Final = os.name == "nt"
BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")  # RFC 3986: '%' starts exactly two hex digits
SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class InvalidResource(InvalidArgument):
    """The URI or cursor is malformed, or names something that is not a file (a `ValueError`; -32602)."""


def path_to_uri(path: str | os.PathLike[str], *, windows: bool = IS_WINDOWS) -> str:
    """`file:///abs/path` (`file:///C:/...`, `file://server/share/...` on Windows), percent-encoded UTF-8.

    POSIX names that are not UTF-8 (undecodable bytes kept as surrogates) are encoded as their raw bytes,
    so every file name round-trips through `uri_to_path`.
    """
    text = os.fspath(path)
    absolute = PureWindowsPath(text).is_absolute() if windows else text.startswith("/")
    if not absolute:
        msg = f"a file URI needs an absolute path, got {text!r}"
        raise InvalidResource(msg)
    if windows:
        return PureWindowsPath(text).as_uri()
    return "file://" + quote(text.encode("utf-8", "surrogateescape"))


def child_uri(base: str, parts: Sequence[str]) -> str:
    """`path_to_uri(root / *parts)` from `base = path_to_uri(root)`, without going through pathlib per file."""
    prefix = base if base.endswith("/") else base + "/"
    return prefix + "/".join(quote(part.encode("utf-8", "surrogateescape")) for part in parts)


def uri_to_path(uri: str, *, windows: bool = IS_WINDOWS) -> str:
    """The absolute path a `file://` URI names; `InvalidResource` says what is wrong with any other URI."""
    if not isinstance(uri, str) or not uri:
        msg = "the URI is empty; expected file:///absolute/path"
        raise InvalidResource(msg)
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # e.g. an unclosed '[' in the host
        msg = f"{uri!r} is not a valid URI ({exc}); expected file:///absolute/path"
        raise InvalidResource(msg) from None
    if parts.scheme.lower() != "file":
        msg = f"{uri!r} is not a file:// URI; expected file:///absolute/path"
        raise InvalidResource(msg)
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        msg = f"{uri!r} has a query or fragment; encode '?' as %3F and '#' as %23 in file names"
        raise InvalidResource(msg)
    if BAD_ESCAPE.search(parts.path):
        msg = f"{uri!r} has a '%' that is not followed by two hex digits; encode '%' in file names as %25"
        raise InvalidResource(msg)
    raw = unquote_to_bytes(parts.path)
    if b"\x00" in raw:
        msg = f"{uri!r} contains an encoded NUL byte, which no file name can contain"
        raise InvalidResource(msg)
    host = "" if parts.netloc.lower() == "localhost" else parts.netloc
    return _windows_path(uri, host, raw) if windows else _posix_path(uri, host, raw)


def client_root_path(uri_or_path: str, *, windows: bool = IS_WINDOWS) -> str:
    """The local directory a client root names: a `file://` URI (as the spec sends them) or a plain absolute path.

    `InvalidResource` (a `ValueError`) says why anything else is refused.
    """
    scheme = SCHEME.match(uri_or_path)
    if scheme is not None and scheme.end() > 2:  # a one-letter "scheme" is a Windows drive (C:\Users)
        # Clients that build root URIs by hand leave a '%' in a folder name unencoded; it can only be literal.
        return uri_to_path(BAD_ESCAPE.sub("%25", uri_or_path), windows=windows)
    absolute = PureWindowsPath(uri_or_path).is_absolute() if windows else uri_or_path.startswith("/")
    if not absolute:
        msg = f"{uri_or_path!r} is neither a file:// URI nor an absolute path"
        raise InvalidResource(msg)
    return uri_or_path


def _posix_path(uri: str, host: str, raw: bytes) -> str:
    if host:
        msg = f"{uri!r} names a file on host {host!r}; only local files (file:///...) are served"
        raise InvalidResource(msg)
    if not raw.startswith(b"/"):
        msg = f"{uri!r} has no absolute path"
        raise InvalidResource(msg)
    return raw.decode("utf-8", "surrogateescape")


def _windows_path(uri: str, host: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        msg = f"{uri!r} is not UTF-8 once percent-decoded"
        raise InvalidResource(msg) from None
    if host:
        if not re.fullmatch(r"[\w.-]+", host) or not host.strip("."):  # '.' and '..' are device namespaces
            msg = f"{uri!r} names the host {host!r}, which is not a server name (no port, user or address brackets)"
            raise InvalidResource(msg)
        return "\\\\" + host + text.replace("/", "\\")  # UNC: file://server/share/x
    if re.match(r"^/[A-Za-z]:/", text):
        return text[1:].replace("/", "\\")
    msg = f"{uri!r} has no drive letter; expected file:///C:/..."
    raise InvalidResource(msg)
