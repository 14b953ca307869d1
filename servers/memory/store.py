"""The SQLite store: where it lives, how it is opened, and one transaction per call.

One connection per `Store`, guarded by a lock, so calls from worker threads take turns in this process; other
processes coordinate through SQLite itself: WAL mode (readers never wait for the writer), `BEGIN IMMEDIATE` for
every write (the write lock is taken up front, so a busy store is waited for, up to the busy timeout, instead of
failing half-way), and `synchronous = NORMAL`: in WAL mode a commit is in the write-ahead log before it is
acknowledged, so a killed process (kill -9, a crash) loses nothing acknowledged; only a power cut or OS crash can
lose the last commits before a checkpoint, and never leaves the store damaged (FULL, an fsync per commit, cost
3.3 ms a write here). Foreign keys are on.

`on_commit`, when set, is called after each write this process commits (with the store's lock held: it must
be quick and not raise); the server uses it to look for changes to announce.

The store opens lazily and again after a failure, so a locked, damaged or missing store is an error for the call
that meets it, never for the server: fix the file and the next call works. A file that is not a SQLite database
is never written to. SQLite errors become `StoreUnavailable` with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from deskmcp.servers.memory import schema
from deskmcp.servers.memory.errors import StoreUnavailable

logger = logging.getLogger(__name__)

FILE_NAME: Final = "memory.sqlite3"
SQLITE_HEADER: Final = b"SQLite format 3\x00"
MIN_SQLITE: Final = (3, 27, 0)  # FTS5's remove_diacritics 2
PROJECT_MAX: Final = 100
DEFAULT_PROJECT: Final = "default"

# SQLite primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB, _PERM = 5, 6, 8, 10, 11, 13, 14, 26, 3
_BROKEN: Final = frozenset({_IOERR, _CORRUPT, _CANTOPEN, _NOTADB})  # drop the connection; reopen on the next call
_EXPECTED: Final = _BROKEN | {_BUSY, _LOCKED, _READONLY, _FULL, _PERM}  # the rest (a syntax error) is a bug
# Python < 3.11 has no error codes on exceptions; SQLite's own messages for each code.
_MESSAGES: Final = (
    ("database is locked", _BUSY),
    ("database table is locked", _LOCKED),
    ("readonly database", _READONLY),
    ("disk is full", _FULL),
    ("file is not a database", _NOTADB),
    ("malformed", _CORRUPT),
    ("disk i/o error", _IOERR),
    ("unable to open database", _CANTOPEN),
)


def default_path() -> Path:
    """The store in the user data directory (`~/Library/Application Support/deskmcp`, `%LOCALAPPDATA%\\deskmcp`,
    `~/.local/share/deskmcp`)."""
    import platformdirs

    return platformdirs.user_data_path("deskmcp", appauthor=False) / FILE_NAME


def parse_path(raw: str) -> Path:
    """`DESKMCP_MEMORY_PATH`: `~` expanded, a relative path taken from the working directory (never the package)."""
    path = Path(raw.strip()).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def parse_project(raw: str) -> str:
    """`DESKMCP_MEMORY_PROJECT`: a short one-line name."""
    name = raw.strip()
    if not name or len(name) > PROJECT_MAX or any(ord(ch) < 32 for ch in name):
        msg = f"expected a project name of 1 to {PROJECT_MAX} characters on one line, got {raw!r}"
        raise ValueError(msg)
    return name


def stamp(moment: datetime) -> str:
    """`moment` as stored: ISO 8601 UTC with milliseconds, as JavaScript's `toISOString()` writes it (a time
    without a zone is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> str:
    """The current time as stored."""
    return stamp(datetime.now(timezone.utc))


@dataclass(slots=True)
class Tx:
    """One transaction: the connection, this store's project row (-1 in a read before the project's first write),
    and the one timestamp every row written in it gets."""

    conn: sqlite3.Connection
    project_id: int
    now: str


