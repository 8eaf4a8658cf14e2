"""Relative lift of the agent over the holdout, with delta-method intervals and ML-RATE.

Pure functions on arrays; frozen results with derived properties (in the manner of gbstats).

**Unadjusted.** The relative lift ``D = mean_T / mean_C - 1`` is a smooth function of two
independent sample means, so by the delta method
``Var(D) ~= var_T / (n_T mean_C^2) + mean_T^2 var_C / (n_C mean_C^4)``, with unequal variances
and sizes (the 90/10 split) taken as they are. The interval uses Student's t with the
Welch-Satterthwaite degrees of freedom of that sum of two arm terms: with a 10% holdout of a few
dozen users the holdout's term dominates and the df fall towards ``n_C - 1``, where z would be
too narrow; with thousands of users t and z agree.

**ML-RATE** (Guo, Coey, Konutgan, Li, Schoener & Goldman, NeurIPS 2021). A model predicts each
user's outcome from pre-treatment covariates; predictions are cross-fitted (each fold predicted
by a model trained on the other folds, both arms pooled, so a user's own outcome never enters
their prediction). The regression ``Y ~ a + t T + b g + c T g`` on the centred prediction ``g``
gives ``a`` and ``a + t`` as the regression-adjusted arm means, unbiased whatever the model's
quality. The fully interacted regression is the same as one regression ``Y ~ 1 + g`` per arm,
so it is computed that way: each arm's adjusted mean is the mean of ``y - b_arm (g - mean g)``
with variance ``sum(residual^2) / (n (n - 2))`` (HC-robust up to leverage terms that vanish with
n), the two arms are independent, and the delta method and Welch df above apply unchanged. A
constant prediction gives ``b = 0`` (the unadjusted estimate) instead of a singular matrix.

**Not estimable.** A holdout whose mean is 0 (no events yet) or negative (refunds) has no
relative lift: the result says so in ``status`` and carries no number, never "significant".
**Heavy tails** (a handful of large values, like GMV with 0.3% buyers) break the normal
approximation one-sidedly; :func:`ml_rate` then switches to the permutation interval of
:mod:`workbench.lift.permutation` and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.stats import t as student_t

OK = "ok"
NO_HOLDOUT_EVENTS = "no events in the holdout yet"
HOLDOUT_NOT_POSITIVE = "holdout average is not positive"
NO_VARIATION = "no variation"
AGENT_NOT_POSITIVE = ("agent average is not positive: a relative lift would be -100% or "
                      "below and has no interval; compare the per-user averages")
#: The statuses of an estimate that has a number (a constant metric's lift is 0).
HAS_NUMBER = (OK, NO_VARIATION)
NO_ACTIVE_LIFT = "no clear active-phase lift to compare with"
HEAVY_TAILED_CHANGE = ("heavy-tailed: a change of lift between phases has no reliable "
                       "interval")
UNBOUNDED_CHANGE = ("the active-phase lift is too uncertain to bound a change relative to "
                    "it")
NEGATIVE_ACTIVE_LIFT = ("the active-phase lift is negative: a change relative to it would "
                        "read backwards")

PER_USER_FIELDS = ("mean_agent", "mean_holdout", "diff", "diff_se")
"""Fields of :meth:`LiftEstimate.as_dict` that are averages per user (or their difference and
its standard error): empty (NaN) for the change of lift between phases, which has none."""

PHASE_CHANGE_ADJUSTED = "delta method (ML-RATE)"
"""The estimator of a change between phases computed from ML-RATE's adjusted means."""

MIN_USERS_PER_ARM_FOR_MLRATE = 200
SEGMENT_MIN_USERS = 20  # a segment's own lift is shown with at least this many per arm
SMALL_HOLDOUT_USERS = 100
SMALL_HOLDOUT_EVENTS = 10
HEAVY_TAIL_KURTOSIS = 0.15
"""Excess kurtosis of the holdout's mean (see :func:`tail_weight`) above which the normal
approximation misses: GMV with 0.3% buyers and a 5,000-user holdout sits at 0.5 to 7, the
simulator's day counts with 500 holdout users at 0.01 to 0.05."""

