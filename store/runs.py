"""Simulated trial runs: the run register, daily aggregates and weekly moments per arm.

The simulation (``workbench.sim``) decides what to write; this module is the only place that
knows the tables ``sim_runs``, ``sim_daily`` and ``sim_weekly``. Rows come back as plain dicts
(the pages and the CLI read them by column name) or as :class:`ArmTotal`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store import Store, StoreError, now

__all__ = [
    "ArmTotal", "runs_root", "create", "get", "latest", "all_runs", "last_daily", "live", "claim",
    "update", "request_pause", "status", "delete",
    "upsert_daily", "daily", "arm_totals", "upsert_weekly", "weekly",
    "management_events_after", "delete_decision_batches", "mark_curated",
]

#: Statuses a run can be in (the table's CHECK constraint says the same).
STATUSES = ("queued", "running", "pausing", "paused", "done", "failed")


@dataclass(frozen=True)
class ArmTotal:
    """One metric summed over a run's days for one arm, with the user-days it is over."""

    arm: str
    total: float
    user_days: int


# -- the register --------------------------------------------------------------------------

def runs_root(path: str) -> Path:
    """``<db name>.runs/`` beside the database file (absolute): each file has its own runs."""
    db = Path(path).resolve()
    return db.parent / f"{db.name}.runs"


