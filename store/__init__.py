"""SQLite store of the workbench, built on sqlite-utils.

One file holds everything: the component library, templates, history and the audit log. The file
is opened in WAL mode (readers never block the writer, so a page can read while another tab
saves), with a busy timeout (a second writer waits instead of failing) and foreign keys on.
Every write that touches more than one row runs inside :meth:`Store.transaction`, so it lands
whole or not at all. Every write transaction starts with ``BEGIN IMMEDIATE`` (see
``store/busy.py`` for why), so the busy timeout applies; a write that still cannot get the lock
raises :class:`StoreBusyError`.

Validation of what is written lives in ``workbench``; this layer only stores and reads. Every
SQL statement of the workbench is here: :class:`Store` holds the library (reference data, atoms,
templates, management mode); each other area has a module of named functions that take the
store: ``store.decisions`` (decision log, outcome events, quarantine), ``store.agent`` (agent
settings, posteriors, snapshots), ``store.llm`` (LLM settings, cache, call log) and
``store.studio`` (rewrite runs, rewrites, judgments).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from store.migrations import LATEST_VERSION, MIGRATIONS

__all__ = [
    "Store",
    "StoreError",
    "SchemaTooNewError",
    "DatabaseFileError",
    "NotFoundError",
    "StoreBusyError",
    "default_db_path",
    "open_store",
    "now",
    "COMPONENT_FIELDS",
    "TEMPLATE_FIELDS",
]

BUSY_TIMEOUT_MS = 5000

#: Editable fields of a component, in display order.
COMPONENT_FIELDS = ("kind", "text", "segment", "offer_type", "product_category", "tone", "tags")
#: Editable fields of a template, in display order.
TEMPLATE_FIELDS = (
    "name", "segment", "channel", "title", "preheader", "body", "image",
    "merchant", "product_category", "voucher",
)


class StoreError(Exception):
    """Base class for errors raised by the store."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer workbench: refuse rather than corrupt it."""


class DatabaseFileError(StoreError):
    """The path cannot hold a workbench database (a folder, not SQLite, read-only, unreadable)."""


class NotFoundError(StoreError):
    """A row that was asked for by id does not exist."""


class StoreBusyError(StoreError):
    """Another process kept the write lock past the busy timeout and the retries."""

    MESSAGE = ("The database is busy with another task (e.g. a running trial); your change was "
               "not saved \u2014 try again in a moment.")

    def __init__(self, message: str | None = None):
        super().__init__(message or self.MESSAGE)


from store import busy as _busy  # noqa: E402  (needs StoreBusyError above)


class _Database(sqlite_utils.Database):
    """sqlite-utils whose transactions take the write lock first (``BEGIN IMMEDIATE``).

    sqlite-utils opens its own transactions with a plain ``BEGIN`` (every ``insert``,
    ``update``, ``upsert_all`` runs in :meth:`atomic`); overriding :meth:`atomic` and
    :meth:`begin` here makes those and :meth:`Store.transaction` wait for the lock.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[_Database]:
        if self.conn.in_transaction:
            with super().atomic():  # a savepoint inside the open transaction
                yield self
            return
        _busy.begin_immediate(self.conn)
        try:
            yield self
        except BaseException as e:
            self.rollback()
            if _busy.is_locked(e) and not isinstance(e, StoreBusyError):
                raise StoreBusyError() from e
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException as e:
            self.rollback()
            if _busy.is_locked(e):
                raise StoreBusyError() from e
            raise

    def begin(self) -> None:
        _busy.begin_immediate(self.conn)

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        """One statement; outside a transaction a write is its own (``BEGIN IMMEDIATE``, see
        ``isolation_level``) and is retried like one when the lock stays taken."""
        if self.conn.in_transaction:
            return super().execute(sql, parameters)
        return _busy.retry_locked(lambda: super(_Database, self).execute(sql, parameters))


def now() -> str:
    """UTC timestamp with seconds, the one format used for every ``*_at`` column."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_db_path() -> Path:
    """``$WORKBENCH_DB`` if set, else ``data/workbench.db`` beside the project's code."""
    env = os.environ.get("WORKBENCH_DB")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "data" / "workbench.db"


_SQLITE_HEADER = b"SQLite format 3\x00"


def check_db_file(path: str | Path) -> Path:
    """Refuse, with the reason, a path the workbench cannot use as its database file.

    Checked before SQLite touches the file, so that a folder, a file of random bytes or a
    read-only file gets one clear sentence instead of an ``sqlite3`` error halfway through a
    command. The file is opened for writing on every start (WAL mode, migrations), so a file
    marked read-only is refused even where the operating system would let this user write.
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseFileError(f"{path} is a folder, not a database file.")
    if not path.exists():
        return path
    if _OPEN.get(os.path.realpath(path)):
        return path  # open here already: reading it now could drop this process's locks
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_HEADER))
        mode = path.stat().st_mode
    except OSError as e:
        raise DatabaseFileError(f"cannot read {path}: {e.strerror or e}.") from None
    if head and head != _SQLITE_HEADER:
        raise DatabaseFileError(f"{path} is not an SQLite database (its first bytes are not "
                                "the SQLite header); the file was left untouched.")
    if not mode & 0o222 or not os.access(path, os.W_OK):
        raise DatabaseFileError(f"{path} is read-only; the workbench writes to its database "
                                "file (make it writable, or back it up to a new file).")
    return path


#: Database files this process has open, with how many connections. ``check_db_file`` reads
#: the file with a plain ``open()``; closing that descriptor would drop every POSIX lock this
#: process holds on the file (SQLite's locks included: "disk I/O error" and worse), so the file
#: is checked only while no connection of this process has it open.
_OPEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()


def _register(path: str) -> str:
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        if not _OPEN.get(key):
            check_db_file(path)
        _OPEN[key] = _OPEN.get(key, 0) + 1
    return key


def _claim_name(tmp: Path, dest: Path) -> None:
    """Give the finished file ``tmp`` the name ``dest`` unless that exists by now (another
    backup to the same name): a hard link fails rather than replace; ``tmp`` stays for the
    caller to remove. Where the file system has no hard links, a rename after a check."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise StoreError(f"{dest} already exists; choose a new backup path.") from None
    except OSError:
        if dest.exists():
            raise StoreError(f"{dest} already exists; choose a new backup path.") from None
        os.replace(tmp, dest)


