"""Memory server: a knowledge graph on embedded SQLite that never loses a write and stays small in context.

`deskmcp memory`; `deskmcp memory import FILE.jsonl`, `deskmcp memory export [FILE]`. Drop-in for the reference
`@modelcontextprotocol/server-memory` (same nine tools, arguments and result shapes) plus bounded reads, ranked
search, rename/merge, `save_memory`/`search_memory` and Claude's `memory` tool; resources with subscriptions that
hear other processes' writes too, and prompts. Modules: `store` (file, schema,
transactions), `schema`, `inputs` (checks and limits), `errors`, `graph` (entities, observations, relations),
`hygiene` (rename, merge), `search`, `pages` (budgets and cursors), `api` (tool- and resource-facing replies),
`notes` (the /memories folder), `jsonl` (import and export), `watch` (noticing commits), `commands` (the CLI); the
thin MCP registration: `tools`, `resources` (with the subscriptions' watcher) and `prompts`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from deskmcp.servers.memory.store import DEFAULT_PROJECT, Store, default_path, parse_path, parse_project
from deskmcp.shared.app import Config, ServerSpec, Service
from deskmcp.shared.settings import Setting, whole_number

SETTINGS: Final = (
    Setting(
        "PATH",
        "the store's SQLite file (default: memory.sqlite3 in the user data folder, e.g. ~/Library/Application "
        "Support/deskmcp); a relative path is taken from the server's working directory",
        parser=parse_path,
        example="/Users/me/memory.sqlite3",
    ),
    Setting(
        "PROJECT",
        "which graph to use: projects in one store are separate, and nothing is seen across them",
        parser=parse_project,
        default=DEFAULT_PROJECT,
        example="work",
    ),
    Setting(
        "BUSY_TIMEOUT_MS",
        "how long a write waits for another process that is writing to the store (0-600,000 ms)",
        parser=whole_number(0, 600_000),
        default=5000,
        example="5000",
    ),
    Setting(
        "MAX_SIZE_MB",
        "the most megabytes the store file may grow to; a write beyond it is refused (default: no limit)",
        parser=whole_number(1),
        example="1024",
    ),
)


def open_store(settings: Mapping[str, Any]) -> Store:
    """The `Store` the settings describe (opened on first use)."""
    return Store(
        settings["PATH"] or default_path(),
        settings["PROJECT"],
        busy_timeout_ms=settings["BUSY_TIMEOUT_MS"],
        max_size_mb=settings["MAX_SIZE_MB"],
    )


INSTRUCTIONS: Final = (
    "A persistent knowledge graph. Look things up with search_nodes or open_nodes before answering from memory; "
    "record durable facts with create_entities, create_relations and add_observations (or save_memory). Reads come "
    "in pages: follow nextCursor only when you need more."
)


def create(config: Config) -> Service:
    from deskmcp.servers.memory.jsonl import reference_hint
    from deskmcp.servers.memory.prompts import memory_prompts
    from deskmcp.servers.memory.resources import memory_resources
    from deskmcp.servers.memory.tools import build_tools

    store = open_store(config.settings)
    if hint := reference_hint(store, os.environ):
        print(hint, file=sys.stderr)
    resources, watcher = memory_resources(store)
    store.on_commit = watcher.changes.touched

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            with watcher.changes:
                yield
        finally:
            store.close()

    return Service(
        tools=build_tools(store),
        resources=resources,
        prompts=memory_prompts(store),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
    )


def describe(config: Config) -> str:
    from deskmcp.servers.memory.api import store_info
    from deskmcp.servers.memory.errors import MemoryServerError

    store = open_store(config.settings)
    if not store.path.exists():
        return f"store: {store.path} (not created yet; the server makes it on first use)"
    try:
        info = store_info(store)
    except MemoryServerError as exc:
        return f"store: {store.path} (cannot be read: {exc})"
    finally:
        store.close()
    return (
        f"store: {info['path']} (schema {info['schemaVersion']}, SQLite {info['sqliteVersion']}); project "
        f"{info['project']!r}: {info['entities']:,} entities, {info['relations']:,} relations, "
        f"{info['memoryFiles']:,} memory files; projects: {', '.join(info['projects']) or 'none yet'}"
    )


def _command(name: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        from deskmcp.servers.memory import commands

        return getattr(commands, name)(argv)

    return run


SPEC = ServerSpec(
    name="memory",
    description="A persistent knowledge graph on SQLite: drop-in for the reference memory server, safe with "
    "several clients at once, with ranked search and bounded replies.",
    create=create,
    settings=SETTINGS,
    describe=describe,
    commands={
        "import": ("import FILE.jsonl: bring in the reference server's JSONL memory", _command("import_main")),
        "export": ("export [FILE]: write this project as JSONL (stdout without FILE)", _command("export_main")),
    },
)
