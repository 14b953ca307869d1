"""The entry deskmcp writes into a host's config: which program starts the server, its arguments, its `env`.

A desktop app does not get the shell's PATH, so a bare `uvx` fails there with `spawn uvx ENOENT` (servers#760,
python-sdk#478): the entry names uvx by its absolute path, found on PATH or where uv's installers put it. With
`--launcher python` it is this interpreter and `-m deskmcp.shared.cli`. Settings go in `env`; secret ones are
masked in everything we print.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Final

from deskmcp.install.hosts import Platform
from deskmcp.shared.cli import GRACE_VARIABLE, MAX_LINE_VARIABLE
from deskmcp.shared.logs import LEVEL_VARIABLE

MODULE: Final = "deskmcp.shared.cli"
MASK: Final = "***"
# Names that say "credential" in other servers' env blocks, masked when a diff shows them as context.
SECRET_NAME: Final = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|PRIVATE|CREDENTIAL|AUTH", re.I)
GLOBAL_VARIABLES: Final = (LEVEL_VARIABLE, MAX_LINE_VARIABLE, GRACE_VARIABLE)  # every server's, not a setting


class EntryError(Exception):
    """The entry cannot be written as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Launcher:
    """The program a host starts and the arguments that come before the server's name."""

    command: str
    prefix: tuple[str, ...]


