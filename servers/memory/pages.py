"""Bounded graph output: pages within a text budget, and cursors bound to the query they came from.

A result is a sequence of entities, each followed by its parts: its observations, then the relations it carries
(each relation is carried by one of its ends, so it appears once across pages). A page takes entities while
they fit in `limit` and in the text budget (about 20,000 tokens of the reference's pretty-printed JSON by
default), and may stop inside an entity that alone is too big: the next page then starts with the rest of it
(the entity appears again with its remaining observations). Every page makes progress, however small the
budget.

A cursor is opaque to the client: base64 of the position and a digest of the query (tool, project and
arguments other than `limit` and `cursor`), so a cursor passed with another query is refused, never misread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from deskmcp.servers.memory import graph
from deskmcp.servers.memory.errors import InvalidInput

DEFAULT_BUDGET: Final = 80_000  # characters of text, about 20,000 tokens
CURSOR_VERSION: Final = 1
CURSOR_MAX: Final = 1_000
POSITION_MAX: Final = 2**63 - 1  # SQLite's largest integer: a position goes into queries
_RESERVED: Final = 1_200  # the wrapper, totals, cursor and a note that may name a long entity
# Characters of one item in the pretty-printed reply besides its strings: braces, keys, indentation, commas.
_ENTITY_OVERHEAD: Final = 83
_OBSERVATION_OVERHEAD: Final = 10
_RELATION_OVERHEAD: Final = 66


def query_key(*parts: Any) -> str:
    """A digest naming a query: what a cursor must have been made for."""
    canonical = json.dumps(parts, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(key: str, position: dict[str, Any]) -> str:
    payload = json.dumps({"v": CURSOR_VERSION, "q": key, **position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: Any, key: str, fields: Sequence[str]) -> dict[str, Any]:
    """The position in `cursor`, which must have been made for the query `key` and hold `fields`, whole numbers
    from 0 to `POSITION_MAX`."""
    if not isinstance(cursor, str):
        raise InvalidInput(f"cursor must be a string (the nextCursor of an earlier page), got {type(cursor).__name__}")
    try:
        if len(cursor) > CURSOR_MAX:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = isinstance(data, dict) and data.get("v") == CURSOR_VERSION and isinstance(data.get("q"), str)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        valid = False
    if valid and data["q"] != key:
        raise InvalidInput(
            "cursor belongs to a different query (another tool, project, query text, names or filters); repeat "
            "the call that returned it with the same arguments, or leave cursor out to start again"
        )
    if not valid or not all(type(data.get(name)) is int and 0 <= data[name] <= POSITION_MAX for name in fields):
        msg = f"cursor {cursor[:40]!r} is not one this server gave; pass back nextCursor unchanged, or leave it out"
        raise InvalidInput(msg + " to start from the beginning")
    return data


@dataclass(slots=True)
class Item:
    """One entity of a result and the relations it carries."""

    entity: graph.Shown
    relations: list[graph.Relation]


@dataclass(slots=True)
class Page:
    entities: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, str]] = field(default_factory=list)
    finished: int = 0  # entities of the sequence completed on this page
    next_id: int = 0  # the id of the entity the next page starts with
    next_part: int = 0  # parts of it already shown (it was cut here)
    cut: str | None = None  # the name of that entity
    more: bool = False  # the sequence goes on after this page


def _sizes(item: Item) -> list[int]:
    """The characters each part of the item's entity (its observations, then its relations) adds to the reply."""
    quote = graph.quote
    observations = [len(quote(text)) + _OBSERVATION_OVERHEAD for text in item.entity.observations]
    return observations + [
        len(quote(r.source)) + len(quote(r.target)) + len(quote(r.relation_type)) + _RELATION_OVERHEAD
        for r in item.relations
    ]


def fill(items: Iterator[Item], first_part: int, limit: int | None, budget: int) -> Page:
    """Take items (the first from part `first_part`) while they fit in `limit` entities and `budget` characters.

    An entity that does not fit goes whole to the next page, unless it is the page's first: then it is cut.
    """
    page = Page()
    relations: list[graph.Relation] = []
    _fill(page, relations, items, first_part, limit, budget)
    page.relations = [graph.reference_relation(r) for r in sorted(relations, key=lambda r: r.id)]  # oldest first
    return page


def _fill(
    page: Page,
    taken_relations: list[graph.Relation],
    items: Iterator[Item],
    first_part: int,
    limit: int | None,
    budget: int,
) -> None:
    used = _RESERVED
    skip = first_part
    for item in items:
        entity = item.entity
        page.next_id = entity.id
        if limit is not None and len(page.entities) >= limit:
            page.more = True
            return
        sizes = _sizes(item)[skip:]
        head = len(graph.quote(entity.name)) + len(graph.quote(entity.entity_type)) + _ENTITY_OVERHEAD
        whole = head + sum(sizes)
        if used + whole <= budget:  # most entities: all the rest of it fits
            used, taken = used + whole, len(sizes)
        elif page.entities:
            page.next_part, page.more = skip, True
            return
        else:
            used, taken = _cut(sizes, used + head, budget)
        end = skip + taken  # parts skip..end are shown: observations first, then relations
        page.entities.append(graph.reference_entity(entity, entity.observations[skip:end]))
        observed = len(entity.observations)
        taken_relations += item.relations[max(0, skip - observed) : max(0, end - observed)]
        if taken < len(sizes):
            page.next_part, page.cut, page.more = skip + taken, entity.name, True
            return
        page.finished += 1
        skip = 0


def _cut(sizes: list[int], used: int, budget: int) -> tuple[int, int]:
    """How many parts of an entity too big for the page go on it (at least one), and the characters then used."""
    taken = 0
    while taken < len(sizes) and (taken == 0 or used + sizes[taken] <= budget):
        used += sizes[taken]
        taken += 1
    return used, taken
