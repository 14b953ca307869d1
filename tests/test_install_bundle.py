"""`deskmcp bundle`: the .mcpb passes the official MCP Bundle CLI's `validate`, and, unpacked by that CLI, its
command starts the server the way Claude Desktop would (`uv run` in the bundle, user_config substituted)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from deskmcp.install import probe, servers
from deskmcp.install.hosts import Platform
from deskmcp.shared import cli
from hostpipes import ROOT, deskmcp_command
from test_install_e2e import uv, uv_environment

MCPB_CLI = ROOT / ".ci" / "mcpb" / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "cli" / "cli.js"


def mcpb(*args: str) -> subprocess.CompletedProcess[str]:
    if not MCPB_CLI.exists():
        if os.environ.get("CI"):
            pytest.fail("the MCP Bundle CLI is not installed; .ci/run installs it")
        pytest.skip("MCP Bundle CLI not installed (run .ci/install-mcpb)")
    return subprocess.run(["node", str(MCPB_CLI), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    made = {}
    for server in cli.SERVERS:
        done = subprocess.run(deskmcp_command("bundle", server, "-o", str(out)), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        made[server] = next(out.glob(f"deskmcp-{server}-*.mcpb"))
    return made


def unpack(bundle: Path, into: Path) -> dict[str, Any]:
    done = mcpb("unpack", str(bundle), str(into))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((into / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("server", sorted(cli.SERVERS))
def test_each_bundle_passes_the_official_validator_and_lists_what_the_server_offers(bundles, server, tmp_path):
    manifest = unpack(bundles[server], tmp_path / "unpacked")
    checked = mcpb("validate", str(tmp_path / "unpacked" / "manifest.json"))
    assert checked.returncode == 0 and "passes" in checked.stdout, checked.stdout + checked.stderr
    assert manifest["manifest_version"] == "0.4" and manifest["server"]["type"] == "uv"
    report = probe.check(servers.run_command(server), Platform.current().host_environment(gui=False), "handshake")
    assert [tool["name"] for tool in manifest["tools"]] == [tool["name"] for tool in report.tools]
    assert [prompt["name"] for prompt in manifest.get("prompts", [])] == [p["name"] for p in report.prompts]
    for setting in servers.settings_of(server):
        option = manifest["user_config"][setting.name.lower()]
        assert option["sensitive"] is True if setting.secret else "sensitive" not in option
        assert (
            manifest["server"]["mcp_config"]["env"][setting.variable(server)]
            == f"${{user_config.{setting.name.lower()}}}"
        )
    names = set(zipfile.ZipFile(bundles[server]).namelist())
    assert {"manifest.json", "pyproject.toml", "server/main.py"} <= names
    assert not any("__pycache__" in name or name.startswith("src/deskmcp/install") for name in names)


def claude_desktop_config(manifest: dict[str, Any], folder: Path, user: dict[str, Any]) -> dict[str, Any]:
    """The command Claude Desktop derives from the manifest (mcpb's getMcpConfigForManifest): `${__dirname}`, the
    user's values over the defaults, and a list value spread into separate arguments."""
    values = {key: option.get("default") for key, option in manifest.get("user_config", {}).items()} | user
    variables = {"__dirname": str(folder), **{f"user_config.{k}": v for k, v in values.items() if v is not None}}

    def substitute(text: str) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(variables.get(m.group(1), m.group(0))), text)

    config = manifest["server"]["mcp_config"]
    args: list[str] = []
    for arg in config.get("args", []):
        whole = re.fullmatch(r"\$\{(user_config\.[^}]+)\}", arg)
        value = variables.get(whole.group(1)) if whole else None
        args += [str(v) for v in value] if isinstance(value, list) else [substitute(arg)]
    env = {key: substitute(value) for key, value in config.get("env", {}).items()}
    return {"command": config["command"], "args": args, "env": env}


def test_the_unpacked_bundle_starts_the_server_as_claude_desktop_would(bundles, tmp_path):
    folder = tmp_path / "extension"
    manifest = unpack(bundles["filesystem"], folder)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "hello.txt").write_text("hi")
    config = claude_desktop_config(manifest, folder, {"directories": [str(allowed)]})
    assert config["command"] == "uv"  # Claude Desktop brings its own uv; here, the one from the test extra
    command = [uv("uv"), *config["args"]]
    env = {**Platform.current().host_environment(gui=True), **config["env"], **uv_environment()}
    for era in ("handshake", "modern"):
        report = probe.check(command, env, era, timeout=300)
        assert report.error is None, report.stderr
        assert [tool["name"] for tool in report.tools] == [tool["name"] for tool in manifest["tools"]]
    connection = probe.Connection(command, env)
    probe.handshake(connection, 60)
    listed = connection.request("tools/call", {"name": "list_allowed_directories", "arguments": {}}, 60)
    connection.close()
    assert str(allowed) in listed["content"][0]["text"]
