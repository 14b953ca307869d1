"""What the tools say: listings, file info, multi-file reads and edits, formatted as the reference server does.

Each returns the reference's text (`StructuredText.content`); what deskmcp adds, such as a note that a listing
was cut short, goes in `notes`, a separate content block, so the text keeps the reference's format.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Final

from deskmcp.servers.filesystem.output import Capped, OutputCap, more_note
from deskmcp.servers.filesystem.sandbox import Entry, Sandbox, WriteOutcome
from deskmcp.servers.filesystem.search import ContentResult
from deskmcp.servers.filesystem.textfiles import apply_edits, decode, read_within, unified_diff
from deskmcp.servers.filesystem.tree import Tree
from deskmcp.servers.filesystem.walker import TooLarge, too_big
from deskmcp.shared.errors import DomainError
from deskmcp.shared.tools import StructuredText

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
        except TooLarge as exc:  # over the whole limit, or over what the files before it left of it
            reason = too_big(path, exc.size, limit) if exc.size > limit else _over_budget(path, exc.size, budget, limit)
            parts.append(f"{path}: Error - {reason}")
        except DomainError as exc:
            parts.append(f"{path}: Error - {exc}")
    return "\n---\n".join(parts)


def _over_budget(path: str, size: int, left: int, limit: int) -> str:
    return (
        f"{path!r} was not read: it is {size:,} bytes, more than the {left:,} bytes left of the {limit:,}-byte "
        "limit for one call (the files before it used the rest); read it in a call of its own"
    )


def encode_text(text: str, path: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (which JSON can carry) is a clear refusal, not an internal error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = (
            f"the content for {path!r} contains a lone surrogate (\\u{ord(text[exc.start]):04x} at character "
            f"{exc.start}), which is not valid text; nothing was written"
        )
        raise DomainError(msg) from None


def hard_link_note(outcome: WriteOutcome) -> list[str]:
    if not outcome.hard_links:
        return []
    return [
        f"The file had {outcome.hard_links} other hard link(s); the write replaced this name only, "
        "so the other names keep the previous content."
    ]


def edit(sandbox: Sandbox, path: str, edits: Sequence[tuple[str, str]], dry_run: bool, limit: int) -> StructuredText:
    """Apply the edits (all or none) and return the diff; `dry_run` writes nothing."""
    if not edits:
        raise DomainError("edits is empty; give at least one {oldText, newText}")
    if not dry_run:
        sandbox.check_writable(path)
    with sandbox.open_read(path) as handle:
        version = os.fstat(handle.fileno())
        data = read_within(handle, path, limit)
    try:
        before = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError(
            f"{path!r} is not UTF-8 text; edit_file only edits UTF-8 files. Nothing was changed"
        ) from None
    after = apply_edits(before, edits)
    diff = unified_diff(before, after, str(sandbox.resolve(path))) + "\n"  # the real path, as the reference shows
    if not dry_run and after != before:
        outcome = sandbox.write_bytes(path, encode_text(after, path), expected=version)
        return StructuredText(content=diff, notes=hard_link_note(outcome))
    return StructuredText(content=diff)


def list_plain(sandbox: Sandbox, path: str, cap: OutputCap) -> StructuredText:
    lines = [f"[DIR] {name}" if is_dir else f"[FILE] {name}" for name, is_dir in sandbox.list_names(path)]
    shown = cap.fitting(lines)
    return _listing("\n".join(lines[:shown]), len(lines), shown, cap)


def list_sized(sandbox: Sandbox, path: str, sort_by: str, cap: OutputCap) -> StructuredText:
    entries = sandbox.list_dir(path)
    ordered = sorted(entries, key=lambda e: (e.is_dir, -_size(e))) if sort_by == "size" else entries
    lines = [
        f"[DIR] {e.name:<30} " if e.is_dir else f"[FILE] {e.name:<30} {format_size(_size(e)):>10}" for e in ordered
    ]
    shown = cap.fitting(lines)
    files = [e for e in entries if not e.is_dir]
    summary = [
        "",
        f"Total: {len(files)} files, {len(entries) - len(files)} directories",
        f"Combined size: {format_size(sum(map(_size, files)))}",
    ]
    return _listing("\n".join(lines[:shown] + summary), len(lines), shown, cap)


def _size(entry: Entry) -> int:
    """A regular file's size; 0 for what is not one (a FIFO, or a link that leads nowhere we may look)."""
    return entry.size if entry.is_file else 0


def _listing(text: str, total: int, shown: int, cap: OutputCap) -> StructuredText:
    if not total:
        return StructuredText(content=text, notes=["(empty directory)"])
    how = "Pass maxResults for more, or use search_files with a pattern to find what you need."
    notes = [more_note(total - shown, "entries", cap, how)] if shown < total else []
    return StructuredText(content=text, notes=notes)


def tree_text(tree: Tree, cap: OutputCap) -> StructuredText:
    text = json.dumps(tree.nodes, indent=2, ensure_ascii=False)
    if tree.top_cut:
        note = (
            f"Only the first {tree.shown:,} of the {tree.top_level:,} entries of this directory are shown, without "
            f"their contents: this output stops at {cap.describe()}. Use list_directory or search_files for the "
            "rest, or directory_tree on one of its subdirectories."
        )
    elif tree.unexpanded:
        note = (
            f"The whole tree does not fit in this output, which stops at {cap.describe()}, so it is shown by "
            f'levels: {tree.unexpanded:,} directories have no "children" key because their contents did not fit. '
            "Call directory_tree on one of them for its contents, or pass maxDepth or maxResults."
        )
    else:
        return StructuredText(content=text)
    return StructuredText(content=text, notes=[note])


def paths_text(found: Capped) -> StructuredText:
    how = "Narrow the pattern, search a subdirectory, or pass maxResults for more."
    notes = [more_note(found.more, "matches", found.cap, how)] if found.more else []
    return StructuredText(content="\n".join(found.items) if found.items else "No matches found", notes=notes)


def content_text(result: ContentResult) -> StructuredText:
    summary = (
        f"{result.hits + result.more:,} matching line(s) in {result.files_matched:,} of "
        f"{result.files_searched:,} file(s) searched"
    )
    notes = []
    if result.more:
        how = "Narrow the query, filePattern or path, or pass maxResults for more."
        notes.append(more_note(result.more, "matching lines", result.cap, how))
    if result.skipped_large:
        notes.append(f"{result.skipped_large:,} file(s) over 8 MiB were not searched")
    if result.unreadable:
        notes.append(f"{result.unreadable:,} file(s) could not be read (permission denied or an I/O error)")
    if result.long_lines:
        notes.append(f"{result.long_lines:,} line(s) longer than 4,000 characters were matched on their start only")
    if result.timed_out:
        notes.append("the search stopped at its time budget; results are partial (narrow path or filePattern)")
    content = "\n".join(result.lines) if result.lines or result.more else "No matches found"
    return StructuredText(content=content, notes=["\n".join([*notes, summary])])


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def file_info(st: os.stat_result, created: float | None) -> str:
    """The reference's lines; `created` only where the OS records a birth time (see `filetimes`)."""
    info: dict[str, object] = {"size": st.st_size}
    if created is not None:
        info["created"] = _time(created)
    info |= {
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


def allowed(sandbox: Sandbox) -> StructuredText:
    roots = sandbox.roots
    if roots:
        text = "Allowed directories:\n" + "\n".join(map(str, roots))
        return StructuredText(content=text, notes=[f"Not available: {reason}" for reason in sandbox.unusable_roots])
    return StructuredText(content=f"Allowed directories: {sandbox.describe_roots()}.\n{sandbox.how_to_configure()}")
