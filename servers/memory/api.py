"""The tool-facing functions: each takes the store and the tool's arguments and returns a `Reply`.

`Reply.text` and `Reply.structured` are what the reference server (`@modelcontextprotocol/server-memory`
2026.8.31) returns for its nine tools: the text is `JSON.stringify(result, null, 2)` and `structuredContent`
wraps the same data (`{entities}`, `{relations}`, `{results}`, `{success, message}`, `{entities, relations}`).
What the reference does not say (names skipped because they exist, deletes of what was not there) goes in
`Reply.note`, for a second text block, so the first stays the reference's exact JSON.

The three graph reads are bounded: with no `limit`, a reply stays within a text budget (about 20,000 tokens); a
reply that is cut, or that was asked for with `limit` or `cursor`, also carries `totalEntities` (and for
`read_graph` `totalRelations`), `nextCursor` when there is more, and a `note` saying how to get it, as extra keys
of the same JSON object. Relations with either end among the returned entities are included, as the reference
now does (servers#2397); across pages each relation is listed once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deskmcp.servers.memory import graph, hygiene, inputs, notes, search
from deskmcp.servers.memory.errors import InvalidInput
from deskmcp.servers.memory.pages import DEFAULT_BUDGET, Item, Page, decode_cursor, encode_cursor, fill, query_key
from deskmcp.servers.memory.store import Store, Tx

# Entities read at a time to fill a page (four queries a batch). A full page holds some 130 of the benchmark's
# (3 observations, 2 relations each): 32 at a time reads at most 31 that do not fit; 100 at a time read 200 for a
# page of 130, a fifth of a search's time.
BATCH: Final = 32
SEARCH_MEMORY_DEFAULT: Final = 10
SEARCH_MEMORY_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    structured: dict[str, Any] | None = None
    note: str | None = None


def _listed(values: Sequence[str], limit: int = 20) -> str:
    """The first `limit` of `values` (each as a note shows it), then how many more."""
    return ", ".join(values[:limit]) + (f" and {len(values) - limit:,} more" if len(values) > limit else "")


# --- writes ---------------------------------------------------------------------------------------------------


def create_entities(store: Store, entities: Any) -> Reply:
    outcome = graph.create_entities(store, entities)
    created = [graph.reference_entity(entity) for entity in outcome.done]
    note = None
    if outcome.skipped:
        note = (
            f"Skipped {len(outcome.skipped)} that already exist (or repeat a name in this call): "
            f"{_listed(list(map(repr, outcome.skipped)))}. Use add_observations to add to them."
        )
    return Reply(graph.dumps(created), {"entities": created}, note)


def create_relations(store: Store, relations: Any) -> Reply:
    outcome = graph.create_relations(store, relations)
    created = [graph.reference_relation(relation) for relation in outcome.done]
    note = (
        f"Skipped {len(outcome.skipped)} that already exist: {_listed(outcome.skipped)}." if outcome.skipped else None
    )
    return Reply(graph.dumps(created), {"relations": created}, note)


def add_observations(store: Store, observations: Any) -> Reply:
    results = [
        {"entityName": item.entity, "addedObservations": list(item.added)}
        for item in graph.add_observations(store, observations)
    ]
    return Reply(graph.dumps(results), {"results": results})


def _deleted(message: str, skipped: Sequence[str]) -> Reply:
    note = f"Not found, so nothing to delete: {_listed(skipped)}." if skipped else None
    return Reply(message, {"success": True, "message": message}, note)


def delete_entities(store: Store, entityNames: Any) -> Reply:
    skipped = graph.delete_entities(store, entityNames).skipped
    return _deleted("Entities deleted successfully", list(map(repr, skipped)))


def delete_observations(store: Store, deletions: Any) -> Reply:
    return _deleted("Observations deleted successfully", graph.delete_observations(store, deletions).skipped)


def delete_relations(store: Store, relations: Any) -> Reply:
    return _deleted("Relations deleted successfully", graph.delete_relations(store, relations).skipped)


def rename_entity(store: Store, oldName: Any, newName: Any) -> Reply:
    relations = hygiene.rename_entity(store, oldName, newName)
    result = {"oldName": oldName, "newName": newName, "relations": relations}
    return Reply(graph.dumps(result), result)


def merge_entities(store: Store, sources: Any, target: Any) -> Reply:
    merged = hygiene.merge_entities(store, sources, target)
    result = {
        "target": merged.target,
        "merged": list(merged.merged),
        "addedObservations": merged.observations_added,
        "movedRelations": merged.relations_moved,
        "droppedRelations": merged.relations_dropped,
    }
    return Reply(graph.dumps(result), result)


def save_memory(store: Store, text: Any, entity: Any = None, tags: Any = None) -> Reply:
    saved = graph.save_memory(store, text, entity, tags)
    result = {
        "entity": saved.entity,
        "text": saved.text,
        "tags": list(saved.tags),
        "createdAt": saved.created_at,
        "newEntity": saved.new_entity,
        "alreadySaved": saved.already_saved,
    }
    return Reply(graph.dumps(result), result)


def memory(store: Store, command: Any, **arguments: Any) -> Reply:
    """The Claude memory tool's commands over the `/memories` folder kept in the store."""
    return Reply(notes.execute(store, command, arguments))


