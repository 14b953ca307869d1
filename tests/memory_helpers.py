"""Shared pieces of the memory server's tests: a store in a temp folder, entities to put in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deskmcp.servers.memory.store import Store


def new_store(tmp_path: Path, project: str = "default", **options: Any) -> Store:
    return Store(tmp_path / "memory.sqlite3", project, **options)


def store_env(path: Path, **settings: str) -> dict[str, str]:
    """The environment of a memory server on the store at `path` (`busy_timeout_ms="200"` and so on)."""
    return {"DESKMCP_MEMORY_PATH": str(path), **{f"DESKMCP_MEMORY_{k.upper()}": v for k, v in settings.items()}}


def entity(name: str, entity_type: str = "thing", *observations: str) -> dict[str, Any]:
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def relation(source: str, target: str, relation_type: str = "knows") -> dict[str, str]:
    return {"from": source, "to": target, "relationType": relation_type}


def reference_text(value: Any) -> str:
    """What the reference's `JSON.stringify(value, null, 2)` writes."""
    return json.dumps(value, indent=2, ensure_ascii=False)
