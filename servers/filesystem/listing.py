"""What the tools say: listings, file info, multi-file reads and edits, formatted as the reference server does."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Final

from deskmcp.servers.filesystem.sandbox import Sandbox, WriteOutcome
from deskmcp.servers.filesystem.search import Capped, ContentResult
from deskmcp.servers.filesystem.textfiles import apply_edits, decode, read_within, unified_diff
from deskmcp.shared.errors import DomainError as ToolError

SIZE_UNITS: Final = ("B", "KB", "MB", "GB", "TB")


def format_size(size: int) -> str:
    """As the reference prints sizes: bytes below 1 KB, else two decimals of the largest unit."""
    if size <= 0:
        return "0 B"
    unit = 0
    while unit < len(SIZE_UNITS) - 1 and size >= 1024 ** (unit + 1):
        unit += 1
    return f"{size} B" if unit == 0 else f"{size / 1024**unit:.2f} {SIZE_UNITS[unit]}"


def read_many(sandbox: Sandbox, paths: Sequence[str], limit: int) -> str:
    """Each file under its path; an error for one file is reported in its place. `limit` bounds the total."""
    parts, budget = [], limit
    for path in paths:
        try:
            with sandbox.open_read(path) as handle:
                data = read_within(handle, path, budget)
            text = decode(data, path)
            budget -= len(data)  # the bytes read, not the decoded text re-encoded (U+FFFD is 3 bytes)
            parts.append(f"{path}:\n{text}\n")
        except ToolError as exc:
            parts.append(f"{path}: Error - {exc}")
    return "\n---\n".join(parts)


def encode_text(text: str, path: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (which JSON can carry) is a clear refusal, not an internal error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = (
            f"the content for {path!r} contains a lone surrogate (\\u{ord(text[exc.start]):04x} at character "
            f"{exc.start}), which is not valid text; nothing was written"
        )
        raise ToolError(msg) from None


def hard_link_note(outcome: WriteOutcome) -> str:
    if not outcome.hard_links:
        return ""
    return (
        f" (the file had {outcome.hard_links} other hard link(s); the write replaced this name only, "
        "so the other names keep the previous content)"
    )


def edit(sandbox: Sandbox, path: str, edits: Sequence[tuple[str, str]], dry_run: bool, limit: int) -> str:
    """Apply the edits (all or none) and return the diff; `dry_run` writes nothing."""
    if not edits:
        raise ToolError("edits is empty; give at least one {oldText, newText}")
    if not dry_run:
        sandbox.check_writable(path)
    with sandbox.open_read(path) as handle:
        version = os.fstat(handle.fileno())
        data = read_within(handle, path, limit)
    try:
        before = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{path!r} is not UTF-8 text; edit_file only edits UTF-8 files. Nothing was changed") from None
    after = apply_edits(before, edits)
    diff = unified_diff(before, after, path)
    if not dry_run and after != before:
        outcome = sandbox.write_bytes(path, encode_text(after, path), expected=version)
        return diff + "\n" + hard_link_note(outcome).strip()
    return diff + "\n"


def list_plain(sandbox: Sandbox, path: str, cap: int) -> str:
    entries = sandbox.list_names(path)
    lines = [f"[DIR] {name}" if is_dir else f"[FILE] {name}" for name, is_dir in entries[:cap]]
    if len(entries) > cap:
        lines.append(f"... and {len(entries) - cap:,} more entries not shown (raise maxResults)")
    return "\n".join(lines) if lines else "(empty directory)"


def list_sized(sandbox: Sandbox, path: str, sort_by: str, cap: int) -> str:
    entries = sandbox.list_dir(path)
    ordered = sorted(entries, key=lambda e: 0 if e.is_dir else -e.size) if sort_by == "size" else entries
    lines = [
        f"[DIR] {e.name:<30} " if e.is_dir else f"[FILE] {e.name:<30} {format_size(e.size):>10}" for e in ordered[:cap]
    ]
    if len(entries) > cap:
        lines.append(f"... and {len(entries) - cap:,} more entries not shown (raise maxResults)")
    files = [e for e in entries if not e.is_dir]
    lines += [
        "",
        f"Total: {len(files)} files, {len(entries) - len(files)} directories",
        f"Combined size: {format_size(sum(e.size for e in files))}",
    ]
    return "\n".join(lines)


def capped_text(found: Capped, empty: str, what: str, hint: str) -> str:
    if not found.items and not found.more:
        return empty
    note = found.more_note(what, hint)
    return "\n".join(found.items + ([note] if note else []))


def content_text(result: ContentResult) -> str:
    summary = (
        f"{result.hits + result.more:,} matching line(s) in {result.files_matched:,} of "
        f"{result.files_searched:,} file(s) searched"
    )
    notes = []
    if result.more:
        notes.append(f"... and {result.more:,} more matching lines not shown (raise maxResults or narrow the query)")
    if result.skipped_large:
        notes.append(f"{result.skipped_large:,} file(s) over 8 MiB were not searched")
    if result.unreadable:
        notes.append(f"{result.unreadable:,} file(s) could not be read (permission denied or an I/O error)")
    if result.long_lines:
        notes.append(f"{result.long_lines:,} line(s) longer than 4,000 characters were matched on their start only")
    if result.timed_out:
        notes.append("the search stopped at its time budget; results are partial (narrow path or filePattern)")
    return "\n".join([*result.lines, *notes, summary] if result.lines else [*notes, "No matches found. " + summary])


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def file_info(st: os.stat_result) -> str:
    created = getattr(st, "st_birthtime", None) or st.st_ctime
    info = {
        "size": st.st_size,
        "created": _time(created),
        "modified": _time(st.st_mtime),
        "accessed": _time(st.st_atime),
        "isDirectory": stat.S_ISDIR(st.st_mode),
        "isFile": stat.S_ISREG(st.st_mode),
        "permissions": format(st.st_mode & 0o777, "03o"),
    }
    if st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
        info["hardLinks"] = st.st_nlink
    return "\n".join(
        f"{key}: {str(value).lower() if isinstance(value, bool) else value}" for key, value in info.items()
    )


def allowed(sandbox: Sandbox) -> str:
    roots = sandbox.roots
    if roots:
        unusable = "".join(f"\nNot available: {reason}" for reason in sandbox.unusable_roots)
        return "Allowed directories:\n" + "\n".join(map(str, roots)) + unusable
    return f"Allowed directories: {sandbox.describe_roots()}.\n{sandbox.how_to_configure()}"
