"""The simulated world and the randomised trial run in it (demos and validation).

``world`` simulates users and their responses; ``trial`` runs the agent against the holdout
day by day, checkpointed and resumable, in its own process.
"""

from workbench.sim.trial import TrialConfig, preset

__all__ = ["TrialConfig", "preset"]
