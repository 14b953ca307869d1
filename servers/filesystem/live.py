"""Files as live MCP resources: the filesystem's registration in the shared resource table.

`live_resources(sandbox, settings)` returns the `ResourceTable` (the `file:///{+path}` template with path
completion, the paged listing, reads, subscriptions through the watcher's hub) and the `LiveHub` whose
`running()` runs the watchers. Domain work happens in `resources` and `subscriptions`; the shared layer
moves it off the event loop and turns its errors into each protocol era's JSON-RPC errors.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final

from deskmcp.servers.filesystem.resources import (
    TEMPLATE,
    IgnoreRules,
    complete_path,
    decode_cursor,
    encode_cursor,
    list_page,
    read_resource,
)
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.subscriptions import LiveHub
from deskmcp.servers.filesystem.watch import default_watch_budget, os_watch_limit, tree_watch_mode
from deskmcp.shared.protocol import protocol_error as protocol_error  # tests take it from here
from deskmcp.shared.resources import Contents, Listed, Page, ResourceTable, template
from deskmcp.shared.settings import MIB, Setting, parse_size, whole_number

parse_count: Final = whole_number(1)


def check_ignore_patterns(text: str) -> str:
    """The IGNORE setting as given, once every pattern in it compiles (a `ValueError` names the bad one)."""
    IgnoreRules.parse(text)
    return text


LIVE_SETTINGS: Final = (
    Setting(
        "IGNORE",
        "comma-separated names (node_modules, *.pyc) or paths below a root (build/out, /build) left out of "
        "resources/list, completion and list-change watching, globs as in search_files' excludePatterns, "
        "besides the VCS folders (.git, .hg, .svn, ...) skipped by default; !.git lists .git again",
        parser=check_ignore_patterns,
        example="node_modules,*.pyc",
    ),
    Setting(
        "RESOURCE_MAX_BYTES",
        "largest file resources/read returns (bytes, or with KiB/MiB/GiB)",
        parser=parse_size,
        default=10 * MIB,
        example="10MiB",
    ),
    Setting("RESOURCES_PAGE_SIZE", "resources per resources/list page", parser=parse_count, default=500, example="500"),
    Setting(
        "WATCH_LIMIT",
        "most folders watched at once for subscriptions and list changes (default: a quarter of the OS's "
        "inotify watch limit, at most 8192)",
        parser=parse_count,
        example="8192",
    ),
)


def _every_uri(uri: str) -> dict[str, str]:
    """The file template reads any URI: `uri_to_path` says what is wrong with one that names no local file
    (and a Windows UNC URI, `file://server/share/...`, is a file the template's form cannot spell)."""
    return {}


def live_resources(sandbox: Sandbox, settings: Mapping[str, Any]) -> tuple[ResourceTable, LiveHub]:
    """The resources and subscriptions half of the filesystem server, and the watcher to run with it."""
    rules = IgnoreRules.parse(settings.get("IGNORE"))
    max_bytes: int = settings.get("RESOURCE_MAX_BYTES") or 10 * MIB
    page_size: int = settings.get("RESOURCES_PAGE_SIZE") or 500
    budget = settings.get("WATCH_LIMIT") or default_watch_budget(os_watch_limit())
    watcher = LiveHub(sandbox, rules, budget=budget, per_directory=tree_watch_mode() == "per-directory")

    def files(cursor: str | None) -> Page:
        position = decode_cursor(cursor, sandbox.roots) if cursor else None
        page, following = list_page(sandbox, rules, position, page_size)
        listed = [Listed(item.uri, item.name, item.mime_type, item.size) for item in page]
        return listed, encode_cursor(following) if following is not None else None

    def complete(value: str) -> list[str]:
        return complete_path(sandbox, rules, value, limit=sys.maxsize)[0]

    title = "File under an allowed directory"

    @template(TEMPLATE, name="file", title=title, match=_every_uri, complete={"path": complete})
    def file(uri: str) -> Contents:
        """Any file under the allowed directories by its absolute path, e.g. path=home/me/notes.txt for
        file:///home/me/notes.txt (path=C:/Users/me/notes.txt on Windows). The path argument completes."""
        return read_resource(sandbox, uri, max_bytes)

    return ResourceTable(templates=[file], lister=files, hub=watcher.hub), watcher
