"""Rewrite jobs: a segment's rewrites made off the caller's thread, with their progress.

A page that rewrites a whole segment must not hold its script run for minutes (a person could
not switch tabs, and a rerun would cut the work off). :func:`start` runs
``Studio.run_segment`` in a background thread of this process, on its own connection to the
database file; the run's progress is what ``run_segment`` records in ``rewrite_runs`` (done of
total, status, message), read back by :func:`job` together with what this process knows of the
thread (the step under way, an unexpected error). One job per segment at a time.

A thread rather than a process, unlike the simulated trial: the studio's API keys live in the
browser session only and must never be written anywhere, so they cannot be handed to another
process; and a segment's rewrites take minutes, not hours.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store import Store, StoreBusyError
from workbench import WorkbenchError
from workbench.studio import pipeline
from workbench.studio.performance import Thresholds


class RewriteJobError(WorkbenchError):
    """A job cannot start (e.g. the segment already has one under way)."""


@dataclass(frozen=True)
class JobState:
    """Where a segment's job stands, for a progress bar."""

    segment: str
    status: str  # "running", "done" or "failed"
    done: int
    total: int
    step: str
    message: str
    run_id: int | None
    rewrites: int  # rewrites recorded by the run so far

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass
class _Job:
    segment: str
    total: int
    thread: threading.Thread | None = None
    run_id: int | None = None
    step: str = "Starting..."
    error: str = ""
    made: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_jobs: dict[str, _Job] = {}
_registry = threading.Lock()


BUSY = ("The database stayed busy with another task (e.g. a running trial), so the rewrite "
        "run stopped. Rewrites it had made are kept; start it again in a moment.")


def start(path: str, segment: str, template_ids: Sequence[int], actor: str, *,
          keys: Mapping[str, str] | None = None, by_merchant: bool = False,
          thresholds: Thresholds | None = None) -> None:
    """Rewrite ``template_ids`` of ``segment`` in the background (the database at ``path``).

    Raises :class:`RewriteJobError` when the segment already has a job under way here."""
    ids = [int(i) for i in template_ids]
    with _registry:
        current = _jobs.get(segment)
        if current is not None and current.thread is not None and current.thread.is_alive():
            raise RewriteJobError(f"segment '{segment}' is already being rewritten "
                                  f"({current.step})")
        job = _Job(segment, len(ids))
        _jobs[segment] = job
    job.thread = threading.Thread(
        target=_run, args=(job, path, ids, actor, dict(keys or {}), by_merchant, thresholds),
        name=f"rewrite-{segment}", daemon=True)
    job.thread.start()


def _run(job: _Job, path: str, ids: list[int], actor: str, keys: dict[str, str],
         by_merchant: bool, thresholds: Thresholds | None) -> None:
    with Store(path) as store:
        def progress(i: int, n: int, what: str) -> None:
            with job.lock:
                if job.run_id is None:  # run_segment registers its run before the first step
                    job.run_id = int(pipeline.runs(store, job.segment)[0]["id"])
                job.step = what

        try:
            studio = pipeline.Studio(store, keys=keys, by_merchant=by_merchant,
                                     thresholds=thresholds)
            result = studio.run_segment(job.segment, actor, template_ids=ids, progress=progress)
            job.made = len(result["rewrites"])
        except WorkbenchError as e:
            job.error = str(e)
        except StoreBusyError:
            job.error = BUSY
        except Exception as e:  # noqa: BLE001 - shown to the person, the thread must not vanish
            job.error = f"{type(e).__name__}: {e}"


def job(path: str, segment: str) -> JobState | None:
    """The latest job started for ``segment`` in this process, or None."""
    with _registry:
        j = _jobs.get(segment)
    if j is None:
        return None
    alive = j.thread is not None and j.thread.is_alive()
    with j.lock:
        run_id, step, error = j.run_id, j.step, j.error
    row: dict[str, Any] = {}
    rewrites = 0
    if run_id is not None:
        with Store(path) as store:
            row = next((r for r in pipeline.runs(store, segment) if r["id"] == run_id), {})
            rewrites = sum(1 for r in pipeline.rewrites(store, segment)
                           if r.get("run_id") == run_id)
    status = "running" if alive else ("failed" if error or row.get("status") == "failed"
                                      else "done")
    return JobState(segment=segment, status=status, done=int(row.get("done", 0)),
                    total=int(row.get("total", j.total)), step=step,
                    message=error or row.get("message", ""), run_id=run_id, rewrites=rewrites)


def forget(segment: str) -> None:
    """Drop a finished job, once its outcome has been shown."""
    with _registry:
        j = _jobs.get(segment)
        if j is not None and not (j.thread is not None and j.thread.is_alive()):
            del _jobs[segment]


def wait(segment: str, timeout: float | None = None) -> bool:
    """Block until the segment's job is over (for scripts and tests); True when it is."""
    with _registry:
        j = _jobs.get(segment)
    if j is None or j.thread is None:
        return True
    j.thread.join(timeout)
    return not j.thread.is_alive()
