"""Incrementality: relative lift of the agent over the holdout.

``estimators`` holds the statistics as pure functions (delta method, ML-RATE, phase change);
``report`` turns per-user outcomes into the tables and the HTML report a manager reads.
"""

from workbench.lift.estimators import LiftEstimate, ml_rate, unadjusted

__all__ = ["LiftEstimate", "ml_rate", "unadjusted"]
