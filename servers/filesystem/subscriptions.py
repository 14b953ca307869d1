"""Who hears about which file changes, in both protocol eras, and the watchers that find the changes.

Handshake era: `resources/subscribe` keeps the URI with the session of that request (over stdio it reaches
the one client at any later time) and `notifications/resources/updated` goes out on it; a client that has
listed resources is sent `notifications/resources/list_changed`. 2026-07-28: a `subscriptions/listen`
stream names its URIs and whether it wants list changes; events go on the SDK's subscription bus, whose
`ListenHandler` delivers each only to the streams that asked for it.

Watching follows interest. Subscribed files: the folder holding each one, non-recursively (the nearest
existing ancestor while that folder is missing); watching the folder rather than the file is what sees an
editor's rename-over-save. List changes: the tree (see `watch.TreeState`), only while someone wants them.
When the last subscription ends, the watchers are closed and their OS watches released.
"""

from __future__ import annotations

import logging
import math
import stat
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from deskmcp.servers.filesystem.paths import AccessDenied, NotFound
from deskmcp.servers.filesystem.resources import IgnoreRules, ResourceNotFound, locate
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.servers.filesystem.uris import InvalidResource, uri_to_path
from deskmcp.servers.filesystem.watch import Batch, TreeState, WatchLimitReached, WatchSet, path_key
from deskmcp.shared.tools import ToolError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourcesListChanged, ResourceUpdated
from watchfiles import Change

logger = logging.getLogger(__name__)

LIST_CHANGED_DELAY: Final = 0.2  # seconds: a burst of creations becomes one list_changed
UPDATE_INTERVAL: Final = 0.25  # seconds: a file written continuously is announced at most this often, then once more
MAX_SUBSCRIPTIONS: Final = 10_000
LIMIT_HINT: Final = "raise DESKMCP_FILESYSTEM_WATCH_LIMIT (and, on Linux, sysctl fs.inotify.max_user_watches)"


class SubscriptionRefused(Exception):
    """A subscription the server cannot keep (a limit); the message says which and what to do."""


@dataclass(slots=True)
class _Stream:
    """One 2026-07-28 listen stream: its resource URIs (-> path key) and whether it wants list changes."""

    uris: dict[str, str]
    list_changes: bool


