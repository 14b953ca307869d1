"""Noticing another process's writes: SQLite's `data_version` polled on the store's own connection.

`PRAGMA data_version` changes when any other connection commits (another server process, an import) and not for
this connection's own commits, which the tools announce themselves. A poll costs microseconds. The callback runs
on the watcher's thread; the registration passes something thread-safe, such as the subscription hub's
`updated(uri)`.
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
    """Calls `on_change()` after another process commits to `store`."""

    def __init__(self, store: Store, on_change: Callable[[], None], interval: float = INTERVAL) -> None:
        self.store = store
        self.on_change = on_change
        self.interval = interval
        self._last: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """One look; True (and the callback called) if another connection committed since the last look."""
        try:
            version = self.store.data_version()
        except MemoryServerError as exc:
            logger.debug("memory watch: %s", exc)
            return False
        changed = self._last is not None and version != self._last
        self._last = version
        if changed:
            self.on_change()
        return changed

    def start(self) -> None:
        self.poll()  # the baseline
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval * 4)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                logger.exception("memory watch: the change callback failed")

    def __enter__(self) -> ChangeWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
