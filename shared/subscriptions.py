"""Who is subscribed to which resource, per client, in both protocol eras, and the notifications they get.

Handshake era: `resources/subscribe` adds a URI to the subscriptions of the client's connection, and
`notifications/resources/updated` goes out on that connection; a client that has listed resources is sent
`notifications/resources/list_changed`. 2026-07-28: each `subscriptions/listen` stream names its URIs and
whether it wants list changes; events go on the SDK's subscription bus, whose `ListenHandler` delivers
each only to the streams that asked for it. A client's state is released when its connection (or stream)
ends, so one client's subscriptions never reach another, over stdio or HTTP alike.

The server tells the hub what changed with `updated(uri)` and `list_changed()`, from any thread. A
`Watcher` (optional) lets it refuse URIs and watch only what someone is subscribed to.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.abc
import mcp.types as types
from deskmcp.shared.errors import DomainError
from deskmcp.shared.offload import call
from deskmcp.shared.protocol import connection_of
from mcp.server import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourcesListChanged, ResourceUpdated

logger = logging.getLogger(__name__)

UPDATE_INTERVAL: Final = 0.25  # seconds: a resource changing all the time is announced this often, then once more
LIST_CHANGED_DELAY: Final = 0.2  # seconds: a burst of list changes becomes one notification
MAX_SUBSCRIPTIONS: Final = 10_000  # URIs per client connection or listen stream


class Watcher:
    """What a server does about subscriptions besides delivering them; every method is optional.

    The hub calls `check` before a URI is subscribed, `follow` whenever the set of subscribed URIs changes
    and `follow_lists` whenever whether anyone wants list changes does. A server that watches a source
    for changes (folders, another process's writes) watches what these say and calls `hub.updated(uri)`.
    """

    def check(self, uri: str) -> Any:
        """Refuse a subscription to `uri` with a `DomainError`; what is returned is passed on to `follow`.

        Runs in a worker thread (it may touch the disk) unless it is a coroutine function.
        """
        return None

    async def follow(self, subscribed: Mapping[str, Any]) -> None:
        """Subscribed now, over every client: URI -> what `check` returned for it.

        A `DomainError` refuses the change that led here (a limit): the hub undoes it, calls again with
        the previous set and passes the error to the client. Called with the hub's lock held.
        """

    def follow_lists(self, wanted: bool) -> None:
        """Whether any client now wants resource list changes (called on the event loop when that flips)."""


@dataclass(slots=True)
class _Client:
    """A handshake-era connection: the session that reaches it, its URIs, whether it wants list changes."""

    session: ServerSession
    uris: set[str] = field(default_factory=set)
    list_changes: bool = False


@dataclass(frozen=True, slots=True)
class _Stream:
    """One 2026-07-28 listen stream."""

    uris: frozenset[str]
    list_changes: bool


class SubscriptionHub:
    """Subscriptions of both eras, per client, and the rate-limited notifications they cause.

    `updated(uri)` and `list_changed()` may be called from any thread at any time; they never block, and
    before `running()` is entered or after it ends they do nothing.
    """

    def __init__(
        self,
        watcher: Watcher | None = None,
        *,
        update_interval: float = UPDATE_INTERVAL,
        list_changed_delay: float = LIST_CHANGED_DELAY,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
    ) -> None:
        self.watcher = watcher
        self.update_interval, self.list_changed_delay = update_interval, list_changed_delay
        self.max_subscriptions = max_subscriptions
        self.bus = InMemorySubscriptionBus()
        self._listen_handler = ListenHandler(self.bus)
        self._clients: dict[object, _Client] = {}  # connection (or session) -> its subscriptions
        self._streams: dict[object, _Stream] = {}
        self._checked: dict[str, Any] = {}  # subscribed URI -> what the watcher's check returned
        self._lists_wanted = False
        self._lock = anyio.Lock()
        self._list_due = anyio.Event()
        self._last_update: dict[str, float] = {}  # URI -> when it was last announced
        self._trailing: set[str] = set()  # URIs with an announcement scheduled
        self._group: anyio.abc.TaskGroup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    # --- what changed: any thread ---------------------------------------------------------------------------

    def updated(self, uri: str) -> None:
        """`uri` changed: send `notifications/resources/updated` to every client subscribed to it.

        At most one per URI every `update_interval`; the last change of a burst is always announced.
        """
        self._on_loop(self._announce, uri)

    def list_changed(self) -> None:
        """The resource list changed: tell the clients that want list changes (a burst becomes one)."""
        self._on_loop(self._list_changed)

    def _on_loop(self, function: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            function(*args)
            return
        try:
            loop.call_soon_threadsafe(function, *args)  # never waits, so a poller cannot hang on a closing loop
        except RuntimeError:
            pass  # the loop has closed: the server is stopping

    # --- lifetime -------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SubscriptionHub]:
        """While the server runs: deliver notifications; at the end, close the listen streams."""
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._send_list_changes)
                try:
                    yield self
                finally:
                    self._group = None
                    self._listen_handler.close()
                    group.cancel_scope.cancel()
        finally:
            self._loop = None

    def end_listen_streams(self) -> None:
        """Close every 2026-07-28 listen stream gracefully (each sends its final result): the server is stopping."""
        self._listen_handler.close()

    # --- handshake era --------------------------------------------------------------------------------------

    async def subscribe(self, uri: str, session: ServerSession) -> None:
        """The client of `session` subscribes to `uri` (a `DomainError` from the watcher refuses it)."""
        checked = await self._check(uri)
        client = self._client(session)
        again = uri in client.uris  # subscribing again refreshes what the watcher follows
        if not again and len(client.uris) >= self.max_subscriptions:
            msg = f"{self.max_subscriptions} resources are subscribed already; unsubscribe from some first"
            raise DomainError(msg)
        saved: dict[str, Any] = {}

        def apply() -> None:
            if uri in self._checked:
                saved[uri] = self._checked[uri]
            client.uris.add(uri)
            self._checked[uri] = checked

        def undo() -> None:
            if not again:
                client.uris.discard(uri)
            self._checked.update(saved)

        await self._change(apply, undo)

    async def unsubscribe(self, uri: str, session: ServerSession) -> None:
        client = self._clients.get(self._key(session))
        if client is None or uri not in client.uris:
            return
        async with self._lock:
            client.uris.discard(uri)
            await self._follow()

    def want_list_changes(self, session: ServerSession) -> None:
        """The client of `session` listed resources: from now on it is told when the list changes."""
        client = self._client(session)
        if not client.list_changes:
            client.list_changes = True
            self._lists_may_have_changed()

    async def drop(self, uris: set[str]) -> None:
        """End every client's subscription to these URIs (they are gone for good); listen streams keep theirs."""
        async with self._lock:
            for client in self._clients.values():
                client.uris -= uris
            await self._follow_regardless()

    async def recheck(self, session: ServerSession) -> set[str]:
        """The client of `session` may now see less (its roots narrowed): end its subscriptions that the watcher's
        `check`, run here with the client's new view in force, refuses. Other clients keep theirs."""
        client = self._clients.get(self._key(session))
        refused: set[str] = set()
        for uri in sorted(client.uris if client is not None else ()):
            try:
                await self._check(uri)
            except DomainError:
                refused.add(uri)
        if client is not None and refused:
            async with self._lock:
                client.uris -= refused
                await self._follow_regardless()
        return refused

    async def list_changed_for(self, session: ServerSession) -> None:
        """The resource list changed for the client of `session` alone: tell it, if it wants list changes."""
        client = self._clients.get(self._key(session))
        if client is not None and client.list_changes:
            await client.session.send_resource_list_changed()

    def _key(self, session: ServerSession) -> object:
        connection = connection_of(session)
        return connection if connection is not None else session

    def _client(self, session: ServerSession) -> _Client:
        key = self._key(session)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _Client(session)
            if key is not session:  # a connection: forget the client when it ends
                connection_of(session).exit_stack.push_async_callback(self._release, key)  # type: ignore[union-attr]
        return client

    async def _release(self, key: object) -> None:
        async with self._lock:
            client = self._clients.pop(key, None)
            if client is not None and client.uris:
                await self._follow_regardless()
        self._lists_may_have_changed()

    # --- 2026-07-28 -----------------------------------------------------------------------------------------

    async def listen(self, ctx: ServerRequestContext[Any, Any], params: types.SubscriptionsListenRequestParams) -> Any:
        """`subscriptions/listen`: register the stream's URIs, serve the stream, release them when it ends."""
        wanted = params.notifications
        uris = list(dict.fromkeys(wanted.resource_subscriptions or ()))
        if len(uris) > self.max_subscriptions:
            msg = f"a listen stream may name at most {self.max_subscriptions} resources; got {len(uris)}"
            raise DomainError(msg)
        checked = {uri: await self._check(uri) for uri in uris}
        token = object()

        def apply() -> None:
            self._streams[token] = _Stream(frozenset(uris), bool(wanted.resources_list_changed))
            self._checked.update(checked)

        await self._change(apply, lambda: self._streams.pop(token))
        self._lists_may_have_changed()
        try:
            return await self._listen_handler(ctx, params)
        finally:
            with anyio.CancelScope(shield=True):
                async with self._lock:
                    del self._streams[token]
                    await self._follow_regardless()
                self._lists_may_have_changed()

    # --- interest -------------------------------------------------------------------------------------------

    @property
    def wants_list_changes(self) -> bool:
        return any(c.list_changes for c in self._clients.values()) or any(
            s.list_changes for s in self._streams.values()
        )

    def subscribers(self, uri: str) -> int:
        """How many clients (handshake connections and listen streams) are subscribed to `uri`."""
        return sum(uri in c.uris for c in self._clients.values()) + sum(uri in s.uris for s in self._streams.values())

    async def _check(self, uri: str) -> Any:
        return None if self.watcher is None else await call(self.watcher.check, uri)

    async def _change(self, apply: Callable[[], None], undo: Callable[[], Any]) -> None:
        async with self._lock:
            apply()
            try:
                await self._follow()
            except DomainError:
                undo()
                await self._follow()
                raise

    async def _follow(self) -> None:
        subscribed = set().union(*(c.uris for c in self._clients.values()), *(s.uris for s in self._streams.values()))
        self._checked = {uri: value for uri, value in self._checked.items() if uri in subscribed}
        self._last_update = {uri: at for uri, at in self._last_update.items() if uri in subscribed}
        if self.watcher is not None:
            await self.watcher.follow(dict(self._checked))

    async def _follow_regardless(self) -> None:
        """`_follow` after a release, which nothing can refuse."""
        try:
            await self._follow()
        except DomainError as exc:
            logger.warning("after a subscription ended: %s", exc)

    def _lists_may_have_changed(self) -> None:
        wanted = self.wants_list_changes
        if wanted != self._lists_wanted:
            self._lists_wanted = wanted
            if self.watcher is not None:
                self.watcher.follow_lists(wanted)

    # --- delivery: on the event loop ------------------------------------------------------------------------

    def _announce(self, uri: str) -> None:
        """Send `updated` now, or (within `update_interval` of the last one) once when the interval ends."""
        if self._group is None or uri not in self._checked:
            return
        now = anyio.current_time()
        wait = self._last_update.get(uri, -math.inf) + self.update_interval - now
        if wait <= 0:
            self._last_update[uri] = now
            self._group.start_soon(self._send_updated, uri)
        elif uri not in self._trailing:
            self._trailing.add(uri)
            self._group.start_soon(self._announce_later, uri, wait)

    async def _announce_later(self, uri: str, wait: float) -> None:
        await anyio.sleep(wait)
        self._trailing.discard(uri)
        self._last_update[uri] = anyio.current_time()
        await self._send_updated(uri)

    async def _send_updated(self, uri: str) -> None:
        for client in list(self._clients.values()):
            if uri in client.uris:
                await client.session.send_resource_updated(uri)
        if any(uri in stream.uris for stream in self._streams.values()):
            await self.bus.publish(ResourceUpdated(uri=uri))

    def _list_changed(self) -> None:
        self._list_due.set()

    async def _send_list_changes(self) -> None:
        while True:
            await self._list_due.wait()
            await anyio.sleep(self.list_changed_delay)
            self._list_due = anyio.Event()
            for client in list(self._clients.values()):
                if client.list_changes:
                    await client.session.send_resource_list_changed()
            if any(stream.list_changes for stream in self._streams.values()):
                await self.bus.publish(ResourcesListChanged())
