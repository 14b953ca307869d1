"""Where each host keeps its MCP servers, on each OS, and what an entry looks like there.

One small class per host on one base, the way platformdirs has one class per OS. The OS, home directory,
environment and working directory come in as a `Platform`, so every host's paths can be computed (and tested)
for macOS, Windows and Linux on any machine. Adding a host is a class of a few lines and a line in `HOSTS`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar, Final

OS_NAMES: Final = ("darwin", "win32", "linux")

# What the TypeScript and Python SDKs' stdio clients pass on to a server from the host's own environment.
INHERITED: Final = {
    "posix": ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"),
    "win32": (
        "APPDATA", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA", "PATH", "PROCESSOR_ARCHITECTURE", "SYSTEMDRIVE",
        "SYSTEMROOT", "TEMP", "USERNAME", "USERPROFILE", "PROGRAMFILES",
    ),
}  # fmt: skip
# The PATH an app started from the Dock or a desktop launcher gets: not the shell's (no ~/.local/bin, no Homebrew).
GUI_PATH: Final = {"darwin": "/usr/bin:/bin:/usr/sbin:/sbin", "linux": "/usr/local/bin:/usr/bin:/bin"}
# How the ids of the VS Code inputs deskmcp adds begin: what tells them from the user's own when checking and removing.
INPUT_PREFIX: Final = "deskmcp_"


@dataclass(frozen=True)
class Platform:
    """The machine as the installers see it; `current()` for this one, or any OS for tests."""

    os: str
    home: PurePath
    environ: Mapping[str, str]
    cwd: PurePath
    exists: Callable[[PurePath], bool] = field(default=lambda path: Path(path).exists())
    native: bool = False  # this machine: PATH lookups and this interpreter's folder apply

    @classmethod
    def current(cls) -> Platform:
        name = sys.platform if sys.platform in ("darwin", "win32") else "linux"
        return cls(name, Path.home(), dict(os.environ), Path.cwd(), native=True)

    def path(self, text: str) -> PurePath:
        return type(self.home)(text)

    def _env_dir(self, variable: str, *default: str) -> PurePath:
        value = self.environ.get(variable, "")
        path = self.path(value) if value else None
        return path if path is not None and path.is_absolute() else self.home.joinpath(*default)

    @property
    def app_data(self) -> PurePath:
        """Where desktop apps keep settings: Application Support, %APPDATA%, or $XDG_CONFIG_HOME."""
        if self.os == "darwin":
            return self.home / "Library" / "Application Support"
        if self.os == "win32":
            return self._env_dir("APPDATA", "AppData", "Roaming")
        return self._env_dir("XDG_CONFIG_HOME", ".config")

    @property
    def local_app_data(self) -> PurePath:
        return self._env_dir("LOCALAPPDATA", "AppData", "Local")

    @property
    def dot_config(self) -> PurePath:
        """`~/.config` on macOS (tools from the Linux world keep it there), $XDG_CONFIG_HOME on Linux, %APPDATA%."""
        return self.home / ".config" if self.os == "darwin" else self.app_data

    def host_environment(self, gui: bool) -> dict[str, str]:
        """The environment a host passes to a server before the entry's `env`: the SDKs' short list, with the
        PATH of a desktop app for a GUI host (a terminal host such as Claude Code passes the shell's)."""
        keys = INHERITED["win32" if self.os == "win32" else "posix"]
        env = {key: self.environ[key] for key in keys if key in self.environ}
        if gui and self.os in GUI_PATH:
            env["PATH"] = GUI_PATH[self.os]
        return env


def pure_path_class(os_name: str) -> type[PurePath]:
    return PureWindowsPath if os_name == "win32" else PurePosixPath


class Host:
    """A host's MCP config: where it is, its syntax, and how an entry and a secret look there."""

    name: ClassVar[str]
    title: ClassVar[str]
    syntax: ClassVar[str] = "json"  # "json" (strict, as JSON.parse), "jsonc" or "toml"
    servers_key: ClassVar[tuple[str, ...]] = ("mcpServers",)
    entry_type: ClassVar[str | None] = None  # a "type" member the host's own entries carry
    project_file: ClassVar[str | None] = None  # the project-scope file, relative to the project folder
    gui: ClassVar[bool] = True  # started from the desktop, so without the shell's PATH
    reference: ClassVar[str | None] = None  # how a config value names an environment variable: "${env:{name}}"
    expands: ClassVar[re.Pattern[str] | None] = None  # what the host replaces when it starts a server
    names: ClassVar[re.Pattern[str]] = re.compile(r"[^\x00-\x1f\x7f]+")  # the entry names it accepts

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @property
    def user_file(self) -> PurePath:
        raise NotImplementedError

    @property
    def markers(self) -> tuple[PurePath, ...]:
        """Paths of which one exists once the host is installed and has run."""
        return (self.user_file.parent,)

    def installed(self) -> bool:
        return any(self.platform.exists(marker) for marker in self.markers)

    def config_file(self, scope: str) -> PurePath:
        if scope == "user":
            return self.user_file
        if self.project_file is None:
            msg = f"{self.title} has no project-level config; use --scope user"
            raise ValueError(msg)
        return self.platform.cwd / self.project_file

    def valid_name(self, name: str) -> bool:
        return self.names.fullmatch(name) is not None

    @property
    def scopes(self) -> tuple[str, ...]:
        return ("user", "project") if self.project_file else ("user",)

    def refer(self, entry: dict[str, Any], variable: str) -> dict[str, Any] | None:
        """`entry` with `variable` filled by the host from outside the file, or None where the host cannot."""
        if self.reference is None:
            return None
        return {**entry, "env": {**entry.get("env", {}), variable: self.reference.format(name=variable)}}

    def input_for(self, variable: str, value: str) -> dict[str, Any] | None:
        """The `inputs` item the `env` value of `variable` needs (VS Code's prompts); None for other hosts."""
        return None

    def expand(self, text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
        """`text` with the references this host expands filled from `environ`, and the ones it could not fill."""
        if self.expands is None:
            return text, []
        missing: list[str] = []

        def fill(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.groupdict().get("default")
            if name is not None and name in environ:
                return environ[name]
            if default is not None:
                return default
            missing.append(match.group(0))
            return match.group(0)

        return self.expands.sub(fill, text), missing

    def server_env(self, entry: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        """The entry's `env` as the host passes it, and any references left unfilled."""
        env, missing = {}, []
        for key, value in (entry.get("env") or {}).items():
            env[str(key)], unfilled = self.expand(str(value), environ)
            missing += unfilled
        return env, missing


_ENV_COLON: Final = re.compile(r"\$\{env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
_SHELL_STYLE: Final = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class ClaudeDesktop(Host):
    """`~/Library/Application Support/Claude/claude_desktop_config.json` (macOS); `%APPDATA%\\Claude\\...` or, for
    the MSIX (Store) install, `%LOCALAPPDATA%\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\...`,
    which that app reads in place of %APPDATA% (anthropics/claude-code#34359); `~/.config/Claude/...` for the
    community Linux builds."""

    name = "claude-desktop"
    title = "Claude Desktop"
    FILE: Final = "claude_desktop_config.json"
    MSIX_PACKAGE: Final = ("Packages", "Claude_pzs8sxrjxfjjc")

    @property
    def _msix(self) -> PurePath | None:
        package = self.platform.local_app_data.joinpath(*self.MSIX_PACKAGE)
        return package if self.platform.os == "win32" and self.platform.exists(package) else None

    @property
    def user_file(self) -> PurePath:
        if (package := self._msix) is not None:
            return package / "LocalCache" / "Roaming" / "Claude" / self.FILE
        return self.platform.app_data / "Claude" / self.FILE

    @property
    def markers(self) -> tuple[PurePath, ...]:
        return (self.platform.app_data / "Claude", *filter(None, [self._msix]))


class Cursor(Host):
    """`~/.cursor/mcp.json` (`%USERPROFILE%\\.cursor\\mcp.json`), or `.cursor/mcp.json` in a project."""

    name = "cursor"
    title = "Cursor"
    project_file = ".cursor/mcp.json"
    reference = "${{env:{name}}}"
    expands = _ENV_COLON

    @property
    def user_file(self) -> PurePath:
        return self.platform.home / ".cursor" / "mcp.json"


class VSCode(Host):
    """`~/Library/Application Support/Code/User/mcp.json`, `%APPDATA%\\Code\\User\\mcp.json`,
    `~/.config/Code/User/mcp.json`, or `.vscode/mcp.json` in a project: a `servers` map, and `inputs` that
    VS Code prompts for (a password prompt keeps a secret out of the file)."""

    name = "vscode"
    title = "VS Code"
    syntax = "jsonc"
    servers_key = ("servers",)
    entry_type = "stdio"
    project_file = ".vscode/mcp.json"
    expands = _ENV_COLON
    INPUT: Final = re.compile(r"^\$\{input:(?P<id>[A-Za-z0-9_.-]+)\}$")

    @property
    def user_file(self) -> PurePath:
        return self.platform.app_data / "Code" / "User" / "mcp.json"

    def refer(self, entry: dict[str, Any], variable: str) -> dict[str, Any] | None:
        input_id = INPUT_PREFIX + variable.lower().removeprefix(INPUT_PREFIX)
        return {**entry, "env": {**entry.get("env", {}), variable: "${input:" + input_id + "}"}}

    def input_for(self, variable: str, value: str) -> dict[str, Any] | None:
        match = self.INPUT.match(value)
        if match is None:
            return None
        return {"type": "promptString", "id": match.group("id"), "description": variable, "password": True}


class Windsurf(Host):
    """`~/.codeium/windsurf/mcp_config.json` (`%USERPROFILE%\\.codeium\\windsurf\\mcp_config.json`)."""

    name = "windsurf"
    title = "Windsurf"
    reference = "${{env:{name}}}"
    expands = _ENV_COLON

    @property
    def user_file(self) -> PurePath:
        return self.platform.home / ".codeium" / "windsurf" / "mcp_config.json"


class ClaudeCode(Host):
    """User scope: `mcpServers` in `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json` when set); project scope:
    `.mcp.json`. Claude Code expands `${NAME}` and `${NAME:-default}`."""

    name = "claude-code"
    title = "Claude Code"
    entry_type = "stdio"
    project_file = ".mcp.json"
    gui = False
    reference = "${{{name}}}"
    expands = _SHELL_STYLE

    @property
    def user_file(self) -> PurePath:
        configured = self.platform.environ.get("CLAUDE_CONFIG_DIR")
        return (self.platform.path(configured) if configured else self.platform.home) / ".claude.json"

    @property
    def markers(self) -> tuple[PurePath, ...]:
        return (self.user_file, self.platform.home / ".claude")


class Zed(Host):
    """`context_servers` in Zed's settings (JSON with comments): `~/.config/zed/settings.json` (macOS),
    `$XDG_CONFIG_HOME/zed/settings.json` (Linux), `%APPDATA%\\Zed\\settings.json`; `.zed/settings.json` in a
    project."""

    name = "zed"
    title = "Zed"
    syntax = "jsonc"
    servers_key = ("context_servers",)
    project_file = ".zed/settings.json"

    @property
    def user_file(self) -> PurePath:
        folder = "Zed" if self.platform.os == "win32" else "zed"
        return self.platform.dot_config / folder / "settings.json"


class Cline(Host):
    """The Cline extension's `cline_mcp_settings.json` in VS Code's globalStorage
    (`.../Code/User/globalStorage/saoudrizwan.claude-dev/settings/`)."""

    name = "cline"
    title = "Cline"
    EXTENSION: Final = ("Code", "User", "globalStorage", "saoudrizwan.claude-dev")

    @property
    def user_file(self) -> PurePath:
        return self.platform.app_data.joinpath(*self.EXTENSION) / "settings" / "cline_mcp_settings.json"

    @property
    def markers(self) -> tuple[PurePath, ...]:
        return (self.platform.app_data.joinpath(*self.EXTENSION),)


class Gemini(Host):
    """The Gemini CLI's `~/.gemini/settings.json` (comments allowed), or `.gemini/settings.json` in a project;
    it expands `$NAME` and `${NAME}`."""

    name = "gemini"
    title = "Gemini CLI"
    syntax = "jsonc"
    project_file = ".gemini/settings.json"
    gui = False
    reference = "${{{name}}}"
    expands = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")

    @property
    def user_file(self) -> PurePath:
        return self.platform.home / ".gemini" / "settings.json"

    def expand(self, text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
        missing: list[str] = []

        def fill(match: re.Match[str]) -> str:
            name = match.group("name") or match.group("bare")
            if name in environ:
                return environ[name]
            missing.append(match.group(0))
            return match.group(0)

        return self.expands.sub(fill, text), missing


class Codex(Host):
    """The Codex CLI's `~/.codex/config.toml` (`$CODEX_HOME/config.toml`), or `.codex/config.toml` in a trusted
    project: `[mcp_servers.<name>]` tables; `env_vars` lists variables passed on from Codex's own environment."""

    name = "codex"
    title = "Codex CLI"
    syntax = "toml"
    servers_key = ("mcp_servers",)
    project_file = ".codex/config.toml"
    gui = False
    names = re.compile(r"[A-Za-z0-9_-]+")

    @property
    def user_file(self) -> PurePath:
        configured = self.platform.environ.get("CODEX_HOME")
        return (self.platform.path(configured) if configured else self.platform.home / ".codex") / "config.toml"

    def refer(self, entry: dict[str, Any], variable: str) -> dict[str, Any] | None:
        names = [*entry.get("env_vars", []), variable]
        return {**entry, "env_vars": list(dict.fromkeys(names))}

    def server_env(self, entry: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        env, missing = super().server_env(entry, environ)
        for name in entry.get("env_vars") or []:
            if name in environ:
                env[name] = environ[name]
            else:
                missing.append(name)
        return env, missing


HOSTS: Final[dict[str, type[Host]]] = {
    host.name: host for host in (ClaudeDesktop, Cursor, VSCode, Windsurf, ClaudeCode, Zed, Cline, Gemini, Codex)
}
