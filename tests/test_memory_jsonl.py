"""Import and export of the reference server's JSONL: its own file, bad lines, importing twice, round trips, the
CLI commands, and the reference reading what we export."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from deskmcp.servers.memory import api, jsonl
from hostpipes import ROOT, deskmcp_command, host_env, reference_server
from memory_helpers import entity, new_store, relation

# Written by @modelcontextprotocol/server-memory 2026.8.31 through its tools (create_entities, create_relations with
# one end missing, which it allows, add_observations), as it saves it: no newline at the end.
REFERENCE_FILE = ROOT / "tests" / "data" / "reference-memory.jsonl"


@pytest.fixture
def store(tmp_path):
    store = new_store(tmp_path)
    yield store
    store.close()


def import_bytes(store, data: bytes) -> jsonl.ImportReport:
    return jsonl.import_file(store, io.BytesIO(data))


def export(store, *, timestamps: bool = True) -> list[dict]:
    return [json.loads(line) for line in jsonl.export_lines(store, timestamps=timestamps)]


def test_the_reference_servers_file_comes_in_whole(store):
    report = import_bytes(store, REFERENCE_FILE.read_bytes())
    assert (report.entities, report.observations, report.relations) == (3, 7, 3)
    assert report.problems == [
        "line 7: relation 'default_user' mentions 'Nobody Yet' skipped: no entity named 'Nobody Yet'"
    ]
    original = REFERENCE_FILE.read_text(encoding="utf-8").split("\n")
    exported = list(jsonl.export_lines(store, timestamps=False))
    assert exported == original[:6]  # byte for byte, in order; only the relation to nothing is missing
    user = api.open_nodes(store, ["default_user"]).structured
    assert user["entities"][0]["observations"][1] == "Lives in Zürich"
    assert api.search_nodes(store, "rontgen").structured["entities"][0]["name"] == "Project Röntgen"


def test_importing_twice_adds_nothing_twice(store):
    import_bytes(store, REFERENCE_FILE.read_bytes())
    before = export(store)
    again = import_bytes(store, REFERENCE_FILE.read_bytes())
    assert (again.entities, again.observations, again.relations, again.unchanged) == (0, 0, 0, 6)
    assert export(store) == before


def test_an_entity_that_exists_gains_only_the_observations_it_lacks(store):
    api.create_entities(store, [entity("A", "person", "known")])
    report = import_bytes(store, b'{"type":"entity","name":"A","entityType":"robot","observations":["known","new"]}\n')
    assert (report.entities, report.observations) == (0, 1)
    assert report.problems == ["line 1: 'A' exists with type 'person'; kept that type"]
    assert api.open_nodes(store, ["A"]).structured["entities"] == [entity("A", "person", "known", "new")]


def test_bad_lines_are_reported_by_number_and_skipped(store):
    lines = [
        b'\xef\xbb\xbf{"type":"entity","name":"Good","entityType":"t","observations":["ok"]}',  # a BOM
        b'{"type":"entity","name":"Broken",',
        b"",
        b"[1, 2]",
        b'{"type":"node","name":"X"}',
        b'{"type":"entity","name":"","entityType":"t","observations":[]}',
        b'{"type":"entity","name":"NoType","observations":[]}',
        b'{"type":"entity","name":"Long","entityType":"t","observations":["ok", "' + b"z" * 20_001 + b'"]}',
        b'{"type":"entity","name":"Bad\xff","entityType":"t","observations":[]}',
        b'{"type":"relation","from":"Good","to":"Good"}',
        b'{"type":"relation","from":"Good","to":"Later","relationType":"before"}\r',
        b'{"type":"entity","name":"Later","entityType":"t","observations":[],"createdAt":"last week"}',
        b"   ",
        b'{"type":"entity","name":"Ancient","entityType":"t","observations":[],"updatedAt":"0001-01-01T00:00+01:00"}',
    ]
    report = import_bytes(store, b"\n".join(lines))
    assert report.problems == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 34 (char 33))",
        "line 4: not a JSON object",
        "line 5: type 'node' is neither 'entity' nor 'relation'",
        "line 6: entity skipped: name is empty; give it some text",
        "line 7: entity skipped: entityType must be a string, got null",
        "line 8: observations[1] is 20,001 characters long; the limit is 20,000; "
        "that observation of 'Long' was skipped",
        "line 9: not UTF-8 text",
        "line 10: relation skipped: relationType must be a string, got null",
        "line 12: createdAt 'last week' is not an ISO 8601 time; the import time is used",
        "line 14: updatedAt '0001-01-01T00:00+01:00' is not an ISO 8601 time; the import time is used",
    ]
    assert [e["name"] for e in api.read_graph(store).structured["entities"]] == ["Good", "Long", "Later", "Ancient"]
    assert api.read_graph(store).structured["relations"] == [relation("Good", "Later", "before")]  # before its end


def test_timestamps_and_tags_round_trip(store, tmp_path):
    api.create_entities(store, [entity("A", "t", "one"), entity("B")])
    api.save_memory(store, "tagged", entity="A", tags=["x", "y"])
    api.create_relations(store, [relation("A", "B")])
    first = export(store)
    assert first[0]["observationsCreatedAt"][0] == first[0]["createdAt"]
    assert first[0]["observationsTags"] == [[], ["x", "y"]]
    assert "createdAt" in first[2]
    other = new_store(tmp_path / "other")
    import_bytes(other, "\n".join(json.dumps(line) for line in first).encode())
    assert export(other) == first
    assert api.search_memory(other, "y").structured["memories"][0]["tags"] == ["x", "y"]
    other.close()


def test_export_to_a_file_replaces_it_whole(store, tmp_path):
    api.create_entities(store, [entity("A", "t", "one")])
    target = tmp_path / "out.jsonl"
    target.write_text("old content")
    assert jsonl.export_file(store, target) == 1
    assert json.loads(target.read_text())["name"] == "A"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []  # no temp file left


def test_the_cli_imports_and_exports(tmp_path):
    env = host_env({"DESKMCP_MEMORY_PATH": str(tmp_path / "store.sqlite3"), "DESKMCP_MEMORY_PROJECT": "cli"})

    def memory(*arguments: str, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            deskmcp_command("memory", *arguments), capture_output=True, text=text, env=env, timeout=60
        )

    imported = memory("import", str(REFERENCE_FILE))
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 new entities, 7 observations and 3 relations" in imported.stdout
    assert "line 7: relation 'default_user' mentions 'Nobody Yet' skipped" in imported.stderr
    exported = memory("export", "--no-timestamps", text=False)
    assert exported.returncode == 0
    assert exported.stdout.decode("utf-8").split("\n")[:6] == REFERENCE_FILE.read_text(encoding="utf-8").split("\n")[:6]
    (tmp_path / "read-only").touch()
    with open(tmp_path / "read-only", "rb") as unwritable:
        refused = subprocess.run(
            deskmcp_command("memory", "export"),
            stdout=unwritable,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    assert refused.returncode == 1 and "cannot write standard output: Bad file descriptor" in refused.stderr
    to_file = memory("export", str(tmp_path / "copy.jsonl"))
    assert to_file.returncode == 0 and "6 lines written" in to_file.stderr
    missing = memory("import", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    usage = memory("import")
    assert usage.returncode == 2 and "usage: deskmcp memory import" in usage.stderr


def test_the_reference_server_reads_our_export(store, tmp_path):
    from bench.harness import Session

    api.create_entities(store, [entity("Zoë", "person", "likes tea", "line\nbreak"), entity("Acme")])
    api.create_relations(store, [relation("Zoë", "Acme", "works_at")])
    path = tmp_path / "exported.jsonl"
    jsonl.export_file(store, path)  # with our extra timestamp fields
    session = Session(reference_server("memory"), env={"MEMORY_FILE_PATH": str(path)})
    try:
        session.initialize()
        graph = session.request("tools/call", {"name": "read_graph", "arguments": {}})["result"]["structuredContent"]
    finally:
        session.close()
    assert graph == api.read_graph(store).structured


def test_the_hint_for_a_reference_file(store, tmp_path):
    reference = tmp_path / "memory.jsonl"
    reference.write_text("")
    assert jsonl.reference_hint(store, {}) is None
    hint = jsonl.reference_hint(store, {"MEMORY_FILE_PATH": str(reference)})
    assert f"deskmcp memory import {reference}" in hint
    assert "inside its npm package" in jsonl.reference_hint(store, {"MEMORY_FILE_PATH": "memory.jsonl"})
    assert jsonl.reference_hint(store, {"MEMORY_FILE_PATH": str(tmp_path / "absent.jsonl")}) is None
    api.create_entities(store, [entity("A")])
    assert jsonl.reference_hint(store, {"MEMORY_FILE_PATH": str(reference)}) is None
