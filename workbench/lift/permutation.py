"""A permutation interval for the relative lift of heavy-tailed metrics.

Why: with GMV-like outcomes (0.3% buyers, lognormal order values, a 10% holdout) the holdout's
mean rests on a dozen purchases. A big order in the holdout makes its mean *and* its variance
large together, so the delta-method interval (and a log-scale one, and a bootstrap-t) misses
one-sidedly: about 92% coverage in A/A with every miss on the same side.

How: the interval collects every lift ``theta`` that a permutation test does not reject. Under
``lift = theta`` the agent's values divided by ``1 + theta`` have the holdout's mean; if the
agent scales values (the A/A case is ``theta = 0``) the two arms are then exchangeable and the
test is exact, whatever the tails; otherwise the studentised statistic (Welch's t of the
rescaled values) keeps it asymptotically valid (Janssen 1997; Chung & Romano 2013). Each end is
found by bisection on ``log(1 + theta)`` against the one-sided p-value 2.5%.

Cost: only users with a nonzero outcome move anything, so a permutation is drawn as which of
those ``K`` users land in the agent arm (a hypergeometric count, then a uniform subset); the four
sums the statistic needs are linear in ``1 / (1 + theta)``, so one ``resamples x K`` pass serves
every ``theta`` of the bisection.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from workbench.lift.estimators import OK, LiftEstimate, heavy_tailed, unadjusted

PERMUTATION = "permutation"
"""The estimator of :func:`permutation_lift`: the one every heavy-tailed estimate gets, so the
one that says a metric is heavy-tailed (:func:`workbench.lift.weekly.heavy_weeks` reads it)."""
MAX_CELLS = 4_000_000  # resamples x nonzero users held in memory at once
TOLERANCE = 1e-4  # on log(1 + lift): the ends are exact to about 0.01% of the ratio


class PermutationTest:
    """The permutation test of ``lift = theta`` on one trial, for every ``theta`` at once.

    One set of ``resamples`` random re-assignments serves every ``theta``, and the interval is
    the set of lifts it does not reject, so interval and test agree: a lift outside the
    interval is one the test rejects at the interval's level, and the reverse (up to the
    bisection's tolerance; it assumes the p-value falls monotonically away from the estimate,
    which held in every one of 11,000 simulated trials checked).
    """

    def __init__(self, y_t: np.ndarray, y_c: np.ndarray, *, resamples: int = 999,
                 seed: int = 0):
        y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
        self.n_t, self.n_c = len(y_t), len(y_c)
        nz_t, nz_c = y_t[y_t != 0], y_c[y_c != 0]
        vals = np.concatenate([nz_t, nz_c])
        from_t = np.arange(len(vals)) < len(nz_t)
        self.sums = _permuted_sums(vals, from_t, self.n_t, self.n_c, resamples,
                                   np.random.default_rng(seed))

    def _stats(self, u: float) -> tuple[float, np.ndarray]:
        """Welch's t of the agent's values divided by ``1 + theta`` (``u = log(1 + theta)``)
        against the holdout's: the observed split's, and each re-assignment's."""
        s, n_t, n_c = self.sums, self.n_t, self.n_c
        k = math.exp(-u)
        sum_t = s[0] * k + s[1]
        sq_t = s[2] * k * k + s[3]
        sum_c = s[4] * k + s[5] - sum_t
        sq_c = s[6] * k * k + s[7] - sq_t
        m_t, m_c = sum_t / n_t, sum_c / n_c
        var = (np.maximum(sq_t / n_t - m_t ** 2, 0) / (n_t - 1)
               + np.maximum(sq_c / n_c - m_c ** 2, 0) / (n_c - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(var > 0, (m_t - m_c) / np.sqrt(var), np.sign(m_t - m_c) * np.inf)
        return float(t[0]), t[1:]

    def p_upper(self, u: float) -> float:
        """One-sided p-value against ``lift = e^u - 1`` being too small for the data (small
        when the agent's values are too large for it); ties count against rejecting."""
        t0, ts = self._stats(u)
        return (1 + np.count_nonzero(ts >= t0)) / (len(ts) + 1)

    def p_lower(self, u: float) -> float:
        """One-sided p-value against ``lift = e^u - 1`` being too large for the data."""
        t0, ts = self._stats(u)
        return (1 + np.count_nonzero(ts <= t0)) / (len(ts) + 1)

    def rejects(self, lift: float, level: float = 0.95) -> bool:
        """Whether the two-sided test at ``level`` rejects ``lift``."""
        u, alpha = math.log1p(lift), (1 - level) / 2
        return self.p_upper(u) <= alpha or self.p_lower(u) <= alpha


def permutation_lift(y_t: np.ndarray, y_c: np.ndarray, *, level: float = 0.95,
                     resamples: int = 999, seed: int = 0) -> LiftEstimate:
    """Relative lift with the permutation-test interval and p-value (see the module)."""
    base = unadjusted(np.asarray(y_t, float), np.asarray(y_c, float))
    if base.status != OK:
        return base
    test = PermutationTest(y_t, y_c, resamples=resamples, seed=seed)
    alpha = (1 - level) / 2
    centre = math.log(max(base.mean_t / base.mean_c, 1e-9))
    low = _bound(test.p_upper, centre, -1.0, alpha)
    high = _bound(test.p_lower, centre, +1.0, alpha)
    p = min(1.0, 2 * min(test.p_upper(0.0), test.p_lower(0.0)))
    return replace(base, estimator=PERMUTATION, interval=(math.expm1(low), math.expm1(high)),
                   p=p, note=f"heavy-tailed metric: permutation interval ({resamples} "
                             "permutations) on unadjusted means")


def plain_lift(y_t: np.ndarray, y_c: np.ndarray, *, seed: int = 0) -> LiftEstimate:
    """The unadjusted estimate, or, for a heavy-tailed metric, the permutation interval (as
    :func:`~workbench.lift.estimators.ml_rate` chooses): without it ``lift --unadjusted``
    called GMV (0.3% buyers, 50,000 users) clearly different in 10.7% of A/A trials."""
    y_t, y_c = np.asarray(y_t, float), np.asarray(y_c, float)
    est = unadjusted(y_t, y_c)
    if est.status == OK and heavy_tailed(y_t, y_c):
        return permutation_lift(y_t, y_c, seed=seed)
    return est


def _bound(p_value, centre: float, direction: float, alpha: float) -> float:
    """The ``log(1 + theta)`` beyond ``centre`` (towards ``direction``) where ``p_value``
    falls to ``alpha``; +-inf when the data never reject (too few events)."""
    if p_value(centre) <= alpha:
        return centre
    step = 0.25
    while p_value(centre + direction * step) > alpha:
        step *= 2
        if step > 40:
            return direction * math.inf
    inside, outside = centre, centre + direction * step
    while abs(outside - inside) > TOLERANCE:
        mid = (inside + outside) / 2
        if p_value(mid) > alpha:
            inside = mid
        else:
            outside = mid
    return (inside + outside) / 2


def _permuted_sums(vals: np.ndarray, from_t: np.ndarray, n_t: int, n_c: int, resamples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Per permutation (row 0: the observed split) the sums that make the statistic:
    [agent-arm sum of values from the agent, ... from the holdout, the same for squares,
    then the totals over everyone], as an 8 x (resamples + 1) array."""
    k = len(vals)
    v_t, v_c = np.where(from_t, vals, 0.0), np.where(from_t, 0.0, vals)
    weights = np.column_stack([v_t, v_c, v_t ** 2, v_c ** 2])
    # einsum, not @: BLAS threads spinning on a tiny product cost 3x the work on a busy machine
    rows = [np.einsum("bk,kj->bj", from_t[None, :].astype(float), weights)]
    drawn_t = rng.hypergeometric(n_t, n_c, k, size=resamples) if k else np.zeros(resamples, int)
    chunk = max(1, MAX_CELLS // max(k, 1))
    for start in range(0, resamples, chunk):
        h = drawn_t[start:start + chunk]
        keys = rng.random((len(h), k))
        if k:
            cut = np.sort(keys, axis=1)[np.arange(len(h)), np.maximum(h - 1, 0)]
            in_t = (keys <= cut[:, None]) & (h > 0)[:, None]
        else:
            in_t = keys.astype(bool)
        rows.append(np.einsum("bk,kj->bj", in_t.astype(float), weights))
    arm = np.vstack(rows).T  # 4 x (resamples + 1)
    totals = np.repeat(weights.sum(axis=0)[:, None], arm.shape[1], axis=1)
    return np.vstack([arm[0], arm[1], arm[2], arm[3], totals[0], totals[1], totals[2],
                      totals[3]])