# --- bounded reads --------------------------------------------------------------------------------------------


def _owned(
    relations: list[graph.Relation], rank: Callable[[int], int | None], batch: set[int]
) -> dict[int, list[graph.Relation]]:
    """Each relation under the end that comes first in the result, if that end is in `batch`."""
    owned: dict[int, list[graph.Relation]] = {}
    for relation in relations:
        ranked = [(place, end) for end in (relation.from_id, relation.to_id) if (place := rank(end)) is not None]
        owner = min(ranked)[1]
        if owner in batch:
            owned.setdefault(owner, []).append(relation)
    return owned


def _load(tx: Tx, batch: Sequence[int]) -> tuple[dict[int, graph.Shown], list[graph.Relation]]:
    entities = graph.load_shown(tx, batch)
    names = {entity_id: entity.name for entity_id, entity in entities.items()}
    return entities, graph.relations_touching(tx, batch, names)


def _items(
    batch: Sequence[int],
    entities: dict[int, graph.Shown],
    relations: list[graph.Relation],
    rank: Callable[[int], int | None],
) -> Iterator[Item]:
    owned = _owned(relations, rank, set(batch))
    return (Item(entities[entity_id], owned.get(entity_id, [])) for entity_id in batch if entity_id in entities)


def _ranked_items(tx: Tx, ids: Sequence[int], start: int) -> Iterator[Item]:
    """The result `ids` from `start`, each relation with its end that comes first in `ids`."""
    rank = {entity_id: index for index, entity_id in enumerate(ids)}
    for offset in range(start, len(ids), BATCH):
        batch = ids[offset : offset + BATCH]
        yield from _items(batch, *_load(tx, batch), rank.get)


def _recent_items(tx: Tx, start: int, since: str | None, until: str | None) -> Iterator[Item]:
    """Entities by most recent change from place `start`, each relation with its end that comes first: read a
    batch at a time, never listing every entity (100k ids cost some 40 ms a page)."""
    ids = search.recent_ids(tx, since, until, start)
    while batch := list(itertools.islice(ids, BATCH)):
        entities, relations = _load(tx, batch)
        places = search.by_recency(tx, {end for r in relations for end in (r.from_id, r.to_id)}, since, until)
        yield from _items(batch, entities, relations, places.get)


def _graph_items(tx: Tx, start_id: int) -> Iterator[Item]:
    """The whole graph from entity `start_id`, oldest first, each relation with its older end."""
    while batch := graph.ids_from(tx, start_id, BATCH):
        yield from _items(batch, *_load(tx, batch), lambda entity_id: entity_id)
        start_id = batch[-1] + 1


@dataclass(frozen=True, slots=True)
class _Paging:
    more: str  # how to get the next page, up to the cursor: "call read_graph again with the same arguments and"
    key: str
    paged: bool  # limit or cursor given: always report totals
    total_entities: int
    total_relations: int | None = None
    note: str | None = None


