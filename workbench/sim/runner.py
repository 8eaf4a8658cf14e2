"""The run's process control: start a run in its own process, ask it to pause, follow it.

A run started from a page runs in a process of its own (``workbench simulate --run N``), so
that it outlives the page's session and every browser tab sees the same run through its row
in the store. The process writes its progress to the row; a page only reads it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from store import Store, StoreBusyError
from store import runs as run_store
from workbench import WorkbenchError
from workbench.sim.config import TrialConfig, TrialError
from workbench.sim.runs import alive, create_run, ensure_no_other_run, run_row, runs_dir

ROOT = Path(__file__).resolve().parents[2]


class _Unstartable(TrialError):
    """A run's process cannot start (its folder cannot be made, no process): the run stays as
    it was."""

    def __init__(self, run_id: int, error: OSError) -> None:
        self.reason = (f"its folder {error.filename} cannot be made ({error.strerror or error})"
                       if error.filename else str(error))
        super().__init__(f"Run #{run_id} could not continue: {self.reason}. It stays as it was.")


def start_new(store: Store, config: TrialConfig, actor: str) -> int:
    """Register a run and start its process; returns its id. Registering and starting are two
    steps, so a start that failed after the first would leave a queued run that never runs:
    nothing is written when the runs folder cannot be made, and the run is removed again when
    its process cannot start (unless even that is refused: then the message says where it
    is). Every failure is a :class:`TrialError` (or :class:`StoreBusyError`, nothing written)."""
    folder = runs_dir(store)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrialError(f"The run was not started: the folder for runs beside the database, "
                         f"{folder}, cannot be made ({e.strerror or e}); nothing was saved."
                         ) from None
    run_id = create_run(store, config, actor)
    try:
        start_background(store, run_id)
    except (WorkbenchError, StoreBusyError) as e:
        reason = e.reason if isinstance(e, _Unstartable) else str(e)
        try:
            cancel(store, run_id, actor)
        except (WorkbenchError, StoreBusyError):
            raise TrialError(
                f"Run #{run_id} could not start: {reason}. It stays registered as queued: "
                "Continue on the Agent control page starts it, Cancel run removes it.") from e
        raise TrialError(f"Run #{run_id} could not start: {reason}. It was removed again; "
                         "nothing of it was kept.") from e
    return run_id


def start_background(store: Store, run_id: int) -> int:
    """Run (or resume) a run in its own process, so that it outlives the page that started
    it and every browser tab sees it; returns the process id. A folder or process that cannot
    be made is a :class:`TrialError`, and the run stays as it was (the claim is rolled back)."""
    # The checks and the claim are one write transaction: a run started at the same moment
    # elsewhere (another tab, ``workbench simulate``) sees this one, or this one sees it.
    with store.transaction():
        row = run_row(store, run_id)
        if row["status"] in ("running", "pausing") and row["pid"] and alive(row["pid"]):
            raise TrialError(f"run #{run_id} is already running")
        ensure_no_other_run(store, run_id)
        folder = Path(row["folder"])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # The child gets its own copy of the log's descriptor; ours is closed on leaving
            # the block (a page that starts many runs would otherwise leak one open file per
            # start).
            with open(folder / "process.log", "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "workbench", "--db", store.path, "simulate",
                     "--run", str(run_id), "--quiet"], stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=ROOT)
        except OSError as e:
            raise _Unstartable(run_id, e) from None
        run_store.claim(store, run_id, proc.pid,
                        "running" if row["status"] != "done" else "done")
    return proc.pid


#: A run's status in the words of a refused pause ("run #3 is finished now").
STATUS_WORDS = {"done": "finished", "paused": "paused already", "failed": "stopped (failed)",
                "interrupted": "stopped (interrupted)"}


def request_pause(store: Store, run_id: int) -> None:
    """Ask a running (or queued) run to stop at its next day, with a checkpoint.

    Raises :class:`TrialError` saying what the run is now when it is neither (it finished, or
    was paused or cancelled, between the page's last look and the click): asking nothing of
    it in silence left the person waiting for a pause that would never come."""
    if run_store.request_pause(store, run_id):
        return
    now_is = run_store.status(store, run_id)
    if now_is is None:
        raise TrialError(f"run #{run_id} no longer exists (it was cancelled); there is nothing "
                         "to pause")
    if now_is == "pausing":
        raise TrialError(f"run #{run_id} is already pausing: it stops at the end of its "
                         "current day")
    raise TrialError(f"run #{run_id} is {STATUS_WORDS.get(now_is, now_is)} now, so there is "
                     "nothing to pause")


def cancel(store: Store, run_id: int, actor: str, wait_seconds: float = 10.0) -> None:
    """Cancel a run that has not finished: stop its process (if one runs it), then remove the
    run, its rows and its folder, sandbox included. The audit log records the cancellation."""
    row = run_row(store, run_id)
    if row["status"] == "done":
        raise TrialError(f"run #{run_id} has finished; a finished run is kept, not cancelled")
    pid = row["pid"]
    if row["status"] in ("running", "pausing") and pid and alive(pid):
        if pid == os.getpid():
            raise TrialError(f"run #{run_id} runs in this process; stop it here instead")
        _stop(pid, wait_seconds)
    run_store.delete(store, run_id, actor)
    shutil.rmtree(row["folder"], ignore_errors=True)


def _stop(pid: int, wait_seconds: float) -> None:
    """Terminate a run's process group (it runs in a session of its own), then kill it if it
    has not gone within ``wait_seconds``: its writes must be over before the run is removed."""
    try:
        leader = os.getpgid(pid) == pid  # started by start_background: its own group
    except ProcessLookupError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            (os.killpg if leader else os.kill)(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)
    raise TrialError(f"the process {pid} of the run could not be stopped")


def set_run(store: Store, run_id: int, **values: Any) -> None:
    """Record a run's progress or status in its row (seen at once by every page)."""
    run_store.update(store, run_id, **values)


def pause_requested(store: Store, run_id: int) -> bool:
    return run_store.status(store, run_id) == "pausing"


def ensure_not_running_elsewhere(store: Store, row: dict[str, Any]) -> None:
    """Refuse to run a run that a live process other than this one is running, or while
    another run is running (or queued by a live process)."""
    if row["status"] in ("running", "pausing") and row["pid"] \
            and row["pid"] != os.getpid() and alive(row["pid"]):
        raise TrialError(f"run #{row['id']} is already running (process {row['pid']})")
    ensure_no_other_run(store, row["id"])


def claim(store: Store, run_id: int) -> dict[str, Any]:
    """Take a run for this process before running it: the checks of
    :func:`ensure_not_running_elsewhere` and marking the run ``running`` by this process
    (a ``pausing`` one stays so, to pause at once) are one write transaction, so two
    processes never both run. Returns the run's row as it was."""
    with store.transaction():
        row = run_row(store, run_id)
        ensure_not_running_elsewhere(store, row)
        if row["status"] != "done":
            run_store.claim(store, run_id, os.getpid(),
                            "pausing" if row["status"] == "pausing" else "running")
    return row


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
