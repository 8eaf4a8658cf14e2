"""Relative lift of the agent over the holdout, with delta-method intervals and ML-RATE.

Pure functions on arrays; frozen results with derived properties (in the manner of gbstats).

**Unadjusted.** The relative lift ``D = mean_T / mean_C - 1`` is a smooth function of two
independent sample means, so by the delta method
``Var(D) ~= var_T / (n_T mean_C^2) + mean_T^2 var_C / (n_C mean_C^4)``, with unequal variances
and sizes (the 90/10 split) taken as they are.

**ML-RATE** (Guo, Coey, Konutgan, Li, Schoener & Goldman, NeurIPS 2021). A model predicts each
user's outcome from pre-treatment covariates; predictions are cross-fitted (each fold predicted
by a model trained on the other folds, both arms pooled, so a user's own outcome never enters
their prediction). The regression ``Y ~ a + t T + b g + c T g`` on the centred prediction ``g``
gives ``a`` and ``a + t`` as the regression-adjusted arm means, unbiased whatever the model's
quality, with heteroskedasticity-robust (HC1) standard errors; the relative lift ``t / a`` and its
variance follow by the delta method from their covariance. The better ``g`` predicts ``Y``, the
narrower the interval; a useless ``g`` costs almost nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))
MIN_USERS_PER_ARM_FOR_MLRATE = 200


@dataclass(frozen=True)
class LiftEstimate:
    """An estimate of the absolute and relative effect, with its standard errors."""

    mean_t: float
    mean_c: float
    diff_se: float
    lift_se: float
    n_t: int
    n_c: int
    estimator: str = "unadjusted"
    note: str = ""
    variance_reduction: float = 0.0  # 1 - var(adjusted) / var(unadjusted), for ML-RATE

    @property
    def diff(self) -> float:
        return self.mean_t - self.mean_c

    @property
    def lift(self) -> float:
        return self.mean_t / self.mean_c - 1 if self.mean_c else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return self.lift - Z95 * self.lift_se, self.lift + Z95 * self.lift_se

    @property
    def diff_ci(self) -> tuple[float, float]:
        return self.diff - Z95 * self.diff_se, self.diff + Z95 * self.diff_se

    @property
    def p_value(self) -> float:
        if not self.lift_se > 0:
            return math.nan
        return float(2 * norm.sf(abs(self.lift / self.lift_se)))

    @property
    def significant(self) -> bool:
        low, high = self.ci
        return low > 0 or high < 0

    def as_dict(self) -> dict[str, float | int | str | bool]:
        low, high = self.ci
        return {"estimator": self.estimator, "n_agent": self.n_t, "n_holdout": self.n_c,
                "mean_agent": self.mean_t, "mean_holdout": self.mean_c, "diff": self.diff,
                "diff_se": self.diff_se, "lift": self.lift, "lift_se": self.lift_se,
                "ci_low": low, "ci_high": high, "p_value": self.p_value,
                "significant": self.significant, "variance_reduction": self.variance_reduction,
                "note": self.note}


def ratio_lift_se(mean_t: float, mean_c: float, var_mean_t: float, var_mean_c: float,
                  cov_means: float = 0.0) -> float:
    """Delta-method standard error of ``mean_t / mean_c - 1`` from the variances (and the
    covariance) of the two means."""
    if mean_c == 0:
        return math.nan
    g_t, g_c = 1 / mean_c, -mean_t / mean_c ** 2
    var = g_t ** 2 * var_mean_t + g_c ** 2 * var_mean_c + 2 * g_t * g_c * cov_means
    return math.sqrt(max(var, 0.0))


def unadjusted(y_t: np.ndarray, y_c: np.ndarray) -> LiftEstimate:
    """Difference in means and relative lift with Welch / delta-method standard errors."""
    y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
    n_t, n_c = len(y_t), len(y_c)
    if n_t < 2 or n_c < 2:
        raise ValueError("each arm needs at least two users")
    m_t, m_c = float(y_t.mean()), float(y_c.mean())
    v_t, v_c = float(y_t.var(ddof=1)) / n_t, float(y_c.var(ddof=1)) / n_c
    return LiftEstimate(m_t, m_c, math.sqrt(v_t + v_c), ratio_lift_se(m_t, m_c, v_t, v_c),
                        n_t, n_c)


def from_moments(n_t: int, sum_t: float, sumsq_t: float, n_c: int, sum_c: float,
                 sumsq_c: float) -> LiftEstimate:
    """:func:`unadjusted` from per-arm sums and sums of squares (weekly aggregates)."""
    m_t, m_c = sum_t / n_t, sum_c / n_c
    v_t = max(sumsq_t / n_t - m_t ** 2, 0.0) * n_t / (n_t - 1) / n_t
    v_c = max(sumsq_c / n_c - m_c ** 2, 0.0) * n_c / (n_c - 1) / n_c
    return LiftEstimate(m_t, m_c, math.sqrt(v_t + v_c), ratio_lift_se(m_t, m_c, v_t, v_c),
                        n_t, n_c)


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
        model = HistGradientBoostingRegressor(max_iter=60, learning_rate=0.15,
                                              max_leaf_nodes=31, random_state=seed)
        # OpenMP threads pay off on big data only; on small data (and beside another busy
        # process, like a page server) spinning threads cost far more than they bring.
        with threadpool_limits(limits=None if len(X) >= 100_000 else 1):
            model.fit(X, y)
            return model.predict(X_new)

    return learn


def cross_fit(X: np.ndarray, y: np.ndarray, learner: Learner, folds: int = 5,
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
            learner: Learner | None = None, folds: int = 5, seed: int = 0,
            predictions: np.ndarray | None = None) -> LiftEstimate:
    """ML-RATE relative lift; falls back to :func:`unadjusted` (and says why) when covariates
    are missing or an arm is too small to cross-fit."""
    y = np.asarray(y, float)
    treated = np.asarray(treated, bool)
    base = unadjusted(y[treated], y[~treated])
    if predictions is None:
        if X is None or np.size(X) == 0:
            return _fallback(base, "no pre-treatment covariates: unadjusted estimate")
        if min(treated.sum(), (~treated).sum()) < MIN_USERS_PER_ARM_FOR_MLRATE:
            return _fallback(base, f"fewer than {MIN_USERS_PER_ARM_FOR_MLRATE} users in an "
                                   "arm: unadjusted estimate")
        X = np.asarray(X, float).reshape(len(y), -1)
        predictions = cross_fit(X, y, learner or boosting_learner(seed=seed), folds, seed)
    g = predictions - predictions.mean()
    t = treated.astype(float)
    D = np.column_stack([np.ones_like(g), t, g, t * g])
    coef, cov = _ols_hc1(D, y)
    a, tau = coef[0], coef[1]
    mean_c, mean_t = a, a + tau
    var_a, var_tau, cov_at = cov[0, 0], cov[1, 1], cov[0, 1]
    # lift = tau / a: gradient (-tau / a^2, 1 / a) on (a, tau)
    lift_var = (tau ** 2 / a ** 4) * var_a + var_tau / a ** 2 - 2 * tau / a ** 3 * cov_at \
        if a else math.nan
    est = LiftEstimate(float(mean_t), float(mean_c), math.sqrt(max(var_tau, 0.0)),
                       math.sqrt(max(lift_var, 0.0)), int(treated.sum()),
                       int((~treated).sum()), "ML-RATE")
    reduction = 1 - est.lift_se ** 2 / base.lift_se ** 2 if base.lift_se > 0 else 0.0
    return LiftEstimate(est.mean_t, est.mean_c, est.diff_se, est.lift_se, est.n_t, est.n_c,
                        "ML-RATE", f"{folds}-fold cross-fitted predictions",
                        float(reduction))


def _fallback(base: LiftEstimate, note: str) -> LiftEstimate:
    return LiftEstimate(base.mean_t, base.mean_c, base.diff_se, base.lift_se, base.n_t,
                        base.n_c, "unadjusted", note)


def _ols_hc1(D: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and their HC1 (heteroskedasticity-robust) covariance."""
    n, k = D.shape
    DtD_inv = np.linalg.inv(D.T @ D)
    coef = DtD_inv @ (D.T @ y)
    resid = y - D @ coef
    meat = (D * resid[:, None] ** 2).T @ D
    return coef, DtD_inv @ meat @ DtD_inv * n / (n - k)


