"""The reference server's JSONL file, in and out.

One JSON object per line: `{"type":"entity","name","entityType","observations"}` or
`{"type":"relation","from","to","relationType"}`. Export adds optional fields the reference ignores when it
reads the file (`createdAt`, `updatedAt`, `observationsCreatedAt`, `observationsTags` on entities, `createdAt`
on relations), so a graph goes back to the reference intact and comes back here with its timestamps;
`timestamps=False` writes the reference's fields only.

Import never stops at a bad line: each problem is reported with its line number and the line (or the one bad
item in it) is skipped. Importing twice adds nothing twice: an entity that exists gains only the observations it
lacks, and a relation that exists is skipped. Entities are imported before relations, so a relation may come
before its ends in the file. Work is committed every `BATCH` lines, so servers using the store are not held up
for long; a failed import can simply be run again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from deskmcp.servers.memory import graph, inputs
from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store, Tx, stamp

LINE_MAX: Final = 16 * 1024 * 1024
BATCH: Final = 500
PROBLEMS_KEPT: Final = 1_000


@dataclass(slots=True)
class ImportReport:
    entities: int = 0  # made
    observations: int = 0  # added, to new or existing entities
    relations: int = 0  # made
    unchanged: int = 0  # lines that added nothing (already in the store)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def problem(self, line: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(f"line {line}: {message}")

    def summary(self) -> str:
        text = (
            f"imported {self.entities:,} new entities, {self.observations:,} observations and "
            f"{self.relations:,} relations; {self.unchanged:,} lines were already in the store"
        )
        if self.problem_count:
            text += f"; {self.problem_count:,} problems (skipped)"
        return text


@dataclass(frozen=True, slots=True)
class _Entity:
    line: int
    entity: graph.NewEntity
    created: str | None
    updated: str | None
    observation_times: tuple[str | None, ...]
    observation_tags: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class _Relation:
    line: int
    key: graph.RelationKey
    created: str | None


# --- reading --------------------------------------------------------------------------------------------------


def read_lines(handle: IO[bytes], report: ImportReport) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each non-blank line; unreadable lines are reported, not returned."""
    number = 0
    while True:
        raw = handle.readline(LINE_MAX + 1)
        if not raw:
            return
        number += 1
        if len(raw) > LINE_MAX and not raw.endswith(b"\n"):
            while (rest := handle.readline(1024 * 1024)) and not rest.endswith(b"\n"):
                pass
            report.problem(number, f"longer than {LINE_MAX // (1024 * 1024)} MiB")
            continue
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            report.problem(number, "not UTF-8 text")
            continue
        if not text:
            continue
        try:
            yield number, json.loads(text)
        except (ValueError, RecursionError) as exc:
            report.problem(number, f"not valid JSON ({exc})")


