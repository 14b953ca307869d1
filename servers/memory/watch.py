"""Noticing writes to the store, this process's and other processes': one thread that calls back after each.

Another process's commit (another server on the same store, an import) is seen by polling SQLite's
`PRAGMA data_version` on the store's own connection: it changes when any other connection commits, never for
this connection's own commits, and a poll costs microseconds. This process's commits are reported with
`touched()` (the store's `on_commit`), which wakes the thread at once. Polling happens only while `active()` says
someone wants to know (a subscription), so an idle server never opens its store for it.

`on_change()` runs on the watcher's thread, never on the event loop; a burst of commits while it runs leads to one
more call, not one per commit. The registration passes something thread-safe, such as a function that compares
resources and calls the subscription hub's `updated(uri)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from deskmcp.servers.memory.errors import MemoryServerError
from deskmcp.servers.memory.store import Store

logger = logging.getLogger(__name__)

INTERVAL: Final = 0.5


class ChangeWatcher:
    """Calls `on_change()` after a commit to `store`: at once for this process's, within `interval` for others'."""

    def __init__(
        self,
        store: Store,
        on_change: Callable[[], None],
        interval: float = INTERVAL,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.interval = interval
        self.active = active
        self._last: int | None = None
        self._wake = threading.Condition()
        self._touched = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def touched(self) -> None:
        """This process committed (or something else asks for a look): call `on_change` soon, if anyone wants to
        know (`active()`). Never blocks long."""
        if not self.active():
            return
        with self._wake:
            self._touched = True
            self._wake.notify()

    def poll(self) -> bool:
        """One look; True (and the callback called) if another connection committed since the last look."""
        if self._committed_elsewhere():
            self.on_change()
            return True
        return False

    def _committed_elsewhere(self) -> bool:
        try:
            version = self.store.data_version()
        except MemoryServerError as exc:
            logger.debug("memory watch: %s", exc)
            return False
        changed = self._last is not None and version != self._last
        self._last = version
        return changed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(max(5.0, self.interval * 4))

    def _next(self) -> bool | None:
        """Wait for a touch or the next poll; whether touched, or None when stopping."""
        with self._wake:
            if not self._touched and not self._stopping:
                self._wake.wait(self.interval)
            touched, self._touched = self._touched, False
            return None if self._stopping else touched

    def _run(self) -> None:
        while (touched := self._next()) is not None:
            if not self.active():
                self._last = None  # a fresh baseline when someone wants to know again
                continue
            foreign = self._committed_elsewhere()  # looked at even when touched: it keeps the baseline current
            if touched or foreign:
                try:
                    self.on_change()
                except Exception:
                    logger.exception("memory watch: the change callback failed")

    def __enter__(self) -> ChangeWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
