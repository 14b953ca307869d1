"""End to end: install into a fake home for every host, then `deskmcp doctor` starts what was written as each host
would; and the `uvx deskmcp <server>` one-liner from a freshly built wheel.

The uvx tests need uv (the test extra installs it from PyPI) and PyPI itself for deskmcp's dependencies; uv keeps
its cache between runs, so only the first run downloads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deskmcp.install import install, probe
from deskmcp.install.hosts import HOSTS, Platform
from hostpipes import ROOT, deskmcp_command
from test_install_cli import home_environment

UV_DIR = Path(sys.executable).parent


def uv_environment() -> dict[str, str]:
    """What uv needs here: this Python (no downloads) and the system's certificates (a TLS-inspecting proxy)."""
    return {"UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never", "UV_SYSTEM_CERTS": "1"}


def uv(name: str) -> str:
    found = shutil.which(name, path=str(UV_DIR)) or shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; the test extra installs uv")
        pytest.skip(f"{name} not installed (pip install uv)")
    return found


def fake_home(tmp_path: Path) -> tuple[Path, Platform]:
    home = tmp_path / "home"
    home.mkdir()
    platform = Platform("linux", home, home_environment(home), tmp_path, native=True)
    for host_class in HOSTS.values():  # every host "installed": a folder it makes when it first runs
        host = host_class(platform)
        Path(next(m for m in host.markers if m != host.user_file)).mkdir(parents=True, exist_ok=True)
    return home, platform


def doctor(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        deskmcp_command("doctor", *args), capture_output=True, text=True, env=home_environment(home), timeout=300
    )


def test_every_host_gets_an_entry_that_doctor_starts_in_both_eras(tmp_path, capsys):
    home, platform = fake_home(tmp_path)
    for client in HOSTS:
        assert install.main([client, "calculator", "--launcher", "python", "--env", "PRECISION=7"], platform) == 0
    capsys.readouterr()
    started = time.monotonic()
    checked = doctor(home)
    elapsed = time.monotonic() - started
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    for client in HOSTS:
        title = HOSTS[client].title
        assert any(line.startswith(f"{title} (user) calculator: ") for line in lines), (title, checked.stdout)
    assert checked.stdout.count("ok   2025-11-25: ready in") == len(HOSTS)
    assert checked.stdout.count("ok   2026-07-28: ready in") == len(HOSTS)
    assert checked.stdout.count("2 tools (calculate, statistics)") == 2 * len(HOSTS)
    assert f"{len(HOSTS)} entries checked, all ok" in checked.stdout
    print(f"doctor: {len(HOSTS)} entries x 2 eras in {elapsed:.1f} s")


def test_doctor_fails_with_the_fix_for_a_bare_command_a_bad_setting_and_an_unreadable_file(tmp_path):
    home, _ = fake_home(tmp_path)
    servers = {
        "bare": {"command": "uvx", "args": ["deskmcp", "calculator"]},
        "bad-setting": {
            "command": sys.executable,
            "args": ["-m", "deskmcp.shared.cli", "calculator"],
            "env": {"DESKMCP_CALCULATOR_PRECISION": "lots"},
        },
        "someone-else": {"command": "npx", "args": ["-y", "other-server"]},
    }
    (home / ".cursor" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    (home / ".codeium" / "windsurf" / "mcp_config.json").write_text('{"mcpServers": {,}}')
    checked = doctor(home, "cursor", "windsurf")
    assert checked.returncode == 1
    out = checked.stdout
    assert "Cursor (user) bare: uvx deskmcp calculator" in out and "FAIL 2025-11-25" in out
    assert "'uvx' is not on a desktop app's PATH" in out and "deskmcp install cursor calculator" in out
    assert "DESKMCP_CALCULATOR_PRECISION: expected a whole number" in out  # the server's stderr, shown
    assert "someone-else" not in out
    assert "mcp_config.json cannot be read: line 1, column 17" in out
    assert "2 entries checked, 3 failed" in out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    built = subprocess.run(
        [uv("uv"), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        env={**os.environ, **uv_environment()},
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    print(f"uv build --wheel: {time.monotonic() - started:.1f} s")
    return next(out.glob("deskmcp-*.whl"))


def test_a_server_that_closes_its_output_but_keeps_running_is_a_failure_not_a_crash():
    """The probe behind doctor and call waits a moment for the process to exit; one that goes on running is reported."""
    command = [sys.executable, "-c", "import os, time; os.close(1); time.sleep(6)"]
    report = probe.check(command, dict(os.environ), "handshake", timeout=30)
    assert report.error == "the server closed its output without answering initialize"


def test_uvx_from_the_wheel_starts_a_server_that_completes_a_handshake(wheel):
    command = [uv("uvx"), "--from", str(wheel), "deskmcp", "calculator"]
    env = {**Platform.current().host_environment(gui=False), **uv_environment()}
    started = time.monotonic()
    report = probe.check(command, env, "handshake", timeout=300)
    assert report.error is None, report.stderr
    assert report.server["name"] == "deskmcp-calculator"
    assert [tool["name"] for tool in report.tools] == ["calculate", "statistics"]
    print(f"uvx --from wheel deskmcp calculator: ready in {time.monotonic() - started:.1f} s")


def test_an_installed_uvx_entry_starts_under_a_desktop_apps_environment(wheel, tmp_path, capsys):
    home, platform = fake_home(tmp_path)
    uv("uvx")
    env_options = [f"--env={key}={value}" for key, value in uv_environment().items()]
    argv = ["claude-desktop", "calculator", "--from", str(wheel), *env_options]
    assert install.main(argv, platform) == 0
    capsys.readouterr()
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    entry = json.loads(config.read_text())["mcpServers"]["calculator"]
    assert Path(entry["command"]).is_absolute() and entry["args"] == ["--from", str(wheel), "deskmcp", "calculator"]
    checked = doctor(home, "claude-desktop")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PATH" not in entry.get("env", {})  # started with a desktop app's PATH: the absolute path is what works
