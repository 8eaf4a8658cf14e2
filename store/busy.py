"""One writer at a time: how a write waits for the lock, retries, and gives up in plain words.

SQLite lets one connection write at a time. A transaction that starts with a plain ``BEGIN``,
reads and then writes cannot wait for the lock (SQLite returns "database is locked" at once,
because waiting could deadlock two readers that both want to write), so the busy timeout never
applies. Every write transaction of the workbench therefore starts with ``BEGIN IMMEDIATE``:
it takes the write lock before reading anything, and waiting for it is safe, so the busy
timeout is honoured. What still finds the lock taken after the timeout is retried a few times
with a growing pause (:func:`retry_locked`); after that the person gets
:class:`~store.StoreBusyError`, which says in plain words that nothing was saved.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import store as _store

__all__ = ["RETRY_DELAYS_S", "begin_immediate", "exclusive", "is_locked", "other_processes",
           "retry_locked"]

T = TypeVar("T")

#: Pauses between attempts once the busy timeout has run out; three attempts in all.
RETRY_DELAYS_S = (0.2, 0.5)


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another connection holds the lock it needs."""
    if isinstance(exc, _store.StoreBusyError):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return any(m in text for m in ("database is locked", "database is busy",
                                   "database table is locked"))


def retry_locked(fn: Callable[[], T], *, delays: tuple[float, ...] = RETRY_DELAYS_S,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, called again after each pause in ``delays`` while the lock is taken.

    ``fn`` must be a whole write that rolls back when it fails (a :meth:`Store.transaction`
    block, or a service call that writes in one), so calling it again cannot write twice.
    Raises :class:`~store.StoreBusyError` when the last attempt still finds the lock taken.
    """
    for attempt in range(len(delays) + 1):
        try:
            return fn()
        except (sqlite3.OperationalError, _store.StoreBusyError) as e:
            if not is_locked(e):
                raise
            if attempt == len(delays):
                if isinstance(e, _store.StoreBusyError):
                    raise
                raise _store.StoreBusyError() from e
            sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Open a write transaction holding the write lock, waiting and retrying for it."""
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))


@contextlib.contextmanager
def exclusive(store, job: str, *, wait_s: float = 600.0, poll_s: float = 0.05,
              holder: str | None = None) -> Iterator[None]:
    """One process (or thread) at a time runs ``job`` on this database file.

    For a job that reads, computes for seconds and then writes what it computed (an ingest
    learning from events): holding SQLite's write lock while it computes would make every
    other writer (a person's edit, a running trial) wait for seconds and fail, so the job
    computes with no write lock and writes in one short transaction; this lock (``flock`` on
    ``<db file>.<job>.lock``) keeps a second run of the same job from computing on what the
    first is about to change. The operating system releases it when the process dies, so a
    crash never leaves it taken. Raises :class:`~store.StoreBusyError` after ``wait_s``.

    ``holder`` says what this process runs (``"programme day 2026-11-23"``): it is written in
    the lock file while the lock is held, and a process that gave up waiting names it.
    """
    if store.path == ":memory:":  # one connection: nobody else can run the job
        yield
        return
    import fcntl

    fd = os.open(f"{store.path}.{job}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _store.StoreBusyError(_held(fd, holder, wait_s)) from None
                time.sleep(poll_s)
        if holder is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder} (process {os.getpid()})".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock (a separate file: no SQLite lock is dropped)


def _held(fd: int, holder: str | None, wait_s: float) -> str | None:
    """Why a job that waited ``wait_s`` for its lock gave up, naming what holds it (``None``:
    the store's plain busy message)."""
    if holder is None:
        return None
    try:
        other = os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        other = ""
    return (f"{other or 'another command'} is running on this database; {holder} waited "
            f"{wait_s:g} s for it and did nothing \u2014 try again when it has finished.")


# SQLite's POSIX locking protocol (os_unix.c): every connection that has read a WAL-mode file
# holds a shared lock on the "dead man switch" byte of its ``-shm`` file (byte 120 + 8) and on
# the shared range of the database file itself, for as long as it stays open.
_SHM_DMS_BYTE = 128
_DB_SHARED_FIRST = 0x40000000 + 2
_DB_SHARED_SIZE = 510


def other_processes(path: str | Path) -> list[int]:
    """Ids of other processes that have the database file open (the app, a trial, a command).

    Read from SQLite's own file locks with ``F_GETLK``, which reports a lock held by another
    process and never takes one; locks of this process do not count. A process that opened
    the file but never read it holds no lock and is not seen (it has read nothing it could
    lose). Empty on systems without POSIX locks.

    Call it while this process has no connection open on the file: POSIX drops every lock a
    process holds on a file when it closes any descriptor of it, the probe's included.
    """
    try:
        import fcntl
        import struct
    except ImportError:  # pragma: no cover - Windows
        return []
    path = Path(path)
    pids: list[int] = []
    for target, start, length in ((Path(f"{path}-shm"), _SHM_DMS_BYTE, 1),
                                  (path, _DB_SHARED_FIRST, _DB_SHARED_SIZE)):
        try:
            fd = os.open(target, os.O_RDWR)
        except OSError:
            continue
        try:
            query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
            kind, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, query))
        except OSError:
            continue
        finally:
            os.close(fd)
        if kind != fcntl.F_UNLCK and pid not in pids:
            pids.append(pid)
    return pids


def writer_busy(store, timeout_ms: int = 200) -> str | None:
    """Why the file cannot be taken for exclusive use right now (another process is in the
    middle of a write), or ``None``: ``BEGIN EXCLUSIVE`` with a short busy timeout, rolled back
    at once. Leaves the connection's busy timeout at ``timeout_ms``."""
    store.db.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    try:
        store.db.conn.execute("BEGIN EXCLUSIVE")
        store.db.conn.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        return str(e)
    return None
