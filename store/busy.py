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

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

import store as _store

__all__ = ["RETRY_DELAYS_S", "begin_immediate", "is_locked", "retry_locked"]

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
