"""Checks on what a caller passes in, with the limits they enforce.

Types are checked here too (not only by the tool schema), so every caller of the domain gets a message naming the
item (`entities[2].name`) rather than a TypeError. Lone surrogates are refused: SQLite stores UTF-8, which cannot
hold them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from deskmcp.servers.memory.errors import InvalidInput

NAME_MAX: Final = 500
TYPE_MAX: Final = 200
OBSERVATION_MAX: Final = 20_000
TAG_MAX: Final = 50
TAGS_MAX: Final = 20
QUERY_MAX: Final = 1_000
ITEMS_MAX: Final = 1_000  # entities, relations, names or observations in one call
LIMIT_MAX: Final = 1_000

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _kind(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "an array",
        tuple: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def text(value: Any, where: str, limit: int, *, blank_ok: bool = False) -> str:
    """`value` as a string that is not blank (unless `blank_ok`), at most `limit` characters, and storable."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string, got {_kind(value)}")
    if not blank_ok and not value.strip():
        raise InvalidInput(f"{where} is empty; give it some text")
    if len(value) > limit:
        raise InvalidInput(f"{where} is {len(value):,} characters long; the limit is {limit:,}")
    if _SURROGATE.search(value):
        raise InvalidInput(f"{where} contains an unpaired surrogate (invalid Unicode); send valid UTF-16/UTF-8 text")
    return value


def name(value: Any, where: str) -> str:
    return text(value, where, NAME_MAX)


def items(value: Any, where: str, *, empty_ok: bool = True) -> Sequence[Any]:
    """`value` as a list of at most ITEMS_MAX items."""
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{where} must be an array, got {_kind(value)}")
    if len(value) > ITEMS_MAX:
        raise InvalidInput(f"{where} has {len(value):,} items; send at most {ITEMS_MAX:,} per call")
    if not empty_ok and not value:
        raise InvalidInput(f"{where} is empty; give at least one item")
    return value


def record(value: Any, where: str, fields: Sequence[str]) -> dict[str, Any]:
    """`value` as an object holding `fields` (other keys are ignored, as the reference server ignores them)."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object with {', '.join(fields)}, got {_kind(value)}")
    for field in fields:
        if field not in value:
            raise InvalidInput(f"{where} has no {field!r}; each item needs {', '.join(fields)}")
    return value


def names(value: Any, where: str) -> list[str]:
    """A list of entity names, each checked, duplicates removed (first kept)."""
    checked = [name(item, f"{where}[{index}]") for index, item in enumerate(items(value, where))]
    return list(dict.fromkeys(checked))


def tags(value: Any, where: str = "tags") -> list[str]:
    """Tags: short, one line each, duplicates removed; surrounding spaces are trimmed."""
    if value is None:
        return []
    listed = items(value, where)
    if len(listed) > TAGS_MAX:
        raise InvalidInput(f"{where} has {len(listed)} tags; the limit is {TAGS_MAX}")
    cleaned = []
    for index, tag in enumerate(listed):
        tag = text(tag, f"{where}[{index}]", TAG_MAX).strip()
        if "\n" in tag or "\r" in tag:
            raise InvalidInput(f"{where}[{index}] spans several lines; a tag is one short word or phrase")
        cleaned.append(tag)
    return list(dict.fromkeys(cleaned))


def limit(value: Any, where: str = "limit", *, high: int = LIMIT_MAX) -> int | None:
    """A count from 1 to `high`; None stays None. `10.0` is taken for 10, as clients send it."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where} must be a whole number from 1 to {high:,}, got {_kind(value)}")
    if not 1 <= value <= high:
        raise InvalidInput(f"{where} must be from 1 to {high:,}, got {value:,}")
    return value
