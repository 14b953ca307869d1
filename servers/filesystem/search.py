"""Walking a tree through the sandbox: name search, content search, directory tree, each within an output cap.

Every walk calls `tick(count)` as it goes; the tool layer turns that into progress notifications and a
cancellation check, so a cancelled search stops at the next entry. Searches count on past the cap so the
answer can say how many more there are; the tree stops descending below the levels that can still be shown.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from deskmcp.servers.filesystem.globs import Excludes, Glob
from deskmcp.servers.filesystem.output import Capped, OutputCap
from deskmcp.servers.filesystem.regexguard import MAX_REGEX_LINE, compile_guarded
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.textfiles import looks_binary
from deskmcp.servers.filesystem.tree import Tree, fit_tree
from deskmcp.servers.filesystem.walker import TooLarge
from deskmcp.shared.errors import DomainError

Tick = Callable[[int], None]
MAX_FILE_FOR_CONTENT_SEARCH: Final = 8 * 1024 * 1024
CONTENT_SEARCH_SECONDS: Final = 60.0
SHOWN_LINE_CHARS: Final = 1_000  # a line shown longer is cut: a match with 20 lines of context each side fits the cap
HAS_JUNCTIONS: Final = hasattr(os.DirEntry, "is_junction")


def _no_tick(_count: int) -> None:
    return None


def _base(sandbox: Sandbox, path: str) -> Path:
    return sandbox.resolve(path)


def _walk(
    sandbox: Sandbox,
    path: str,
    excludes: Excludes,
    tick: Tick,
    *,
    max_depth: int | None = None,
    glob: Glob | None = None,
    prune: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, Any, int, Any]]:
    def descend(relative: str) -> bool:
        if prune is not None and not prune(relative):
            return False
        return not excludes.excluded(relative) and (glob is None or glob.may_contain(relative))

    count = 0
    for item in sandbox.walk(path, max_depth=max_depth, descend=descend):
        count += 1
        if count & 255 == 0:
            tick(count)
        if excludes and excludes.excluded(item[0]):
            continue
        yield item


def find_paths(
    sandbox: Sandbox, path: str, pattern: str, exclude: Sequence[str], cap: OutputCap, tick: Tick = _no_tick
) -> Capped:
    """Absolute paths of files and directories whose path relative to `path` matches the glob `pattern`.

    A symbolic link that every other tool would refuse (dangling, or leading out of the roots) is left out, as
    the reference server leaves out what its path check refuses.
    """
    glob, excludes = Glob(pattern), Excludes(exclude)
    base = str(_base(sandbox, path))
    max_depth = None if any(None in alt.segments for alt in glob.alternatives) or glob.negated else _levels(glob)
    found = Capped(cap)
    separator = "\\" if "\\" in base and "/" not in base else "/"
    prefix = base.rstrip(separator) + separator
    matches = glob.matcher()
    for relative, entry, _level, _directory in _walk(sandbox, path, excludes, tick, max_depth=max_depth, glob=glob):
        if matches(relative):
            shown = prefix + (relative if separator == "/" else relative.replace("/", separator))
            if not _is_link(entry) or _resolves(sandbox, shown):
                found.add(shown)
    return found


def _is_link(entry: os.DirEntry[str]) -> bool:
    """A symlink, or on Windows a junction (Python 3.12+ tells them apart; before, one looks like a directory)."""
    return entry.is_symlink() or (HAS_JUNCTIONS and entry.is_junction())


def _resolves(sandbox: Sandbox, path: str) -> bool:
    try:
        sandbox.stat(path)
    except DomainError:
        return False
    return True


def _levels(glob: Glob) -> int:
    return max(len(alt.segments) for alt in glob.alternatives)


def tree(
    sandbox: Sandbox, path: str, exclude: Sequence[str], max_depth: int | None, cap: OutputCap, tick: Tick = _no_tick
) -> Tree:
    """The directory tree of `path`, as much of it as fits `cap` (see `tree`)."""
    excludes = Excludes(exclude)
    return fit_tree(lambda prune: _walk(sandbox, path, excludes, tick, prune=prune), max_depth, cap)


# --- content search ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentQuery:
    query: str
    regex: bool
    case_sensitive: bool
    context: int
    file_glob: str
    exclude: Sequence[str]
    cap: OutputCap

    def compiled(self) -> re.Pattern[str]:
        if not self.query:
            raise DomainError("the query is empty; give the text (or regular expression) to look for")
        if self.regex:
            return compile_guarded(self.query, ignore_case=not self.case_sensitive)
        flags = re.MULTILINE | (0 if self.case_sensitive else re.IGNORECASE)
        return re.compile(re.escape(self.query), flags)


@dataclass(slots=True)
class ContentResult:
    """Output lines (grep -n style), and counts for the summary."""

    cap: OutputCap
    lines: list[str] = field(default_factory=list)
    used: int = 0
    hits: int = 0
    more: int = 0
    files_searched: int = 0
    files_matched: int = 0
    skipped_large: int = 0
    unreadable: int = 0
    long_lines: int = 0
    timed_out: bool = False


def search_contents(sandbox: Sandbox, path: str, query: ContentQuery, tick: Tick = _no_tick) -> ContentResult:
    """grep -n: matching lines (`file:line: text`) with context lines (`file-line- text`), groups split by `--`."""
    pattern = query.compiled()
    glob, excludes = Glob(query.file_glob), Excludes(query.exclude)
    base = _base(sandbox, path)
    result = ContentResult(query.cap)
    deadline = time.monotonic() + CONTENT_SEARCH_SECONDS
    for relative, entry, _level, directory in _walk(sandbox, path, excludes, tick):
        if not entry.is_file(follow_symlinks=False) or not glob.matches(relative):
            continue
        try:
            data = sandbox.read_entry(directory, entry.name, MAX_FILE_FOR_CONTENT_SEARCH)
        except TooLarge:
            result.skipped_large += 1
            continue
        if time.monotonic() > deadline:
            result.timed_out = True
            break
        if data is None:
            result.unreadable += 1
            continue
        if looks_binary(data):
            continue
        text = data.decode("utf-8", errors="replace")
        result.files_searched += 1
        if (not query.regex or _short_lines(text)) and pattern.search(text) is None:
            continue
        result.files_matched += _grep(text, pattern, query, str(base / relative), result, deadline)
    return result


def _short_lines(text: str) -> bool:
    return len(text) <= MAX_REGEX_LINE or max(map(len, text.split("\n"))) <= MAX_REGEX_LINE


def _grep(
    text: str, pattern: re.Pattern[str], query: ContentQuery, shown: str, result: ContentResult, deadline: float
) -> int:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    hits = []
    for number, line in enumerate(lines):
        if query.regex and len(line) > MAX_REGEX_LINE:
            result.long_lines += 1
            line = line[:MAX_REGEX_LINE]
        if pattern.search(line):
            hits.append(number)
        if number % 512 == 511 and time.monotonic() > deadline:
            result.timed_out = True
            break
    if hits:
        _emit(lines, hits, query.context, shown, result)
    return 1 if hits else 0


def _emit(lines: list[str], hits: list[int], context: int, shown: str, out: ContentResult) -> None:
    """Append hits with their context while they fit the cap; past it only count them."""
    hit_set, last = set(hits), -1
    for number in hits:
        start, end = max(0, number - context, last + 1), min(len(lines), number + context + 1)
        group = ["--"] if context and out.lines and (last < 0 or start > last + 1) else []
        for index in range(start, end):
            if index in hit_set and index > number:
                break  # the next hit prints itself, with its own context
            mark = ":" if index in hit_set else "-"
            group.append(f"{shown}{mark}{index + 1}{mark} {_shown_line(lines[index].removesuffix(chr(13)))}")
            last_line = index
        cost = out.cap.cost(sum(len(line) + 1 for line in group))
        if out.more or out.used + cost > out.cap.size:
            out.more += 1
            continue
        out.lines += group
        out.used += cost
        out.hits += 1
        last = last_line


def _shown_line(line: str) -> str:
    """A line as shown: a long one (a minified file's) cut, so that one match cannot fill the output."""
    if len(line) <= SHOWN_LINE_CHARS:
        return line
    return f"{line[:SHOWN_LINE_CHARS]} [... {len(line) - SHOWN_LINE_CHARS:,} more characters]"