def _time(value: Any, what: str, line: int, report: ImportReport) -> str | None:
    if value is None:
        return None
    try:
        return stamp(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: a time next to year 1 or 9999 that UTC moves past it
        report.problem(line, f"{what} {str(value)[:40]!r} is not an ISO 8601 time; the import time is used")
        return None


def _parallel(item: dict[str, Any], key: str, length: int, line: int, report: ImportReport) -> list[Any]:
    values = item.get(key)
    if values is None:
        return [None] * length
    if not isinstance(values, list) or len(values) != length:
        report.problem(line, f"{key} does not match observations one for one; ignored")
        return [None] * length
    return values


def _entity(line: int, item: dict[str, Any], report: ImportReport) -> _Entity | None:
    try:
        name = inputs.name(item.get("name"), "name")
        entity_type = inputs.text(item.get("entityType"), "entityType", inputs.TYPE_MAX)
        listed = inputs.items(item.get("observations", []), "observations")
    except MemoryServerError as exc:
        report.problem(line, f"entity skipped: {exc}")
        return None
    times = _parallel(item, "observationsCreatedAt", len(listed), line, report)
    tag_lists = _parallel(item, "observationsTags", len(listed), line, report)
    kept: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for index, text in enumerate(listed):
        try:
            text = inputs.text(text, f"observations[{index}]", inputs.OBSERVATION_MAX)
            tags = tuple(inputs.tags(tag_lists[index], f"observationsTags[{index}]"))
        except MemoryServerError as exc:
            report.problem(line, f"{exc}; that observation of {name!r} was skipped")
            continue
        kept.setdefault(text, (_time(times[index], "observationsCreatedAt", line, report), tags))
    return _Entity(
        line,
        graph.NewEntity(name, entity_type, tuple(kept)),
        _time(item.get("createdAt"), "createdAt", line, report),
        _time(item.get("updatedAt"), "updatedAt", line, report),
        tuple(time for time, _ in kept.values()),
        tuple(tags for _, tags in kept.values()),
    )


def _relation(line: int, item: dict[str, Any], report: ImportReport) -> _Relation | None:
    try:
        key = graph.RelationKey(
            inputs.name(item.get("from"), "from"),
            inputs.name(item.get("to"), "to"),
            inputs.text(item.get("relationType"), "relationType", inputs.TYPE_MAX),
        )
    except MemoryServerError as exc:
        report.problem(line, f"relation skipped: {exc}")
        return None
    return _Relation(line, key, _time(item.get("createdAt"), "createdAt", line, report))


# --- writing to the store -------------------------------------------------------------------------------------


def _store_entity(tx: Tx, record: _Entity, report: ImportReport) -> None:
    entity = record.entity
    existing = tx.conn.execute(
        "SELECT id, entity_type FROM entities WHERE project_id = ? AND name = ?", (tx.project_id, entity.name)
    ).fetchone()
    if existing is None:
        entity_id = graph.insert_entity(
            tx, graph.NewEntity(entity.name, entity.entity_type, ()), record.created, record.updated
        )
        report.entities += 1
    else:
        entity_id = existing[0]
        if existing[1] != entity.entity_type:
            report.problem(record.line, f"{entity.name!r} exists with type {existing[1]!r}; kept that type")
    added = 0
    for text, created, tags in zip(entity.observations, record.observation_times, record.observation_tags, strict=True):
        added += graph.insert_observation(tx, entity_id, text, tags, created or record.created)
    report.observations += added
    if existing is not None and added:
        tx.conn.execute("UPDATE entities SET updated_at = ? WHERE id = ?", (tx.now, entity_id))
    if existing is not None and not added:
        report.unchanged += 1


def _store_relation(tx: Tx, record: _Relation, report: ImportReport) -> None:
    key = record.key
    ids = graph.ids_by_name(tx, [key.source, key.target])
    missing = [name for name in (key.source, key.target) if name not in ids]
    if missing:
        report.problem(record.line, f"relation {graph.describe_relation(key)} skipped: no entity named {missing[0]!r}")
        return
    made = graph.insert_relation(tx, ids[key.source], ids[key.target], key.relation_type, record.created)
    report.relations += made
    report.unchanged += not made


def import_file(store: Store, handle: IO[bytes]) -> ImportReport:
    """Import the reference server's JSONL from a binary file; see the module docstring for the rules."""
    report = ImportReport()
    relations: list[_Relation] = []
    pending: list[_Entity] = []
    for line, item in read_lines(handle, report):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "entity":
            if (entity := _entity(line, item, report)) is not None:
                pending.append(entity)
        elif kind == "relation":
            if (relation := _relation(line, item, report)) is not None:
                relations.append(relation)
        elif isinstance(item, dict):
            report.problem(line, f"type {str(kind)[:40]!r} is neither 'entity' nor 'relation'")
        else:
            report.problem(line, "not a JSON object")
        if len(pending) >= BATCH:
            _flush(store, pending, _store_entity, report)
    _flush(store, pending, _store_entity, report)
    for start in range(0, len(relations), BATCH):
        _flush(store, relations[start : start + BATCH], _store_relation, report)
    return report


def _flush(
    store: Store, records: list[Any], apply: Callable[[Tx, Any, ImportReport], None], report: ImportReport
) -> None:
    if records:
        with store.write() as tx:
            for record in records:
                apply(tx, record, report)
        records.clear()


# --- export ---------------------------------------------------------------------------------------------------


def export_lines(store: Store, *, timestamps: bool = True) -> Iterator[str]:
    """The project as JSONL lines (no newlines), entities oldest first, then relations; one consistent snapshot."""
    with store.read() as tx:
        first = 0
        while ids := graph.ids_from(tx, first, BATCH):
            entities = graph.load_entities(tx, ids)
            yield from (_entity_line(entities[entity_id], timestamps) for entity_id in ids)
            first = ids[-1] + 1
        rows = tx.conn.execute(
            "SELECT f.name, t.name, r.relation_type, r.created_at FROM relations r JOIN entities f ON f.id = r.from_id "
            "JOIN entities t ON t.id = r.to_id WHERE r.project_id = ? ORDER BY r.id",
            (tx.project_id,),
        )
        for source, target, relation_type, created in rows:
            line = {"type": "relation", "from": source, "to": target, "relationType": relation_type}
            yield _dump({**line, "createdAt": created} if timestamps else line)


def _entity_line(entity: graph.Entity, timestamps: bool) -> str:
    line: dict[str, Any] = {"type": "entity", **graph.reference_entity(entity)}
    if timestamps:
        line["createdAt"] = entity.created_at
        line["updatedAt"] = entity.updated_at
        line["observationsCreatedAt"] = [item.created_at for item in entity.observations]
        if any(item.tags for item in entity.observations):
            line["observationsTags"] = [list(item.tags) for item in entity.observations]
    return _dump(line)


def _dump(value: dict[str, Any]) -> str:
    """One line as JavaScript's JSON.stringify writes it (no spaces, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def export_file(store: Store, path: Path, *, timestamps: bool = True) -> int:
    """Write the project to `path` through a temporary file renamed over it, so an interrupted export leaves the
    old file whole. Returns the number of lines."""
    path = path.resolve()
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="\n", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            count = write_lines(store, handle, timestamps=timestamps)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
    return count


def write_lines(store: Store, handle: IO[str], *, timestamps: bool = True) -> int:
    count = 0
    for line in export_lines(store, timestamps=timestamps):
        handle.write(line + "\n")
        count += 1
    return count


# --- the reference's MEMORY_FILE_PATH -------------------------------------------------------------------------


def reference_hint(store: Store, environ: Mapping[str, str]) -> str | None:
    """What to say on stderr when the reference's `MEMORY_FILE_PATH` is set and this project is still empty."""
    raw = environ.get("MEMORY_FILE_PATH", "").strip()
    if not raw:
        return None
    try:
        info = store.info()
    except MemoryServerError:
        return None
    if info.entities or info.relations:
        return None
    path = Path(raw).expanduser()
    where = f"this memory store ({store.path}, project {store.project!r}) is empty"
    if not path.is_absolute():
        return (
            f"deskmcp memory: MEMORY_FILE_PATH is set to the relative path {raw!r} and {where}. The reference server "
            "resolves a relative path inside its npm package; find that file and run: deskmcp memory import FILE"
        )
    if not path.exists():
        return None
    return f"deskmcp memory: MEMORY_FILE_PATH is set and {where}. To bring that memory here, run:\n" + (
        f"  deskmcp memory import {path}"
    )
