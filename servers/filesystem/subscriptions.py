"""The filesystem's half of subscriptions: watching the files and folders that clients follow.

The shared `SubscriptionHub` keeps who is subscribed to what (per client, both eras) and sends the
notifications; this `Watcher` refuses URIs that are not files under the roots, watches what the hub says is
followed, and tells the hub which URIs changed (`hub.updated`) and when the list did (`hub.list_changed`).

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
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
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
from deskmcp.shared.errors import DomainError
from deskmcp.shared.subscriptions import SubscriptionHub, Watcher
from watchfiles import Change

logger = logging.getLogger(__name__)

LIMIT_HINT: Final = "raise DESKMCP_FILESYSTEM_WATCH_LIMIT (and, on Linux, sysctl fs.inotify.max_user_watches)"

Located = tuple[str, Path]  # a subscribed file's path key and real path


class SubscriptionRefused(DomainError):
    """A subscription the server cannot keep (a limit); the message says which and what to do."""


class LiveHub(Watcher):
    """The watchers behind the subscriptions of `hub`, and what their changes mean."""

    def __init__(self, sandbox: Sandbox, rules: IgnoreRules, *, budget: int, per_directory: bool) -> None:
        self.sandbox, self.rules, self.budget = sandbox, rules, budget
        self.hub = SubscriptionHub(self)
        self._subscribed: dict[str, Located] = {}  # URI -> where its file is
        self._keyed: dict[str, set[str]] = {}  # path key -> URIs of that file
        self._paths: dict[str, Path] = {}  # path key -> real path, of every subscribed file
        self._ancestors: dict[str, set[str]] = {}  # folder key -> keys of subscribed files below it
        self._files = WatchSet("files", self._on_file_batch)
        self._tree = WatchSet("tree", self._on_tree_batch, recursive=not per_directory)
        self._tree_state = TreeState(sandbox, rules, budget, per_directory=per_directory)
        self._tree_ready = False
        # Separate locks: walking a big tree for list changes must not hold up a subscribe request.
        self._files_lock = anyio.Lock()
        self._tree_lock = anyio.Lock()
        self._inbox: anyio.abc.ObjectSendStream[tuple[str, Any]] | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread = 0
        sandbox.add_roots_listener(self._roots_changed)

    # --- lifetime ---------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LiveHub]:
        """While the server runs: handle change batches; at the end, release the watchers."""
        self._token, self._loop_thread = anyio.lowlevel.current_token(), threading.get_ident()
        send, receive = anyio.create_memory_object_stream[tuple[str, Any]](math.inf)
        self._inbox = send
        async with anyio.create_task_group() as group:
            self._group = group
            group.start_soon(self._consume, receive)
            try:
                yield self
            finally:
                self._inbox, self._group = None, None
                send.close()
                with anyio.CancelScope(shield=True):
                    await self._files.close()
                    await self._tree.close()
                group.cancel_scope.cancel()

    @property
    def watched_folders(self) -> tuple[int, int]:
        """(folders watched for subscribed files, folders watched for list changes)."""
        return len(self._files.paths), len(self._tree.paths)

    def want_list_changes(self, session: Any) -> None:
        """A handshake-era client listed resources (the resource table tells the hub this itself)."""
        self.hub.want_list_changes(session)

    # --- what the hub asks of a watcher -----------------------------------------------------------------

    def check(self, uri: str) -> Located:
        """The path key and real path of a file URI a client may subscribe to; refusals say why."""
        path = uri_to_path(uri)
        try:
            real = self.sandbox.resolve(path)
        except AccessDenied as exc:
            msg = f"cannot subscribe to {uri}: it is not under an allowed directory ({exc})"
            raise ResourceNotFound(msg) from None
        except (NotFound, DomainError, OSError) as exc:
            msg = f"cannot subscribe to {uri}: its folder does not exist or cannot be opened ({exc})"
            raise ResourceNotFound(msg) from None
        if self._is_folder(real):
            msg = f"{uri} is a folder; subscribe to files (list changes are sent to clients that list resources)"
            raise InvalidResource(msg)
        return path_key(real), real

    # The hub calls these two while serving one client's request; what is watched is for every client, so
    # they plan with the server-wide roots in force, not the roots of the client that led here.

    async def follow(self, subscribed: Mapping[str, Located]) -> None:
        with self.sandbox.viewing(None):
            async with self._files_lock:
                self._subscribed = dict(subscribed)
                await self._replan_files()

    def follow_lists(self, wanted: bool) -> None:
        if self._group is not None:
            with self.sandbox.viewing(None):  # the task started here keeps the context it started in
                self._group.start_soon(self._replan_tree_locked)

    # --- planning ---------------------------------------------------------------------------------------

    async def _replan_files(self) -> None:
        """Watch the folders of the subscribed files (call with the files lock held)."""
        self._keyed, self._paths, self._ancestors = {}, {}, {}
        for uri, (key, path) in self._subscribed.items():
            self._keyed.setdefault(key, set()).add(uri)
            self._paths[key] = path
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
        except (DomainError, OSError):
            return False

    async def _replan_tree_locked(self) -> None:
        async with self._tree_lock:
            await self._replan_tree()

    async def _replan_tree(self) -> None:
        """Watch the tree while someone wants list changes, within the budget (call with the tree lock held)."""
        if not self.hub.wants_list_changes or self._inbox is None:
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
        """Sandbox listener (any thread): the server-wide roots changed (a client's own view tells that client)."""
        if self._token is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._post("roots", None)
        else:
            anyio.from_thread.run_sync(self._post, "roots", None, token=self._token)

    async def _consume(self, inbox: anyio.abc.ObjectReceiveStream[tuple[str, Any]]) -> None:
        handlers = {"files": self._files_changed, "tree": self._tree_changed, "roots": self._roots_replaced}
        async for kind, payload in inbox:
            try:
                await handlers[kind](payload)
            except Exception:  # one bad batch must not end live updates
                logger.exception("handling %s changes failed", kind)

    async def _files_changed(self, batch: Batch) -> None:
        keyed = self._keyed
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
                self.hub.updated(uri)

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
            self.hub.list_changed()

    async def _roots_replaced(self, _payload: None) -> None:
        roots = self.sandbox.roots
        gone = {uri for uri, (_, path) in self._subscribed.items() if locate(roots, path) is None}
        for uri in sorted(gone):
            logger.info("subscription to %s ended: no longer under an allowed directory", uri)
        await self.hub.drop(gone)  # the hub has the watchers follow what is left
        async with self._tree_lock:
            self._tree_ready = False
            await self._replan_tree()
