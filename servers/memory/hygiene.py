"""Keeping the graph tidy: rename an entity, or merge duplicates into one. Relations follow in both.

Each function takes the store first and runs as one transaction; a name that is taken is `Conflict`, a missing
entity `NotFound` (with same-but-for-case suggestions), and nothing is changed then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskmcp.servers.memory import inputs
from deskmcp.servers.memory.errors import Conflict, InvalidInput
from deskmcp.servers.memory.graph import ids_by_name, insert_observation, insert_relation, not_found, split_tags, touch
from deskmcp.servers.memory.store import Store, Tx


@dataclass(frozen=True, slots=True)
class Merged:
    target: str
    merged: tuple[str, ...]
    observations_added: int
    relations_moved: int
    relations_dropped: int  # duplicates of the target's own, or links between merged entities


def rename_entity(store: Store, old_name: Any, new_name: Any) -> int:
    """Rename an entity; its relations follow. Returns how many relations it has."""
    old = inputs.name(old_name, "oldName")
    new = inputs.name(new_name, "newName")
    with store.write() as tx:
        ids = ids_by_name(tx, [old, new])
        if old not in ids:
            raise not_found(tx, [old], "Nothing was renamed.")
        if new in ids and new != old:
            msg = f"an entity named {new!r} already exists; to combine the two, call merge_entities"
            raise Conflict(f"{msg} with sources [{old!r}] and target {new!r}. Nothing was renamed.")
        tx.conn.execute("UPDATE entities SET name = ?, updated_at = ? WHERE id = ?", (new, tx.now, ids[old]))
        return tx.conn.execute(
            "SELECT count(*) FROM relations WHERE from_id = ? OR to_id = ?", (ids[old], ids[old])
        ).fetchone()[0]


def merge_entities(store: Store, sources: Any, target: Any) -> Merged:
    """Fold `sources` into `target`: their observations (without repeats) and relations move, then they go."""
    names = inputs.names(sources, "sources")
    into = inputs.name(target, "target")
    if not names:
        raise InvalidInput("sources is empty; name the entities to fold into the target")
    if into in names:
        raise InvalidInput(f"target {into!r} is also listed in sources; list only the entities to fold into it")
    with store.write() as tx:
        ids = ids_by_name(tx, [*names, into])
        missing = [name for name in (*names, into) if name not in ids]
        if missing:
            raise not_found(tx, missing, "Nothing was merged.")
        target_id = ids[into]
        added = moved = dropped = 0
        for name in names:
            source_id = ids[name]
            added += _move_observations(tx, source_id, target_id)
            moved_now, dropped_now = _move_relations(tx, source_id, target_id)
            moved, dropped = moved + moved_now, dropped + dropped_now
            tx.conn.execute("DELETE FROM entities WHERE id = ?", (source_id,))
        touch(tx, [target_id])
        return Merged(into, tuple(names), added, moved, dropped)


def _move_observations(tx: Tx, source_id: int, target_id: int) -> int:
    rows = tx.conn.execute(
        "SELECT content, tags, created_at FROM observations WHERE entity_id = ? ORDER BY id", (source_id,)
    ).fetchall()
    return sum(insert_observation(tx, target_id, content, split_tags(tags), created) for content, tags, created in rows)


def _move_relations(tx: Tx, source_id: int, target_id: int) -> tuple[int, int]:
    """Repoint the source's relations at the target; a repeat of an existing one or a link to itself is dropped."""
    rows = tx.conn.execute(
        "SELECT id, from_id, to_id, relation_type, created_at FROM relations WHERE from_id = ? OR to_id = ?",
        (source_id, source_id),
    ).fetchall()
    moved = dropped = 0
    for relation_id, from_id, to_id, relation_type, created in rows:
        tx.conn.execute("DELETE FROM relations WHERE id = ?", (relation_id,))
        from_id = target_id if from_id == source_id else from_id
        to_id = target_id if to_id == source_id else to_id
        if from_id == to_id:
            dropped += 1
            continue
        inserted = insert_relation(tx, from_id, to_id, relation_type, created)
        moved, dropped = moved + inserted, dropped + (not inserted)
    return moved, dropped
