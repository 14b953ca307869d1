"""The official MCP conformance suite (`@modelcontextprotocol/conformance`) against every server over HTTP.

The suite's server scenarios each drive one feature through the TypeScript SDK client (handshake era,
2025-06-18/2025-11-25), and most of them call fixtures of the reference "everything" server by name: tools
`test_simple_text`, `test_error_handling`, `test_tool_with_progress`, resources `test://static-text`, prompts
`test_simple_prompt`, `logging/setLevel`, and so on. Nothing selects scenarios by what a server offers; the CLI
runs one (`--scenario`) or all (`--suite`). So this test runs, for each server, the scenarios that hold for any
server, and those for the capabilities it declares:

- always: `server-initialize`, `ping`, `tools-list` (every tool has a name, description and input schema),
  `server-sse-multiple-streams` (concurrent POST streams on one session), `dns-rebinding-protection` (a foreign
  Host/Origin gets 4xx, localhost 2xx; it sends no token, so the servers run on loopback without one);
- with `resources`: `resources-list`; with `prompts`: `prompts-list`.

Left out, because they need the everything server's fixtures: the `tools-call-*`, `resources-read-*`,
`resources-templates-read`, `resources-(un)subscribe` (a `test://` URI), `prompts-get-*`, `completion-complete`
(a fixture prompt), `json-schema-2020-12`, the elicitation scenarios and `server-sse-polling` (tool
`test_reconnection`); and `logging-set-level` (deskmcp servers log to stderr; `logging/setLevel` is deprecated).
A scenario passes only when every check in it succeeds (a warning fails it too).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx2
import pytest
from deskmcp.shared.cli import SERVERS
from hostpipes import ROOT, deskmcp_command
from httphost import EVENT_STREAM, http_server, initialize_request, sse_messages

CONFORMANCE_DEFAULT_DIR = ROOT / ".ci" / "conformance"
ALWAYS = ("server-initialize", "ping", "tools-list", "server-sse-multiple-streams", "dns-rebinding-protection")
BY_CAPABILITY = {"resources": ("resources-list",), "prompts": ("prompts-list",)}


def conformance_cli() -> Path:
    base = Path(os.environ.get("DESKMCP_CONFORMANCE_DIR", CONFORMANCE_DEFAULT_DIR))
    cli = base / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    if not cli.exists():
        if os.environ.get("CI"):
            pytest.fail("the MCP conformance suite is not installed; .ci/run installs it")
        pytest.skip("MCP conformance suite not installed (run .ci/install-conformance)")
    return cli


def server_command(name: str, folder: Path) -> list[str]:
    """How the suite's servers start: the filesystem on a folder holding a file, the others as they are."""
    if name == "filesystem":
        (folder / "notes.txt").write_text("something to list")
        return deskmcp_command(name, str(folder))
    return deskmcp_command(name)


def capabilities(url: str) -> dict[str, Any]:
    response = httpx2.post(url, json=initialize_request(), headers=EVENT_STREAM, timeout=30)
    (reply,) = sse_messages(response.text)
    return reply["result"]["capabilities"]


def failures(checks: list[dict[str, Any]]) -> list[str]:
    failed = [check for check in checks if check["status"] not in ("SUCCESS", "INFO")]
    return [f"{check['id']}: {check['status']} {check.get('errorMessage') or check['description']}" for check in failed]


def run_scenarios(url: str, scenarios: list[str], folder: Path) -> list[str]:
    """Run the scenarios against `url` (all at once: each is a short node process that mostly waits); what failed."""
    cli = conformance_cli()
    runs = {
        scenario: subprocess.Popen(
            ["node", str(cli), "server", "--url", url, "--scenario", scenario, "-o", str(folder / scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=folder,
        )
        for scenario in scenarios
    }
    problems = []
    for scenario, run in runs.items():
        output, _ = run.communicate(timeout=120)
        results = list((folder / scenario).glob("*/checks.json"))
        checks = json.loads(results[0].read_text()) if results else []
        if run.returncode != 0 or not checks or failures(checks):
            problems.append(f"{scenario} (exit {run.returncode}): {failures(checks) or output[-2000:]}")
    return problems


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_the_conformance_scenarios_that_apply_pass(name: str, tmp_path: Path) -> None:
    conformance_cli()
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    with http_server(server_command(name, tmp_path), env) as server:
        declared = capabilities(server.url)
        scenarios = [*ALWAYS, *(s for key, more in BY_CAPABILITY.items() if key in declared for s in more)]
        problems = run_scenarios(server.url, scenarios, tmp_path)
    assert not problems, "\n".join(problems)


def test_a_real_failure_fails(tmp_path: Path) -> None:
    """A server told to accept the suite's rebinding attacker fails its DNS-rebinding scenario, and this sees it."""
    conformance_cli()
    careless = {
        "DESKMCP_HTTP_ALLOWED_HOSTS": "evil.example.com",
        "DESKMCP_HTTP_ALLOWED_ORIGINS": "http://evil.example.com",
    }
    with http_server(deskmcp_command("calculator"), careless) as server:
        problems = run_scenarios(server.url, ["dns-rebinding-protection"], tmp_path)
    assert len(problems) == 1 and "localhost-host-rebinding-rejected: FAILURE" in problems[0], problems
