"""The live programme's metadata in SQLite: the programme's salt and split, the roster imports,
the ledger of events files loaded, and the days decided.

The bulk of a live programme (its roster, decision log and events, millions of rows a day) is
columnar Parquet beside the database (see :mod:`store.parquet`); SQLite keeps what must be
transactional and small: one row per programme, per import, per file and per day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from store import Store, now

__all__ = [
    "DayRow",
    "Programme",
    "create_programme",
    "day",
    "day_of_batch",
    "days",
    "file_loaded",
    "file_shas",
    "files",
    "learned_days",
    "live_root",
    "record_learned",
    "sqlite_logged",
    "programme",
    "record_day",
    "record_file",
    "record_roster_import",
    "roster_imports",
]


class Programme(TypedDict):
    """The programme's arm assignment: a user is in the holdout when the keyed hash of their id
    with ``salt`` falls below ``holdout_share``."""

    id: int
    salt: str
    holdout_share: float
    created_at: str
    created_by: str


class DayRow(TypedDict):
    """One decided day: its batch in ``decision_batches`` and its Parquet decision log."""

    day: str
    batch_id: int
    n_users: int
    n_sent: int
    log_path: str
    created_at: str


def programme(store: Store) -> Programme | None:
    rows = store.query("SELECT * FROM live_programme WHERE id = 1")
    return rows[0] if rows else None  # type: ignore[return-value]


def create_programme(store: Store, salt: str, holdout_share: float, actor: str) -> None:
    store.db["live_programme"].insert({"id": 1, "salt": salt, "holdout_share": holdout_share,
                                       "created_at": now(), "created_by": actor})


def record_roster_import(store: Store, *, source: str, sha256: str, rows: int, new_users: int,
                         total_users: int, actor: str) -> None:
    store.db["live_roster_imports"].insert({
        "source": source, "sha256": sha256, "rows": rows, "new_users": new_users,
        "total_users": total_users, "at": now(), "actor": actor})


def roster_imports(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM live_roster_imports ORDER BY id")


def file_loaded(store: Store, sha256: str) -> dict[str, Any] | None:
    """The ledger row of an events file already loaded (by content), or ``None``."""
    rows = store.query("SELECT * FROM live_files WHERE sha256 = ?", [sha256])
    return rows[0] if rows else None


def record_file(store: Store, *, sha256: str, name: str, rows: int, inserted: int,
                duplicates: int, quarantined: int, attributed: int, actor: str) -> None:
    store.db["live_files"].insert({
        "sha256": sha256, "name": name, "rows": rows, "inserted": inserted,
        "duplicates": duplicates, "quarantined": quarantined, "attributed": attributed,
        "at": now(), "actor": actor})


def files(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM live_files ORDER BY at, name")


def live_root(path: str) -> Path:
    """``<db name>.live/`` beside the database file (absolute), the programme's Parquet."""
    db = Path(path).resolve()
    return db.parent / f"{db.name}.live"


def _located(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``log_path`` found where it is now: ``decisions/day=.../batch.parquet`` in
    the Parquet folder beside this database, as runs' folders are found (``store.runs``).
    A day decided by ``cd data; workbench --db w.db programme day`` recorded the path
    relative to that directory; read from anywhere else, or after the file moved with its
    folder, the day's log could not be opened."""
    if store.path == ":memory:":
        return rows
    for row in rows:
        recorded = Path(row["log_path"])
        row["log_path"] = str(live_root(store.path) / "decisions" / recorded.parent.name
                              / recorded.name)
    return rows


def day(store: Store, day_iso: str) -> DayRow | None:
    rows = _located(store, store.query("SELECT * FROM live_days WHERE day = ?", [day_iso]))
    return rows[0] if rows else None  # type: ignore[return-value]


def record_day(store: Store, *, day_iso: str, batch_id: int, n_users: int, n_sent: int,
               log_path: str) -> None:
    store.db["live_days"].insert({"day": day_iso, "batch_id": batch_id, "n_users": n_users,
                                  "n_sent": n_sent, "log_path": log_path,
                                  "created_at": now()})


def days(store: Store) -> list[DayRow]:
    return _located(store, store.query(  # type: ignore[return-value]
        "SELECT * FROM live_days ORDER BY day"))


def file_shas(store: Store) -> list[str]:
    """The sha256 of every events file loaded, in the order they were loaded."""
    return [r["sha256"] for r in store.query("SELECT sha256 FROM live_files ORDER BY rowid")]


def sqlite_logged(store: Store, batch_id: int) -> bool:
    """Whether the batch's decisions are in SQLite's decision log (``programme day`` with the
    learning log), where :func:`workbench.agent.ingest.ingest_events` teaches from them."""
    return bool(store.query("SELECT 1 FROM decisions WHERE batch_id = ? LIMIT 1", [batch_id]))


def learned_days(store: Store) -> dict[str, dict[str, Any]]:
    """The days learnt from the Parquet decision log, by day."""
    return {r["day"]: r for r in store.query("SELECT * FROM live_learned ORDER BY day")}


def record_learned(store: Store, *, day_iso: str, decisions: int, events: float,
                   files_through: int) -> None:
    """A day learnt (or corrected with late events): ``files_through`` events files, in load
    order, have been counted for it."""
    at = now()
    store.db.execute(
        "INSERT INTO live_learned (day, decisions, events, files_through, learned_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET "
        "events = events + excluded.events, files_through = excluded.files_through, "
        "updated_at = excluded.updated_at",
        [day_iso, decisions, events, files_through, at, at])


def day_of_batch(store: Store, batch_id: int) -> str | None:
    """The programme day a decision batch was made for (``None``: not a programme batch)."""
    rows = store.query("SELECT day FROM live_days WHERE batch_id = ?", [batch_id])
    return rows[0]["day"] if rows else None
