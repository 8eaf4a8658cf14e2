"""A run's sandbox: its own copy of the library, the agent's tables and the management timeline.

A simulated trial adds and retires atoms (the scripted curator), switches from active to
passive management, and learns and logs decisions as an agent does. Done in the real programme,
that would change the library marketers work on, unfreeze a library a manager froze, and mix
simulated decisions with real ones. So a run works in a copy of the database file taken when it
starts (``library.db`` in the run's folder); the real file only gets the run's register row and
its daily and weekly aggregates. Mode switches a person makes in the real programme while the
run goes on are adopted by the run's timeline (and recorded in its copy), never the reverse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from store import Store, open_store

SANDBOX = "library.db"


def open_sandbox(store: Store, folder: Path, *, fresh: bool) -> Store:
    """The run's copy of the programme; ``fresh`` (a run starting from day 0) takes a new copy
    of the real file, else the copy the run has been working in is reopened."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SANDBOX
    if fresh or not path.exists():
        tmp = folder / f"{SANDBOX}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            store.backup(tmp)
            for stale in (f"{SANDBOX}-wal", f"{SANDBOX}-shm"):  # of an earlier copy: never replay
                (folder / stale).unlink(missing_ok=True)
            os.replace(tmp, path)
        finally:  # a copy that failed (disk full) leaves nothing behind
            tmp.unlink(missing_ok=True)
    return open_store(path)


def run_library(run: dict[str, Any]) -> Store | None:
    """Open the copy of the programme a run works in (its library, timeline, the simulated
    agent's posteriors and decision samples), or None before the run has started."""
    path = Path(run["folder"]) / SANDBOX
    return open_store(path) if path.exists() else None
