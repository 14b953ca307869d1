"""Filesystem server: the reference server's file tools, confined to allowed roots, plus live resources.

`deskmcp filesystem DIR [DIR ...]` (and/or DESKMCP_FILESYSTEM_ROOTS). All file access goes through
`sandbox.Sandbox`.
"""

from __future__ import annotations

import argparse

from deskmcp.servers.filesystem.roots import ClientRoots, configured_roots
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.shared.app import Config, ServerSpec, Service, StartupError
from deskmcp.shared.settings import Setting

SETTINGS = (
    Setting(
        "ROOTS",
        "allowed directories, separated by the OS path separator (in addition to command-line directories)",
        example="/Users/me/projects",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", nargs="*", metavar="DIR", help="allowed directory (any number)")
    parser.add_argument("--read-only", action="store_true", help="offer no write tools and refuse every write")


def create(config: Config) -> Service:
    roots = configured_roots(config.args.directories, config.settings.get("ROOTS"))
    try:
        sandbox = Sandbox(roots, read_only=config.args.read_only)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    client_roots = ClientRoots(sandbox)
    return Service(notification_handlers=client_roots.notification_handlers())


SPEC = ServerSpec(
    name="filesystem",
    description="Files under allowed directories: the reference server's tools, confined, plus live resources.",
    create=create,
    settings=SETTINGS,
    add_arguments=add_arguments,
)
