"""Every host's config path on every OS, computed here for macOS, Windows and Linux alike; uvx found per OS."""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath, PureWindowsPath

import pytest
from deskmcp.install.entries import EntryError, find_uvx, launcher
from deskmcp.install.hosts import HOSTS, Platform

MAC_HOME = PurePosixPath("/Users/me")
LINUX_HOME = PurePosixPath("/home/me")
WIN_HOME = PureWindowsPath("C:/Users/me")
WIN_ENV = {"APPDATA": "C:\\Users\\me\\AppData\\Roaming", "LOCALAPPDATA": "C:\\Users\\me\\AppData\\Local"}
APP_SUPPORT = "/Users/me/Library/Application Support"
ROAMING = "C:/Users/me/AppData/Roaming"

EXPECTED = {
    "claude-desktop": (
        f"{APP_SUPPORT}/Claude/claude_desktop_config.json",
        f"{ROAMING}/Claude/claude_desktop_config.json",
        "/home/me/.config/Claude/claude_desktop_config.json",
    ),
    "cursor": ("/Users/me/.cursor/mcp.json", "C:/Users/me/.cursor/mcp.json", "/home/me/.cursor/mcp.json"),
    "vscode": (
        f"{APP_SUPPORT}/Code/User/mcp.json",
        f"{ROAMING}/Code/User/mcp.json",
        "/home/me/.config/Code/User/mcp.json",
    ),
    "windsurf": (
        "/Users/me/.codeium/windsurf/mcp_config.json",
        "C:/Users/me/.codeium/windsurf/mcp_config.json",
        "/home/me/.codeium/windsurf/mcp_config.json",
    ),
    "claude-code": ("/Users/me/.claude.json", "C:/Users/me/.claude.json", "/home/me/.claude.json"),
    "zed": (
        "/Users/me/.config/zed/settings.json",
        f"{ROAMING}/Zed/settings.json",
        "/home/me/.config/zed/settings.json",
    ),
    "cline": tuple(
        f"{base}/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
        for base in (APP_SUPPORT, ROAMING, "/home/me/.config")
    ),
    "gemini": (
        "/Users/me/.gemini/settings.json",
        "C:/Users/me/.gemini/settings.json",
        "/home/me/.gemini/settings.json",
    ),
    "codex": ("/Users/me/.codex/config.toml", "C:/Users/me/.codex/config.toml", "/home/me/.codex/config.toml"),
}


def platform(os_name: str, environ: dict[str, str] | None = None, existing: tuple[str, ...] = ()) -> Platform:
    home = {"darwin": MAC_HOME, "win32": WIN_HOME, "linux": LINUX_HOME}[os_name]
    env = {**(WIN_ENV if os_name == "win32" else {}), **(environ or {})}
    found = {type(home)(path) for path in existing}
    return Platform(os_name, home, env, home / "project", lambda path: path in found)


def test_every_host_is_in_the_table():
    assert set(EXPECTED) == set(HOSTS)


@pytest.mark.parametrize("name", sorted(HOSTS))
@pytest.mark.parametrize(("index", "os_name"), [(0, "darwin"), (1, "win32"), (2, "linux")])
def test_each_hosts_user_config_on_each_os(name, index, os_name):
    path = HOSTS[name](platform(os_name)).user_file
    assert path == type(path)(EXPECTED[name][index])


def test_claude_desktop_from_the_microsoft_store_uses_its_redirected_folder():
    package = "C:/Users/me/AppData/Local/Packages/Claude_pzs8sxrjxfjjc"
    host = HOSTS["claude-desktop"](platform("win32", existing=(package,)))
    assert host.user_file == PureWindowsPath(f"{package}/LocalCache/Roaming/Claude/claude_desktop_config.json")
    assert host.installed()
    assert not HOSTS["claude-desktop"](platform("win32")).installed()


def test_environment_overrides_hosts_honour():
    linux = platform("linux", {"XDG_CONFIG_HOME": "/xdg", "CLAUDE_CONFIG_DIR": "/cc", "CODEX_HOME": "/codex"})
    assert HOSTS["claude-desktop"](linux).user_file == PurePosixPath("/xdg/Claude/claude_desktop_config.json")
    assert HOSTS["zed"](linux).user_file == PurePosixPath("/xdg/zed/settings.json")
    assert HOSTS["claude-code"](linux).user_file == PurePosixPath("/cc/.claude.json")
    assert HOSTS["codex"](linux).user_file == PurePosixPath("/codex/config.toml")
    relative = platform("linux", {"XDG_CONFIG_HOME": "relative/dir"})  # the XDG spec says: ignore it
    assert HOSTS["zed"](relative).user_file == PurePosixPath("/home/me/.config/zed/settings.json")


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_project_scope_paths_are_inside_the_project(name):
    host = HOSTS[name](platform("win32"))
    if host.project_file is None:
        with pytest.raises(ValueError, match="no project-level config"):
            host.config_file("project")
    else:
        assert host.config_file("project") == WIN_HOME / "project" / PurePath(host.project_file)


@pytest.mark.parametrize(
    ("os_name", "existing", "found"),
    [
        ("darwin", ("/opt/homebrew/bin/uvx",), "/opt/homebrew/bin/uvx"),
        ("darwin", ("/Users/me/.local/bin/uvx", "/opt/homebrew/bin/uvx"), "/Users/me/.local/bin/uvx"),
        ("linux", ("/home/me/.cargo/bin/uvx",), "/home/me/.cargo/bin/uvx"),
        ("win32", ("C:/Users/me/.local/bin/uvx.exe",), "C:\\Users\\me\\.local\\bin\\uvx.exe"),
        (
            "win32",
            ("C:/Users/me/AppData/Local/Microsoft/WinGet/Links/uvx.exe",),
            "C:\\Users\\me\\AppData\\Local\\Microsoft\\WinGet\\Links\\uvx.exe",
        ),
    ],
)
def test_uvx_is_found_where_its_installers_put_it(os_name, existing, found):
    target = platform(os_name, existing=existing)
    assert find_uvx(target) == found
    assert launcher(target, "uvx").command == found


def test_no_uvx_anywhere_is_a_clear_error_that_names_the_python_launcher():
    with pytest.raises(EntryError, match="--launcher python"):
        launcher(platform("win32"), "uvx")