class LiveHub:
    """Subscriptions of both eras, the watchers serving them, and the notifications they cause."""

    def __init__(self, sandbox: Sandbox, rules: IgnoreRules, *, budget: int, per_directory: bool) -> None:
        self.sandbox, self.rules, self.budget = sandbox, rules, budget
        self.bus = InMemorySubscriptionBus()
        self.listen_handler = ListenHandler(self.bus)
        self._legacy: dict[str, tuple[str, ServerSession]] = {}  # uri -> (path key, session)
        self._streams: dict[object, _Stream] = {}
        self._list_session: ServerSession | None = None
        self._paths: dict[str, Path] = {}  # path key -> real path, of every subscribed file
        self._ancestors: dict[str, set[str]] = {}  # folder key -> keys of subscribed files below it
        self._files = WatchSet("files", self._on_file_batch)
        self._tree = WatchSet("tree", self._on_tree_batch, recursive=not per_directory)
        self._tree_state = TreeState(sandbox, rules, budget, per_directory=per_directory)
        self._tree_ready = False
        # Separate locks: walking a big tree for list changes must not hold up a subscribe request.
        self._files_lock = anyio.Lock()
        self._tree_lock = anyio.Lock()
        self._list_due = anyio.Event()
        self._last_update: dict[str, float] = {}  # uri -> when it was last announced
        self._trailing: set[str] = set()  # URIs with an announcement scheduled
        self._inbox: anyio.abc.ObjectSendStream[tuple[str, Any]] | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread = 0
        sandbox.add_roots_listener(self._roots_changed)

    # --- lifetime ---------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LiveHub]:
        """While the server runs: handle change batches and send list changes; at the end, release watchers."""
        self._token, self._loop_thread = anyio.lowlevel.current_token(), threading.get_ident()
        send, receive = anyio.create_memory_object_stream[tuple[str, Any]](math.inf)
        self._inbox = send
        async with anyio.create_task_group() as group:
            self._group = group
            group.start_soon(self._consume, receive)
            group.start_soon(self._send_list_changes)
            try:
                yield self
            finally:
                self._inbox, self._group = None, None
                send.close()
                self.listen_handler.close()
                with anyio.CancelScope(shield=True):
                    await self._files.close()
                    await self._tree.close()
                group.cancel_scope.cancel()

    @property
    def watched_folders(self) -> tuple[int, int]:
        """(folders watched for subscribed files, folders watched for list changes)."""
        return len(self._files.paths), len(self._tree.paths)

    # --- handshake era ----------------------------------------------------------------------------------

    async def subscribe(self, uri: str, session: ServerSession) -> None:
        key, path = await self._check(uri)
        async with self._files_lock:
            previous = self._legacy.get(uri)
            self._legacy[uri] = (key, session)
            self._paths[key] = path
            try:
                await self._replan_files()
            except SubscriptionRefused:
                if previous is None:
                    del self._legacy[uri]
                else:
                    self._legacy[uri] = previous
                await self._replan_files()
                raise

    async def unsubscribe(self, uri: str) -> None:
        async with self._files_lock:
            if self._legacy.pop(uri, None) is not None:
                await self._replan_files()

    def want_list_changes(self, session: ServerSession) -> None:
        """A handshake-era client listed resources: from now on it is told when the list changes."""
        if self._list_session is None and self._group is not None:
            self._list_session = session
            self._group.start_soon(self._replan_tree_locked)

    # --- 2026-07-28 -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def listening(self, uris: Iterable[str], list_changes: bool) -> AsyncIterator[None]:
        """Registers one listen stream for as long as it is open."""
        checked = {uri: await self._check(uri) for uri in uris}
        token = object()
        async with self._files_lock:
            self._streams[token] = _Stream({uri: key for uri, (key, _) in checked.items()}, list_changes)
            self._paths.update(checked.values())
            try:
                await self._replan_files()
            except SubscriptionRefused:
                del self._streams[token]
                await self._replan_files()
                raise
        if list_changes and self._group is not None:
            self._group.start_soon(self._replan_tree_locked)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._files_lock:
                    del self._streams[token]
                    await self._replan_files()
                await self._replan_tree_locked()

    # --- checking and planning --------------------------------------------------------------------------

    async def _check(self, uri: str) -> tuple[str, Path]:
        """The path key and real path of a file URI a client may subscribe to; refusals say why."""
        path = uri_to_path(uri)
        real = await anyio.to_thread.run_sync(self._resolve, uri, path)
        if len(self._subscribed()) >= MAX_SUBSCRIPTIONS and path_key(real) not in self._paths:
            msg = f"{MAX_SUBSCRIPTIONS} files are subscribed already; unsubscribe from some first"
            raise SubscriptionRefused(msg)
        return path_key(real), real

    def _resolve(self, uri: str, path: str) -> Path:
        try:
            real = self.sandbox.resolve(path)
        except AccessDenied as exc:
            msg = f"cannot subscribe to {uri}: it is not under an allowed directory ({exc})"
            raise ResourceNotFound(msg) from None
        except (NotFound, ToolError, OSError) as exc:
            msg = f"cannot subscribe to {uri}: its folder does not exist or cannot be opened ({exc})"
            raise ResourceNotFound(msg) from None
        if self._is_folder(real):
            msg = f"{uri} is a folder; subscribe to files (list changes are sent to clients that list resources)"
            raise InvalidResource(msg)
        return real

    def _subscribed(self) -> dict[str, set[str]]:
        """Path key -> URIs, over both eras."""
        keyed: dict[str, set[str]] = {}
        for uri, (key, _) in self._legacy.items():
            keyed.setdefault(key, set()).add(uri)
        for stream in self._streams.values():
            for uri, key in stream.uris.items():
                keyed.setdefault(key, set()).add(uri)
        return keyed

    async def _replan_files(self) -> None:
        """Watch the folders of the subscribed files (call with the files lock held)."""
        keys = self._subscribed()
        self._paths = {key: path for key, path in self._paths.items() if key in keys}
        announced = {uri for uris in keys.values() for uri in uris}
        self._last_update = {uri: at for uri, at in self._last_update.items() if uri in announced}
        self._ancestors = {}
        for key, path in self._paths.items():
            for folder in path.parents:
                self._ancestors.setdefault(path_key(folder), set()).add(key)
        folders = await anyio.to_thread.run_sync(self._nearest_folders, list(self._paths.values()))
        if len(folders) > self.budget:
            msg = f"the subscribed files are in {len(folders)} folders, over the limit of {self.budget}; {LIMIT_HINT}"
            raise SubscriptionRefused(msg)
        if self._inbox is None and folders:
            return  # shutting down: open nothing new
        try:
            await self._files.watch(folders)
        except OSError as exc:
            logger.warning("cannot watch the folders of subscribed files: %s", exc)
            msg = f"the server cannot watch more folders: {exc}; {LIMIT_HINT}"
            raise SubscriptionRefused(msg) from None

    def _nearest_folders(self, paths: list[Path]) -> set[str]:
        """For each file, its folder, or the nearest existing ancestor inside the roots while that is missing."""
        folders: set[str] = set()
        for path in paths:
            located = locate(self.sandbox.roots, path)
            if located is None:
                continue
            root, folder = located[0], path.parent
            while folder != root and not self._is_folder(folder):
                folder = folder.parent
            folders.add(str(folder))
        return folders

    def _is_folder(self, path: Path) -> bool:
        try:
            return stat.S_ISDIR(self.sandbox.stat(path).st_mode)
        except (ToolError, OSError):
            return False

    async def _replan_tree_locked(self) -> None:
        async with self._tree_lock:
            await self._replan_tree()

    async def _replan_tree(self) -> None:
        """Watch the tree while someone wants list changes, within the budget (call with the tree lock held)."""
        wanted = self._list_session is not None or any(s.list_changes for s in self._streams.values())
        if not wanted or self._inbox is None:
            self._tree_ready = False
            await self._tree.watch(())
            return
        while True:
            if not self._tree_ready:
                await anyio.to_thread.run_sync(self._tree_state.rebuild)
                self._tree_ready = True
                if self._tree_state.truncated:
                    logger.warning(
                        "watching the first %d folders under the allowed directories for resource list changes; "
                        "changes deeper down send no notifications/resources/list_changed; %s",
                        len(self._tree_state.dirs),
                        LIMIT_HINT,
                    )
            try:
                await self._tree.watch(self._tree_state.watch_paths())
                return
            except WatchLimitReached as exc:
                if self._tree_state.budget <= 1 or not self._tree_state.per_directory:
                    logger.warning("resource list changes cannot be watched: %s; %s", exc, LIMIT_HINT)
                    return
                self._tree_state.budget //= 2
                self._tree_ready = False
                logger.warning("%s; trying again with at most %d folders", exc, self._tree_state.budget)
            except OSError as exc:
                logger.warning("resource list changes cannot be watched: %s", exc)
                return

    # --- changes ----------------------------------------------------------------------------------------

    def _post(self, kind: str, payload: Any) -> None:
        if self._inbox is not None:
            self._inbox.send_nowait((kind, payload))

    def _on_file_batch(self, batch: Batch) -> None:
        self._post("files", batch)

    def _on_tree_batch(self, batch: Batch) -> None:
        self._post("tree", batch)

    def _roots_changed(self) -> None:
        """Sandbox listener (any thread): the allowed roots changed."""
        if self._token is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._post("roots", None)
        else:
            anyio.from_thread.run_sync(self._post, "roots", None, token=self._token)

    async def _consume(self, inbox: anyio.abc.ObjectReceiveStream[tuple[str, Any]]) -> None:
        async for kind, payload in inbox:
            try:
                if kind == "files":
                    await self._files_changed(payload)
                elif kind == "tree":
                    await self._tree_changed(payload)
                else:
                    await self._roots_replaced()
            except Exception:  # one bad batch must not end live updates
                logger.exception("handling %s changes failed", kind)

    async def _files_changed(self, batch: Batch) -> None:
        keyed = self._subscribed()
        changed: set[str] = set()
        moved_folders = False
        for change, raw in batch:
            key = path_key(raw)
            if key in keyed:
                changed.add(key)
            elif change != Change.modified and key in self._ancestors:  # a folder on the way came or went
                changed |= self._ancestors[key]
                moved_folders = True
        if moved_folders:
            async with self._files_lock:
                await self._replan_files()
        for key in sorted(changed):
            for uri in sorted(keyed.get(key, ())):
                await self._announce(uri)

    async def _announce(self, uri: str) -> None:
        """Send `updated` now, or (within UPDATE_INTERVAL of the last one) once when the interval ends."""
        wait = self._last_update.get(uri, -math.inf) + UPDATE_INTERVAL - anyio.current_time()
        if wait <= 0:
            self._last_update[uri] = anyio.current_time()
            await self._send_updated(uri)
        elif uri not in self._trailing and self._group is not None:
            self._trailing.add(uri)
            self._group.start_soon(self._announce_later, uri, wait)

    async def _announce_later(self, uri: str, wait: float) -> None:
        await anyio.sleep(wait)
        self._trailing.discard(uri)
        self._last_update[uri] = anyio.current_time()
        await self._send_updated(uri)

    async def _send_updated(self, uri: str) -> None:
        legacy = self._legacy.get(uri)
        if legacy is not None:
            await legacy[1].send_resource_updated(uri)
        if any(uri in stream.uris for stream in self._streams.values()):
            await self.bus.publish(ResourceUpdated(uri=uri))

    async def _tree_changed(self, batch: Batch) -> None:
        roots = self.sandbox.roots
        touched: dict[Path, None] = {}
        deleted: list[Path] = []
        for change, raw in batch:
            if change == Change.modified:
                continue
            path = Path(raw)
            located = locate(roots, path)
            if located is None or not located[1] or self.rules.ignores_path(located[1]):
                continue
            touched[path.parent] = None
            if change == Change.deleted:
                deleted.append(path)
        if not touched:
            return
        async with self._tree_lock:
            if not self._tree_ready:
                return
            changed = await anyio.to_thread.run_sync(self._tree_state.refresh, list(touched), deleted)
            await self._replan_tree()
        if changed:
            self._list_due.set()

    async def _roots_replaced(self) -> None:
        roots = self.sandbox.roots
        async with self._files_lock:
            for uri, (key, _) in list(self._legacy.items()):
                path = self._paths.get(key)
                if path is None or locate(roots, path) is None:
                    logger.info("subscription to %s ended: no longer under an allowed directory", uri)
                    del self._legacy[uri]
            await self._replan_files()
        async with self._tree_lock:
            self._tree_ready = False
            await self._replan_tree()
        self._list_due.set()

    async def _send_list_changes(self) -> None:
        while True:
            await self._list_due.wait()
            await anyio.sleep(LIST_CHANGED_DELAY)
            self._list_due = anyio.Event()
            if self._list_session is not None:
                await self._list_session.send_resource_list_changed()
            if any(stream.list_changes for stream in self._streams.values()):
                await self.bus.publish(ResourcesListChanged())
