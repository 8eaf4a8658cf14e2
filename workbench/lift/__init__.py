"""Incrementality: relative lift of the agent over the holdout.

``estimators`` holds the statistics as pure functions (delta method with Welch t, ML-RATE, the
"no events in the holdout yet" status); ``change`` the change of lift between phases;
``permutation`` the interval for heavy-tailed metrics; ``metrics`` the metric names; ``report``
turns per-user outcomes into the tables and the forwardable report (``manager_report``),
``weekly`` the weekly moments into lift week by week; ``html`` writes numbers for people,
``charts`` the report's figures, ``timeline`` draws a source's days for Agent control.
"""

from workbench.lift.estimators import LiftEstimate, ml_rate, unadjusted

__all__ = ["LiftEstimate", "ml_rate", "unadjusted"]
