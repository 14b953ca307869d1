"""The knowledge graph: entities with observations, and typed relations between them, in one project.

Each function takes the store first, runs as one transaction, and returns plain data. Partial success follows
the reference server where it is harmless and is an error where it would hide a mistake:

- `create_entities` skips names that already exist (and repeats within the call) and returns only what it made;
- `create_relations` skips relations that already exist; an unknown endpoint is `NotFound` and nothing is made
  (the reference stores relations to nothing, which no tool can show);
- `add_observations` to an unknown entity is `NotFound` and nothing is added (as the reference); observations
  already present are skipped;
- the three deletes ignore what is not there (idempotent, as the reference) and report it;
- renaming and merging are in `hygiene`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring as quote  # type: ignore[attr-defined]  # the C escaper, non-ASCII kept
from typing import Any, Final

from deskmcp.servers.memory import inputs
from deskmcp.servers.memory.errors import NotFound
from deskmcp.servers.memory.store import Store, Tx

CHUNK: Final = 500  # names or ids per IN (...) list, well under every SQLite's variable limit
DEFAULT_MEMORY_ENTITY: Final = "Memories"
MEMORY_TYPE: Final = "memory"


# The three kinds of row a read returns are not `frozen`: a frozen dataclass takes four times as long to make
# (each field is set through `object.__setattr__`), and a page of results makes over a thousand of them.


@dataclass(slots=True)
class Observation:
    content: str
    created_at: str
    tags: tuple[str, ...] = ()


@dataclass(slots=True)
class Entity:
    id: int
    name: str
    entity_type: str
    created_at: str
    updated_at: str
    observations: tuple[Observation, ...] = ()


@dataclass(slots=True)
class Shown:
    """What a graph read shows of an entity: its name, type and observations' texts, oldest first."""

    id: int
    name: str
    entity_type: str
    observations: list[str]


@dataclass(slots=True)
class Relation:
    id: int
    from_id: int
    to_id: int
    source: str
    target: str
    relation_type: str


@dataclass(frozen=True, slots=True)
class NewEntity:
    name: str
    entity_type: str
    observations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RelationKey:
    source: str
    target: str
    relation_type: str


@dataclass(slots=True)
class Outcome:
    """What a write did: the items it made or removed, and what it left alone and why."""

    done: list[Any] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already there (creates) or not there (deletes)


@dataclass(frozen=True, slots=True)
class Added:
    entity: str
    added: tuple[str, ...]


# --- input ----------------------------------------------------------------------------------------------------


def observations_of(value: Any, where: str) -> tuple[str, ...]:
    listed = inputs.items(value, where)
    texts = [inputs.text(item, f"{where}[{index}]", inputs.OBSERVATION_MAX) for index, item in enumerate(listed)]
    return tuple(dict.fromkeys(texts))


def new_entities(value: Any) -> list[NewEntity]:
    checked = []
    for index, item in enumerate(inputs.items(value, "entities")):
        where = f"entities[{index}]"
        item = inputs.record(item, where, ("name", "entityType", "observations"))
        checked.append(
            NewEntity(
                name=inputs.name(item["name"], f"{where}.name"),
                entity_type=inputs.text(item["entityType"], f"{where}.entityType", inputs.TYPE_MAX),
                observations=observations_of(item["observations"], f"{where}.observations"),
            )
        )
    return checked


def relation_keys(value: Any, where: str = "relations") -> list[RelationKey]:
    checked = []
    for index, item in enumerate(inputs.items(value, where)):
        at = f"{where}[{index}]"
        item = inputs.record(item, at, ("from", "to", "relationType"))
        checked.append(
            RelationKey(
                inputs.name(item["from"], f"{at}.from"),
                inputs.name(item["to"], f"{at}.to"),
                inputs.text(item["relationType"], f"{at}.relationType", inputs.TYPE_MAX),
            )
        )
    return list(dict.fromkeys(checked))


def _per_entity(value: Any, where: str, list_field: str) -> list[tuple[str, tuple[str, ...]]]:
    checked = []
    for index, item in enumerate(inputs.items(value, where)):
        at = f"{where}[{index}]"
        item = inputs.record(item, at, ("entityName", list_field))
        checked.append(
            (
                inputs.name(item["entityName"], f"{at}.entityName"),
                observations_of(item[list_field], f"{at}.{list_field}"),
            )
        )
    return checked


