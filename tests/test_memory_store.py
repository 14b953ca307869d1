"""The memory store on disk: where it lives, its schema, and what happens when the file is locked, read-only,
damaged, full, or not ours: a clear error, nothing half-written, and the store works again once fixed."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deskmcp.servers.memory import api, jsonl, schema, store
from deskmcp.servers.memory.errors import StoreUnavailable
from deskmcp.servers.memory.watch import ChangeWatcher
from memory_helpers import entity, new_store


def count(memory: store.Store) -> int:
    return api.store_info(memory)["entities"]


def test_sqlite_has_what_the_store_needs():
    assert sqlite3.sqlite_version_info >= store.MIN_SQLITE
    sqlite3.connect(":memory:").execute(
        "CREATE VIRTUAL TABLE t USING fts5(a, tokenize='unicode61 remove_diacritics 2')"
    )


def test_a_new_store_is_private_wal_and_at_the_latest_schema(tmp_path):
    memory = store.Store(tmp_path / "deep" / "folder" / "memory.sqlite3")
    api.create_entities(memory, [entity("A")])
    memory.close()
    path = tmp_path / "deep" / "folder" / "memory.sqlite3"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_path_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store.parse_path("mem.db") == tmp_path / "mem.db"
    assert store.parse_path("~/m.db") == Path.home() / "m.db"
    assert store.parse_path(str(tmp_path / "abs.db")) == tmp_path / "abs.db"
    assert store.default_path().name == store.FILE_NAME
    assert "deskmcp" in store.default_path().parts
    for bad in ("", "a\nb", "x" * 101):
        with pytest.raises(ValueError, match="project name"):
            store.parse_project(bad)


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "memory.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreUnavailable, match="newer deskmcp"):
        api.read_graph(store.Store(path))
    assert path.read_bytes() == before


def test_a_version_1_store_migrates_with_its_data_and_counts(tmp_path):
    path = tmp_path / "memory.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema.VERSION_1:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO projects (name, created_at) VALUES ('default', '2026-01-01T00:00:00.000Z')")
    for name in ("A", "B"):
        conn.execute(
            "INSERT INTO entities (project_id, name, entity_type, created_at, updated_at) "
            f"VALUES (1, '{name}', 't', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')"
        )
    conn.execute("INSERT INTO observations (project_id, entity_id, content, created_at) VALUES (1, 1, 'o', 'x')")
    conn.execute(
        "INSERT INTO relations (project_id, from_id, to_id, relation_type, created_at) VALUES (1, 1, 2, 'r', 'x')"
    )
    conn.close()
    memory = store.Store(path)
    assert (count(memory), api.store_info(memory)["schemaVersion"], memory.changes()) == (2, schema.LATEST, 0)
    assert api.search_nodes(memory, "A").structured["entities"][0]["observations"] == ["o"]
    api.delete_entities(memory, ["B"])  # the counting triggers of version 2: the relation goes with it
    info = api.store_info(memory)
    assert (info["entities"], info["observations"], info["relations"]) == (1, 1, 0)
    assert memory.changes() == 2  # the entity and the relation


def test_the_change_counter_moves_with_this_projects_graph_only(tmp_path):
    memory, other = new_store(tmp_path), new_store(tmp_path, "other")
    assert memory.changes() == 0  # no project row yet
    api.create_entities(memory, [entity("A", "t", "o1")])
    seen = memory.changes()
    assert seen > 0
    for write in (
        lambda: api.add_observations(memory, [{"entityName": "A", "contents": ["o2"]}]),
        lambda: api.rename_entity(memory, "A", "B"),
        lambda: api.save_memory(memory, "o2", "B", ["tag"]),  # a tag added to what is there
        lambda: api.create_entities(memory, [entity("C")]),
        lambda: api.create_relations(memory, [{"from": "B", "to": "C", "relationType": "knows"}]),
        lambda: api.delete_relations(memory, [{"from": "B", "to": "C", "relationType": "knows"}]),
        lambda: api.delete_observations(memory, [{"entityName": "B", "observations": ["o1"]}]),
    ):
        write()
        assert memory.changes() > seen
        seen = memory.changes()
    api.create_entities(other, [entity("A")])
    api.memory(memory, "create", path="/memories/a.md", file_text="x")
    api.delete_entities(memory, ["nobody"])
    assert memory.changes() == seen


def test_on_commit_follows_each_write_of_this_store_and_no_read(tmp_path):
    memory = new_store(tmp_path)
    commits = []
    memory.on_commit = lambda: commits.append(1)
    api.create_entities(memory, [entity("A")])
    api.read_graph(memory)
    api.search_nodes(memory, "A")
    assert len(commits) == 1
    with pytest.raises(StoreUnavailable):  # a refused write commits nothing
        with memory.write():
            raise StoreUnavailable("no")
    assert len(commits) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"type":"entity","name":"A","entityType":"t","observations":[]}\n', "deskmcp memory import"),
        (b"just some notes\n", "not a SQLite database"),
    ],
)
def test_a_file_that_is_not_sqlite_is_never_written_to(tmp_path, content, message):
    path = tmp_path / "memory.jsonl"
    path.write_bytes(content)
    memory = store.Store(path)
    for call in (lambda: api.read_graph(memory), lambda: api.create_entities(memory, [entity("B")])):
        with pytest.raises(StoreUnavailable, match=message):
            call()
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory.jsonl"]


def test_a_folder_is_not_a_store(tmp_path):
    with pytest.raises(StoreUnavailable, match="is a folder"):
        api.read_graph(store.Store(tmp_path))


def test_a_locked_store_is_a_clear_error_then_works_again(tmp_path):
    memory = new_store(tmp_path, busy_timeout_ms=100)
    api.create_entities(memory, [entity("before")])
    other = sqlite3.connect(memory.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(StoreUnavailable, match=r"busy: another process held its write lock for over 0.1 s"):
            api.create_entities(memory, [entity("blocked", "t", "x")])
        assert count(memory) == 1  # reads go on meanwhile (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    api.create_entities(memory, [entity("after")])
    assert [e["name"] for e in api.read_graph(memory).structured["entities"]] == ["before", "after"]


@contextlib.contextmanager
def read_only(path: Path):
    """Make `path` read-only even for root (chattr +i), or skip."""
    if os.name != "posix":
        pytest.skip("read-only files are simulated with POSIX permissions")
    if os.geteuid() != 0:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        try:
            yield
        finally:
            path.parent.chmod(0o755)
            path.chmod(0o644)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_store_reads_and_refuses_writes_clearly(tmp_path):
    memory = new_store(tmp_path)
    api.create_entities(memory, [entity("A", "t", "kept")])
    memory.close()
    with read_only(memory.path):
        assert api.read_graph(memory).structured["entities"] == [entity("A", "t", "kept")]
        with pytest.raises(StoreUnavailable, match="is read-only: nothing was saved"):
            api.create_entities(memory, [entity("B")])
        with pytest.raises(StoreUnavailable, match="read-only"):
            api.memory(memory, "create", path="/memories/x.md", file_text="x")
        assert api.search_nodes(memory, "kept").structured["entities"][0]["name"] == "A"
    memory.close()
    api.create_entities(memory, [entity("B")])  # writable again: the same Store recovers
    assert count(memory) == 2


def test_a_damaged_store_is_a_clear_error_and_is_not_touched(tmp_path):
    memory = new_store(tmp_path)
    api.create_entities(memory, [entity(f"e{i}", "t", "x" * 500) for i in range(200)])
    memory.close()
    data = bytearray(memory.path.read_bytes())
    data[4096 * 3 : 4096 * 12] = os.urandom(4096 * 9)  # pages 4-12: b-tree pages of the tables and indexes
    memory.path.write_bytes(bytes(data))
    damaged = memory.path.read_bytes()
    with pytest.raises(StoreUnavailable, match=r"damaged or not a SQLite database .*\.recover"):
        for _ in range(3):
            api.read_graph(memory)
            api.search_nodes(memory, "e1")
            api.create_entities(memory, [entity("new")])
    memory.close()
    assert memory.path.read_bytes() == damaged


def test_a_full_store_refuses_the_write_whole_and_keeps_serving(tmp_path):
    memory = new_store(tmp_path, max_size_mb=1)
    acknowledged = 0
    with pytest.raises(StoreUnavailable, match=r"size limit of 1 MB \(DESKMCP_MEMORY_MAX_SIZE_MB\): nothing was saved"):
        for batch in range(100):
            api.create_entities(memory, [entity(f"e{batch}-{i}", "t", f"{batch} {i} " + "z" * 3000) for i in range(20)])
            acknowledged += 20
    assert 0 < acknowledged == count(memory)  # the failed call left nothing behind
    assert api.search_nodes(memory, "e0-1").structured["entities"]
    api.delete_entities(memory, [f"e0-{i}" for i in range(20)])
    assert count(memory) == acknowledged - 20


def test_the_watcher_sees_other_connections_and_not_its_own(tmp_path):
    memory = new_store(tmp_path)
    api.create_entities(memory, [entity("A")])
    seen = []
    watcher = ChangeWatcher(memory, lambda: seen.append(1), interval=60)
    watcher.poll()
    api.create_entities(memory, [entity("B")])  # this store's own write: `on_commit` reports it
    assert not watcher.poll()
    other = new_store(tmp_path)
    api.create_entities(other, [entity("C")])
    assert watcher.poll() and seen == [1]
    assert not watcher.poll()
    other.close()


def test_the_watcher_thread_calls_back(tmp_path):
    memory = new_store(tmp_path)
    api.create_entities(memory, [entity("A")])
    called = []
    with ChangeWatcher(memory, lambda: called.append(1), interval=0.02):
        code = (
            "import sys; from pathlib import Path; from deskmcp.servers.memory import api, store;"
            "api.save_memory(store.Store(Path(sys.argv[1])), 'from another process')"
        )
        subprocess.run([sys.executable, "-c", code, str(memory.path)], check=True, timeout=60)
        for _ in range(500):
            if called:
                break
            time.sleep(0.01)
    assert called


def test_the_watcher_is_woken_by_touches_and_polls_only_while_active(tmp_path):
    memory = new_store(tmp_path)
    api.create_entities(memory, [entity("A")])
    called, active = [], [False]
    other = new_store(tmp_path)
    with ChangeWatcher(memory, lambda: called.append(1), interval=0.02, active=lambda: active[0]) as watcher:
        api.create_entities(other, [entity("B")])  # nobody wants to know: not looked for
        time.sleep(0.2)
        assert called == []
        watcher.touched()
        time.sleep(0.2)
        assert called == []  # not even a touch while inactive
        active[0] = True
        time.sleep(0.1)  # the baseline
        watcher.touched()
        for _ in range(500):
            if called:
                break
            time.sleep(0.01)
        assert called == [1]
        api.create_entities(other, [entity("C")])
        for _ in range(500):
            if len(called) == 2:
                break
            time.sleep(0.01)
        assert called == [1, 1]
    other.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("database is locked", 5),
        ("attempt to write a readonly database", 8),
        ("database or disk is full", 13),
        ("file is not a database", 26),
        ("database disk image is malformed", 11),
        ("disk I/O error", 10),
        ("unable to open database file", 14),
        ('near "(": syntax error', None),
    ],
)
def test_errors_are_recognised_without_error_codes_as_on_python_3_10(message, code):
    assert store._error_code(sqlite3.OperationalError(message)) == code


def test_the_project_counts_match_the_rows_after_every_kind_of_write(tmp_path):
    work, home = new_store(tmp_path, "work"), new_store(tmp_path, "home")
    for memory in (work, home):
        api.create_entities(memory, [entity(f"e{i}", "t", f"o{i}", "shared") for i in range(10)])
        api.create_relations(
            memory, [{"from": f"e{i}", "to": f"e{(i + 1) % 10}", "relationType": "next"} for i in range(10)]
        )
    api.add_observations(work, [{"entityName": "e1", "contents": ["more", "o1"]}])
    api.delete_observations(work, [{"entityName": "e2", "observations": ["o2", "absent"]}])
    api.delete_relations(work, [{"from": "e3", "to": "e4", "relationType": "next"}])
    api.delete_entities(work, ["e5", "e6"])
    api.merge_entities(work, ["e7", "e8"], "e9")
    api.rename_entity(work, "e0", "zero")
    api.save_memory(work, "remember", tags=["t"])
    jsonl.import_file(work, io.BytesIO(b'{"type":"entity","name":"zero","entityType":"t","observations":["new"]}'))
    conn = sqlite3.connect(work.path)
    for project_id, name in conn.execute("SELECT id, name FROM projects"):
        actual = [
            conn.execute(f"SELECT count(*) FROM {table} WHERE project_id = ?", (project_id,)).fetchone()[0]
            for table in ("entities", "observations", "relations")
        ]
        kept = list(
            conn.execute(
                "SELECT entities, observations, relations FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
        )
        assert kept == actual, name
    conn.close()
    info = api.store_info(work)
    assert (info["entities"], info["relations"]) == (7, 4)  # e5, e6 deleted, e7, e8 merged, Memories made
    work.close()
    home.close()


REGISTRATION = {"__init__.py", "tools.py", "resources.py", "prompts.py"}  # the thin layer that speaks MCP


def test_the_domain_imports_nothing_of_the_protocol_or_the_tool_layer():
    import ast

    from hostpipes import ROOT

    allowed_shared = {"deskmcp.shared.errors", "deskmcp.shared.settings"}
    for path in sorted((ROOT / "servers" / "memory").glob("*.py")):
        if path.name in REGISTRATION:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module == "deskmcp.shared":  # a module of the package
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("mcp", "mcp_types", "pydantic"), (path.name, name)
                if name.startswith("deskmcp.shared"):
                    assert name in allowed_shared, (path.name, name)
