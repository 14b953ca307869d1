"""The store's tables, versioned by `PRAGMA user_version`; each migration takes the schema one version up.

Entities, observations and relations belong to a project (`DESKMCP_MEMORY_PROJECT`); relations point at entity
rows, so renaming an entity carries its relations and deleting one deletes them. Two FTS5 indexes are kept
up to date by triggers, so no code path can forget them: `entity_index` (one row per entity: its name and type)
and `observation_index` (one row per observation: its text, tags, and its entity's name and type, so that "alice
coffee" finds Alice's observation about coffee), so adding to an entity with thousands of observations indexes
only what was added. The tokenizer folds case and strips accents
(`remove_diacritics 2`, SQLite 3.27+); prefix indexes make short prefix queries cheap. Timestamps are ISO 8601
UTC strings, which sort as text. Each project row counts its entities, observations and relations (kept by
triggers too), so totals cost nothing at any size; observations and relations carry their project for that.
Since version 2 it also counts `changes`: every row of the project's graph inserted, updated or deleted adds one,
so a server can tell whether this project's graph changed since it last looked (another process's commit to
another project, or to the /memories files, leaves it alone).
"""

from __future__ import annotations

from typing import Final

TOKENIZER: Final = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'"

VERSION_1: Final = (
    """CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        entities INTEGER NOT NULL DEFAULT 0,
        observations INTEGER NOT NULL DEFAULT 0,
        relations INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (project_id, name)
    )""",
    "CREATE INDEX entities_by_update ON entities (project_id, updated_at)",
    """CREATE TABLE observations (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
        content TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (entity_id, content)
    )""",
    """CREATE TABLE relations (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        from_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
        to_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
        relation_type TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (from_id, to_id, relation_type)
    )""",
    "CREATE INDEX relations_by_target ON relations (to_id)",
    """CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (project_id, path)
    )""",
    f"CREATE VIRTUAL TABLE entity_index USING fts5(name, entity_type, {TOKENIZER})",
    f"CREATE VIRTUAL TABLE observation_index USING fts5(content, tags, entity, entity_type, {TOKENIZER})",
    """CREATE TRIGGER entity_added AFTER INSERT ON entities BEGIN
        INSERT INTO entity_index (rowid, name, entity_type) VALUES (new.id, new.name, new.entity_type);
        UPDATE projects SET entities = entities + 1 WHERE id = new.project_id;
    END""",
    """CREATE TRIGGER entity_renamed AFTER UPDATE OF name, entity_type ON entities BEGIN
        UPDATE entity_index SET name = new.name, entity_type = new.entity_type WHERE rowid = new.id;
        UPDATE observation_index SET entity = new.name, entity_type = new.entity_type
            WHERE rowid IN (SELECT id FROM observations WHERE entity_id = new.id);
    END""",
    """CREATE TRIGGER entity_removed AFTER DELETE ON entities BEGIN
        DELETE FROM entity_index WHERE rowid = old.id;
        UPDATE projects SET entities = entities - 1 WHERE id = old.project_id;
    END""",
    """CREATE TRIGGER observation_added AFTER INSERT ON observations BEGIN
        INSERT INTO observation_index (rowid, content, tags, entity, entity_type)
            SELECT new.id, new.content, new.tags, name, entity_type FROM entities WHERE id = new.entity_id;
        UPDATE projects SET observations = observations + 1 WHERE id = new.project_id;
    END""",
    """CREATE TRIGGER observation_retagged AFTER UPDATE OF tags ON observations BEGIN
        UPDATE observation_index SET tags = new.tags WHERE rowid = new.id;
    END""",
    """CREATE TRIGGER observation_removed AFTER DELETE ON observations BEGIN
        DELETE FROM observation_index WHERE rowid = old.id;
        UPDATE projects SET observations = observations - 1 WHERE id = old.project_id;
    END""",
    """CREATE TRIGGER relation_added AFTER INSERT ON relations BEGIN
        UPDATE projects SET relations = relations + 1 WHERE id = new.project_id;
    END""",
    """CREATE TRIGGER relation_removed AFTER DELETE ON relations BEGIN
        UPDATE projects SET relations = relations - 1 WHERE id = old.project_id;
    END""",
)


def _counting(name: str, event: str, table: str, row: str, count: str = "") -> str:
    """A trigger that keeps the project's counters: `count` if given, and `changes` on every row event."""
    counters = f"{count}, changes = changes + 1" if count else "changes = changes + 1"
    return f"""CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN
        UPDATE projects SET {counters} WHERE id = {row}.project_id;
    END"""


VERSION_2: Final = (
    "ALTER TABLE projects ADD COLUMN changes INTEGER NOT NULL DEFAULT 0",
    # Version 1's triggers again without their counting, which moves into one trigger per table and event below.
    "DROP TRIGGER entity_added",
    """CREATE TRIGGER entity_added AFTER INSERT ON entities BEGIN
        INSERT INTO entity_index (rowid, name, entity_type) VALUES (new.id, new.name, new.entity_type);
    END""",
    "DROP TRIGGER entity_removed",
    """CREATE TRIGGER entity_removed AFTER DELETE ON entities BEGIN
        DELETE FROM entity_index WHERE rowid = old.id;
    END""",
    "DROP TRIGGER observation_added",
    """CREATE TRIGGER observation_added AFTER INSERT ON observations BEGIN
        INSERT INTO observation_index (rowid, content, tags, entity, entity_type)
            SELECT new.id, new.content, new.tags, name, entity_type FROM entities WHERE id = new.entity_id;
    END""",
    "DROP TRIGGER observation_removed",
    """CREATE TRIGGER observation_removed AFTER DELETE ON observations BEGIN
        DELETE FROM observation_index WHERE rowid = old.id;
    END""",
    "DROP TRIGGER relation_added",
    "DROP TRIGGER relation_removed",
    _counting("entity_counted", "INSERT", "entities", "new", "entities = entities + 1"),
    _counting("entity_uncounted", "DELETE", "entities", "old", "entities = entities - 1"),
    _counting("entity_changed", "UPDATE", "entities", "new"),
    _counting("observation_counted", "INSERT", "observations", "new", "observations = observations + 1"),
    _counting("observation_uncounted", "DELETE", "observations", "old", "observations = observations - 1"),
    _counting("observation_changed", "UPDATE", "observations", "new"),
    _counting("relation_counted", "INSERT", "relations", "new", "relations = relations + 1"),
    _counting("relation_uncounted", "DELETE", "relations", "old", "relations = relations - 1"),
    _counting("relation_changed", "UPDATE", "relations", "new"),
)

# MIGRATIONS[n] takes a store from version n to n + 1.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (VERSION_1, VERSION_2)
LATEST: Final = len(MIGRATIONS)
