"""The reward: one number per decision from its outcome events.

Marketers set weights on the funnel events (direct open, engagement, intent, conversion, GMV);
the reward is their weighted sum. The weights can instead be learnt from data: a least-squares
fit, with an intercept and non-negative weights, of a downstream value (30-day conversions,
GMV...) on the short-term events, so that the agent optimises what predicts long-term value.
Optionally the reward is made incremental, as in the longitudinal study: each user's reward minus
the mean reward of holdout users in the same cell over the same window (a difference in
differences when pre-period rewards are given; see :mod:`workbench.agent.ingest` for how the
cells are kept per segment and batch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from difflib import get_close_matches

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from workbench import Problem, ValidationError

EVENTS = ("direct_open", "engagement", "intent", "conversion", "gmv")
#: Largest event value, weight or pre-period reward learnt. Squares and sums of far larger
#: finite values overflow in the posterior (1e300 left every weight NaN for good); no real
#: count or amount comes near it, so a value over it is a unit or parsing error.
MAX_VALUE = 1e12


@dataclass(frozen=True)
class RewardWeights:
    """Weight of one unit of each event (GMV is per currency unit)."""

    direct_open: float = 1.0
    engagement: float = 0.5
    intent: float = 1.0
    conversion: float = 3.0
    gmv: float = 0.02

    def __post_init__(self) -> None:
        problems = [Problem(f"must be a finite number from 0 to {MAX_VALUE:g}, not {v!r}",
                            field=k)
                    for k, v in asdict(self).items()
                    if not isinstance(v, (int, float)) or not 0 <= v <= MAX_VALUE]
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
    """``n x 5`` matrix of event counts: a missing event column counts as no event (zero).

    Refused (:class:`workbench.ValidationError`, naming row and column): outcomes that are not
    a table, a table with rows but none of the event columns (a misnamed column was learnt as
    all zeros), a column named like an event but not one (``conversions``, ``GMV``: learnt
    as nothing beside the right ones), and a count that is text, infinite, negative, missing
    or over :data:`MAX_VALUE`: one ``inf`` turned every posterior into NaN for good, and "x",
    "12,5", NaN and None were learnt as 0 (a decision with no event has 0: every caller in
    the workbench fills its tables so)."""
    if not isinstance(outcomes, pd.DataFrame):
        raise ValidationError([Problem(f"must be a table (a pandas DataFrame) with event "
                                       f"columns, not {type(outcomes).__name__}",
                                       field="outcomes")], "The outcomes were not learnt")
    if len(outcomes) and not any(e in outcomes.columns for e in EVENTS):
        raise ValidationError([Problem(f"has none of the event columns {', '.join(EVENTS)} "
                                       f"(its columns: {', '.join(map(str, outcomes.columns))})",
                                       field="outcomes")], "The outcomes were not learnt")
    problems = [Problem(f"is not an event column (did you mean '{close[0]}'?): its values would "
                        "not be learnt", field=str(c))
                for c in outcomes.columns if c not in EVENTS
                and (close := get_close_matches(str(c).lower(), EVENTS, n=1, cutoff=0.88))]
    cols = []
    for e in EVENTS:
        if e not in outcomes.columns:
            cols.append(np.zeros(len(outcomes)))
            continue
        raw = outcomes[e]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        empty = raw.isna().to_numpy()
        for i in np.flatnonzero(~(np.isfinite(num) & (num >= 0)))[:20]:
            problems.append(Problem(
                "is missing (NaN or None): give 0 for no event" if empty[i]
                else f"'{raw.iloc[i]}' is not a count or amount >= 0", row=int(i) + 1, field=e))
        for i in np.flatnonzero(np.isfinite(num) & (num > MAX_VALUE))[:20]:
            problems.append(Problem(f"'{raw.iloc[i]}' is over {MAX_VALUE:g}: a unit or parsing "
                                    "error?", row=int(i) + 1, field=e))
        cols.append(num)
    if problems:
        problems.sort(key=lambda p: p.row or 0)
        raise ValidationError(problems, "The outcomes were not learnt")
    return np.column_stack(cols) if cols else np.zeros((len(outcomes), 0))


def scalarise(outcomes: pd.DataFrame, weights: RewardWeights) -> np.ndarray:
    return event_matrix(outcomes) @ weights.as_array()


@dataclass(frozen=True)
class WeightFit:
    """What :func:`fit_weights` learnt: the event weights, the intercept (the downstream value
    of a user with no event, which the weights must not absorb), R^2 and the rows used."""

    weights: RewardWeights
    intercept: float
    r2: float
    rows: int


def _numeric_column(values: pd.Series | np.ndarray, name: str, problems: list[Problem]
                    ) -> np.ndarray:
    """A column as floats; non-numeric and missing/NaN/infinite cells become problems naming
    their row (data row 1 is the first row) and the column."""
    raw = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                    else values.to_numpy(dtype=object))
    num = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    for i in np.flatnonzero(~np.isfinite(num))[:20]:
        v = raw.iloc[i]
        missing = v is None or (isinstance(v, float) and math.isnan(v))
        what = "is missing (NaN)" if missing else f"'{v}' is not a finite number"
        problems.append(Problem(what, row=int(i) + 1, field=name))
    return num


def fit_weights(outcomes: pd.DataFrame, downstream: np.ndarray | pd.Series) -> WeightFit:
    """Weights of the event columns of ``outcomes`` that best predict ``downstream`` (e.g.
    30-day conversions), with an intercept.

    Why an intercept: a downstream value usually has a baseline that no short-term event
    explains (a 0.2 base rate of conversions, a constant added). Without an intercept the
    weights absorb it and their ratios, which are what the agent optimises, come out wrong.
    Least squares with the weights kept >= 0 (one more event never lowers the value) and the
    intercept free: the data are centred and the centred problem solved by NNLS.

    Only the event columns present in ``outcomes`` are fitted (an absent event gets weight
    0). Refused, naming the column: a non-numeric or NaN cell (with its row), a constant
    column (it cannot be told apart from the intercept), a column that is a linear
    combination of others (its weight is not identifiable), too few rows.
    """
    present = [e for e in EVENTS if e in outcomes.columns]
    problems: list[Problem] = []
    if not present:
        problems.append(Problem(f"no event column; expected some of {', '.join(EVENTS)}"))
    y = _numeric_column(downstream, "downstream", problems)
    if len(y) != len(outcomes):
        problems.append(Problem(f"has {len(y)} values for {len(outcomes)} outcome rows",
                                field="downstream"))
    cols = [_numeric_column(outcomes[e], e, problems) for e in present]
    if problems:
        raise ValidationError(problems, "Cannot learn reward weights")
    if len(y) < len(present) + 2:
        raise ValidationError([Problem(f"need at least {len(present) + 2} rows for "
                                       f"{len(present)} event column(s) and an intercept")],
                              "Cannot learn reward weights")
    X = np.column_stack(cols)
    Xc = X - X.mean(axis=0)
    scale = np.sqrt((Xc ** 2).mean(axis=0))
    for e, s, x in zip(present, scale, X.T):
        if s <= 1e-12 * max(1.0, np.abs(x).max()):
            problems.append(Problem(f"is constant ({x[0]:g} in every row): it cannot be told "
                                    "apart from the intercept; leave the column out", field=e))
    if problems:
        raise ValidationError(problems, "Cannot learn reward weights")
    Z = Xc / scale
    rank = 0
    for j, e in enumerate(present):  # each column must add a dimension to those before it
        r = np.linalg.matrix_rank(Z[:, :j + 1], tol=1e-8 * math.sqrt(len(Z)))
        if r == rank:
            others = ", ".join(present[:j])
            problems.append(Problem(f"is a linear combination of {others}: their weights "
                                    "cannot be told apart; leave one out", field=e))
        rank = r
    if problems:
        raise ValidationError(problems, "Cannot learn reward weights")
    yc = y - y.mean()
    coef, _ = nnls(Z, yc)
    w = coef / scale
    intercept = float(y.mean() - X.mean(axis=0) @ w)
    resid = yc - Z @ coef
    ss = float(yc @ yc)
    weights = dict.fromkeys(EVENTS, 0.0) | dict(zip(present, w.tolist()))
    return WeightFit(RewardWeights(**weights), intercept,
                     1.0 - float(resid @ resid) / ss if ss > 0 else 0.0, len(y))


def learn_weights(outcomes: pd.DataFrame, downstream: np.ndarray | pd.Series) -> RewardWeights:
    """The event weights of :func:`fit_weights` (the intercept is left out: a constant added
    to every reward changes no decision)."""
    return fit_weights(outcomes, downstream).weights


def beyond(value: float) -> str:
    """The problem of a pre-period reward beyond +-:data:`MAX_VALUE`."""
    return f"{value:g} is beyond +-{MAX_VALUE:g}: a unit or parsing error?"


def check_pre_reward(pre_reward: np.ndarray | pd.Series, n: int) -> np.ndarray:
    """Pre-period rewards as floats, one per outcome row; a missing (NaN), infinite or
    non-numeric value is refused with its row, so that it cannot turn the posterior into NaN."""
    problems: list[Problem] = []
    values = _numeric_column(pre_reward, "pre_reward", problems)
    for i in np.flatnonzero(np.isfinite(values) & (np.abs(values) > MAX_VALUE))[:20]:
        problems.append(Problem(beyond(values[i]), row=int(i) + 1, field="pre_reward"))
    if len(values) != n:
        problems.append(Problem(f"has {len(values)} values for {n} outcome rows",
                                field="pre_reward"))
    if problems:
        problems.sort(key=lambda p: p.row or 0)
        raise ValidationError(problems, "Invalid pre-period rewards")
    return values


def incremental(reward: np.ndarray, is_holdout: np.ndarray, cell: np.ndarray,
                pre_reward: np.ndarray | None = None) -> np.ndarray:
    """Reward minus the holdout baseline of the same cell (same window).

    With ``pre_reward`` (each user's reward over a pre-period of the same length, before any
    message of the agent) it is a difference in differences: each user's change over their own
    pre-period, minus the holdout users' mean change in the cell, which removes differences
    between users that existed before the agent acted. Cells without holdout users fall back
    to the overall holdout mean; without any holdout user there is no baseline, which is an
    error.
    """
    change = reward - (0 if pre_reward is None else check_pre_reward(pre_reward, len(reward)))
    hold = np.asarray(is_holdout, bool)
    if not hold.any():
        raise ValidationError([Problem("no holdout user among the outcomes", field="arm")],
                              "Cannot measure incrementality")
    cells, code = np.unique(cell, return_inverse=True)
    sums = np.bincount(code[hold], weights=change[hold], minlength=len(cells))
    counts = np.bincount(code[hold], minlength=len(cells))
    base = np.where(counts > 0, sums / np.maximum(counts, 1), change[hold].mean())
    return change - base[code]