def _graph_reply(page: Page, paging: _Paging, following: dict[str, int]) -> Reply:
    """The reply for `page`; when more follows, with a cursor to the position `following`."""
    result: dict[str, Any] = {"entities": page.entities, "relations": page.relations}
    if paging.paged or page.more or paging.note:
        result["totalEntities"] = paging.total_entities
        if paging.total_relations is not None:
            result["totalRelations"] = paging.total_relations
    notes_ = [paging.note] if paging.note else []
    if page.more:
        cursor = encode_cursor(paging.key, following)
        result["nextCursor"] = cursor
        shown = f"This page holds {len(page.entities):,} of {paging.total_entities:,} entities"
        cut = f"; entity {page.cut!r} continues on the next page" if page.cut else ""
        notes_.append(f'{shown}{cut}. For more, {paging.more} cursor "{cursor}".')
    if notes_:
        result["note"] = " ".join(notes_)
    return Reply(graph.dumps_graph(result), result)


def _again(tool: str) -> str:
    return f"call {tool} again with the same arguments and"


def read_graph(
    store: Store, limit: Any = None, cursor: Any = None, *, budget: int = DEFAULT_BUDGET, more: str | None = None
) -> Reply:
    """The whole graph, a page at a time: entities oldest first, each relation with its older end. `more` says how
    to get the next page (see `_Paging`)."""
    count = inputs.limit(limit)
    key = query_key("read_graph", store.project)
    position = decode_cursor(cursor, key, ("id", "part")) if cursor is not None else {"id": 0, "part": 0}
    with store.read() as tx:
        items = _graph_items(tx, position["id"])
        first = next(items, None)
        part = position["part"] if first is not None and first.entity.id == position["id"] else 0
        page = fill(_chain(first, items), part, count, budget)
        totals = tx.conn.execute(
            "SELECT entities, relations FROM projects WHERE id = ?", (tx.project_id,)
        ).fetchone() or (0, 0)
    following = {"id": page.next_id, "part": page.next_part}
    paged = count is not None or cursor is not None
    paging = _Paging(more or _again("read_graph"), key, paged, totals[0], totals[1])
    return _graph_reply(page, paging, following)


def _chain(first: Item | None, rest: Iterator[Item]) -> Iterator[Item]:
    if first is not None:
        yield first
        yield from rest


def _found(
    tx: Tx, text: str, mode: str | None, window: tuple[str | None, str | None], index: int
) -> tuple[Iterator[Item], int, int, str]:
    """A search's result from place `index` (or its end), how many it holds, that place, and the mode that found it."""
    if mode == "recent" or (mode is None and not text.strip()):  # an empty query, or a cursor from one
        total = search.recent_total(tx, *window)
        return _recent_items(tx, min(index, total), *window), total, min(index, total), "recent"
    ids, mode = search.entity_ids(tx, text, mode, *window)
    return _ranked_items(tx, ids, min(index, len(ids))), len(ids), min(index, len(ids)), mode