@dataclass(frozen=True, slots=True)
class StoreInfo:
    path: str
    project: str
    schema_version: int
    sqlite_version: str
    entities: int
    observations: int
    relations: int
    notes: int
    projects: tuple[str, ...]


def _error_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    text = str(exc).lower()
    return next((code for fragment, code in _MESSAGES if fragment in text), None)


class Store:
    """The memory store at `path`, seen through one project."""

    def __init__(
        self,
        path: Path,
        project: str = DEFAULT_PROJECT,
        *,
        busy_timeout_ms: int = 5000,
        max_size_mb: int | None = None,
    ) -> None:
        self.path = path
        self.project = project
        self.busy_timeout_ms = busy_timeout_ms
        self.max_size_mb = max_size_mb
        self.on_commit: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._project_id: int | None = None

    # --- transactions ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction: one consistent snapshot for every query in it."""
        with self._transaction("BEGIN", write=False) as tx:
            yield tx

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction: all of it is committed, or none of it (any exception rolls it back)."""
        with self._transaction("BEGIN IMMEDIATE", write=True) as tx:
            yield tx

    @contextlib.contextmanager
    def _transaction(self, begin: str, *, write: bool) -> Iterator[Tx]:
        with self._lock:
            try:
                conn = self._connection()
                conn.execute(begin)
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                yield Tx(conn, self._project(conn, create=write), now())
                conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback(conn)
                if isinstance(exc, sqlite3.Error) and _error_code(exc) in _EXPECTED:
                    raise self._unavailable(exc) from exc
                raise
            if write and self.on_commit is not None:
                self.on_commit()

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.warning("rollback failed on %s; reopening the store", self.path, exc_info=True)
                self._drop()

    def data_version(self) -> int:
        """SQLite's `data_version`: it changes when another connection (another process) commits."""
        with self._lock:
            try:
                return self._connection().execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    def changes(self) -> int:
        """How many times this project's graph has changed (rows inserted, updated or deleted), by any process."""
        with self.read() as tx:
            row = tx.conn.execute("SELECT changes FROM projects WHERE id = ?", (tx.project_id,)).fetchone()
        return row[0] if row else 0

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
        self._project_id = None

    # --- opening --------------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        _check_sqlite()
        self._prepare_file()
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            _check_version(conn.execute("PRAGMA user_version").fetchone()[0])  # before anything writes to the file
            with contextlib.suppress(sqlite3.OperationalError):  # a read-only store keeps its journal mode
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA journal_size_limit = 8388608")  # truncate the WAL to 8 MiB after checkpoints
            if self.max_size_mb is not None:
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {self.max_size_mb * 1024 * 1024 // page_size}")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        logger.info("memory store %s open (project %r)", self.path, self.project)
        return conn

    def _prepare_file(self) -> None:
        """Refuse a folder or a file that is not SQLite; create a new store's folder and file private (0600)."""
        if self.path.is_dir():
            msg = f"the memory store path {self.path} is a folder; set DESKMCP_MEMORY_PATH to a file in it, e.g. "
            raise StoreUnavailable(msg + str(self.path / FILE_NAME))
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return
        except PermissionError:
            return  # SQLite says it better ("unable to open"), as a read-only store, or not at all
        if head and head != SQLITE_HEADER[: len(head)]:
            raise StoreUnavailable(_not_sqlite_message(self.path, head))

    def _project(self, conn: sqlite3.Connection, *, create: bool) -> int:
        if self._project_id is None:
            row = conn.execute("SELECT id FROM projects WHERE name = ?", (self.project,)).fetchone()
            if row is None and not create:
                return -1
            if row is None:
                cursor = conn.execute("INSERT INTO projects (name, created_at) VALUES (?, ?)", (self.project, now()))
                return cursor.lastrowid  # cached only once committed, on a later call
            self._project_id = row[0]
        return self._project_id

    # --- errors ---------------------------------------------------------------------------------------------

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        code = _error_code(exc)
        if code in _BROKEN:
            self._drop()
        logger.warning("memory store %s: %s", self.path, exc)
        return StoreUnavailable(self._explain(code, str(exc)))

    def _explain(self, code: int | None, detail: str) -> str:
        where = f"the memory store {self.path}"
        if code in (_BUSY, _LOCKED):
            seconds = self.busy_timeout_ms / 1000
            return (
                f"{where} is busy: another process held its write lock for over {seconds:g} s. Nothing was saved; "
                "try again (if it persists, close the other program using the store)."
            )
        if code in (_READONLY, _PERM):
            return f"{where} is read-only: nothing was saved. Check the permissions of the file and its folder."
        if code == _FULL:
            if self.max_size_mb is not None:
                return (
                    f"{where} has reached its size limit of {self.max_size_mb:,} MB (DESKMCP_MEMORY_MAX_SIZE_MB): "
                    "nothing was saved. Delete what is no longer needed, or raise the limit."
                )
            return f"the disk holding {where} is full: nothing was saved. Free some space and try again."
        if code in (_CORRUPT, _NOTADB):
            return (
                f"{where} is damaged or not a SQLite database ({detail}); nothing was changed. Move the file aside "
                f"to start a new store, or restore a backup (`sqlite3 {self.path} .recover` may rescue its data)."
            )
        if code == _CANTOPEN:
            return f"{where} cannot be opened ({detail}). Check that its folder exists and is writable."
        return f"{where} failed: {detail}. Nothing was saved."

    # --- what is stored -------------------------------------------------------------------------------------

    def info(self) -> StoreInfo:
        """Where the store is, its schema version, and how much this project holds."""
        with self.read() as tx:
            conn = tx.conn
            counts = conn.execute(
                "SELECT entities, observations, relations FROM projects WHERE id = ?", (tx.project_id,)
            ).fetchone()
            notes = conn.execute("SELECT count(*) FROM notes WHERE project_id = ?", (tx.project_id,)).fetchone()[0]
            entities, observations, relations = counts or (0, 0, 0)
            return StoreInfo(
                path=str(self.path),
                project=self.project,
                schema_version=conn.execute("PRAGMA user_version").fetchone()[0],
                sqlite_version=sqlite3.sqlite_version,
                entities=entities,
                observations=observations,
                relations=relations,
                notes=notes,
                projects=tuple(row[0] for row in conn.execute("SELECT name FROM projects ORDER BY name")),
            )


def _check_sqlite() -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        need = ".".join(map(str, MIN_SQLITE))
        msg = f"this Python's SQLite is {sqlite3.sqlite_version}; the memory store needs {need} or newer with FTS5"
        raise StoreUnavailable(msg)


def _not_sqlite_message(path: Path, head: bytes) -> str:
    message = f"the memory store path {path} holds a file that is not a SQLite database; it was left untouched."
    if head.lstrip()[:1] in (b"{", b"["):
        return (
            f"{message} It looks like the reference server's JSONL file: set DESKMCP_MEMORY_PATH to a new file "
            f"(or leave it unset) and bring this one in with `deskmcp memory import {path}`."
        )
    return f"{message} Set DESKMCP_MEMORY_PATH to another file, or leave it unset for the default location."


def _check_version(version: int) -> None:
    if version > schema.LATEST:
        msg = (
            f"the memory store was written by a newer deskmcp (schema version {version}; this one knows up to "
            f"{schema.LATEST}); it was left untouched. Upgrade deskmcp (uvx deskmcp@latest) to use it."
        )
        raise StoreUnavailable(msg)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to `schema.LATEST`, in one transaction, whichever process gets there first."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_version(version)
        for steps in schema.MIGRATIONS[version:]:
            for statement in steps:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {schema.LATEST}")
        conn.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError) and "fts5" in str(exc):
            msg = f"this Python's SQLite ({sqlite3.sqlite_version}) has no FTS5, which the memory store needs"
            raise StoreUnavailable(msg) from None
        raise
