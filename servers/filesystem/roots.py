"""Allowed roots: the configured ones (command line, environment) and each client's (handshake-era `roots/list`).

Client roots narrow the configured roots, never widen them; with none configured, the client's roots are
the allow-list. The server asks for them after `notifications/initialized` and again on
`notifications/roots/list_changed`. Protocol 2026-07-28 has no server-to-client requests and deprecates
roots, so there the configured roots are the whole allow-list (as in the reference server 2.0.1).

Each client (connection) has its own view: over HTTP one client's roots narrow what that client sees and
nothing else, and are forgotten when its session ends. Every request runs with its client's view in force.
With no roots configured, what some client may see is what the watchers watch (the union of the views).

A request that uses the roots (a tool call; a resource listed, read, completed or subscribed to) that arrives
before the client's first answer waits for it (briefly, and only until the first wait runs out), so a client's
narrower roots are in force from its first request. Over Streamable HTTP the server asks within such a request
(on its response stream) instead, since its own stream to the client may not be open yet.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.to_thread
import mcp.types as types
from deskmcp.servers.filesystem.rootset import RootView, same_roots
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.shared.protocol import connection_of, offers_roots
from deskmcp.shared.subscriptions import SubscriptionHub
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import ValidationError

logger = logging.getLogger(__name__)

ROOTS_REQUEST_TIMEOUT: Final = 10.0
FIRST_ROOTS_WAIT: Final = 5.0
USES_ROOTS: Final = frozenset(
    {"tools/call", "resources/list", "resources/read", "resources/subscribe", "completion/complete"}
)


def configured_roots(arguments: Sequence[str], environment: str | None) -> list[str]:
    """Roots from the command line, then from DESKMCP_FILESYSTEM_ROOTS (os.pathsep separated)."""
    from_env = [part for part in (environment or "").split(os.pathsep) if part.strip()]
    return [*arguments, *from_env]


@dataclass(slots=True)
class _Client:
    """One client's roots: its view once it answered (None: the configured roots), whether it has, and (over
    HTTP) whether the next request must ask for them."""

    first: anyio.Event = field(default_factory=anyio.Event)
    view: RootView | None = None
    stale: bool = False
    asking: anyio.Lock = field(default_factory=anyio.Lock)


def _over_http(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether `ctx` came over Streamable HTTP, where a request of ours outside the client's own requests
    travels on its optional GET stream, which it may open only later: ask within its requests instead."""
    return getattr(ctx, "request", None) is not None


class ClientRoots:
    """Fetches each client's roots into a view of its own and puts that view in force for its requests."""

    def __init__(self, sandbox: Sandbox, hub: SubscriptionHub | None = None) -> None:
        self.sandbox, self.hub = sandbox, hub
        self._clients: dict[object, _Client] = {}
        self._server_wide_lock = anyio.Lock()

    def _client(self, ctx: ServerRequestContext[Any, Any]) -> _Client:
        """The state of the client `ctx` came from, released when its connection ends."""
        connection = connection_of(ctx.session)
        key = connection if connection is not None else id(ctx.session)  # no connection: not in SDK 2.3
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _Client()
            if connection is not None:
                connection.exit_stack.push_async_callback(self._release, key)
        return client

    async def _release(self, key: object) -> None:
        client = self._clients.pop(key, None)
        if client is not None and client.view is not None:
            await self._update_server_wide()

    async def refresh(self, ctx: ServerRequestContext[Any, Any], _params: Any = None) -> None:
        """Handler of `notifications/initialized` and `notifications/roots/list_changed`."""
        if not offers_roots(ctx):
            return
        client = self._client(ctx)
        if _over_http(ctx):
            client.stale = True  # the client's next request that uses the roots asks for them
            return
        await self._fetch(ctx, client)

    async def _fetch(self, ctx: ServerRequestContext[Any, Any], client: _Client) -> None:
        """Ask the client for its roots (`roots/list`) and make them its view."""
        try:
            try:
                with anyio.fail_after(ROOTS_REQUEST_TIMEOUT), warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    result = await ctx.session.list_roots()
            except (MCPError, TimeoutError, ValidationError) as exc:
                logger.warning(
                    "the client offers roots but roots/list failed (%s); keeping the current roots", _reason(exc)
                )
                return
            uris = [str(root.uri) for root in result.roots]
            view = await anyio.to_thread.run_sync(self.sandbox.client_view, uris)
            before, client.view = client.view or self.sandbox.client_view(None), view
            logger.info("client roots %s -> allowed directories %s", uris, [str(r.path) for r in view.effective])
            if not same_roots(view, before):
                await self._view_changed(ctx, view)
        finally:
            client.first.set()

    async def _view_changed(self, ctx: ServerRequestContext[Any, Any], view: RootView) -> None:
        """This client's roots changed: its subscriptions outside them end, and its resource list changed."""
        if self.hub is not None:
            with self.sandbox.viewing(view):
                for uri in sorted(await self.hub.recheck(ctx.session)):
                    logger.info("subscription to %s ended: no longer under the client's allowed directories", uri)
            await self.hub.list_changed_for(ctx.session)
        await self._update_server_wide()

    async def _update_server_wide(self) -> None:
        """With no configured roots, the server-wide roots (what the watchers watch) are every client's."""
        if self.sandbox.configured_roots:
            return  # every client sees at most the configured roots, which are watched as they are
        async with self._server_wide_lock:
            uris = [uri for client in self._clients.values() if client.view for uri in client.view.client or ()]
            await anyio.to_thread.run_sync(self.sandbox.set_client_roots, uris)

    async def wait_first(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Before every request: put the client's view in force; if it offers roots and the request uses them,
        first wait (briefly, once) until they are known. Over HTTP the request asks for them itself, on its
        own response stream, when they were never asked for or have changed since.

        A client that does not answer in time is not waited for again by later requests; its roots still apply
        whenever the answer comes.
        """
        if not offers_roots(ctx):
            self.sandbox.enter_view(self.sandbox.client_view(None))
            return
        client = self._client(ctx)
        if ctx.method in USES_ROOTS:
            if _over_http(ctx) and (client.stale or not client.first.is_set()):
                async with client.asking:  # one request asks; the others wait for its answer
                    if client.stale or not client.first.is_set():
                        client.stale = False
                        await self._fetch(ctx, client)
            elif not client.first.is_set():
                with anyio.move_on_after(FIRST_ROOTS_WAIT):
                    await client.first.wait()
                client.first.set()
        self.sandbox.enter_view(client.view or self.sandbox.client_view(None))

    def notification_handlers(self) -> dict[str, tuple[type[types.NotificationParams], Any]]:
        return {
            "notifications/initialized": (types.NotificationParams, self.refresh),
            "notifications/roots/list_changed": (types.NotificationParams, self.refresh),
        }


def _reason(exc: Exception) -> str:
    """Why roots/list failed, on one line (a malformed answer names each bad field)."""
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"the answer is not a valid roots list: {fields}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {ROOTS_REQUEST_TIMEOUT:g} s"
    return str(exc)