def _located(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``folder`` found where it is now: in the runs folder beside this database.
    A folder was written as the path it had when the run was made, relative to the working
    directory of whoever made it (``workbench --db data/w.db simulate``) or absolute; read
    from another directory, or after the file moved with its runs, that path pointed nowhere
    and a finished run showed no posteriors and no lift."""
    for row in rows:
        if row.get("folder"):
            row["folder"] = str(runs_root(store.path) / Path(row["folder"]).name)
    return rows


def create(store: Store, *, preset: str, users: int, days: int, seed: int,
           config: dict[str, Any], actor: str, folder: Callable[[int], str],
           audit: dict[str, Any], pid: int | None = None) -> int:
    """Register a run as ``queued`` by process ``pid`` (the one that will run or start it);
    ``folder(run_id)`` names its folder. One transaction, audit entry included, so a run is
    never half registered."""
    with store.transaction():
        run_id = int(store.db["sim_runs"].insert({
            "preset": preset, "users": users, "days": days, "seed": seed,
            "config": json.dumps(config), "status": "queued", "folder": "", "pid": pid,
            "started_by": actor, "created_at": now(), "updated_at": now()}).last_pk)
        store.db["sim_runs"].update(run_id, {"folder": folder(run_id)})
        store.audit(actor, "create", "sim_run", run_id, audit)
    return run_id


def get(store: Store, run_id: int) -> dict[str, Any] | None:
    rows = _located(store, store.query("SELECT * FROM sim_runs WHERE id = ?", [run_id]))
    return rows[0] if rows else None


def latest(store: Store, status: str | None = None) -> dict[str, Any] | None:
    """The newest run, or the newest run in ``status`` (e.g. ``"done"``)."""
    if status is None:
        rows = store.query("SELECT * FROM sim_runs ORDER BY id DESC LIMIT 1")
    else:
        if status not in STATUSES:
            raise StoreError(f"unknown run status {status!r}")
        rows = store.query("SELECT * FROM sim_runs WHERE status = ? ORDER BY id DESC LIMIT 1",
                           [status])
    return _located(store, rows)[0] if rows else None


def all_runs(store: Store) -> list[dict[str, Any]]:
    """Every run, newest first (the pages' source picker lists them all)."""
    return _located(store, store.query("SELECT * FROM sim_runs ORDER BY id DESC"))


def last_daily(store: Store, run_id: int) -> dict[str, Any] | None:
    """The latest simulated day of a run (one arm's row: its day, date and mode), or None."""
    rows = store.query("SELECT day, date, mode FROM sim_daily WHERE run_id = ? "
                       "ORDER BY day DESC LIMIT 1", [run_id])
    return rows[0] if rows else None


def live(store: Store) -> list[dict[str, Any]]:
    """Runs whose row says a process is running them or is about to (``queued`` by a
    process), oldest first; whether that process still lives is the caller's question."""
    return _located(store, store.query("SELECT * FROM sim_runs WHERE status IN ('queued', "
                                       "'running', 'pausing') AND pid IS NOT NULL ORDER BY id"))


def claim(store: Store, run_id: int, pid: int, status: str) -> None:
    """Mark a run as run by process ``pid``, in ``status``. Not committed here: the caller
    checks that no other run is live and claims in one transaction
    (:meth:`Store.transaction`), so that two processes never both start a run."""
    if status not in STATUSES:
        raise StoreError(f"unknown run status {status!r}")
    if not store.db.conn.in_transaction:
        raise StoreError("claim a run inside the transaction that checked it is free")
    store.db.execute("UPDATE sim_runs SET pid = ?, status = ?, updated_at = ? WHERE id = ?",
                     [pid, status, now(), run_id])


def update(store: Store, run_id: int, **values: Any) -> None:
    """Set columns of a run (``updated_at`` too) and commit at once: other processes (the
    page that follows the run) see each step."""
    store.db["sim_runs"].update(run_id, dict(values, updated_at=now()))
    store.db.conn.commit()


def request_pause(store: Store, run_id: int) -> bool:
    """Ask a running or queued run to pause at its next day; False if it was neither."""
    cur = store.db.execute("UPDATE sim_runs SET status = 'pausing', updated_at = ? "
                           "WHERE id = ? AND status IN ('running', 'queued')", [now(), run_id])
    store.db.conn.commit()
    return cur.rowcount > 0


def status(store: Store, run_id: int) -> str | None:
    rows = store.query("SELECT status FROM sim_runs WHERE id = ?", [run_id])
    return rows[0]["status"] if rows else None


def delete(store: Store, run_id: int, actor: str) -> None:
    """Remove a run with its daily and weekly rows (a cancelled run); the audit log keeps who
    cancelled it and when."""
    with store.transaction():
        store.db.execute("DELETE FROM sim_weekly WHERE run_id = ?", [run_id])
        store.db.execute("DELETE FROM sim_daily WHERE run_id = ?", [run_id])
        store.db.execute("DELETE FROM sim_runs WHERE id = ?", [run_id])
        store.audit(actor, "cancel", "sim_run", run_id)


# -- daily aggregates and weekly moments ---------------------------------------------------

def upsert_daily(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    """A day's rows per arm; a day simulated again after a crash replaces its rows."""
    store.db["sim_daily"].upsert_all(list(rows), pk=("run_id", "day", "arm"))
    store.db.conn.commit()


def daily(store: Store, run_id: int) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM sim_daily WHERE run_id = ? ORDER BY day, arm", [run_id])


def arm_totals(store: Store, run_id: int, metric: str) -> list[ArmTotal]:
    """``metric`` summed per arm over the run's days so far."""
    if metric not in store.db["sim_daily"].columns_dict or metric in (
            "run_id", "day", "date", "arm", "mode"):
        raise StoreError(f"sim_daily has no metric column {metric!r}")
    rows = store.query(f"SELECT arm, SUM({metric}) AS total, SUM(users) AS user_days "
                       "FROM sim_daily WHERE run_id = ? GROUP BY arm ORDER BY arm", [run_id])
    return [ArmTotal(r["arm"], float(r["total"] or 0.0), int(r["user_days"] or 0))
            for r in rows]


def upsert_weekly(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    store.db["sim_weekly"].upsert_all(list(rows), pk=("run_id", "week", "arm", "metric"))
    store.db.conn.commit()


def weekly(store: Store, run_id: int) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM sim_weekly WHERE run_id = ? ORDER BY week, arm, metric",
                       [run_id])


# -- what a run reads and writes beside its own tables ---------------------------------------

def management_events_after(store: Store, event_id: int) -> list[dict[str, Any]]:
    """Management events recorded after ``event_id``, oldest first (a run adopts them)."""
    return store.query("SELECT * FROM management_events WHERE id > ? ORDER BY id", [event_id])


def delete_decision_batches(store: Store, source: str) -> int:
    """Remove the decision batches of ``source`` and their decisions (a week's sample logged
    again after a resume replaces the first one); returns how many batches went."""
    with store.transaction():
        ids = [r["id"] for r in store.query(
            "SELECT id FROM decision_batches WHERE source = ?", [source])]
        for b in ids:
            store.db.execute("DELETE FROM decisions WHERE batch_id = ?", [b])
            store.db.execute("DELETE FROM decision_batches WHERE id = ?", [b])
    return len(ids)


def mark_curated(store: Store, component_id: int, seed_key: str) -> None:
    """Tag a component the scripted curator added with its reserve-pool key, so that a round
    replayed after a crash finds it and adds nothing twice."""
    store.db["components"].update(component_id, {"seed_key": seed_key, "source": "curator"})
