"""Text in files: whole reads within a limit, decoding, the first or last lines of a file of any size, and
exact edits with a diff.

Head and tail stream from an open file and stop at a byte budget, so a 5 GB one-line file costs no more
memory than a small one.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import IO, Final

from deskmcp.servers.filesystem.walker import require_regular, too_big
from deskmcp.shared.errors import DomainError

CHUNK: Final = 64 * 1024
DIFF_CONTEXT: Final = 4  # jsdiff's default, so diffs read as the reference server's do
BINARY_PROBE: Final = 8192


def read_within(source: IO[bytes] | int, shown: str | Path, limit: int) -> bytes:
    """All of a regular file open as a handle or a descriptor; `TooLarge` past `limit` bytes. Reads are sized by
    the file, not the limit (one read for a file that stays put); one that grew is read on to its end or the limit.
    """
    fd, read = (source, partial(os.read, source)) if isinstance(source, int) else (source.fileno(), source.read)
    st = os.fstat(fd)
    require_regular(st, shown)
    size = st.st_size
    if size > limit:
        raise too_big(shown, size, limit)
    chunks: list[bytes] = []
    total = 0
    while chunk := read((size + 1 if total <= size else limit + 1) - total):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_big(shown, total, limit)
        if total == size:  # all of it: a read of one byte more than the size came back short
            break
    return b"".join(chunks)


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB (git's test): binary for read_text_file, resources and content search."""
    return b"\x00" in data[:BINARY_PROBE]


def decode(data: bytes, shown: str) -> str:
    """UTF-8 text (undecodable bytes replaced); binary content is refused with the tool to use instead."""
    if looks_binary(data):
        raise DomainError(f"{shown!r} looks like a binary file (it contains NUL bytes); use read_media_file for it")
    return data.decode("utf-8", errors="replace")


def _text_lines(lines: list[bytes]) -> str:
    if any(b"\x00" in line for line in lines):
        raise DomainError("the file looks binary (it contains NUL bytes); use read_media_file for it")
    return "\n".join(line.removesuffix(b"\r").decode("utf-8", errors="replace") for line in lines)


def _truncation_note(lines: int, limit: int) -> str:
    return f"Truncated: the requested lines exceed the {limit:,}-byte read limit; {lines} line(s) are shown."


