"""The run register and what a run leaves behind: its row, daily and weekly tables, and the
per-user outcomes file in its folder. Pages, the CLI and the lift report read runs here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from store import Store
from store import runs as run_store
from workbench.lift.timeline import point_lift
from workbench.sim.config import TrialConfig, TrialError
from workbench.sim.world import METRICS


def runs_dir(store: Store) -> Path:
    """``<db name>.runs/`` beside the database file: each file has its own runs."""
    if store.path == ":memory:":
        raise TrialError("a simulated trial needs a database file, not :memory:")
    return run_store.runs_root(store.path)


def create_run(store: Store, config: TrialConfig, actor: str) -> int:
    """Register a run (status ``queued``, by this process); :func:`~workbench.sim.trial.
    run_trial` executes it. Refused while another run is running or queued by a live process:
    one run at a time. The check and the new row are one write transaction, so two processes
    starting a run at the same moment cannot both pass the check."""
    folder = runs_dir(store)
    with store.transaction():
        ensure_no_other_run(store)
        return run_store.create(
            store, preset=config.preset, users=config.users, days=config.days,
            seed=config.seed, config=config.to_dict(), actor=actor,
            folder=lambda i: str(folder / f"run_{i:04d}"),
            audit=config.to_dict() | {"world": None}, pid=os.getpid())


def run_row(store: Store, run_id: int) -> dict[str, Any]:
    row = run_store.get(store, run_id)
    if row is None:
        raise TrialError(f"no simulation run #{run_id}")
    return row


def latest_run(store: Store, status: str | None = None) -> dict[str, Any] | None:
    """The newest run (or the newest in ``status``, e.g. ``"done"`` for the lift report)."""
    return run_store.latest(store, status)


def ensure_no_other_run(store: Store, run_id: int | None = None) -> None:
    """Refuse to start a run while another one (not ``run_id``) is running, or queued by a
    process that will start it: runs share the machine and the database, and a second one
    beside the first would slow both down. A run whose process has died does not count.
    Call it inside the write transaction that then registers or claims the run."""
    for row in run_store.live(store):
        # This process runs one run at a time, synchronously: a row naming it is left over
        # from a run it stopped (a simulated crash in tests), not a live one.
        if row["id"] != run_id and row["pid"] != os.getpid() and alive(row["pid"]):
            state = "is about to start" if row["status"] == "queued" else "is still running"
            raise TrialError(f"run #{row['id']} {state} (started by {row['started_by']}); "
                             "one run at a time: pause it or let it finish first")


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. A run process this process started and that has
    exited is reaped here, so that it is not mistaken for alive while it is a zombie."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: ask the system below
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def daily(store: Store, run_id: int) -> pd.DataFrame:
    """The run's daily aggregates per arm, realised and expected, by day."""
    return pd.DataFrame(run_store.daily(store, run_id))


def weekly(store: Store, run_id: int) -> pd.DataFrame:
    """The run's weekly per-user moments (n, sum, sum of squares) per arm and metric."""
    return pd.DataFrame(run_store.weekly(store, run_id))


def user_outcomes(run: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Per-user outcomes per phase with pre-period covariates, once the run has finished."""
    path = Path(run["folder"]) / "users.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def headline_lift(store: Store, run_id: int, metric: str = "direct_open") -> float | None:
    """Relative lift of ``metric`` per user over the run so far (a point estimate)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    by = {r.arm: r for r in run_store.arm_totals(store, run_id, metric)}
    if len(by) < 2:
        return None
    return point_lift(by["agent"].total, by["agent"].user_days, by["holdout"].total,
                      by["holdout"].user_days)
