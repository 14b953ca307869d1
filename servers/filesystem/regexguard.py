"""Regular expressions from the model, refused when their shape can backtrack without end.

Python's `re` cannot be interrupted and holds the GIL while it matches, so a time budget in a worker thread
would not protect the server: the pattern is checked before use instead. Refused: backreferences (matching
with them is NP-hard), a quantified group that contains another quantifier (`(a+)+`, `(\\w+\\s?)*`), and a
quantified alternation whose branches can start alike (`(a|ab)*`, `(.|x)*`): the shapes that backtrack
exponentially; and two unbounded quantifiers in a row that can match the same characters with nothing
between them to tell them apart (`a*a*b`, `\\w+x\\w+y` on "xxxx..."), which backtrack in cubic time. What
remains is at worst quadratic in the line length, which the content search bounds by matching at most
`MAX_REGEX_LINE` characters per line; a search also stops at its time budget between lines.
"""

from __future__ import annotations

import re
import string
from typing import Any, Final

from deskmcp.shared.errors import DomainError

try:  # Python >= 3.11
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

MAX_PATTERN_CHARS: Final = 1000
MAX_REGEX_LINE: Final = 4000
_REPEATS: Final = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_POSSESSIVE: Final = getattr(sre_constants, "POSSESSIVE_REPEAT", None)
_BACKREFERENCES: Final = {sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS}
_LITERAL: Final = sre_constants.LITERAL
# Characters that stand for "what a character class can match" when comparing two classes.
_PROBES: Final = string.printable + "_é\u00a0\u2003Ωж中😀"
_CATEGORIES: Final = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_WORD": lambda ch: ch.isalnum() or ch == "_",
    "CATEGORY_LINEBREAK": lambda ch: ch == "\n",
}


class UnsafePattern(DomainError):
    """A regex the server will not run."""


def _refuse(pattern: str, why: str) -> UnsafePattern:
    return UnsafePattern(
        f"the regular expression {pattern!r} {why}, which can take exponential time; "
        "rewrite it without that (a leading .* is never needed: each line is searched anywhere), "
        "or search for a literal string (isRegex: false)"
    )


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns under one parsed node."""
    if op in _REPEATS or op == _POSSESSIVE:
        return [av[2]]
    if op == sre_constants.SUBPATTERN:
        return [av[-1]]
    if op == sre_constants.BRANCH:
        return list(av[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    if op == getattr(sre_constants, "ATOMIC_GROUP", None):
        return [av]
    return []


def _first_literal(branch: Any) -> int | None:
    items = list(branch)
    while items:
        op, av = items[0]
        if op == _LITERAL:
            return av
        if op == sre_constants.SUBPATTERN:
            items = list(av[-1])
            continue
        return None
    return None


def _check(pattern: str, node: Any, in_repeat: bool) -> None:
    for op, av in node:
        if op in _BACKREFERENCES:
            raise _refuse(pattern, "uses a backreference")
        repeats = op in _REPEATS and av[1] > 1
        if repeats and in_repeat:
            raise _refuse(pattern, "has a quantifier inside a quantified group")
        if op == sre_constants.BRANCH and in_repeat:
            firsts = [_first_literal(branch) for branch in av[1]]
            if None in firsts or len(set(firsts)) != len(firsts):
                raise _refuse(pattern, "repeats an alternation whose branches can start with the same character")
        for child in _children(op, av):
            _check(pattern, child, in_repeat or repeats)


def _in_category(code: Any, ch: str) -> bool:
    name = str(code).replace("LOC_", "").replace("UNI_", "")
    negated = "_NOT_" in name
    test = _CATEGORIES.get(name.replace("_NOT_", "_"))
    return True if test is None else test(ch) != negated


def _class_matches(items: Any, ch: str) -> bool:
    """Whether the body of an `IN` node (a character class) matches `ch`."""
    found, negate = False, False
    for op, av in items:
        if op == sre_constants.NEGATE:
            negate = True
        elif op == _LITERAL:
            found |= chr(av) == ch
        elif op == sre_constants.RANGE:
            found |= av[0] <= ord(ch) <= av[1]
        elif op == sre_constants.CATEGORY:
            found |= _in_category(av, ch)
        else:
            found = True  # anything unusual: assume it may match
    return found != negate


def _one_char_set(body: Any) -> frozenset[str]:
    """The probe characters one repetition of `body` can start with (all of them when it is not one character)."""
    items = list(body)
    if len(items) != 1:
        return frozenset(_PROBES)
    op, av = items[0]
    if op == _LITERAL:
        return frozenset(chr(av))
    if op == sre_constants.NOT_LITERAL:
        return frozenset(_PROBES) - {chr(av)}
    if op == sre_constants.IN:
        return frozenset(ch for ch in _PROBES if _class_matches(av, ch))
    if op == sre_constants.ANY:
        return frozenset(_PROBES) - {"\n"}
    return frozenset(_PROBES)


def _check_adjacent(pattern: str, node: Any) -> None:
    """Refuse unbounded quantifiers in sequence that can share characters with no separating character."""
    open_sets: list[frozenset[str]] = []
    for op, av in node:
        if (op in _REPEATS or op == _POSSESSIVE) and av[1] == sre_constants.MAXREPEAT:
            chars = _one_char_set(av[2])
            if av[0] >= 1:  # its first character is mandatory: repeats that cannot eat it are over
                open_sets = [other for other in open_sets if other & chars]
            if any(chars & other for other in open_sets):
                raise _refuse(pattern, "has two unbounded quantifiers in a row that can match the same text")
            open_sets.append(chars)
        elif op in (_LITERAL, sre_constants.NOT_LITERAL, sre_constants.IN, sre_constants.ANY):
            chars = _one_char_set([(op, av)])
            open_sets = [other for other in open_sets if other & chars]  # a character they cannot eat ends them
        for child in _children(op, av):
            _check_adjacent(pattern, child)


def compile_guarded(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """`pattern` compiled (MULTILINE), or `DomainError` naming what is wrong or unsafe in it."""
    if len(pattern) > MAX_PATTERN_CHARS:
        msg = f"the regular expression is {len(pattern)} characters long; the limit is {MAX_PATTERN_CHARS}"
        raise UnsafePattern(msg)
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error as exc:
        raise DomainError(f"invalid regular expression {pattern!r}: {exc}") from None
    _check(pattern, parsed, in_repeat=False)
    _check_adjacent(pattern, parsed)
    return re.compile(pattern, flags)
