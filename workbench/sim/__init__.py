"""The simulated world and the randomised trial run in it (demos and validation).

``world`` simulates users and their responses; ``trial`` is the front door of a run (the
:class:`~workbench.sim.trial.Trial` timeline, and every function pages and the CLI use), built
from ``config`` (presets), ``checkpoint`` (atomic state), ``day`` (a simulated day, arrays
only), ``curator`` (the scripted marketer), ``sandbox`` (the run's own copy of the programme),
``runs`` (register and results) and ``runner`` (process control: one run at a time, pause,
cancel). Its SQL lives in ``store.runs``.
"""

from workbench.sim.trial import TrialConfig, preset

__all__ = ["TrialConfig", "preset"]
