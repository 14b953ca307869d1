"""Filesystem server: the reference server's file tools, confined to allowed roots, plus live resources.

`deskmcp filesystem DIR [DIR ...]` and/or DESKMCP_FILESYSTEM_ROOTS. All file access goes through
`sandbox.Sandbox`; the tools are in `tools`, the roots protocol in `roots`, resources and subscriptions in
`live` (registered in the shared resource table), merged here into one `Service`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

from deskmcp.servers.filesystem import live
from deskmcp.servers.filesystem.roots import ClientRoots, configured_roots
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.tools import Limits, build_registry
from deskmcp.shared.app import Config, ServerSpec, Service
from deskmcp.shared.settings import Setting, parse_size

logger = logging.getLogger(__name__)


CORE_SETTINGS = (
    Setting(
        "ROOTS",
        "allowed directories, separated by the OS path separator (in addition to command-line directories)",
        example="/Users/me/projects",
    ),
    Setting(
        "MAX_READ_BYTES",
        "largest file content a tool returns in one call (whole-file reads, media, edits; bytes, or with KiB/MiB/GiB)",
        parser=parse_size,
        default=10 * 1024 * 1024,
        example="10485760",
    ),
)
SETTINGS = CORE_SETTINGS + tuple(live.LIVE_SETTINGS)

INSTRUCTIONS = (
    "Files under the allowed directories (list_allowed_directories). Paths may be absolute or relative to the "
    "first allowed directory. Listings and searches are capped (maxResults) and say how many more there are."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", nargs="*", metavar="DIR", help="allowed directory (any number)")
    parser.add_argument("--read-only", action="store_true", help="offer no write tools and refuse every write")


def create(config: Config) -> Service:
    settings: Mapping[str, Any] = config.settings
    roots = configured_roots(config.args.directories, settings.get("ROOTS"))
    # A missing directory (an unmounted drive, a typo) must not take the whole server down in the host:
    # it is left out, said on stderr, and named by list_allowed_directories and the no-roots error.
    sandbox = Sandbox(roots, read_only=config.args.read_only, strict=False)
    for reason in sandbox.unusable_roots:
        logger.warning("%s; serving without it", reason)
    resources, watcher = live.live_resources(sandbox, settings)
    client_roots = ClientRoots(sandbox, watcher.hub)
    return Service(
        tools=build_registry(sandbox, Limits(max_read_bytes=settings["MAX_READ_BYTES"])),
        resources=resources,
        instructions=INSTRUCTIONS,
        notification_handlers=client_roots.notification_handlers(),
        lifespan=watcher.running,
        before_request=client_roots.wait_first,
    )


def describe(config: Config) -> str:
    """The effective allowed directories, for --check-config."""
    roots = configured_roots(config.args.directories, config.settings.get("ROOTS"))
    sandbox = Sandbox(roots, read_only=config.args.read_only, strict=False)
    lines = ["allowed directories:", *(f"  {root}" for root in sandbox.roots)]
    lines += [f"  not available: {reason}" for reason in sandbox.unusable_roots]
    if not sandbox.roots and not sandbox.unusable_roots:
        lines.append("  none (clients that offer roots supply them; see --help)")
    return "\n".join([*lines, f"read-only: {'yes' if sandbox.read_only else 'no'}"])


SPEC = ServerSpec(
    name="filesystem",
    description="Files under allowed directories: the reference server's tools, confined, plus live resources.",
    create=create,
    settings=SETTINGS,
    add_arguments=add_arguments,
    describe=describe,
)
