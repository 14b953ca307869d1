"""What clients see of every server's tools, as reviewed files: `tests/snapshots/<server>[-<variant>].tools.json`.

Each snapshot is the `tools/list` of a real server over pipes (names, titles, descriptions, input and output
schemas, annotations), pretty-printed with sorted keys. A change to any of it fails here with a diff; when the
change is intended, regenerate and review the diff like code:

    DESKMCP_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py

The servers and their variants (`--read-only`) come from `server_cases.SERVERS`.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hostpipes import PipeServer, pipe_server
from server_cases import SERVERS, ServerCase

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("DESKMCP_UPDATE_SNAPSHOTS") == "1"
REGENERATE = "DESKMCP_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py"

SNAPSHOT_CASES = [(case, case.name, []) for case in SERVERS] + [
    (case, f"{case.name}-{variant}", flags) for case in SERVERS for variant, flags in case.variants.items()
]


def all_tools(server: PipeServer, *, modern: bool) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    while True:
        page = server.result("tools/list", params, modern=modern)
        tools += page["tools"]
        if not page.get("nextCursor"):
            return tools
        params = {"cursor": page["nextCursor"]}


def rendered(tools: list[dict[str, Any]]) -> str:
    return json.dumps({"tools": tools}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(("case", "name", "flags"), SNAPSHOT_CASES, ids=[name for _, name, _ in SNAPSHOT_CASES])
def test_tools_list_is_the_reviewed_snapshot(case: ServerCase, name: str, flags: list[str], tmp_path: Path) -> None:
    with pipe_server(case.command(tmp_path, *flags), env=case.env(tmp_path)) as server:
        server.initialize()
        text = rendered(all_tools(server, modern=False)).replace(str(tmp_path), "<folder>")
    path = SNAPSHOTS / f"{name}.tools.json"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path.name} does not exist; create it with:\n    {REGENERATE}", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True), f"{path.name} (reviewed)", "tools/list"
        )
        pytest.fail(
            f"tools/list of `deskmcp {' '.join(case.args(Path('<folder>')) + flags)}` is not its reviewed snapshot:\n"
            f"{''.join(diff)}\nIf the change is intended, regenerate and review the diff:\n    {REGENERATE}",
            pytrace=False,
        )


@pytest.mark.parametrize("case", SERVERS, ids=[case.name for case in SERVERS])
def test_the_modern_era_lists_the_same_tools(case: ServerCase, tmp_path: Path) -> None:
    with pipe_server(case.command(tmp_path), env=case.env(tmp_path)) as handshake:
        handshake.initialize()
        expected = all_tools(handshake, modern=False)
    with pipe_server(case.command(tmp_path), env=case.env(tmp_path)) as modern:
        assert all_tools(modern, modern=True) == expected


def test_every_snapshot_file_belongs_to_a_server() -> None:
    known = {f"{name}.tools.json" for _, name, _ in SNAPSHOT_CASES}
    stale = sorted(path.name for path in SNAPSHOTS.glob("*.tools.json") if path.name not in known)
    assert not stale, f"snapshots of no server in server_cases.SERVERS: {stale}; delete them"
