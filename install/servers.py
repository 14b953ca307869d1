"""The servers deskmcp can install: whatever `deskmcp.shared.cli.SERVERS` lists, with each one's settings and
command line taken from its `SPEC` (declarations only; what a server offers is asked of the running server)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from deskmcp.shared import cli


def names() -> list[str]:
    return list(cli.SERVERS)


@cache
def spec(name: str) -> Any:
    return cli.load_spec(name)


def settings_of(name: str) -> tuple[Any, ...]:
    return tuple(spec(name).settings)


def setting_names() -> set[str]:
    """Every server's settings' short names (`PRECISION`), to tell a mistyped key from a plain variable."""
    return {setting.name.upper() for name in names() for setting in settings_of(name)}


def parser(name: str) -> argparse.ArgumentParser:
    return cli._server_parser(spec(name))


def check_arguments(name: str, args: list[str]) -> None:
    """Exit 2 with the server's own usage message if `deskmcp NAME ARGS` would not parse."""
    parser(name).parse_args(args)


def run_command(name: str, args: Sequence[str] = ()) -> list[str]:
    """`deskmcp NAME ARGS` with this interpreter."""
    return [str(Path(sys.executable).absolute()), "-m", "deskmcp.shared.cli", name, *args]
