"""Lift estimators, validated by simulation: coverage in A/A and known-effect trials,
unbiasedness, ML-RATE's variance reduction, and a hand-worked delta-method example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.lift.estimators import (
    boosting_learner, from_moments, linear_learner, ml_rate, phase_change, unadjusted,
)


def test_delta_method_arithmetic_by_hand():
    est = unadjusted(np.array([1, 2, 3, 4]), np.array([1, 1, 2, 2]))
    # means 2.5 and 1.5; variances of the means (5/3)/4 and (1/3)/4
    assert est.lift == pytest.approx(2.5 / 1.5 - 1)
    assert est.diff == pytest.approx(1.0)
    assert est.diff_se == pytest.approx(math.sqrt(5 / 12 + 1 / 12))
    expected = math.sqrt((5 / 12) / 1.5 ** 2 + 2.5 ** 2 * (1 / 12) / 1.5 ** 4)
    assert est.lift_se == pytest.approx(expected)
    assert est.lift_se == pytest.approx(0.5367177, abs=1e-7)
    low, high = est.ci
    assert (low, high) == pytest.approx((0.6666667 - 1.959964 * 0.5367177,
                                         0.6666667 + 1.959964 * 0.5367177), abs=1e-6)


def test_moments_give_the_same_estimate_as_the_data():
    rng = np.random.default_rng(0)
    t, c = rng.poisson(3, 900), rng.poisson(2.8, 100)
    a = unadjusted(t, c)
    b = from_moments(len(t), t.sum(), (t ** 2).sum(), len(c), c.sum(), (c ** 2).sum())
    assert (b.lift, b.lift_se, b.diff_se) == pytest.approx((a.lift, a.lift_se, a.diff_se))


def trial(rng, n, lift, predictive=True):
    """A 90/10 trial of a count metric with a covariate that predicts it (or not)."""
    x = rng.gamma(2.0, 1.0, n)
    base = 0.5 + (1.2 * x if predictive else 1.2 * rng.gamma(2.0, 1.0, n))
    treated = rng.random(n) < 0.9
    y = rng.poisson(base * np.where(treated, 1 + lift, 1.0))
    return y.astype(float), treated, x[:, None]


def coverage(estimates, truth):
    return np.mean([lo <= truth <= hi for lo, hi in (e.ci for e in estimates)])


def test_unadjusted_interval_covers_zero_in_aa_trials_at_the_nominal_rate():
    rng = np.random.default_rng(1)
    ests = []
    for _ in range(2000):
        y, t, _ = trial(rng, 1500, 0.0)
        ests.append(unadjusted(y[t], y[~t]))
    assert 0.93 <= coverage(ests, 0.0) <= 0.97


def test_ml_rate_interval_covers_zero_in_aa_trials_at_the_nominal_rate():
    rng = np.random.default_rng(2)
    ests = [ml_rate(*trial(rng, 3000, 0.0), learner=linear_learner, seed=i)
            for i in range(1000)]
    assert all(e.estimator == "ML-RATE" for e in ests)
    assert 0.93 <= coverage(ests, 0.0) <= 0.97


@pytest.mark.parametrize("estimator", ["unadjusted", "ml_rate"])
def test_known_effect_is_estimated_without_bias_and_covered(estimator):
    rng = np.random.default_rng(3)
    truth = 0.10
    ests = []
    for i in range(800):
        y, t, x = trial(rng, 3000, truth)
        ests.append(unadjusted(y[t], y[~t]) if estimator == "unadjusted"
                    else ml_rate(y, t, x, learner=linear_learner, seed=i))
    lifts = np.array([e.lift for e in ests])
    mc_se = lifts.std(ddof=1) / math.sqrt(len(lifts))
    assert abs(lifts.mean() - truth) < 2 * mc_se + 1e-3
    assert 0.93 <= coverage(ests, truth) <= 0.97


def test_ml_rate_is_narrower_when_covariates_predict_and_not_wider_when_they_do_not():
    rng = np.random.default_rng(4)
    useful, useless = [], []
    for i in range(200):
        y, t, x = trial(rng, 3000, 0.05, predictive=True)
        useful.append(ml_rate(y, t, x, learner=linear_learner, seed=i).lift_se
                      / unadjusted(y[t], y[~t]).lift_se)
        y, t, x = trial(rng, 3000, 0.05, predictive=False)
        useless.append(ml_rate(y, t, x, learner=linear_learner, seed=i).lift_se
                       / unadjusted(y[t], y[~t]).lift_se)
    assert np.mean(useful) < 0.8
    assert np.mean(useless) < 1.02


def test_ml_rate_with_gradient_boosting_reduces_variance_and_reports_it():
    rng = np.random.default_rng(5)
    y, t, x = trial(rng, 20_000, 0.05)
    est = ml_rate(y, t, np.column_stack([x, rng.normal(size=(20_000, 2))]),
                  learner=boosting_learner(), seed=1)
    assert est.estimator == "ML-RATE" and est.variance_reduction > 0.3
    assert est.note == "5-fold cross-fitted predictions"


def test_ml_rate_falls_back_and_says_so():
    rng = np.random.default_rng(6)
    y, t, x = trial(rng, 1000, 0.0)
    assert ml_rate(y, t, None).note == "no pre-treatment covariates: unadjusted estimate"
    small = ml_rate(y[:300], t[:300], x[:300])
    assert small.estimator == "unadjusted" and "fewer than 200 users" in small.note
    assert small.lift == pytest.approx(unadjusted(y[:300][t[:300]], y[:300][~t[:300]]).lift)


def test_phase_change_interval_covers_the_truth():
    rng = np.random.default_rng(7)
    # Lift of 20% in the active phase and 15% in the passive one: change -25%.
    hits, estimates = 0, []
    for _ in range(600):
        n = 4000
        base = rng.gamma(2.0, 1.0, n)  # the same users in both phases
        t = rng.random(n) < 0.9
        ya = rng.poisson(base * np.where(t, 1.20, 1.0))
        yp = rng.poisson(base * np.where(t, 1.15, 1.0))
        est = phase_change({"y": ya, "treated": t}, {"y": yp, "treated": t})
        estimates.append(est.lift)
        lo, hi = est.ci
        hits += lo <= -0.25 <= hi
    assert 0.93 <= hits / 600 <= 0.975
    assert abs(np.median(estimates) + 0.25) < 0.03
