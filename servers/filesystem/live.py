"""Files as live MCP resources: the protocol handlers for sections 2 and 3 of the filesystem server.

`live_parts(sandbox, settings)` returns the SDK handlers (resources, templates, completion, subscriptions
in both eras), the notification options and a lifespan that runs (and at the end releases) the watchers.
Domain work happens in `resources` and `subscriptions`; this module adapts it to the wire and chooses
the JSON-RPC error of each failure for the connection's protocol era.
"""

from __future__ import annotations

import base64
import string
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import anyio.to_thread
import mcp.types as types
from deskmcp.servers.filesystem.resources import (
    TEMPLATE,
    IgnoreRules,
    ResourceNotFound,
    ResourceTooLarge,
    ResourceUnreadable,
    complete_path,
    decode_cursor,
    encode_cursor,
    list_page,
    read_resource,
)
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.subscriptions import LiveHub, SubscriptionRefused
from deskmcp.servers.filesystem.uris import InvalidResource
from deskmcp.servers.filesystem.watch import default_watch_budget, os_watch_limit, tree_watch_mode
from deskmcp.shared.settings import Setting, whole_number
from mcp.server import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

RESOURCE_NOT_FOUND: Final = -32002  # handshake era; 2026-07-28 answers -32602 (SEP-2164)
MIB: Final = 1024 * 1024
SIZE_UNITS: Final = {
    **{"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": MIB, "mb": MIB, "mib": MIB},
    **{"g": 1024 * MIB, "gb": 1024 * MIB, "gib": 1024 * MIB},
}

Context = ServerRequestContext[Any, Any]


parse_count: Final = whole_number(1)


def parse_size(text: str) -> int:
    """Bytes from `10485760`, `10MiB`, `512 KiB`, `1g` (binary units); the number is read as `parse_count` reads it."""
    stripped = text.strip()
    number = stripped.rstrip(string.ascii_letters)
    try:
        return parse_count(number) * SIZE_UNITS[stripped[len(number) :].lower()]
    except (ValueError, KeyError):
        msg = f"expected a positive size such as 10485760 or 10MiB, got {text!r}"
        raise ValueError(msg) from None


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


@dataclass(slots=True)
class LiveParts:
    """What the live-resources half adds to the filesystem server's `Service`."""

    handlers: dict[str, Any]
    notification_options: NotificationOptions = field(default_factory=NotificationOptions)
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None


def _modern(ctx: Context) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def protocol_error(ctx: Context, exc: Exception, uri: str | None = None) -> MCPError:
    """The JSON-RPC error for a domain failure, as the connection's protocol era expects it."""
    data = {"uri": uri} if uri is not None else None
    if isinstance(exc, ResourceNotFound):
        code = types.INVALID_PARAMS if _modern(ctx) else RESOURCE_NOT_FOUND
        return MCPError(code, str(exc), data)
    if isinstance(exc, InvalidResource | ResourceTooLarge):
        return MCPError(types.INVALID_PARAMS, str(exc), data)
    return MCPError(types.INTERNAL_ERROR, str(exc), data)


DOMAIN_ERRORS: Final = (ResourceNotFound, InvalidResource, ResourceTooLarge, ResourceUnreadable, SubscriptionRefused)