def uvx_candidates(platform: Platform) -> list[PurePath]:
    """Where uv's installers (standalone, pip, Homebrew, cargo, WinGet, Scoop) put `uvx`, most likely first."""
    home, env = platform.home, platform.environ
    exe = "uvx.exe" if platform.os == "win32" else "uvx"
    folders = [platform.path(env[name]) for name in ("UV_INSTALL_DIR", "XDG_BIN_HOME") if env.get(name)]
    if env.get("CARGO_HOME"):
        folders.append(platform.path(env["CARGO_HOME"]) / "bin")
    folders += [home / ".local" / "bin", home / ".cargo" / "bin"]
    if platform.os == "win32":
        folders += [platform.local_app_data / "Microsoft" / "WinGet" / "Links", home / "scoop" / "shims"]
    else:
        folders += [platform.path(p) for p in ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")]
    return [folder / exe for folder in folders]


def find_uvx(platform: Platform) -> str | None:
    """The absolute path of `uvx`: on PATH, beside this interpreter (uv from pip), or in an install location."""
    if platform.native:
        found = shutil.which("uvx", path=platform.environ.get("PATH", ""))
        found = found or shutil.which("uvx", path=str(Path(sys.executable).parent))
        if found:
            return str(Path(found).absolute())
    for candidate in uvx_candidates(platform):
        if platform.exists(candidate):
            return str(candidate)
    return None


def launcher(platform: Platform, kind: str, source: str | None = None) -> Launcher:
    """The uvx launcher (with `--from SOURCE` when given) or this interpreter's."""
    if kind == "python":
        return Launcher(str(Path(sys.executable).absolute()), ("-m", MODULE))
    uvx = find_uvx(platform)
    if uvx is None:
        where = ", ".join(str(path.parent) for path in uvx_candidates(platform)[:3])
        msg = (
            f"uvx was not found on PATH or in the usual places ({where}, ...). Install uv "
            "(https://docs.astral.sh/uv/getting-started/installation/, or `pip install uv`), "
            "or use --launcher python to run deskmcp with this Python."
        )
        raise EntryError(msg)
    prefix = ("--from", source, "deskmcp") if source else ("deskmcp",)
    if platform.os == "win32" and uvx.lower().endswith((".cmd", ".bat")):
        # A batch shim cannot be spawned without a shell (Node's EINVAL after its batch-file hardening).
        return Launcher("cmd.exe", ("/c", uvx, *prefix))
    return Launcher(uvx, prefix)


def build_entry(entry_type: str | None, start: Launcher, server: str, args: Sequence[str], env: Mapping[str, str]):
    """The entry a host starts `deskmcp <server> ARGS` from."""
    entry: dict[str, Any] = {"type": entry_type} if entry_type else {}
    entry["command"] = start.command
    entry["args"] = [*start.prefix, server, *args]
    if env:
        entry["env"] = dict(env)
    return entry


_PACKAGE: Final = re.compile(r"deskmcp(?:\[[^\]]*\])?(?:\s*(?:==|>=|~=|@).*)?")
_VALUE_OPTIONS: Final = frozenset({"--from", "--with", "-w", "--python", "-p", "--index", "--default-index"})


def deskmcp_server(entry: Any) -> str | None:
    """The deskmcp server an entry runs (`uvx deskmcp NAME`, `python -m deskmcp.shared.cli NAME`, `deskmcp NAME`),
    or None for anyone else's entry."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("command"), str):
        return None
    args = entry.get("args") or []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        return None
    command = re.split(r"[\\/]", entry["command"])[-1].lower().removesuffix(".exe")
    if command == "deskmcp":
        return args[0] if args and not args[0].startswith("-") else None
    skip = False
    for index, arg in enumerate(args[:-1]):
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif arg == MODULE or _PACKAGE.fullmatch(arg):
            following = args[index + 1]
            return following if not following.startswith("-") else None
    return None


def command_line(entry: Mapping[str, Any]) -> list[str]:
    return [str(entry.get("command", "")), *map(str, entry.get("args") or [])]


def resolve_command(command: str, path: str, platform: Platform) -> str | None:
    """Where a host would find `command` with `path` as PATH (None: it would fail to start)."""
    if os.path.isabs(command) or platform.path(command).is_absolute():
        return command if platform.exists(platform.path(command)) else None
    return shutil.which(command, path=path)


# --- settings and secrets ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvValue:
    """One `--env` for one server: the variable, its value (None: the host fills it), whether it is secret."""

    variable: str
    value: str | None
    secret: bool


def parse_env_options(options: Iterable[str]) -> list[tuple[str, str | None]]:
    """`KEY=VALUE` (or a bare `KEY`: let the host fill it) into pairs."""
    pairs = []
    for option in options:
        key, equals, value = option.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            msg = f"--env {option!r}: expected KEY=VALUE (or KEY alone to have the host fill it)"
            raise EntryError(msg)
        pairs.append((key, value if equals else None))
    return pairs


def match_env(server: str, settings: Sequence[Any], key: str, shared_names: set[str]) -> tuple[str, Any] | None:
    """The variable `--env KEY` sets for `server` and its setting (None for a variable that is not a setting), or
    None when the key is not for this server. KEY may be a setting's short name (`PRECISION`), its variable, either
    with `_FILE`, a global DESKMCP_ variable, or any other variable (passed to every server as given)."""
    upper = key.upper()
    by_variable = {setting.variable(server): setting for setting in settings}
    variable = upper if upper.startswith("DESKMCP_") else f"DESKMCP_{server.upper()}_{upper}"
    for candidate in (variable, variable.removesuffix("_FILE")):
        if candidate in by_variable:
            return variable, by_variable[candidate]
    if upper in GLOBAL_VARIABLES:
        return upper, None
    if upper.startswith("DESKMCP_") or upper in shared_names or upper.removesuffix("_FILE") in shared_names:
        return None  # another server's setting, or a mistyped one (the caller reports a key no server took)
    return key, None


def env_value(variable: str, setting: Any, value: str | None) -> EnvValue:
    """One `--env` value, checked with its setting's parser; a `_FILE` path made absolute."""
    is_file = setting is not None and variable.endswith("_FILE") and not setting.name.upper().endswith("_FILE")
    if value is not None and is_file:
        value = str(Path(value).expanduser().absolute())
    elif value and setting is not None:
        _check(setting, variable, value)
    secret = setting is not None and setting.secret and not is_file
    return EnvValue(variable, value, secret)


def _check(setting: Any, variable: str, value: str) -> None:
    try:
        setting.parser(value)
    except (ValueError, TypeError) as exc:
        detail = "the value is not valid" if setting.secret else str(exc)
        msg = f"--env {variable}: {detail}"
        raise EntryError(msg) from None


class Masker:
    """Replaces secret values (as written in JSON, TOML or plain text) with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) >= 3:
            self.secrets.add(secret)

    def add_config_secrets(self, data: Any) -> None:
        """Every value of an `env` member whose name says credential, anywhere in a config."""
        if isinstance(data, dict):
            for key, value in data.items():
                if key == "env" and isinstance(value, dict):
                    for name, secret in value.items():
                        if SECRET_NAME.search(str(name)) and isinstance(secret, str) and "${" not in secret:
                            self.add(secret)
                else:
                    self.add_config_secrets(value)
        elif isinstance(data, list):
            for item in data:
                self.add_config_secrets(item)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            for form in {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}:
                text = text.replace(form, MASK)
        return text
