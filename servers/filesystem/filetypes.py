"""File kinds for resources and read_media_file: a MIME type from the name, the same on every OS, and which kinds
are binary."""

from __future__ import annotations

import functools
import mimetypes
import os
from typing import Final

# Deterministic MIME types: the interpreter's own table (not /etc/mime.types), plus what it lacks or gets wrong.
_MIME: Final = mimetypes.MimeTypes(filenames=())
MIME_OVERRIDES: Final = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".jsx": "text/javascript",
    ".mjs": "text/javascript",
    ".rs": "text/x-rust",
    ".go": "text/x-go",
    ".toml": "application/toml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".ipynb": "application/x-ipynb+json",
    ".log": "text/plain",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".rst": "text/x-rst",
    ".kt": "text/x-kotlin",
    ".swift": "text/x-swift",
    ".rb": "text/x-ruby",
    ".php": "text/x-php",
    ".sql": "application/sql",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    # Phone and camera formats, pinned because Python's own table lacks some or gained them late (avif: 3.11).
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".opus": "audio/opus",
    ".heic": "image/heic",
    ".avif": "image/avif",
    ".gz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
    ".zst": "application/zstd",
}
TEXT_NAMES: Final = frozenset({"Makefile", "Dockerfile", "LICENSE", "README", "CHANGELOG", "Procfile", "Gemfile"})
OCTET_STREAM: Final = "application/octet-stream"
BINARY_PREFIXES: Final = ("image/", "audio/", "video/", "font/")
BINARY_TYPES: Final = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/wasm",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
    }
)


@functools.lru_cache(maxsize=512)
def _mime_for_suffix(suffix: str) -> str | None:
    return MIME_OVERRIDES.get(suffix) or _MIME.guess_type("file" + suffix, strict=False)[0]


def mime_type(name: str) -> str:
    """The MIME type for a file name, the same on every OS; unknown kinds are application/octet-stream."""
    suffix = os.path.splitext(name)[1].lower()
    guessed = _mime_for_suffix(suffix) if suffix else None
    if guessed:
        return guessed
    return "text/plain" if name in TEXT_NAMES else OCTET_STREAM


def is_binary_type(mime: str) -> bool:
    return mime.startswith(BINARY_PREFIXES) or mime in BINARY_TYPES