def search_nodes(
    store: Store,
    query: Any,
    limit: Any = None,
    cursor: Any = None,
    since: Any = None,
    until: Any = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> Reply:
    """Entities matching `query`, best first (see `search`); an empty query lists them by recency."""
    text = search.check_query(query)
    count = inputs.limit(limit)
    window = search.parse_time(since, "since"), search.parse_time(until, "until")
    key = query_key("search_nodes", store.project, text, since, until)
    position = decode_cursor(cursor, key, ("index", "part", "mode")) if cursor is not None else None
    if position is not None and position["mode"] >= len(search.MODES):
        raise InvalidInput("cursor names an unknown search mode; leave cursor out to start again")
    mode = search.MODES[position["mode"]] if position else None
    with store.read() as tx:
        items, total, start, mode = _found(tx, text, mode, window, position["index"] if position else 0)
        page = fill(items, position["part"] if position else 0, count, budget)
    note = None
    if mode == "any" and total:
        note = "No entity holds every word of the query; these hold some of them, best first."
    following = {"index": start + page.finished, "part": page.next_part, "mode": search.MODES.index(mode)}
    paging = _Paging(_again("search_nodes"), key, count is not None or cursor is not None, total, note=note)
    return _graph_reply(page, paging, following)


def open_nodes(
    store: Store,
    names: Any,
    limit: Any = None,
    cursor: Any = None,
    *,
    budget: int = DEFAULT_BUDGET,
    more: str | None = None,
) -> Reply:
    """The named entities, oldest first as the reference lists them, with every relation that touches them;
    unknown names are listed in `notFound` (all of them unknown: `NotFound`)."""
    wanted = inputs.names(names, "names")
    count = inputs.limit(limit)
    key = query_key("open_nodes", store.project, wanted)
    position = decode_cursor(cursor, key, ("index", "part")) if cursor is not None else {"index": 0, "part": 0}
    with store.read() as tx:
        found = graph.ids_by_name(tx, wanted)
        missing = [name for name in wanted if name not in found]
        if wanted and not found:
            raise graph.not_found(tx, missing, "Use search_nodes to find entities by words in them.")
        ids = sorted(found.values())  # oldest first, as the reference lists them
        start = min(position["index"], len(ids))
        page = fill(_ranked_items(tx, ids, start), position["part"], count, budget)
    following = {"index": start + page.finished, "part": page.next_part}
    paging = _Paging(more or _again("open_nodes"), key, count is not None or cursor is not None, len(ids))
    reply = _graph_reply(page, paging, following)
    if not missing:
        return reply
    result = {**reply.structured, "notFound": missing}  # type: ignore[dict-item]
    return Reply(graph.dumps_graph(result), result)


def search_memory(
    store: Store, query: Any, limit: Any = None, since: Any = None, *, budget: int = DEFAULT_BUDGET
) -> Reply:
    """Saved memories (single observations) matching `query`, best first, with their entity, tags and time."""
    text = search.check_query(query)
    count = inputs.limit(limit, high=SEARCH_MEMORY_MAX) or SEARCH_MEMORY_DEFAULT
    after = search.parse_time(since, "since")
    with store.read() as tx:
        rows, total, mode = search.memories(tx, text, count, after)
    found: list[dict[str, Any]] = []
    used = 0
    for entity, content, tags, created in rows:
        item = {"entity": entity, "text": content, "tags": list(graph.split_tags(tags)), "createdAt": created}
        size = len(graph.dumps(item)) + 8
        if found and used + size > budget:
            break
        found.append(item)
        used += size
    result: dict[str, Any] = {"memories": found, "total": total}
    remarks = []
    if mode == "any":
        remarks.append("No memory holds every word of the query; these hold some of them, best first.")
    if total > len(found):
        more = (
            f"raise limit (up to {SEARCH_MEMORY_MAX})" if len(found) == count else "the rest did not fit in one reply"
        )
        remarks.append(f"Showing the best {len(found)} of {total:,}; {more}, or narrow the query.")
    if remarks:
        result["note"] = " ".join(remarks)
    return Reply(graph.dumps(result), result)


def store_info(store: Store) -> dict[str, Any]:
    """Where the store is and what this project holds (for a status resource)."""
    info = store.info()
    return {
        "path": info.path,
        "project": info.project,
        "schemaVersion": info.schema_version,
        "sqliteVersion": info.sqlite_version,
        "entities": info.entities,
        "observations": info.observations,
        "relations": info.relations,
        "memoryFiles": info.notes,
        "projects": list(info.projects),
    }


# --- resources ------------------------------------------------------------------------------------------------


def graph_resource(store: Store, budget: int = DEFAULT_BUDGET) -> str:
    """`memory://knowledge-graph`: the reference's JSON of the graph, bounded as `read_graph` is. A graph too big
    for one reply is its first page, with the members a cut `read_graph` reply has (`totalEntities`,
    `totalRelations`, `nextCursor`, `note`), which the reference's readers ignore; the cursor continues with the
    read_graph tool."""
    return read_graph(store, budget=budget, more="call the read_graph tool with").text


def entity_resource(store: Store, name: str, budget: int = DEFAULT_BUDGET) -> str:
    """One entity as `open_nodes` gives it (with every relation to or from it), bounded the same way."""
    more = f"call the open_nodes tool with names {json.dumps([name], ensure_ascii=False)} and"
    return open_nodes(store, [name], budget=budget, more=more).text


def status_resource(store: Store) -> str:
    """`memory://status`: where the store is, its schema version and what this project holds, as JSON."""
    return graph.dumps(store_info(store))
