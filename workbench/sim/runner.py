"""The run's process control: start a run in its own process, ask it to pause, follow it.

A run started from a page runs in a process of its own (``workbench simulate --run N``), so
that it outlives the page's session and every browser tab sees the same run through its row
in the store. The process writes its progress to the row; a page only reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from store import Store
from store import runs as run_store
from workbench.sim.config import TrialError
from workbench.sim.runs import run_row

ROOT = Path(__file__).resolve().parents[2]


def start_background(store: Store, run_id: int) -> int:
    """Run (or resume) a run in its own process, so that it outlives the page that started
    it and every browser tab sees it; returns the process id."""
    row = run_row(store, run_id)
    if row["status"] in ("running", "pausing") and row["pid"] and alive(row["pid"]):
        raise TrialError(f"run #{run_id} is already running")
    folder = Path(row["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    # The child gets its own copy of the log's descriptor; ours is closed on leaving the block
    # (a page that starts many runs would otherwise leak one open file per start).
    with open(folder / "process.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--db", store.path, "simulate", "--run",
             str(run_id), "--quiet"], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=ROOT)
    run_store.update(store, run_id, status="running" if row["status"] != "done" else "done",
                     pid=proc.pid)
    return proc.pid


def request_pause(store: Store, run_id: int) -> None:
    """Ask a running (or queued) run to stop at its next day, with a checkpoint."""
    run_store.request_pause(store, run_id)


def set_run(store: Store, run_id: int, **values: Any) -> None:
    """Record a run's progress or status in its row (seen at once by every page)."""
    run_store.update(store, run_id, **values)


def pause_requested(store: Store, run_id: int) -> bool:
    return run_store.status(store, run_id) == "pausing"


def ensure_not_running_elsewhere(row: dict[str, Any]) -> None:
    """Refuse to run a run that a live process other than this one is running."""
    if row["status"] == "running" and row["pid"] and row["pid"] != os.getpid() \
            and alive(row["pid"]):
        raise TrialError(f"run #{row['id']} is already running (process {row['pid']})")


def progress(row: dict[str, Any]) -> dict[str, Any]:
    """Days done, share, and estimated seconds left of a run row."""
    done, total = row["days_done"], row["days"]
    per_day = row["seconds"] / done if done else None
    is_alive = bool(row["pid"]) and alive(row["pid"])
    status = row["status"]
    if status in ("running", "pausing") and not is_alive and row["pid"]:
        status = "interrupted"  # the process died: resume continues from the checkpoint
    return {"done": done, "total": total, "share": done / total if total else 0.0,
            "eta_seconds": None if per_day is None else per_day * (total - done),
            "status": status}


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
