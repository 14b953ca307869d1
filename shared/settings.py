"""Settings and credentials from the environment, the way the MCP spec asks stdio servers to take them.

A server declares its settings; each is read from `DESKMCP_<SERVER>_<NAME>` or from the file named by
`DESKMCP_<SERVER>_<NAME>_FILE` (Docker-secrets style: one trailing newline stripped; setting both is an
error). Problems are collected and reported together, before the server serves, with the `"env"` snippet
to paste into the client config. Secret values are wrapped in `Secret`, whose `str`/`repr` are masked, and
registered with the log redactor so they cannot leak through a log line or traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from deskmcp.shared.logs import MASK, redactor

FILE_SUFFIX: Final = "_FILE"


class Secret:
    """A credential that prints as `***`; `reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redactor.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        msg = "a Secret is not pickled"
        raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment setting of a server: its name (without prefix), purpose and parsing."""

    name: str
    help: str
    parser: Callable[[str], Any] = str
    default: Any = None
    required: bool = False
    secret: bool = False
    example: str = "..."

    def variable(self, server: str) -> str:
        """The environment variable, e.g. ``DESKMCP_FILESYSTEM_ROOTS``."""
        return f"DESKMCP_{server.upper()}_{self.name.upper()}"


_WHOLE_NUMBER: Final = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """A `Setting` parser for a whole number from `low` to `high` (or up); `_` may group digits (`60_000`)."""
    expected = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
    top = high if high is not None else math.inf

    def parse(raw: str) -> int:
        text = raw.strip()
        # The length check comes first: int() refuses over 4,300 digits with a message about its own limit.
        if len(text) <= 1000 and _WHOLE_NUMBER.fullmatch(text) and low <= int(text) <= top:
            return int(text)
        msg = f"expected a whole number {expected}, got {raw!r}"
        raise ValueError(msg)

    return parse


MIB: Final = 1024 * 1024
SIZE_UNITS: Final = {
    **{"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": MIB, "mb": MIB, "mib": MIB},
    **{"g": 1024 * MIB, "gb": 1024 * MIB, "gib": 1024 * MIB},
}
_count = whole_number(1)


def parse_size(text: str) -> int:
    """A `Setting` parser for bytes: `10485760`, `10MiB`, `512 KiB`, `1g` (binary units, a whole number)."""
    stripped = text.strip()
    number = stripped.rstrip(string.ascii_letters)
    try:
        return _count(number) * SIZE_UNITS[stripped[len(number) :].lower()]
    except (ValueError, KeyError):
        msg = f"expected a positive size such as 10485760 or 10MiB, got {text!r}"
        raise ValueError(msg) from None


class SettingsError(Exception):
    """One or more settings are missing or invalid; the message says what to set and where."""


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text[:-1] if text.endswith("\n") else text


def _raw_value(setting: Setting, variable: str, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The raw text of a setting and, when it came from a file, which one ("" for the variable itself)."""
    file_variable = variable + FILE_SUFFIX
    direct, from_file = environ.get(variable), environ.get(file_variable)
    if direct is not None and from_file is not None:
        msg = f"both {variable} and {file_variable} are set; keep one"
        raise ValueError(msg)
    if from_file is not None:
        try:
            return _read_file(from_file), f"file {from_file!r} ({file_variable})"
        except OSError as exc:
            msg = f"{file_variable} names {from_file!r}, which cannot be read: {exc.strerror or exc}"
            raise ValueError(msg) from None
        except UnicodeDecodeError:
            msg = f"{file_variable} names {from_file!r}, which is not UTF-8 text"
            raise ValueError(msg) from None
    return direct, ""


def _parse(setting: Setting, raw: str, source: str) -> Any:
    try:
        value = setting.parser(raw)
    except (ValueError, TypeError) as exc:
        # A secret's parse error must not echo the value, so the parser's message is dropped.
        detail = "the value is not valid" if setting.secret else str(exc)
        msg = f"{source}: {detail}" if source else detail
        raise ValueError(msg) from None
    return Secret(value) if setting.secret else value


def env_snippet(server: str, settings: Iterable[Setting]) -> str:
    """The `"env"` block to add to the client config for `settings`."""
    block = {s.variable(server): s.example for s in settings}
    return json.dumps({"env": block}, indent=2)


def load_settings(server: str, settings: Iterable[Setting], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every declared setting's value, keyed by its name; `SettingsError` lists every problem at once."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    missing: list[Setting] = []
    for setting in settings:
        variable = setting.variable(server)
        try:
            raw, source = _raw_value(setting, variable, environ)
            if raw is None or raw == "":
                if setting.required:
                    missing.append(setting)
                values[setting.name] = setting.default
                continue
            values[setting.name] = _parse(setting, raw, source)
        except ValueError as exc:
            problems.append(f"  {variable}: {exc}\n    ({setting.help})")
    for setting in missing:
        problems.append(f"  {setting.variable(server)} is required but not set\n    ({setting.help})")
    if problems:
        lines = [f"deskmcp {server}: the server cannot start:", *problems]
        if missing:
            lines += [
                "Add to this server's entry in your client config (Claude Desktop, Cursor):",
                env_snippet(server, missing),
            ]
        raise SettingsError("\n".join(lines))
    return values


def describe_settings(server: str, settings: Iterable[Setting], values: Mapping[str, Any]) -> str:
    """The effective settings, one per line, secrets masked (for ``--check-config``)."""
    lines = []
    for setting in settings:
        value = values.get(setting.name)
        shown = MASK if setting.secret and value is not None else repr(value)
        lines.append(f"{setting.variable(server)} = {shown}    # {setting.help}")
    return "\n".join(lines) if lines else f"deskmcp {server} has no settings."
