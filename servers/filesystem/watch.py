"""Directory watching on watchfiles' Rust notifier, tuned for live resources.

Each `WatchSet` keeps one notifier watching exactly the directories it is given, on its own thread, and
hands batches of changes to the event loop. Changing the set opens the new notifier before the old one
is closed, so no change falls in between. Timing is chosen for notifications, not for reloaders: the
notifier wakes every `STEP_MS` (its only idle cost: about 0.1 % of a core per watcher), ends a group of
changes after `STEP_MS` of quiet, and never groups for longer than `DEBOUNCE_MS` (watchfiles' defaults
are 50 and 1600 ms). A change therefore reaches the loop 40 to 80 ms after it happens.

OS watch limits: inotify (Linux) needs one watch per directory from a per-user pool
(`fs.inotify.max_user_watches`) and has no recursive mode, so callers choose the directories; FSEvents
(macOS) and ReadDirectoryChangesW (Windows) watch a whole tree natively. `WatchLimitReached` is raised
when the OS refuses a watch for lack of resources, so the caller can degrade instead of failing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Final, Literal

import anyio
import anyio.from_thread
import anyio.lowlevel
from deskmcp.servers.filesystem.resources import IgnoreRules, locate
from deskmcp.servers.filesystem.sandbox import Sandbox
from deskmcp.shared.errors import DomainError
from watchfiles import Change
from watchfiles._rust_notify import RustNotify, WatchfilesRustInternalError

logger = logging.getLogger(__name__)

DEBOUNCE_MS: Final = 120
STEP_MS: Final = 40
WAIT_FOREVER: Final = 0
MAX_RESTARTS: Final = 3
RESTART_PAUSE: Final = 1.0  # seconds
INOTIFY_WATCHES: Final = Path("/proc/sys/fs/inotify/max_user_watches")

Batch = set[tuple[Change, str]]
Deliver = Callable[[Batch], None]


class WatchLimitReached(OSError):
    """The OS refused a watch for lack of resources (inotify watches, handles); the message says which."""


def tree_watch_mode(platform: str = sys.platform) -> Literal["per-directory", "recursive"]:
    """How to watch a whole tree on `platform`.

    inotify has no recursive watch (notify emulates one with a watch per directory, `.git` and
    `node_modules` included) and kqueue (BSD) needs a descriptor per file, so there we pick the
    directories ourselves, skipping ignored ones, within a budget. FSEvents and ReadDirectoryChangesW
    watch a tree with one handle, so there a recursive watch of each root is cheapest.
    """
    return "recursive" if platform == "darwin" or platform == "win32" else "per-directory"


def os_watch_limit(path: Path = INOTIFY_WATCHES) -> int | None:
    """The per-user inotify watch limit, or None where there is no such limit (or it cannot be read)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def default_watch_budget(os_limit: int | None, ceiling: int = 8192) -> int:
    """Folders we may watch: at most `ceiling`, and a quarter of the OS pool, which other programs share."""
    return ceiling if os_limit is None else max(1, min(ceiling, os_limit // 4))


def open_notifier(paths: Collection[str], recursive: bool) -> RustNotify | None:
    """A started notifier over `paths` (None if none of them exists any more); missing paths are dropped.

    Raises `WatchLimitReached` when the OS is out of watches or handles.
    """
    wanted = sorted(paths)
    while wanted:
        try:
            return RustNotify(wanted, False, False, 300, recursive, False)
        except FileNotFoundError:
            existing = [p for p in wanted if os.path.isdir(p)]  # removed since the plan was made
            if existing == wanted:
                raise
            wanted = existing
        except PermissionError:
            readable = [p for p in wanted if os.access(p, os.R_OK)]
            if readable == wanted:
                raise
            wanted = readable
        except OSError as exc:
            raise WatchLimitReached(f"the OS refused a file watch: {exc}") from exc
    return None


class _NotifierThread:
    """Runs one notifier until stopped, delivering each batch on the event loop; closes it on exit.

    A notifier that fails stays failed (watchfiles keeps returning its error), so it is reopened over the
    same paths, a few times at most.
    """

    def __init__(
        self, notifier: RustNotify, paths: Collection[str], recursive: bool, deliver: Deliver, name: str = "watch"
    ) -> None:
        self._notifier: RustNotify | None = notifier
        self._paths, self._recursive = paths, recursive
        self._deliver = deliver
        self._stop = threading.Event()
        self._token = anyio.lowlevel.current_token()
        self._thread = threading.Thread(target=self._run, name=f"deskmcp-{name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; it closes the notifier (releasing the OS watches) within STEP_MS."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        restarts = 0
        try:
            while self._notifier is not None and not self._stop.is_set():
                try:
                    changes = self._notifier.watch(DEBOUNCE_MS, STEP_MS, WAIT_FOREVER, self._stop)
                except WatchfilesRustInternalError as exc:
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        raise
                    logger.warning("file watcher %s failed (%s); reopening it", self._thread.name, exc)
                    self._notifier.close()
                    self._notifier = None
                    if not self._stop.wait(RESTART_PAUSE):
                        self._notifier = open_notifier(self._paths, self._recursive)
                    continue
                if isinstance(changes, set) and changes and not self._stop.is_set():
                    anyio.from_thread.run_sync(self._deliver, changes, token=self._token)
        except anyio.RunFinishedError:
            pass  # the loop is gone: nothing left to tell
        except Exception:  # the watch ends, the server keeps serving
            logger.warning("file watcher %s stopped after an error", self._thread.name, exc_info=True)
        finally:
            if self._notifier is not None:
                self._notifier.close()


class WatchSet:
    """Keeps one notifier watching exactly the directories last given to `watch`."""

    def __init__(self, name: str, deliver: Deliver, *, recursive: bool = False) -> None:
        self.name = name
        self.recursive = recursive
        self._deliver = deliver
        self._paths: frozenset[str] = frozenset()
        self._thread: _NotifierThread | None = None
        self._lock = anyio.Lock()

    @property
    def paths(self) -> frozenset[str]:
        """The directories watched now."""
        return self._paths

    async def watch(self, paths: Collection[str]) -> None:
        """Watch exactly `paths` (none: release the watcher). Raises `WatchLimitReached`; the old set stays."""
        wanted = frozenset(paths)
        async with self._lock:
            if wanted == self._paths:
                return
            new_thread = None
            notifier = await anyio.to_thread.run_sync(open_notifier, wanted, self.recursive) if wanted else None
            if notifier is not None:
                new_thread = _NotifierThread(notifier, wanted, self.recursive, self._deliver, f"watch-{self.name}")
            old, self._thread, self._paths = self._thread, new_thread, wanted
            if old is not None:
                old.stop()

    async def close(self) -> None:
        """Release the watcher and wait (briefly) for its thread to let go of the OS watches."""
        async with self._lock:
            old, self._thread, self._paths = self._thread, None, frozenset()
        if old is not None:
            old.stop()
            await anyio.to_thread.run_sync(old.join, 1.0)


def path_key(path: str | os.PathLike[str]) -> str:
    """How a path is compared with the paths in change events (case-folded where the OS ignores case)."""
    return os.path.normcase(os.fspath(path))


class TreeState:
    """The folders watched for list changes and a fingerprint of each one's names, to tell real changes.

    An editor's save (write a temporary file, rename it over the original) creates and deletes names
    without changing the list of files; comparing a folder's names before and after tells the two apart.
    In per-directory mode the folders are chosen here: the roots breadth-first, ignored ones skipped, at
    most `budget` of them (`truncated` says whether some were left unwatched).
    """

    def __init__(self, sandbox: Sandbox, rules: IgnoreRules, budget: int, *, per_directory: bool) -> None:
        self.sandbox, self.rules, self.budget, self.per_directory = sandbox, rules, budget, per_directory
        self.dirs: dict[str, Path] = {}  # path_key -> folder
        self.fingerprints: dict[str, int] = {}
        self.truncated = False

    def watch_paths(self) -> list[str]:
        if self.per_directory:
            return [str(path) for path in self.dirs.values()]
        return [str(root) for root in self.sandbox.roots]

    def rebuild(self) -> None:
        """Start over from the roots (at the start, and when the roots change)."""
        self.dirs.clear()
        self.fingerprints.clear()
        self.truncated = False
        self._add_trees(list(self.sandbox.roots))

    def refresh(self, touched: Iterable[Path], deleted: Iterable[Path] = ()) -> bool:
        """Re-read the folders where names appeared or vanished; whether any folder's file list changed."""
        changed = False
        for gone in deleted:
            changed |= self._forget(gone)
        for folder in touched:
            names = self._names(folder)
            key = path_key(folder)
            if names is None:
                changed |= self._forget(folder)
                continue
            fingerprint = hash(frozenset(names))
            changed |= self.fingerprints.get(key) != fingerprint
            self.fingerprints[key] = fingerprint
            if self.per_directory:
                subfolders = [folder / name for name, walked in names if walked]
                new = [sub for sub in subfolders if path_key(sub) not in self.dirs]
                self._add_trees(new)
        return changed

    def _names(self, folder: Path) -> list[tuple[str, bool]] | None:
        """(name, whether listings walk into it: a folder, not a link) of what a folder lists; None if unreadable."""
        located = locate(self.sandbox.roots, folder)
        if located is None:
            return None
        try:
            entries = self.sandbox.list_dir(folder, stat_entries=False)
        except (OSError, DomainError):
            return None
        parts = located[1]
        return [
            (e.name, e.is_dir and not e.is_link)
            for e in entries
            if (e.is_dir or e.is_file) and not self.rules.ignores(e.name, "/".join((*parts, e.name)))
        ]

    def _forget(self, folder: Path) -> bool:
        prefix = path_key(folder)
        gone = [key for key in self.dirs if key == prefix or key.startswith(prefix + os.sep)]
        for key in gone:
            del self.dirs[key]
        known = [key for key in self.fingerprints if key == prefix or key.startswith(prefix + os.sep)]
        for key in known:
            del self.fingerprints[key]
        return bool(known)

    def _add_trees(self, starts: list[Path]) -> None:
        queue = deque(starts)
        while queue:
            folder = queue.popleft()
            names = self._names(folder)
            if names is None:
                continue
            key = path_key(folder)
            self.fingerprints[key] = hash(frozenset(names))
            if not self.per_directory:
                continue
            if len(self.dirs) >= self.budget:
                self.truncated = True
                return
            self.dirs[key] = folder
            queue.extend(folder / name for name, walked in names if walked)
