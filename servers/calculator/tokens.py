"""The calculator's tokenizer: what characters mean, and a specific refusal for everything else.

Only ASCII letters, digits, operators and a few Unicode maths signs are tokens; superscript digits are
powers (3² is 3**2). Anything that would start a Python construct the calculator does not have (strings,
subscripts, attributes, assignments, bitwise operators) is refused here with a message saying so, before
any parsing happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final, NamedTuple

from deskmcp.servers.calculator.errors import NOT_ALLOWED, SYNTAX, CalculationError

NUMBER: Final = "number"
NAME: Final = "name"
OPERATOR: Final = "operator"
SUPERSCRIPT: Final = "superscript"  # its text is the exponent in ASCII: "2", "-1"
END: Final = "end"
SUPERSCRIPT_DIGITS: Final = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_FROM_SUPERSCRIPT: Final = str.maketrans(SUPERSCRIPT_DIGITS + "⁺⁻", "0123456789+-")
INFINITY: Final = (
    "the calculator works with finite real numbers, so infinity and NaN are not values here; for a very large "
    "number write one (1e100)"
)

_DIGITS = r"[0-9](?:_?[0-9])*"
NUMBER_PATTERN: Final = rf"""
    0[xX](?:_?[0-9a-fA-F])+ | 0[bB](?:_?[01])+ | 0[oO](?:_?[0-7])+
    | (?:{_DIGITS}(?:\.(?:{_DIGITS})?)? | \.{_DIGITS}) (?:[eE][+-]?{_DIGITS})?
"""  # a verbose-mode regular expression
_PATTERN: Final = re.compile(
    rf"""
    (?P<space>[ \t\r\n\u00a0\u2009\u202f]+)
    |(?P<number>{NUMBER_PATTERN})
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<superscript>[⁺⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)
    |(?P<operator>\*\*|//|==|!=|<=|>=|[-+*/%^(),<>!×÷−·≤≥≠πτ])
    """,
    re.VERBOSE,
)
# Unicode spellings and `^` become the canonical operator; π and τ are names.
_CANONICAL: Final = {
    "×": "*",
    "·": "*",
    "÷": "/",
    "−": "-",
    "^": "**",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
}
_UNICODE_NAMES: Final = {"π": "pi", "τ": "tau"}
_TWO_CHARACTER_REFUSALS: Final = {
    "<<": "shift operators are not supported",
    ">>": "shift operators are not supported",
    ":=": "assignment is not supported; pass values in `variables`",
}
_REFUSALS: Final = {
    "'": "strings are not part of the calculator language",
    '"': "strings are not part of the calculator language",
    "[": "lists and subscripts are not supported; functions take several arguments, e.g. max(1, 2, 3)",
    "]": "lists and subscripts are not supported; functions take several arguments, e.g. max(1, 2, 3)",
    "{": "sets and dictionaries are not supported",
    "}": "sets and dictionaries are not supported",
    ".": "attribute access is not supported",
    "=": "assignment is not supported; pass values in `variables`, or compare with ==",
    ":": "slices, assignments and lambdas are not supported",
    ";": "only one expression is accepted",
    "&": "bitwise operators are not supported",
    "|": "bitwise operators are not supported",
    "~": "bitwise operators are not supported",
    "@": "matrix multiplication is not supported",
    "#": "comments are not supported",
    "\\": "backslashes are not supported",
    "∞": INFINITY,
}


class Token(NamedTuple):
    kind: str
    text: str
    position: int


def tokenize(source: str) -> Iterator[Token]:
    """The tokens of `source`, ending with an END token; a refusal is raised when the parser reaches it."""
    position = 0
    for found in _PATTERN.finditer(source):
        start, end = found.span()
        if start != position:  # finditer skipped something no token matches
            raise _refusal(source, position)
        kind, text = found.lastgroup, found.group()
        position = end
        if kind == OPERATOR:
            if text in _UNICODE_NAMES:
                yield Token(NAME, _UNICODE_NAMES[text], start)
            elif (text == "<" or text == ">") and source.startswith(text, end):
                raise _refusal(source, start)
            else:
                yield Token(OPERATOR, _CANONICAL.get(text, text), start)
        elif kind == NUMBER:
            if end < len(source):
                _check_number_end(source, end, text, start)
            yield Token(NUMBER, text, start)
        elif kind == NAME:
            yield Token(NAME, text, start)
        elif kind == SUPERSCRIPT:
            yield Token(SUPERSCRIPT, text.translate(_FROM_SUPERSCRIPT), start)
    if position != len(source):
        raise _refusal(source, position)
    yield Token(END, "", position)


def _check_number_end(source: str, end: int, text: str, position: int) -> None:
    """A number glued to a letter, digit or dot (`2pi`, `1.2.3`, `0x`, `1j`) is refused, not guessed at."""
    if end >= len(source):
        return
    following = source[end]
    if following in SUPERSCRIPT_DIGITS:
        return
    if text.endswith(".") and following.isalpha():
        raise CalculationError(NOT_ALLOWED, _REFUSALS["."], end - 1)
    if following.isalnum() or following in "_.":
        glued = re.match(r"[0-9A-Za-z_.]*", source[end:])
        word = text + (glued.group() if glued else following)
        if re.fullmatch(r"[0-9.]+[xX][0-9.]+", word):
            raise CalculationError(SYNTAX, f"{word!r}: {TIMES}", position)
        detail = (
            f"{word!r} is not a number; write an operator between a number and a name (2*pi, not 2pi)"
            if following.isalpha() and not text.lower().startswith(("0x", "0b", "0o"))
            else f"{word!r} is not a valid number"
        )
        raise CalculationError(SYNTAX, detail, position)


TIMES: Final = "x is not a multiplication sign here; write * (2 * 3) or ×"


def _refusal(source: str, position: int) -> CalculationError:
    if source.startswith(".", position) and source[:position].endswith("math"):
        detail = "write sqrt(2), not math.sqrt(2): Python's math functions are here by their bare names"
        return CalculationError(NOT_ALLOWED, detail, position - 4)
    pair = source[position : position + 2]
    if pair in _TWO_CHARACTER_REFUSALS:
        return CalculationError(NOT_ALLOWED, _TWO_CHARACTER_REFUSALS[pair], position)
    character = source[position]
    if character in _REFUSALS:
        return CalculationError(NOT_ALLOWED, _REFUSALS[character], position)
    if character.isascii() and character.isprintable():
        return CalculationError(SYNTAX, f"unexpected character {character!r}", position)
    import unicodedata

    name = unicodedata.name(character, "unnamed")
    detail = (
        f"unexpected character U+{ord(character):04X} ({name}); the calculator reads ASCII plus the signs "
        "× ÷ − · ≤ ≥ ≠ π τ"
    )
    return CalculationError(NOT_ALLOWED, detail, position)