def open_store(path: str | Path | None = None, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the store at ``path`` and bring its schema up to date."""
    store = Store(default_db_path() if path is None else path)
    if migrate:
        store.migrate()
    return store


def _row_dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    cols = [c[0] for c in cursor.description]
    return [dict(zip(cols, row)) for row in cursor.fetchall()]


# The library's queries need the names above (``now``, the field lists, the errors).
from store.library import LibraryQueries  # noqa: E402


class Store(LibraryQueries):
    """A connection to one workbench SQLite file.

    ``path`` may be ``":memory:"`` for tests. The connection may be used from the thread that
    Streamlit runs a page in, which is not the one that opened it, hence
    ``check_same_thread=False``; each page run opens its own store, so no connection is shared
    between concurrent runs.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._registered: str | None = None
        if self.path != ":memory:":
            self._registered = _register(self.path)
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                self._unregister()
                raise DatabaseFileError(f"cannot create the folder of {self.path}: "
                                        f"{e.strerror or e}.") from None
        # isolation_level: the transactions Python opens by itself before a write statement
        # also take the write lock first.
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level="IMMEDIATE")
        self.db = _Database(conn)
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            # WAL changes the file; a file from a newer workbench is left as it is (migrate refuses).
            if self.path != ":memory:" and self.schema_version <= LATEST_VERSION:
                self.db.enable_wal()
        except sqlite3.Error as e:
            conn.close()
            self._unregister()
            raise DatabaseFileError(f"cannot open {self.path} as a database: {e}.") from None

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self.db.close()
        self._unregister()

    def _unregister(self) -> None:
        if self._registered is not None:
            with _OPEN_LOCK:
                _OPEN[self._registered] -= 1
            self._registered = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside land together or not at all (nested blocks use savepoints).

        The outermost block takes the write lock before anything inside reads (``BEGIN
        IMMEDIATE``), waiting up to the busy timeout and retrying; it raises
        :class:`StoreBusyError` when the lock stays taken. Keep the block short: other
        processes wait for it.
        """
        with self.db.atomic():
            yield self

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Apply the migrations this file lacks; return the versions applied.

        Raises :class:`SchemaTooNewError` when the file is newer than this code knows.
        Another process may open the same new or outdated file at the same moment: each
        migration runs under the write lock (``BEGIN IMMEDIATE``) and reads the version again
        there, so a migration the other process applied meanwhile is skipped, not re-run.
        """
        current = self.schema_version  # versions only grow: what is applied stays applied
        self._refuse_newer(current)
        applied: list[int] = []
        for version, name, statements in MIGRATIONS:
            if version <= current:
                continue  # no write lock taken just to open an up-to-date file
            with self.transaction():
                current = self.schema_version  # under the lock: what is on the file now
                self._refuse_newer(current)
                if version <= current:
                    continue
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                for sql in statements:
                    self.db.execute(sql)
                self.db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [version, name, now()],
                )
                self.db.execute(f"PRAGMA user_version = {int(version)}")
            applied.append(version)
        return applied

    def _refuse_newer(self, version: int) -> None:
        if version > LATEST_VERSION:
            raise SchemaTooNewError(
                f"{self.path} has schema version {version}, but this workbench only knows up to "
                f"version {LATEST_VERSION}. Upgrade the workbench (pip install -U) or open a "
                "different file with WORKBENCH_DB; the file was left untouched."
            )

    def applied_migrations(self) -> list[dict[str, Any]]:
        if not self.db["schema_migrations"].exists():
            return []
        return self.query("SELECT * FROM schema_migrations ORDER BY version")

    def backup(self, dest: str | Path) -> Path:
        """Write a consistent copy of the whole file (WAL included) to ``dest``.

        The copy is written to a temporary file beside ``dest`` and takes its name only when
        whole: a backup that fails (disk full) leaves nothing at ``dest``, where a half or
        empty file would have refused the retry and, opened, been taken for a database.
        An existing ``dest`` is never replaced."""
        dest = Path(dest)
        if dest.is_dir():
            raise StoreError(f"{dest} is a folder; name a new file for the backup.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            raise StoreError(f"{dest} already exists; choose a new backup path.")
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            target = sqlite3.connect(str(tmp))
            try:
                self.db.conn.backup(target)
            finally:
                target.close()
            _claim_name(tmp, dest)
        finally:
            for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal")):
                leftover.unlink(missing_ok=True)
        return dest

    # -- generic ---------------------------------------------------------------------------

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return _row_dicts(self.db.execute(sql, params))

    def audit(self, actor: str, action: str, entity: str, entity_id: Any = None,
              detail: dict[str, Any] | None = None) -> None:
        self.db["audit_log"].insert({
            "at": now(), "actor": actor, "action": action, "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        })

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", [limit])
