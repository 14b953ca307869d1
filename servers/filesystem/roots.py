"""Allowed roots: the configured ones (command line, environment) and the client's (handshake-era `roots/list`).

Client roots narrow the configured roots, never widen them; with none configured, the client's roots are
the allow-list. The server asks for them after `notifications/initialized` and again on
`notifications/roots/list_changed`. Protocol 2026-07-28 has no server-to-client requests and deprecates
roots, so there the configured roots are the whole allow-list (as in the reference server 2.0.1).

A request that uses the roots (a tool call; a resource listed, read, completed or subscribed to) that arrives
before the first answer waits for it (briefly, and only until the first wait runs out), so a client's narrower
roots are in force from its first request.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any, Final

import anyio
import anyio.to_thread
import mcp.types as types
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.shared.protocol import offers_roots
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


class ClientRoots:
    """Fetches the client's roots into the sandbox and lets requests wait for the first answer."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._first: anyio.Event | None = None

    def _event(self) -> anyio.Event:
        if self._first is None:
            self._first = anyio.Event()
        return self._first

    async def refresh(self, ctx: ServerRequestContext[Any, Any], _params: Any = None) -> None:
        """Handler of `notifications/initialized` and `notifications/roots/list_changed`."""
        try:
            if not offers_roots(ctx):
                return
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
            roots = await anyio.to_thread.run_sync(self.sandbox.set_client_roots, uris)
            logger.info("client roots %s -> allowed directories %s", uris, [str(r) for r in roots])
        finally:
            self._event().set()

    async def wait_first(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Before a request that uses the roots: if the client offers them, wait (briefly, once) until they are known.

        A client that does not answer in time is not waited for again by later requests; its roots still apply
        whenever the answer comes.
        """
        if ctx.method not in USES_ROOTS or self._event().is_set() or not offers_roots(ctx):
            return
        with anyio.move_on_after(FIRST_ROOTS_WAIT):
            await self._event().wait()
        self._event().set()

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