def phase_change(active: Mapping[str, np.ndarray], passive: Mapping[str, np.ndarray]
                 ) -> LiftEstimate:
    """Relative change of the lift from the active to the passive phase,
    ``lift_passive / lift_active - 1``, for the same users measured in both phases.

    ``active``/``passive`` hold per-user outcomes ``y`` and the arm ``treated`` (aligned by
    user). The four arm means are correlated within users across phases; their joint covariance
    comes from the per-user data, and the delta method carries it through.
    """
    t = np.asarray(active["treated"], bool)
    ya, yp = np.asarray(active["y"], float), np.asarray(passive["y"], float)
    means, cov = np.zeros(4), np.zeros((4, 4))
    for i, arm in enumerate((t, ~t)):  # 0,1: treated (active, passive); 2,3: control
        block = np.column_stack([ya[arm], yp[arm]])
        means[2 * i:2 * i + 2] = block.mean(axis=0)
        cov[2 * i:2 * i + 2, 2 * i:2 * i + 2] = np.cov(block, rowvar=False) / arm.sum()
    ta, tp, ca, cp = means
    la, lp = ta / ca - 1, tp / cp - 1
    if la == 0 or ca == 0 or cp == 0:
        return LiftEstimate(np.nan, 1.0, np.nan, np.nan, int(t.sum()), int((~t).sum()),
                            "delta method", "no active-phase lift to compare with")
    change = lp / la - 1
    # change = (tp/cp - 1) / (ta/ca - 1) - 1
    grad = np.array([-(lp / la ** 2) / ca, (1 / la) / cp, (lp / la ** 2) * ta / ca ** 2,
                     -(1 / la) * tp / cp ** 2])
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return LiftEstimate(1 + change, 1.0, se, se, int(t.sum()), int((~t).sum()),
                        "delta method", "relative change of lift, passive vs active")
