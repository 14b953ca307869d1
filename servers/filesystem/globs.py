"""Glob patterns as the reference server reads them (minimatch with `dot: true`), compiled once to regexes.

`*` and `?` stay within one path segment, `**` as a whole segment spans any number of them, `[...]` is a
character class (`[!...]` negated), `{a,b}` expands, `\\` escapes, and a leading `!` negates. `*.py` matches
at the top level only and `**/*.py` at any depth, as in the reference. Patterns also tell the walk which
directories cannot hold a match, so a search never enters them.

Exclude patterns (search's `excludePatterns`, and the resources' ignore rules) follow .gitignore habits: one
without `/` excludes that name at any depth (`node_modules`, `*.log`, `build/`); one with `/` is matched against
the whole relative path (`build/out`, `docs/**/*.tmp`, `/build` for the top-level one only), and also excludes
everything below a match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from deskmcp.shared.errors import DomainError

MAX_EXPANSIONS: Final = 256


class BadPattern(DomainError, ValueError):
    """A pattern that cannot be compiled (a tool's isError; a setting's parse error)."""


def expand_braces(pattern: str) -> list[str]:
    """`a{b,c}d` -> [`abd`, `acd`], nested and repeated; unbalanced braces stay literal."""
    depth, start = 0, -1
    for index, char in enumerate(pattern):
        if char == "\\":
            continue
        if char == "{" and (index == 0 or pattern[index - 1] != "\\"):
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth and pattern[index - 1] != "\\":
            depth -= 1
            if depth == 0:
                options = split_outside_braces(pattern[start + 1 : index])
                if len(options) < 2:
                    continue
                head, tail = pattern[:start], pattern[index + 1 :]
                expanded: list[str] = []
                for option in options:
                    expanded.extend(expand_braces(head + option + tail))
                    if len(expanded) > MAX_EXPANSIONS:
                        msg = f"the pattern {pattern!r} expands to more than {MAX_EXPANSIONS} alternatives"
                        raise BadPattern(msg)
                return expanded
    return [pattern]


def split_outside_braces(body: str) -> list[str]:
    """`a,{b,c},d` -> [`a`, `{b,c}`, `d`]; with unbalanced braces every comma splits (`a{b,c` -> [`a{b`, `c`])."""
    parts, depth, current = [], 0, []
    for char in body:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += char == "{"
        depth -= char == "}"
        if depth < 0:
            break
        current.append(char)
    if depth != 0:
        return body.split(",")
    parts.append("".join(current))
    return parts


def _segment_regex(segment: str) -> str:
    out, index = [], 0
    while index < len(segment):
        char = segment[index]
        index += 1
        if char == "\\" and index < len(segment):
            out.append(re.escape(segment[index]))
            index += 1
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", index + 1 if segment[index : index + 1] in ("!", "^") else index)
            if end < 0:
                out.append(re.escape(char))
                continue
            body = segment[index:end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append(("[^/" if negate else "[") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            index = end + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Alternative:
    regex: re.Pattern[str]
    segments: tuple[re.Pattern[str] | None, ...]  # None: `**`

    def may_contain(self, relative_dir: str) -> bool:
        """Whether a match can lie below this directory (its ancestors already passed)."""
        depth = relative_dir.count("/")
        name = relative_dir.rsplit("/", 1)[-1]
        for index, segment in enumerate(self.segments):
            if segment is None:
                return True
            if index == depth:
                return index < len(self.segments) - 1 and segment.fullmatch(name) is not None
        return False


class Glob:
    """One pattern (braces expanded) matched against `/`-separated paths relative to the search start."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.negated = pattern.startswith("!")
        body = pattern[1:] if self.negated else pattern
        while body.startswith("./"):
            body = body[2:]
        try:
            self.alternatives = tuple(self._compile(p) for p in expand_braces(body))
        except re.error as exc:  # e.g. a reversed range in a character class: [z-a]
            msg = f"the pattern {pattern!r} is not a valid glob: {exc.msg}"
            raise BadPattern(msg) from None

    @staticmethod
    def _compile(pattern: str) -> _Alternative:
        segments = [s for s in pattern.split("/") if s] or [""]
        regex, compiled = [], []
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "**":
                regex.append(".*" if last else "(?:[^/]*/)*")
                compiled.append(None)
            else:
                part = _segment_regex(segment)
                regex.append(part if last else part + "/")
                compiled.append(re.compile(part, re.DOTALL))
        return _Alternative(re.compile("".join(regex), re.DOTALL), tuple(compiled))

    def matches(self, relative: str) -> bool:
        hit = any(alt.regex.fullmatch(relative) for alt in self.alternatives)
        return hit != self.negated

    def matcher(self) -> Callable[[str], object]:
        """`matches` as one fast callable (truthy on a match) for hot loops."""
        if len(self.alternatives) == 1 and not self.negated:
            return self.alternatives[0].regex.fullmatch
        return self.matches

    def may_contain(self, relative_dir: str) -> bool:
        return self.negated or any(alt.may_contain(relative_dir) for alt in self.alternatives)


class Excludes:
    """Exclude patterns: a bare name or name glob at any depth, a path glob against the whole relative path.

    Each kind is matched by one regex (negated patterns aside), so an entry costs the same with many patterns.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        # As in .gitignore, a trailing `/` keeps a name a name, and a leading `/` anchors it at the top.
        self._name = _any_of([p.rstrip("/") for p in self.patterns if "/" not in p.rstrip("/")])
        self._path = _any_of([p.strip("/") for p in self.patterns if "/" in p.rstrip("/")])

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, relative: str, name: str | None = None) -> bool:
        """Whether the entry at `relative` (its last component is `name`, when the caller has it) is excluded."""
        if not self.patterns:
            return False
        return bool(self._name(relative.rsplit("/", 1)[-1] if name is None else name) or self._path(relative))


def _any_of(patterns: Sequence[str]) -> Callable[[str], object]:
    """One callable, truthy when any of the patterns matches."""
    globs = [Glob(p) for p in patterns]
    plain = "|".join(f"(?:{alt.regex.pattern})" for g in globs if not g.negated for alt in g.alternatives)
    regex = re.compile(plain or "(?!)", re.DOTALL).fullmatch  # (?!) matches nothing
    negated = [g.matches for g in globs if g.negated]
    return (lambda text: regex(text) or any(match(text) for match in negated)) if negated else regex
