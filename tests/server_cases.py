"""Every deskmcp server, once: how to start it on a scratch folder, and a request whose reply echoes a string.

Tests that must hold for every server (surviving any message, the `tools/list` snapshots) take their servers
from `SERVERS`; a new server is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostpipes import deskmcp_command


@dataclass(frozen=True)
class ServerCase:
    """One server as the tests start it. `args(folder)` are its command-line arguments after `deskmcp`."""

    name: str
    args: Callable[[Path], list[str]]
    echo: Callable[[str], tuple[str, dict[str, Any]]]  # method and params of a request whose reply contains the text
    env: Callable[[Path], dict[str, str]] = lambda _folder: {}
    variants: dict[str, list[str]] = field(default_factory=dict)  # other tool lists to snapshot: name -> extra flags

    def command(self, folder: Path, *extra: str) -> list[str]:
        """`deskmcp <name> EXTRA... <the rest of args>`: flags such as `--read-only` go before the folders."""
        return deskmcp_command(*self.args(folder)[:1], *extra, *self.args(folder)[1:])


SERVERS: list[ServerCase] = [
    ServerCase(
        name="calculator",
        args=lambda _folder: ["calculator"],
        echo=lambda text: ("tools/call", {"name": "calculate", "arguments": {"expression": text}}),
    ),
    ServerCase(
        name="filesystem",
        args=lambda folder: ["filesystem", str(folder)],
        echo=lambda text: ("resources/read", {"uri": text}),
        variants={"read-only": ["--read-only"]},
    ),
    ServerCase(
        name="memory",
        args=lambda _folder: ["memory"],
        echo=lambda text: ("resources/read", {"uri": text}),
        env=lambda folder: {"DESKMCP_MEMORY_PATH": str(folder / "memory.sqlite3")},
    ),
]


def server_ids() -> list[str]:
    return [case.name for case in SERVERS]
