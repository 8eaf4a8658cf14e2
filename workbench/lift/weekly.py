"""Lift week by week, from the weekly per-user moments (users, sum and sum of squares per arm)
that a simulated run and the live programme keep, and what a heavy-tailed metric's weeks can
say.

A heavy-tailed metric (GMV with few buyers) gets the permutation interval everywhere else:
the phase table, the whole-run headline, the segment table (the rule of
:func:`~workbench.lift.permutation.plain_lift` and :func:`~workbench.lift.estimators.ml_rate`,
decided by :func:`~workbench.lift.estimators.heavy_tailed` on each user's outcome). The delta
method's interval misses one-sidedly there: on A/A GMV (50,000 users, 0.3% buyers) it
excluded 0 in 13.0% of trials, where 5% is due. The weeks gave it that interval all the same.
A permutation interval needs each user's value and the weeks keep sums only, so a week of a
metric the phase table found heavy-tailed in the week's phase now keeps its lift and has no
interval (:func:`heavy_weeks`) rather than one that looks precise and is not.

The phase's verdict is the weeks' floor, not their own: a week has fewer buyers than its
phase, so its tails are heavier (for rare purchases the tail weight grows with the weeks in
the phase), and a metric just under the threshold over a phase may be over it in a week. The
week's own verdict needs each user's weekly value (or the sums of third and fourth powers).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from workbench.lift import html as fmt
from workbench.lift.estimators import OK, from_moments
from workbench.lift.permutation import PERMUTATION

NO_WEEKLY_INTERVAL = ("heavy-tailed: a few large values carry the average, and a week's sums "
                      "give no reliable interval (the phase's lift has the permutation "
                      "interval)")
"""Why a heavy-tailed metric's week has a lift and no interval."""
NO_INTERVAL = "no interval (heavy-tailed)"
"""The estimator of such a week: its lift is the ratio of the arms' weekly means."""
#: The fields of a week's row that come from the delta method's interval.
INTERVAL_FIELDS = ("ci_low", "ci_high", "p_value", "lift_se", "diff_se", "df")


def weekly_table(weekly: pd.DataFrame, start: date | str | None = None) -> pd.DataFrame:
    """Lift per week and metric from the run's weekly per-user moments; with the run's
    ``start`` date, ``week_start`` holds each week's first day (weeks count from the start).
    Weeks without holdout events keep their row, with that status and no number. The
    interval is the delta method's (weekly sums only): :func:`heavy_weeks` takes it from a
    heavy-tailed metric's weeks."""
    rows = []
    first = date.fromisoformat(start) if isinstance(start, str) else start
    for (week, metric), g in weekly.groupby(["week", "metric"]):
        arms = {r["arm"]: r for r in g.to_dict("records")}
        if {"agent", "holdout"} <= set(arms) and min(arms["agent"]["n"], arms["holdout"]["n"]) > 1:
            a, h = arms["agent"], arms["holdout"]
            est = from_moments(a["n"], a["sum"], a["sumsq"], h["n"], h["sum"], h["sumsq"])
            dated = {"week_start": fmt.week_start(first, week)} if first else {}
            rows.append({"week": week, **dated, "metric": metric, "mode": a["mode"],
                         **est.as_dict()})
    return pd.DataFrame(rows)


def heavy_weeks(weekly: pd.DataFrame, table: pd.DataFrame | None) -> pd.DataFrame:
    """``weekly`` (:func:`weekly_table`) with no interval in the weeks of a metric that the
    phase table (:func:`workbench.lift.report.phase_table`, ``table``) gave the permutation
    interval in the week's phase (its ``mode``): their interval fields are empty, they are not
    called clear, their estimator is :data:`NO_INTERVAL` and their warning says why. The
    lift and the per-user averages stay. Unchanged without a table (a run still going has no
    per-user outcomes to decide by) or without such a metric."""
    if table is None or weekly.empty or table.empty:
        return weekly
    heavy = {(r["phase"], r["metric"]) for r in table.to_dict("records")
             if r["estimator"] == PERMUTATION}
    hit = np.array([(mode, metric) in heavy for mode, metric
                    in zip(weekly["mode"], weekly["metric"])], bool) & (weekly["status"] == OK)
    if not hit.any():
        return weekly
    out = weekly.copy()
    out.loc[hit, list(INTERVAL_FIELDS)] = math.nan
    out.loc[hit, "significant"] = False
    out.loc[hit, "estimator"] = NO_INTERVAL
    out.loc[hit, "note"] = NO_WEEKLY_INTERVAL
    out.loc[hit, "warning"] = ["; ".join(w for w in (NO_WEEKLY_INTERVAL, old) if w)
                               for old in out.loc[hit, "warning"]]
    return out
