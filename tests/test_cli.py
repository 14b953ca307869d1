"""The `deskmcp` command as a user meets it, and the package as it installs."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from deskmcp.shared.cli import SERVERS
from hostpipes import ROOT, deskmcp_command, host_env


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(deskmcp_command(*args), capture_output=True, text=True, env=host_env(), timeout=60)


def test_version():
    completed = run("--version")
    assert completed.returncode == 0
    assert re.fullmatch(r"deskmcp \d+\.\d+\.\d+\S*\n", completed.stdout)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_server(flag):
    completed = run(flag)
    assert completed.returncode == 0
    for name in SERVERS:
        assert f"  {name}" in completed.stdout


def test_an_unknown_name_exits_2_and_lists_the_valid_ones():
    completed = run("calculater")
    assert completed.returncode == 2
    assert "unknown server or command 'calculater'" in completed.stderr
    for name in SERVERS:
        assert name in completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_each_server_has_help_and_check_config(server):
    completed = run(server, "--help")
    assert completed.returncode == 0, completed.stderr
    assert f"usage: deskmcp {server}" in completed.stdout and "--check-config" in completed.stdout
    assert "--transport {stdio,http}" in completed.stdout and "--port PORT" in completed.stdout
    checked = run(server, "--check-config")
    assert checked.returncode == 0, checked.stderr
    over_http = run(server, "--transport", "http", "--check-config")
    assert over_http.returncode == 0 and "DESKMCP_HTTP_TOKEN = None" in over_http.stdout, over_http.stderr


def test_bad_number_size_and_pattern_settings_stop_the_server_with_what_was_expected():
    env = {
        "DESKMCP_FILESYSTEM_RESOURCES_PAGE_SIZE": "\u0663",  # an Arabic-Indic 3: a digit to str.isdigit, not to us
        "DESKMCP_FILESYSTEM_WATCH_LIMIT": "0",
        "DESKMCP_FILESYSTEM_MAX_READ_BYTES": "1.5MiB",
        "DESKMCP_FILESYSTEM_IGNORE": "node_modules,[z-a]",
    }
    completed = subprocess.run(
        deskmcp_command("filesystem", "--check-config"), capture_output=True, text=True, env=host_env(env), timeout=60
    )
    assert completed.returncode == 1 and completed.stdout == ""
    for line in (
        "DESKMCP_FILESYSTEM_RESOURCES_PAGE_SIZE: expected a whole number of at least 1, got '\u0663'",
        "DESKMCP_FILESYSTEM_WATCH_LIMIT: expected a whole number of at least 1, got '0'",
        "DESKMCP_FILESYSTEM_MAX_READ_BYTES: expected a positive size such as 10485760 or 10MiB, got '1.5MiB'",
        "DESKMCP_FILESYSTEM_IGNORE: the pattern '[z-a]' is not a valid glob: bad character range z-a",
    ):
        assert line in completed.stderr


def test_every_package_folder_is_listed_for_the_wheel():
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "deskmcp." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("servers", "shared", "install")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_the_wheel_holds_nothing_outside_deskmcp(tmp_path: Path):
    import shutil

    had_build = (ROOT / "build").exists()
    # With build isolation, as a real build is made: our declared setuptools, not the venv's bundled one.
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    if not had_build:  # setuptools builds in the source tree; leave the checkout as it was
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    (wheel,) = tmp_path.glob("deskmcp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(name.startswith(("deskmcp/", "deskmcp-")) for name in names), names
    assert "deskmcp/shared/app.py" in names and "deskmcp/servers/__init__.py" in names
