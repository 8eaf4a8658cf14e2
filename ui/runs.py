"""Starting a simulated run from a page (Home's demo trial, Agent control's form and its
Continue button).

A run is registered in the store, then started in a process of its own: two steps, so a start
that fails after the first would leave a queued run that never ran. :func:`start_run` refuses
before anything is written when the runs folder cannot be made, and removes the run again when
its process cannot start; every failure is a :class:`~workbench.sim.config.TrialError` (or
:class:`~store.StoreBusyError`, nothing written) for ``ui.reported`` to show.
"""

from __future__ import annotations

from store import Store, StoreBusyError
from workbench import WorkbenchError
from workbench.sim import trial
from workbench.sim.config import TrialConfig, TrialError


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return f"its folder {error.filename} cannot be made ({error.strerror or error})"
    return str(error)


def start_run(store: Store, config: TrialConfig, actor: str) -> int:
    """Register a run and start its process; returns its id. Nothing is left behind when it
    cannot start, unless even its removal is refused (then the message says where it is)."""
    folder = trial.runs_dir(store)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrialError(f"The run was not started: the folder for runs beside the database, "
                         f"{folder}, cannot be made ({e.strerror or e}); nothing was saved."
                         ) from None
    run_id = trial.create_run(store, config, actor)
    try:
        trial.start_background(store, run_id)
    except (WorkbenchError, StoreBusyError, OSError) as e:
        try:
            trial.cancel(store, run_id, actor)
        except (WorkbenchError, StoreBusyError):
            raise TrialError(
                f"Run #{run_id} could not start: {_reason(e)}. It stays registered as queued: "
                "Continue on the Agent control page starts it, Cancel run removes it.") from e
        raise TrialError(f"Run #{run_id} could not start: {_reason(e)}. It was removed again; "
                         "nothing of it was kept.") from e
    return run_id


def continue_run(store: Store, run_id: int) -> None:
    """Start (or resume) a registered run's process; a folder that cannot be made is said in
    words, like any other refusal, and the run stays as it was."""
    try:
        trial.start_background(store, run_id)
    except OSError as e:
        raise TrialError(f"Run #{run_id} could not continue: {_reason(e)}. It stays as it "
                         "was.") from None
