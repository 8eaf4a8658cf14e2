"""The reward: one number per decision from its outcome events.

Marketers set weights on the funnel events (direct open, engagement, intent, conversion, GMV);
the reward is their weighted sum. The weights can instead be learnt from data: a non-negative
least-squares fit of a downstream value (30-day conversions, GMV...) on the short-term events,
so that the agent optimises what predicts long-term value. Optionally the reward is made
incremental, as in the longitudinal study: each user's reward minus the mean reward of holdout
users in the same cell over the same window (a difference in differences when pre-period
rewards are given).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from workbench import Problem, ValidationError

EVENTS = ("direct_open", "engagement", "intent", "conversion", "gmv")


@dataclass(frozen=True)
class RewardWeights:
    """Weight of one unit of each event (GMV is per currency unit)."""

    direct_open: float = 1.0
    engagement: float = 0.5
    intent: float = 1.0
    conversion: float = 3.0
    gmv: float = 0.02

    def __post_init__(self) -> None:
        problems = [Problem(f"must be a finite number >= 0, not {v!r}", field=k)
                    for k, v in asdict(self).items()
                    if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0]
        if problems:
            raise ValidationError(problems, "Invalid reward weights")

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, e) for e in EVENTS], dtype=float)

    @classmethod
    def from_mapping(cls, m: Mapping[str, float]) -> RewardWeights:
        unknown = set(m) - set(EVENTS)
        if unknown:
            raise ValidationError([Problem("unknown event", field=k) for k in sorted(unknown)],
                                  "Invalid reward weights")
        return cls(**{k: float(v) for k, v in m.items()})


def event_matrix(outcomes: pd.DataFrame) -> np.ndarray:
    """``n x 5`` matrix of event counts (missing event columns count as zero)."""
    return np.column_stack([
        pd.to_numeric(outcomes[e], errors="coerce").fillna(0).to_numpy(float)
        if e in outcomes.columns else np.zeros(len(outcomes)) for e in EVENTS])


def scalarise(outcomes: pd.DataFrame, weights: RewardWeights) -> np.ndarray:
    return event_matrix(outcomes) @ weights.as_array()


def learn_weights(outcomes: pd.DataFrame, downstream: np.ndarray | pd.Series) -> RewardWeights:
    """Weights that best predict ``downstream`` from the short-term events (non-negative
    least squares: a unit of an event never lowers the value)."""
    X = event_matrix(outcomes)
    y = np.asarray(downstream, dtype=float)
    if len(X) != len(y) or len(y) < len(EVENTS):
        raise ValidationError([Problem(
            f"need at least {len(EVENTS)} rows with a downstream value, one per outcome row")],
            "Cannot learn reward weights")
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(X / scale, y)
    return RewardWeights(**dict(zip(EVENTS, (coef / scale).tolist())))


def incremental(reward: np.ndarray, is_holdout: np.ndarray, cell: np.ndarray,
                pre_reward: np.ndarray | None = None) -> np.ndarray:
    """Reward minus the holdout baseline of the same cell (same window).

    With ``pre_reward`` it is a difference in differences: each user's change over their own
    pre-period, minus the holdout users' mean change in the cell. Cells without holdout users
    fall back to the overall holdout mean.
    """
    change = reward - (0 if pre_reward is None else pre_reward)
    hold = np.asarray(is_holdout, bool)
    if not hold.any():
        raise ValidationError([Problem("no holdout user among the outcomes", field="arm")],
                              "Cannot measure incrementality")
    cells, code = np.unique(cell, return_inverse=True)
    sums = np.bincount(code[hold], weights=change[hold], minlength=len(cells))
    counts = np.bincount(code[hold], minlength=len(cells))
    base = np.where(counts > 0, sums / np.maximum(counts, 1), change[hold].mean())
    return change - base[code]