# --- lookups --------------------------------------------------------------------------------------------------


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def ids_by_name(tx: Tx, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(list(dict.fromkeys(names))):
        sql = f"SELECT name, id FROM entities WHERE project_id = ? AND name IN ({marks(part)})"
        found.update(tx.conn.execute(sql, (tx.project_id, *part)).fetchall())
    return found


def ids_from(tx: Tx, first_id: int, count: int) -> list[int]:
    """Up to `count` of the project's entity ids from `first_id` on, in order: oldest first."""
    # `+project_id`: walk the ids in order; the index on the project would read all of them and sort
    sql = "SELECT id FROM entities WHERE +project_id = ? AND id >= ? ORDER BY id LIMIT ?"
    return [row[0] for row in tx.conn.execute(sql, (tx.project_id, first_id, count))]


def names_starting(store: Store, prefix: Any) -> list[str]:
    """Names of entities that start with `prefix` (ASCII letters in either case), in name order: completion."""
    typed = inputs.text(prefix, "the value to complete", inputs.NAME_MAX, blank_ok=True)
    pattern = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with store.read() as tx:
        rows = tx.conn.execute(
            "SELECT name FROM entities WHERE project_id = ? AND name LIKE ? ESCAPE '\\' ORDER BY name COLLATE NOCASE",
            (tx.project_id, pattern),
        )
        return [row[0] for row in rows]


def fts_string(text: str) -> str:
    """`text` as an FTS5 string, so its syntax is just text. A NUL would end the query early (an FTS5 syntax error);
    to the tokenizer it separates words, as a space does, so it becomes one."""
    return '"' + text.replace('"', '""').replace("\x00", " ") + '"'


def not_found(tx: Tx, missing: Sequence[str], next_step: str) -> NotFound:
    """`NotFound` naming the missing entities, with same-but-for-case names as suggestions."""
    hints = [f"{name!r} -> {other!r}" for name in missing[:5] for other in _same_but_for_case(tx, name)]
    listed = ", ".join(map(repr, missing[:20])) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
    noun = "entity" if len(missing) == 1 else "entities"
    hint = f" (names are exact; did you mean: {'; '.join(hints)}?)" if hints else ""
    return NotFound(f"no {noun} named {listed} in this memory{hint}. {next_step}")


def _same_but_for_case(tx: Tx, name: str) -> list[str]:
    """Up to 3 names equal to `name` but for the case of ASCII letters (SQL's NOCASE), in name order.

    The name index finds them (a scan of every name cost 10-30 ms at 100k): its tokenizer folds case, so such a
    name holds the same words in the same order, and the phrase anchored at its start (`^"..."`) matches it. A name
    without ASCII letters has no such twin.
    """
    if not any("A" <= char <= "Z" or "a" <= char <= "z" for char in name):
        return []
    phrase = "name : ^" + fts_string(name)
    rows = tx.conn.execute(
        "SELECT e.name FROM entity_index CROSS JOIN entities e ON e.id = entity_index.rowid WHERE entity_index MATCH ? "
        "AND e.project_id = ? AND e.name = ? COLLATE NOCASE ORDER BY e.name LIMIT 3",
        (phrase, tx.project_id, name),
    )
    return [row[0] for row in rows]


def load_entities(tx: Tx, ids: Sequence[int]) -> dict[int, Entity]:
    """The entities with `ids`, each with its observations in the order they were added."""
    heads: dict[int, tuple] = {}
    observations: dict[int, list[Observation]] = {}
    for part in chunks(ids):
        sql = f"SELECT id, name, entity_type, created_at, updated_at FROM entities WHERE id IN ({marks(part)})"
        heads.update((row[0], row) for row in tx.conn.execute(sql, part))
        sql = (  # each entity's in the order added; sorting them all by id alone costs twice as much
            "SELECT entity_id, content, created_at, tags FROM observations "
            f"WHERE entity_id IN ({marks(part)}) ORDER BY entity_id, id"
        )
        for entity_id, content, created, tags in tx.conn.execute(sql, part):
            observations.setdefault(entity_id, []).append(Observation(content, created, split_tags(tags)))
    return {
        entity_id: Entity(*head, observations=tuple(observations.get(entity_id, ())))
        for entity_id, head in heads.items()
    }


def load_shown(tx: Tx, ids: Sequence[int]) -> dict[int, Shown]:
    """The entities with `ids` as a graph read shows them. The observations' texts come from the (entity, text)
    index alone: reading their times and tags as well, as `load_entities` does, costs a table lookup for each."""
    shown: dict[int, Shown] = {}
    for part in chunks(ids):
        sql = f"SELECT id, name, entity_type FROM entities WHERE id IN ({marks(part)})"
        shown.update((row[0], Shown(*row, [])) for row in tx.conn.execute(sql, part))
        sql = f"SELECT entity_id, content FROM observations WHERE entity_id IN ({marks(part)}) ORDER BY entity_id, id"
        for entity_id, content in tx.conn.execute(sql, part):
            shown[entity_id].observations.append(content)
    return shown


def relations_touching(tx: Tx, ids: Sequence[int], names: Mapping[int, str]) -> list[Relation]:
    """Every relation with either end in `ids`, oldest first. `names` holds the names of `ids` (the entities just
    loaded), so only the other ends are looked up: a name lookup is most of what a relation costs to read."""
    found: dict[int, Relation] = {}
    for part in chunks(ids):
        listed = marks(part)
        outgoing = (
            "SELECT r.id, r.from_id, r.to_id, t.name, r.relation_type FROM relations r "
            f"JOIN entities t ON t.id = r.to_id WHERE r.from_id IN ({listed})"
        )
        for key, source, target, name, relation_type in tx.conn.execute(outgoing, part):
            found[key] = Relation(key, source, target, names[source], name, relation_type)
        incoming = (
            "SELECT r.id, r.from_id, r.to_id, f.name, r.relation_type FROM relations r "
            f"JOIN entities f ON f.id = r.from_id WHERE r.to_id IN ({listed})"
        )
        for key, source, target, name, relation_type in tx.conn.execute(incoming, part):
            found[key] = Relation(key, source, target, name, names[target], relation_type)
    return [found[key] for key in sorted(found)]


def split_tags(stored: str) -> tuple[str, ...]:
    return tuple(stored.split("\n")) if stored else ()


def touch(tx: Tx, entity_ids: Iterable[int]) -> None:
    ids = list(set(entity_ids))
    for part in chunks(ids):
        tx.conn.execute(f"UPDATE entities SET updated_at = ? WHERE id IN ({marks(part)})", (tx.now, *part))


# --- the reference's nine operations (the three reads are in pages) -------------------------------------------


def create_entities(store: Store, entities: Any) -> Outcome:
    """Make each entity whose name is new; `done` holds the `NewEntity`s made, `skipped` the names already there."""
    checked = new_entities(entities)
    outcome = Outcome()
    with store.write() as tx:
        existing = ids_by_name(tx, [entity.name for entity in checked])
        for entity in checked:
            if entity.name in existing:
                outcome.skipped.append(entity.name)
                continue
            existing[entity.name] = insert_entity(tx, entity)
            outcome.done.append(entity)
    return outcome


def insert_entity(tx: Tx, entity: NewEntity, created: str | None = None, updated: str | None = None) -> int:
    entity_id = tx.conn.execute(
        "INSERT INTO entities (project_id, name, entity_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (tx.project_id, entity.name, entity.entity_type, created or tx.now, updated or created or tx.now),
    ).lastrowid
    for text in entity.observations:
        insert_observation(tx, entity_id, text, (), created)
    return entity_id


def insert_observation(tx: Tx, entity_id: int, text: str, tags: Sequence[str] = (), created: str | None = None) -> bool:
    """Add one observation unless the entity has it; True if added."""
    return (
        tx.conn.execute(
            "INSERT OR IGNORE INTO observations (project_id, entity_id, content, tags, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (tx.project_id, entity_id, text, "\n".join(tags), created or tx.now),
        ).rowcount
        > 0
    )


def insert_relation(tx: Tx, from_id: int, to_id: int, relation_type: str, created: str | None = None) -> bool:
    """Add one relation unless it exists; True if added."""
    return (
        tx.conn.execute(
            "INSERT OR IGNORE INTO relations (project_id, from_id, to_id, relation_type, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (tx.project_id, from_id, to_id, relation_type, created or tx.now),
        ).rowcount
        > 0
    )


def create_relations(store: Store, relations: Any) -> Outcome:
    """Make each relation that is new; `done` holds the `RelationKey`s made, `skipped` the ones already there."""
    checked = relation_keys(relations)
    outcome = Outcome()
    with store.write() as tx:
        ids = ids_by_name(tx, [name for key in checked for name in (key.source, key.target)])
        missing = list(dict.fromkeys(n for key in checked for n in (key.source, key.target) if n not in ids))
        if missing:
            raise not_found(tx, missing, "Create missing entities with create_entities first; no relation was made.")
        for key in checked:
            if insert_relation(tx, ids[key.source], ids[key.target], key.relation_type):
                outcome.done.append(key)
            else:
                outcome.skipped.append(describe_relation(key))
    return outcome


def describe_relation(key: RelationKey) -> str:
    return f"{key.source!r} {key.relation_type} {key.target!r}"


def add_observations(store: Store, observations: Any) -> list[Added]:
    """Add each observation not already on its entity; one `Added` per item asked for, in order."""
    checked = _per_entity(observations, "observations", "contents")
    results = []
    with store.write() as tx:
        ids = ids_by_name(tx, [name for name, _ in checked])
        missing = list(dict.fromkeys(name for name, _ in checked if name not in ids))
        if missing:
            raise not_found(
                tx, missing, "Create missing entities with create_entities first; no observation was added."
            )
        for name, contents in checked:
            added = [text for text in contents if insert_observation(tx, ids[name], text)]
            results.append(Added(name, tuple(added)))
        touch(tx, (ids[result.entity] for result in results if result.added))
    return results


def delete_entities(store: Store, names: Any) -> Outcome:
    """Delete the entities and every relation to or from them; `skipped` holds names that were not there."""
    checked = inputs.names(names, "entityNames")
    outcome = Outcome()
    with store.write() as tx:
        ids = ids_by_name(tx, checked)
        for part in chunks(list(ids.values())):
            tx.conn.execute(f"DELETE FROM entities WHERE id IN ({marks(part)})", part)
        outcome.done = [name for name in checked if name in ids]
        outcome.skipped = [name for name in checked if name not in ids]
    return outcome


def delete_observations(store: Store, deletions: Any) -> Outcome:
    """Delete the listed observations; `done` holds `Added`-shaped removals, `skipped` what was not there."""
    checked = _per_entity(deletions, "deletions", "observations")
    outcome = Outcome()
    with store.write() as tx:
        ids = ids_by_name(tx, [name for name, _ in checked])
        touched = []
        for name, texts in checked:
            if name not in ids:
                outcome.skipped.append(f"entity {name!r}")
                continue
            removed = []
            for text in texts:
                cursor = tx.conn.execute(
                    "DELETE FROM observations WHERE entity_id = ? AND content = ?", (ids[name], text)
                )
                if cursor.rowcount:
                    removed.append(text)
                else:
                    outcome.skipped.append(f"{text!r} on {name!r}")
            if removed:
                touched.append(ids[name])
                outcome.done.append(Added(name, tuple(removed)))
        touch(tx, touched)
    return outcome


def delete_relations(store: Store, relations: Any) -> Outcome:
    """Delete the listed relations; `skipped` describes those that were not there."""
    checked = relation_keys(relations)
    outcome = Outcome()
    with store.write() as tx:
        ids = ids_by_name(tx, [name for key in checked for name in (key.source, key.target)])
        for key in checked:
            deleted = 0
            if key.source in ids and key.target in ids:
                deleted = tx.conn.execute(
                    "DELETE FROM relations WHERE from_id = ? AND to_id = ? AND relation_type = ?",
                    (ids[key.source], ids[key.target], key.relation_type),
                ).rowcount
            (outcome.done if deleted else outcome.skipped).append(describe_relation(key))
    return outcome


# --- save_memory ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saved:
    entity: str
    text: str
    tags: tuple[str, ...]
    created_at: str
    new_entity: bool
    already_saved: bool


def save_memory(store: Store, text: Any, entity: Any = None, tags: Any = None) -> Saved:
    """Keep `text` as an observation of `entity` (made, of type 'memory', if new; default 'Memories').

    Saving the same text on the same entity again adds nothing; its tags gain the new ones.
    """
    content = inputs.text(text, "text", inputs.OBSERVATION_MAX)
    name = DEFAULT_MEMORY_ENTITY if entity is None else inputs.name(entity, "entity")
    labels = inputs.tags(tags)
    with store.write() as tx:
        entity_id = ids_by_name(tx, [name]).get(name)
        new_entity = entity_id is None
        if new_entity:
            entity_id = insert_entity(tx, NewEntity(name, MEMORY_TYPE, ()))
        row = tx.conn.execute(
            "SELECT id, tags, created_at FROM observations WHERE entity_id = ? AND content = ?", (entity_id, content)
        ).fetchone()
        if row is None:
            insert_observation(tx, entity_id, content, labels)
            touch(tx, [entity_id])
            return Saved(name, content, tuple(labels), tx.now, new_entity, already_saved=False)
        merged = tuple(dict.fromkeys((*split_tags(row[1]), *labels)))
        if merged != split_tags(row[1]):
            tx.conn.execute("UPDATE observations SET tags = ? WHERE id = ?", ("\n".join(merged), row[0]))
            touch(tx, [entity_id])
        return Saved(name, content, merged, row[2], new_entity=False, already_saved=True)


def reference_entity(entity: Entity | NewEntity | Shown, observations: Sequence[str] | None = None) -> dict[str, Any]:
    """The reference server's entity shape: `{name, entityType, observations}`."""
    if observations is None:
        observations = [item.content if isinstance(item, Observation) else item for item in entity.observations]
    return {"name": entity.name, "entityType": entity.entity_type, "observations": list(observations)}


def reference_relation(relation: Relation | RelationKey) -> dict[str, str]:
    """The reference server's relation shape: `{from, to, relationType}`."""
    return {"from": relation.source, "to": relation.target, "relationType": relation.relation_type}


def dumps(value: Any, indent: str = "") -> str:
    """JSON as the reference's `JSON.stringify(value, null, 2)` writes it.

    The same text as `json.dumps(value, indent=2, ensure_ascii=False)`, several times faster: with `indent`, the
    json module leaves its C encoder for a pure-Python one; here strings still go through the C escaper.
    """
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        items = [f"{inner}{quote(key)}: {dumps(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + dumps(item, inner) for item in value) + "\n" + indent + "]"
    return json.dumps(value)


def dumps_graph(result: Mapping[str, Any]) -> str:
    """`dumps(result)` for a graph read (`entities` and `relations` as `reference_entity` and `reference_relation`
    make them, and other members), four times as fast: a page holds hundreds of entities and relations, and their
    shapes are fixed, so each is written by one f-string instead of a walk through its members."""
    members = []
    for key, value in result.items():
        if key == "entities":
            text = _listed(value, _entity_text)
        elif key == "relations":
            text = _listed(value, _relation_text)
        else:
            text = dumps(value, "  ")
        members.append(f"{quote(key)}: {text}")
    return "{\n  " + ",\n  ".join(members) + "\n}" if members else "{}"


def _listed(items: Sequence[dict[str, Any]], text: Callable[[dict[str, Any]], str]) -> str:
    return "[\n    " + ",\n    ".join(map(text, items)) + "\n  ]" if items else "[]"


def _entity_text(entity: dict[str, Any]) -> str:
    observations = entity["observations"]
    listed = "[\n        " + ",\n        ".join(map(quote, observations)) + "\n      ]" if observations else "[]"
    name, entity_type = quote(entity["name"]), quote(entity["entityType"])
    return f'{{\n      "name": {name},\n      "entityType": {entity_type},\n      "observations": {listed}\n    }}'


def _relation_text(relation: dict[str, str]) -> str:
    source, target, relation_type = quote(relation["from"]), quote(relation["to"]), quote(relation["relationType"])
    return f'{{\n      "from": {source},\n      "to": {target},\n      "relationType": {relation_type}\n    }}'