CROSS_FIT_FOLDS = 2
"""Folds of ML-RATE's cross-fitting. Any number keeps the estimate unbiased (a user's own
outcome never enters their prediction); more folds only train each model on more users. With
gradient boosting on the pre-period covariates, 2 folds (50% training) and 5 (80%) gave the
same variance reduction on a 100,000-user simulated run (every metric and phase within 0.01,
standard errors within 1%, 3 seeds) at 40% of the model fits: the lift report's first estimate
is bound by the number of fits, not by the rows."""

Z95 = float(student_t.ppf(0.975, math.inf))


def t_critical(df: float, level: float = 0.95) -> float:
    """Two-sided critical value of Student's t (z when ``df`` is infinite)."""
    return float(student_t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class LiftEstimate:
    """An estimate of the absolute and relative effect, with its standard errors.

    ``status`` is :data:`OK` when there is a lift to report; otherwise it says why not (e.g.
    :data:`NO_HOLDOUT_EVENTS`) and ``lift``, the interval and the p-value are NaN.
    ``interval`` is set by estimators whose interval is not ``lift +- t * lift_se`` (the
    permutation interval is asymmetric)."""

    mean_t: float
    mean_c: float
    diff_se: float
    lift_se: float
    n_t: int
    n_c: int
    estimator: str = "unadjusted"
    note: str = ""
    variance_reduction: float = 0.0  # 1 - var(adjusted) / var(unadjusted), for ML-RATE
    df: float = math.inf  # Welch-Satterthwaite degrees of freedom of the relative lift
    diff_df: float = math.inf
    status: str = OK
    events_c: float = math.nan  # holdout users with a nonzero outcome (NaN: unknown)
    interval: tuple[float, float] | None = None
    p: float | None = None
    # ML-RATE's cross-fitted predictions, kept so that the change between phases adjusts with
    # the same model as each phase's own lift (not part of the result's value or its dict)
    predictions: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: False for the change of lift between phases (``lift`` is then the change, carried as
    #: ``mean_t = 1 + change`` over ``mean_c = 1``): its dict leaves the per-user fields
    #: (:data:`PER_USER_FIELDS`) empty, where they had read as averages per user
    per_user: bool = True

    @property
    def estimable(self) -> bool:
        return self.status in HAS_NUMBER

    @property
    def diff(self) -> float:
        return self.mean_t - self.mean_c

    @property
    def lift(self) -> float:
        return self.mean_t / self.mean_c - 1 if self.estimable and self.mean_c else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        """The interval of the relative lift, computed for ``log(1 + lift)`` (standard error
        ``lift_se / (1 + lift)``) and mapped back: ratios are closer to symmetric on the log
        scale, so the misses fall evenly on both sides (on the linear scale, with a skewed
        holdout mean, they fall mostly below) and the interval never passes -100%."""
        if not self.estimable:
            return math.nan, math.nan
        if self.interval is not None:
            return self.interval
        ratio, q = 1 + self.lift, t_critical(self.df)
        if not self.lift_se > 0:
            return self.lift, self.lift
        half = q * self.lift_se / ratio
        return ratio * math.exp(-half) - 1, ratio * math.exp(half) - 1

    @property
    def diff_ci(self) -> tuple[float, float]:
        half = t_critical(self.diff_df) * self.diff_se if self.diff_se > 0 else 0.0
        return self.diff - half, self.diff + half

    @property
    def p_value(self) -> float:
        """Two-sided, on the scale of :attr:`ci` (so that p < 5% exactly when the 95%
        interval excludes 0)."""
        if self.status != OK:
            return math.nan
        if self.p is not None:
            return self.p
        if not self.lift_se > 0:
            return math.nan
        ratio = 1 + self.lift
        stat = (math.log(ratio) * ratio if ratio > 0 and self.interval is None
                else self.lift) / self.lift_se
        return float(2 * student_t.sf(abs(stat), self.df))

    @property
    def significant(self) -> bool:
        """The interval excludes zero on a sample large enough for it to mean something: a
        small sample (:attr:`small_sample`) is never called significant, whatever its
        interval says (a +122% on ten holdout users is noise, not news)."""
        low, high = self.ci
        return self.status == OK and (low > 0 or high < 0) and not self.small_sample

    @property
    def small_sample(self) -> bool:
        """Too few holdout users or events for the interval to mean much."""
        return self.n_c < SMALL_HOLDOUT_USERS or self.events_c < SMALL_HOLDOUT_EVENTS

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.status not in HAS_NUMBER:
            out.append(self.status)
        # A row with no number has no interval to call rough (the status says why)
        if self.small_sample and self.status in HAS_NUMBER:
            events = "" if math.isnan(self.events_c) else f", {self.events_c:.0f} with an event"
            out.append(f"small sample: {self.n_c} holdout users{events}; the interval is rough")
        return tuple(out)

    def as_dict(self) -> dict[str, float | int | str | bool]:
        low, high = self.ci
        per_user = ((self.mean_t, self.mean_c, self.diff, self.diff_se) if self.per_user
                    else (math.nan,) * len(PER_USER_FIELDS))
        return {"estimator": self.estimator, "n_agent": self.n_t, "n_holdout": self.n_c,
                **dict(zip(PER_USER_FIELDS, per_user)), "lift": self.lift,
                "lift_se": self.lift_se, "ci_low": low, "ci_high": high, "p_value": self.p_value,
                "significant": self.significant, "variance_reduction": self.variance_reduction,
                "note": self.note, "status": self.status, "df": self.df,
                "events_holdout": self.events_c, "small_sample": self.small_sample,
                "warning": "; ".join(self.warnings)}


def small_sample_reason(n_c: float, events_c: float) -> str:
    """Which small-sample rule an estimate broke: too few holdout users, too few of them with
    an event, or both (the rules of :attr:`LiftEstimate.small_sample`; NaN events: unknown)."""
    out = []
    if n_c < SMALL_HOLDOUT_USERS:
        out.append(f"{int(n_c):,} holdout users")
    if isinstance(events_c, (int, float)) and math.isfinite(events_c) \
            and events_c < SMALL_HOLDOUT_EVENTS:
        out.append(f"{int(events_c):,} holdout users with an event")
    return ", ".join(out) or f"{int(n_c):,} holdout users"


def welch_df(*terms: tuple[float, float]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance terms, each
    given as ``(variance term, its degrees of freedom)``."""
    total = sum(v for v, _ in terms)
    denom = sum(v * v / d for v, d in terms if d > 0)
    if not total > 0 or not denom > 0:
        return math.inf
    return total * total / denom


def ratio_lift_se(mean_t: float, mean_c: float, var_mean_t: float, var_mean_c: float,
                  cov_means: float = 0.0) -> float:
    """Delta-method standard error of ``mean_t / mean_c - 1`` from the variances (and the
    covariance) of the two means."""
    if mean_c == 0:
        return math.nan
    g_t, g_c = 1 / mean_c, -mean_t / mean_c ** 2
    var = g_t ** 2 * var_mean_t + g_c ** 2 * var_mean_c + 2 * g_t * g_c * cov_means
    return math.sqrt(max(var, 0.0))


def from_arms(mean_t: float, mean_c: float, var_t: float, var_c: float, n_t: int, n_c: int,
              dof_t: float, dof_c: float, events_c: float = math.nan,
              estimator: str = "unadjusted", note: str = "") -> LiftEstimate:
    """The estimate from two independent arm means and the variances of those means (with
    the degrees of freedom each variance was estimated with): the one place where the status,
    the delta method and the Welch df are decided."""
    var_t, var_c = max(var_t, 0.0), max(var_c, 0.0)
    diff_se = math.sqrt(var_t + var_c)
    diff_df = welch_df((var_t, dof_t), (var_c, dof_c))
    common = dict(n_t=n_t, n_c=n_c, estimator=estimator, note=note, diff_df=diff_df,
                  events_c=events_c)
    if mean_c <= 0:
        none_yet = mean_c == 0 and (events_c == 0 or (math.isnan(events_c) and var_c == 0))
        return LiftEstimate(mean_t, mean_c, diff_se, math.nan, df=math.nan,
                            status=NO_HOLDOUT_EVENTS if none_yet else HOLDOUT_NOT_POSITIVE,
                            **common)
    if mean_t <= 0:  # no agent user with an event, or refunds over purchases: a ratio of
        # zero (or below) has no log scale, and its delta-method interval had zero width
        # ("-100.0% (-100.0% to -100.0%), clearly below")
        return LiftEstimate(mean_t, mean_c, diff_se, math.nan, df=math.nan,
                            status=AGENT_NOT_POSITIVE, **common)
    a_t, a_c = var_t / mean_c ** 2, mean_t ** 2 * var_c / mean_c ** 4
    status = NO_VARIATION if var_t == 0 and var_c == 0 and mean_t == mean_c else OK
    return LiftEstimate(mean_t, mean_c, diff_se, math.sqrt(a_t + a_c),
                        df=welch_df((a_t, dof_t), (a_c, dof_c)), status=status, **common)


def unadjusted(y_t: np.ndarray, y_c: np.ndarray) -> LiftEstimate:
    """Difference in means and relative lift with Welch / delta-method standard errors."""
    y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
    n_t, n_c = len(y_t), len(y_c)
    if n_t < 2 or n_c < 2:
        raise ValueError("each arm needs at least two users")
    return from_arms(float(y_t.mean()), float(y_c.mean()), float(y_t.var(ddof=1)) / n_t,
                     float(y_c.var(ddof=1)) / n_c, n_t, n_c, n_t - 1, n_c - 1,
                     float(np.count_nonzero(y_c)))


def from_moments(n_t: int, sum_t: float, sumsq_t: float, n_c: int, sum_c: float,
                 sumsq_c: float) -> LiftEstimate:
    """:func:`unadjusted` from per-arm sums and sums of squares (weekly aggregates). The
    holdout's events are not known from moments; ``sum^2 / sumsq`` stands in (exact for 0/1
    outcomes, a lower bound of the users with an event otherwise)."""
    m_t, m_c = sum_t / n_t, sum_c / n_c
    v_t = max(sumsq_t / n_t - m_t ** 2, 0.0) * n_t / (n_t - 1) / n_t
    v_c = max(sumsq_c / n_c - m_c ** 2, 0.0) * n_c / (n_c - 1) / n_c
    events = sum_c ** 2 / sumsq_c if sumsq_c > 0 else 0.0
    return from_arms(m_t, m_c, v_t, v_c, n_t, n_c, n_t - 1, n_c - 1, events)


def tail_weight(y_t: np.ndarray, y_c: np.ndarray) -> float:
    """Excess kurtosis of the smaller arm's mean, from the pooled values: the values' excess
    kurtosis over that arm's size. Large when a few big values (either sign: purchases or
    refunds) carry the mean; it bounds the mean's squared skewness too (Pearson:
    ``kurtosis >= skewness^2 - 2``), so one number catches both kinds of non-normality."""
    y = np.concatenate([np.asarray(y_t, float), np.asarray(y_c, float)])
    d = y - y.mean()
    d2 = d * d
    m2 = float(d2.sum()) / len(y)
    if not m2 > 0:
        return 0.0
    return (_dot(d2, d2) / len(y) / m2 ** 2 - 3) / min(len(y_t), len(y_c))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """A dot product without BLAS threads (which cost far more than they bring on a busy
    machine for vectors of this size)."""
    return float(np.einsum("i,i->", a, b))


def heavy_tailed(y_t: np.ndarray, y_c: np.ndarray) -> bool:
    """Whether an arm's mean is too far from normal for a t interval to cover as it says."""
    return tail_weight(y_t, y_c) > HEAVY_TAIL_KURTOSIS