def head(handle: IO[bytes], count: int, limit: int) -> tuple[str, str | None]:
    """The first `count` lines (without their line ends), reading at most `limit` bytes; and a note when the
    limit cut them short."""
    if count <= 0:
        return "", None
    chunks: list[bytes] = []
    size = newlines = 0
    while newlines < count and size < limit:
        chunk = handle.read(min(CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        newlines += chunk.count(b"\n")
    lines = b"".join(chunks).split(b"\n")
    if len(lines) > count:
        return _text_lines(lines[:count]), None
    if size < limit or not handle.read(1):
        if lines[-1] == b"":
            lines.pop()
        return _text_lines(lines), None
    return _text_lines(lines), _truncation_note(len(lines), limit)


def tail(handle: IO[bytes], count: int, limit: int) -> tuple[str, str | None]:
    """The last `count` lines; a newline at the very end does not start an empty last line. And a note when
    the limit cut them short."""
    if count <= 0:
        return "", None
    position = handle.seek(0, os.SEEK_END)
    chunks: list[bytes] = []
    size = newlines = 0
    while position > 0 and size < limit and newlines <= count:
        step = min(CHUNK, position, limit - size)
        position -= step
        handle.seek(position)
        chunk = handle.read(step)
        chunks.append(chunk)
        size += len(chunk)
        newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if position > 0:
        lines = lines[1:]  # cut mid-line by where reading stopped
    text = _text_lines(lines[-count:])
    if position > 0 and len(lines) < count:
        return text, _truncation_note(len(lines), limit)
    return text, None


# --- edits ---------------------------------------------------------------------------------------------


def _replace_lines_loosely(content: str, old: str, new: str) -> str | None:
    """Match `old` line by line ignoring leading/trailing whitespace; re-indent `new` like the match."""
    old_lines, lines = old.split("\n"), content.split("\n")
    found = [
        start
        for start in range(len(lines) - len(old_lines) + 1)
        if all(a.strip() == b.strip() for a, b in zip(old_lines, lines[start : start + len(old_lines)], strict=True))
    ]
    if len(found) != 1:
        return None if not found else _ambiguous(len(found))
    start = found[0]
    matched = lines[start : start + len(old_lines)]
    new_lines = [_reindent(line, old_lines, matched, index) for index, line in enumerate(new.split("\n"))]
    lines[start : start + len(old_lines)] = new_lines
    return "\n".join(lines)


def _reindent(line: str, old_lines: list[str], matched: list[str], index: int) -> str:
    """`line` of newText, indented as the file indents the line it corresponds to (relative indents kept)."""
    if not line.strip():
        return line
    corresponding = min(index, len(old_lines) - 1)
    file_indent, old_indent, own = _indent(matched[corresponding]), _indent(old_lines[corresponding]), _indent(line)
    extra = len(own) - len(old_indent)
    prefix = file_indent + own[len(old_indent) :] if extra >= 0 else file_indent[: max(0, len(file_indent) + extra)]
    return prefix + line.lstrip()


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _ambiguous(count: int) -> str:
    raise DomainError(f"oldText matches {count} places; include more surrounding lines so it matches exactly one")


def apply_edits(content: str, edits: Sequence[tuple[str, str]]) -> str:
    """Apply each (old, new) in turn; each `old` must match exactly one place (exactly, else line-wise loosely).

    A file whose lines all end in CRLF is edited as LF and written back as CRLF, so edits written with `\\n`
    match and the file keeps its line ends.
    """
    crlf = "\r\n" in content and content.count("\r\n") == content.count("\n")
    text = content.replace("\r\n", "\n") if crlf else content
    for number, (old, new) in enumerate(edits, 1):
        if crlf:
            old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        if not old:
            raise DomainError(f"edit {number}: oldText is empty; give the exact text to replace")
        count = text.count(old)
        if count == 1:
            text = text.replace(old, new, 1)
            continue
        if count > 1:
            raise DomainError(
                f"edit {number}: oldText matches {count} places; include more surrounding lines so it matches one"
            )
        replaced = _replace_lines_loosely(text, old, new)
        if replaced is None:
            first = old.strip().split("\n", 1)[0][:120]
            raise DomainError(
                f"edit {number}: oldText was not found (first line: {first!r}); read the file again and copy "
                "the text exactly. No edit was applied."
            )
        text = replaced
    return text.replace("\n", "\r\n") if crlf else text


def unified_diff(before: str, after: str, shown: str) -> str:
    """A unified diff as the reference server writes one (jsdiff's `createTwoFilesPatch`: an `Index:` header,
    4 lines of context, line counts always given, CRLF shown as LF), fenced with enough backticks that the diff
    cannot close the fence."""
    old, new = _diff_lines(before), _diff_lines(after)
    out = [f"Index: {shown}", "=" * 67, f"--- {shown}\toriginal", f"+++ {shown}\tmodified"]
    for group in difflib.SequenceMatcher(None, old, new).get_grouped_opcodes(DIFF_CONTEXT):
        (_, i1, _, j1, _), (_, _, i2, _, j2) = group[0], group[-1]
        out.append(f"@@ -{_diff_range(i1, i2)} +{_diff_range(j1, j2)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                _diff_body(out, " ", old[a1:a2])
                continue
            _diff_body(out, "-", old[a1:a2])
            _diff_body(out, "+", new[b1:b2])
    body = "\n".join(out) + "\n"
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}diff\n{body}{fence}\n"


def _diff_lines(text: str) -> list[str]:
    """Lines with their "\\n" (only "\\n" ends a line, as in jsdiff); CRLF as LF."""
    parts = text.replace("\r\n", "\n").split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _diff_range(start: int, stop: int) -> str:
    return f"{start + 1 if stop > start else start},{stop - start}"


def _diff_body(out: list[str], mark: str, lines: list[str]) -> None:
    for line in lines:
        if line.endswith("\n"):
            out.append(mark + line[:-1])
        else:
            out += [mark + line, "\\ No newline at end of file"]