class ResourceHandlers:
    """The SDK handlers of the live-resources half, over one sandbox and one hub."""

    def __init__(self, sandbox: Sandbox, settings: Mapping[str, Any]) -> None:
        self.sandbox = sandbox
        self.rules = IgnoreRules.parse(settings.get("IGNORE"))
        self.max_bytes: int = settings.get("RESOURCE_MAX_BYTES") or 10 * MIB
        self.page_size: int = settings.get("RESOURCES_PAGE_SIZE") or 500
        budget = settings.get("WATCH_LIMIT") or default_watch_budget(os_watch_limit())
        per_directory = tree_watch_mode() == "per-directory"
        self.hub = LiveHub(sandbox, self.rules, budget=budget, per_directory=per_directory)

    async def list_resources(self, ctx: Context, params: types.PaginatedRequestParams) -> types.ListResourcesResult:
        try:
            position = decode_cursor(params.cursor, self.sandbox.roots) if params.cursor else None
        except InvalidResource as exc:
            raise protocol_error(ctx, exc) from None
        page, following = await anyio.to_thread.run_sync(list_page, self.sandbox, self.rules, position, self.page_size)
        if not _modern(ctx):
            self.hub.want_list_changes(ctx.session)
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=item.uri, name=item.name, mime_type=item.mime_type, size=item.size) for item in page
            ],
            next_cursor=encode_cursor(following) if following is not None else None,
        )

    async def list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template=TEMPLATE,
            name="file",
            title="File under an allowed directory",
            description=(
                "Any file under the allowed directories by its absolute path, e.g. path=home/me/notes.txt for "
                "file:///home/me/notes.txt (path=C:/Users/me/notes.txt on Windows). The path argument completes."
            ),
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read(self, ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        try:
            content = await anyio.to_thread.run_sync(read_resource, self.sandbox, params.uri, self.max_bytes)
        except DOMAIN_ERRORS as exc:
            raise protocol_error(ctx, exc, params.uri) from None
        if content.text is not None:
            block: Any = types.TextResourceContents(uri=params.uri, mime_type=content.mime_type, text=content.text)
        else:
            blob = base64.b64encode(content.data or b"").decode("ascii")
            block = types.BlobResourceContents(uri=params.uri, mime_type=content.mime_type, blob=blob)
        return types.ReadResourceResult(contents=[block])

    async def complete(self, ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
        ref = params.ref
        if not (isinstance(ref, types.ResourceTemplateReference) and ref.uri == TEMPLATE):
            return types.CompleteResult(completion=types.Completion(values=[]))
        if params.argument.name != "path":
            msg = f"the file template has one argument, 'path'; got {params.argument.name!r}"
            raise MCPError(types.INVALID_PARAMS, msg)
        values, total = await anyio.to_thread.run_sync(complete_path, self.sandbox, self.rules, params.argument.value)
        return types.CompleteResult(
            completion=types.Completion(values=values, total=total, has_more=total > len(values))
        )

    async def subscribe(self, ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        try:
            await self.hub.subscribe(params.uri, ctx.session)
        except DOMAIN_ERRORS as exc:
            raise protocol_error(ctx, exc, params.uri) from None
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        await self.hub.unsubscribe(params.uri)
        return types.EmptyResult()

    async def listen(self, ctx: Context, params: types.SubscriptionsListenRequestParams) -> Any:
        """`subscriptions/listen`: check and register the stream's URIs, then let the SDK serve the stream."""
        wanted = params.notifications
        uris = list(wanted.resource_subscriptions or ())
        try:
            registration = self.hub.listening(uris, bool(wanted.resources_list_changed))
            async with registration:
                return await self.hub.listen_handler(ctx, params)
        except DOMAIN_ERRORS as exc:
            raise protocol_error(ctx, exc) from None

    def handlers(self) -> dict[str, Any]:
        return {
            "on_list_resources": self.list_resources,
            "on_list_resource_templates": self.list_templates,
            "on_read_resource": self.read,
            "on_completion": self.complete,
            "on_subscribe_resource": self.subscribe,
            "on_unsubscribe_resource": self.unsubscribe,
            "on_subscriptions_listen": self.listen,
        }


def live_parts(sandbox: Sandbox, settings: Mapping[str, Any]) -> LiveParts:
    """The resources and subscriptions half of the filesystem server."""
    handlers = ResourceHandlers(sandbox, settings)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[LiveHub]:
        async with handlers.hub.running() as hub:
            yield hub

    return LiveParts(
        handlers=handlers.handlers(),
        notification_options=NotificationOptions(resources_changed=True),
        lifespan=lifespan,
    )