Learner = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``learner(X_train, y_train, X_predict) -> predictions``."""


def linear_learner(X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    """Least squares with an intercept: fast, for simulations and small data."""
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return np.column_stack([np.ones(len(X_new)), X_new]) @ coef


def boosting_learner(max_train: int = 400_000, seed: int = 0) -> Learner:
    """scikit-learn's histogram gradient boosting; trained on at most ``max_train`` rows of
    each training split (a random subsample: cross-fitting stays valid, and millions of users
    fit the time budget), predicting for all."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    def learn(X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        if len(X) > max_train:
            pick = np.random.default_rng(seed).choice(len(X), max_train, replace=False)
            X, y = X[pick], y[pick]
        # 15 leaves, not 31: each split costs the same Python overhead whatever the rows,
        # and the six pre-period covariates need no deeper trees (the same variance
        # reduction, within 0.007 on every metric of a 100,000-user run, 20% faster).
        model = HistGradientBoostingRegressor(max_iter=60, learning_rate=0.15,
                                              max_leaf_nodes=15, random_state=seed)
        # OpenMP threads pay off on big data only; on small data (and beside another busy
        # process, like a page server) spinning threads cost far more than they bring.
        with threadpool_limits(limits=None if len(X) >= 100_000 else 1):
            model.fit(X, y)
            return model.predict(X_new)

    return learn


def cross_fit(X: np.ndarray, y: np.ndarray, learner: Learner, folds: int = CROSS_FIT_FOLDS,
              seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions: each fold predicted by a model trained on the others."""
    n = len(y)
    fold = np.random.default_rng(seed).permutation(n) % folds
    pred = np.empty(n)
    for k in range(folds):
        test = fold == k
        pred[test] = learner(X[~test], y[~test], X[test])
    return pred


def ml_rate(y: np.ndarray, treated: np.ndarray, X: np.ndarray | None, *,
            learner: Learner | None = None, folds: int = CROSS_FIT_FOLDS, seed: int = 0,
            predictions: np.ndarray | None = None,
            heavy_tail: bool | None = None) -> LiftEstimate:
    """The report's default estimate: ML-RATE relative lift with Welch t intervals.

    Falls back (and says why in ``note``) to the unadjusted estimate when covariates are
    missing or an arm is too small to cross-fit, returns the unadjusted result's status when
    there is no lift to estimate (no holdout events, a constant metric), and uses the
    permutation interval when the metric is heavy-tailed (``heavy_tail=None`` decides by
    :func:`heavy_tailed`; True or False forces it)."""
    y = np.asarray(y, float)
    treated = np.asarray(treated, bool)
    base = unadjusted(y[treated], y[~treated])
    if base.status != OK:
        return replace(base, note="nothing to adjust" if base.status == NO_VARIATION
                       else base.status)
    if heavy_tail if heavy_tail is not None else heavy_tailed(y[treated], y[~treated]):
        from workbench.lift.permutation import permutation_lift

        return permutation_lift(y[treated], y[~treated], seed=seed)
    if predictions is None:
        if X is None or np.size(X) == 0:
            return replace(base, note="no pre-treatment covariates: unadjusted estimate")
        if min(treated.sum(), (~treated).sum()) < MIN_USERS_PER_ARM_FOR_MLRATE:
            return replace(base, note=f"fewer than {MIN_USERS_PER_ARM_FOR_MLRATE} users in an "
                                      "arm: unadjusted estimate")
        X = np.asarray(X, float).reshape(len(y), -1)
        predictions = cross_fit(X, y, learner or boosting_learner(seed=seed), folds, seed)
    est = regression_adjusted(y, treated, predictions)
    reduction = 1 - est.lift_se ** 2 / base.lift_se ** 2 if base.lift_se > 0 else 0.0
    return replace(est, note=f"{folds}-fold cross-fitted predictions",
                   variance_reduction=float(reduction))


def adjusted_arm(y: np.ndarray, g: np.ndarray) -> tuple[float, np.ndarray, int]:
    """One arm's regression ``y ~ 1 + g`` (``g`` centred on the pooled mean): the adjusted
    mean, the residuals (each user's share of it) and their degrees of freedom."""
    yc, gc = y - y.mean(), g - g.mean()
    sgg = _dot(gc, gc)
    b = _dot(gc, yc) / sgg if sgg > 1e-12 * max(1.0, _dot(g, g)) else 0.0
    return float(y.mean() - b * g.mean()), yc - b * gc, len(y) - 2 if b else len(y) - 1


def regression_adjusted(y: np.ndarray, treated: np.ndarray,
                        predictions: np.ndarray) -> LiftEstimate:
    """ML-RATE's adjusted arm means from given (cross-fitted) predictions: one regression
    ``y ~ 1 + g`` per arm on the prediction centred on its pooled mean."""
    y = np.asarray(y, float)
    treated = np.asarray(treated, bool)
    g = np.asarray(predictions, float)
    g = g - g.mean()
    arms = []
    for arm in (treated, ~treated):
        mean, resid, dof = adjusted_arm(y[arm], g[arm])
        n = int(arm.sum())
        arms.append((mean, _dot(resid, resid) / dof / n, n, dof))
    (m_t, v_t, n_t, d_t), (m_c, v_c, n_c, d_c) = arms
    est = from_arms(m_t, m_c, v_t, v_c, n_t, n_c, d_t, d_c,
                    float(np.count_nonzero(y[~treated])), "ML-RATE")
    return replace(est, predictions=np.asarray(predictions, float))
