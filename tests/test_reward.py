"""Reward weights learnt from a downstream value, and the incremental reward's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent.reward import (
    EVENTS, RewardWeights, check_pre_reward, event_matrix, fit_weights, incremental,
    learn_weights,
)


def _events(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"direct_open": (rng.random(n) < 0.3).astype(int),
                         "conversion": (rng.random(n) < 0.05).astype(int)})


def test_a_constant_added_to_the_downstream_value_does_not_bend_the_weights():
    out = _events(50_000)
    rng = np.random.default_rng(1)
    downstream = 0.5 + 0.1 * out["direct_open"] + 2.0 * out["conversion"] + rng.normal(
        0, 0.05, len(out))
    fit = fit_weights(out, downstream)
    assert fit.weights.conversion / fit.weights.direct_open == pytest.approx(20, rel=0.03)
    assert fit.intercept == pytest.approx(0.5, abs=0.005)
    assert (fit.weights.engagement, fit.weights.intent, fit.weights.gmv) == (0.0, 0.0, 0.0)
    assert fit.rows == 50_000 and 0.9 < fit.r2 <= 1


def test_poisson_conversions_with_a_base_rate_give_the_right_ratio():
    out = _events(200_000, seed=2)
    rng = np.random.default_rng(3)
    downstream = rng.poisson(0.2 + 0.05 * out["direct_open"] + 1.0 * out["conversion"])
    w = learn_weights(out, downstream)
    assert w.conversion / w.direct_open == pytest.approx(20, rel=0.1)


def test_an_event_that_does_not_matter_gets_weight_zero():
    rng = np.random.default_rng(4)
    out = pd.DataFrame({e: rng.poisson(2, 5000) for e in EVENTS})
    downstream = 3 + 0.5 * out["engagement"] - 0.3 * out["intent"] + rng.normal(0, 0.1, 5000)
    w = learn_weights(out, downstream)
    assert w.intent == 0.0  # never negative: one more event does not lower the value
    assert w.engagement == pytest.approx(0.5, abs=0.03)


def _problems(outcomes, downstream) -> list[str]:
    with pytest.raises(ValidationError) as e:
        fit_weights(outcomes, downstream)
    return [str(p) for p in e.value.problems]


def test_collinear_constant_nan_and_text_inputs_are_refused_naming_the_column():
    out = _events(1000)
    y = np.ones(1000) + out["conversion"]
    assert _problems(out.assign(engagement=2 * out["direct_open"]), y) == [
        "field 'engagement': is a linear combination of direct_open: their weights cannot be "
        "told apart; leave one out"]
    assert _problems(out.assign(gmv=0.0), y) == [
        "field 'gmv': is constant (0 in every row): it cannot be told apart from the "
        "intercept; leave the column out"]
    nan = out.astype(float)
    nan.loc[6, "conversion"] = np.nan
    assert _problems(nan, y) == ["row 7 field 'conversion': is missing (NaN)"]
    text = out.astype(object)
    text.loc[2, "direct_open"] = "yes"
    assert _problems(text, y) == ["row 3 field 'direct_open': 'yes' is not a finite number"]
    bad_y = y.to_numpy().copy()
    bad_y[0] = np.nan
    assert _problems(out, bad_y) == ["row 1 field 'downstream': is missing (NaN)"]
    assert _problems(out, y[:10]) == ["field 'downstream': has 10 values for 1000 outcome rows"]


def test_a_nan_pre_reward_is_refused_with_its_row():
    r = np.array([1.0, 0.0, 2.0])
    hold = np.array([False, True, False])
    with pytest.raises(ValidationError) as e:
        incremental(r, hold, np.zeros(3, int), np.array([0.0, np.nan, 1.0]))
    assert [str(p) for p in e.value.problems] == ["row 2 field 'pre_reward': is missing (NaN)"]
    assert check_pre_reward(pd.Series(["1", 2, 0.5]), 3).tolist() == [1.0, 2.0, 0.5]


def test_outcomes_a_learn_cannot_use_are_refused_by_row_and_column_not_learnt_as_zero():
    """One inf reward turned every posterior into NaN for good; 'x' or '12,5' were learnt
    as 0, and a table with a misnamed event column as all zeros."""
    from workbench.agent.reward import event_matrix
    good = pd.DataFrame({"direct_open": [1, 0, 0], "gmv": [0.0, 12.5, 0.0]})
    assert event_matrix(good)[:, [0, 4]].tolist() == [[1, 0], [0, 12.5], [0, 0]]
    bad = pd.DataFrame({"direct_open": [1, float("inf"), "x"], "gmv": [-3.0, 0, "12,5"]})
    with pytest.raises(ValidationError) as e:
        event_matrix(bad)
    assert [str(p) for p in e.value.problems] == [
        "row 1 field 'gmv': '-3.0' is not a count or amount >= 0",
        "row 2 field 'direct_open': 'inf' is not a count or amount >= 0",
        "row 3 field 'direct_open': 'x' is not a count or amount >= 0",
        "row 3 field 'gmv': '12,5' is not a count or amount >= 0"]
    with pytest.raises(ValidationError) as e:  # an empty cell is no answer: 0 is no event
        event_matrix(pd.DataFrame({"direct_open": [1, None, 0], "gmv": [0.0, 12.5, np.nan]}))
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'direct_open': is missing (NaN or None): give 0 for no event",
        "row 3 field 'gmv': is missing (NaN or None): give 0 for no event"]
    with pytest.raises(ValidationError, match="none of the event columns"):
        event_matrix(pd.DataFrame({"opens": [1.0, 1.0]}))
    with pytest.raises(ValidationError, match="not ndarray"):
        event_matrix(np.ones((2, 5)))


@pytest.mark.parametrize("value", [np.inf, 1e300])
def test_an_agent_never_learns_an_infinite_or_overflowing_reward(value):
    """1e300 is finite, but its square is not: it left every weight NaN for good."""
    from workbench.agent import ActionSpace, Agent
    agent = Agent(ActionSpace.plain({"greeting": 3, "offer": 5}), ["s"])
    batch = agent.decide(pd.DataFrame({"user_id": [f"u{i}" for i in range(200)],
                                       "segment": "s"}), seed=1)
    before = agent.beliefs("slot:offer", {"segment": 0})
    with pytest.raises(ValidationError) as e:
        agent.learn(batch, pd.DataFrame({"direct_open": [value] + [0] * 199}))
    assert [(p.row, p.field) for p in e.value.problems] == [(1, "direct_open")]
    pd.testing.assert_frame_equal(agent.beliefs("slot:offer", {"segment": 0}), before)
    agent.learn(batch, pd.DataFrame({"direct_open": [1e12] + [0] * 199}))  # the largest learnt
    assert np.isfinite(agent.beliefs("slot:offer", {"segment": 0})["mean"]).all()


def test_weights_and_pre_period_rewards_beyond_the_largest_value_are_refused():
    with pytest.raises(ValidationError) as e:
        RewardWeights(gmv=1e13)
    assert [str(p) for p in e.value.problems] == [
        "field 'gmv': must be a finite number from 0 to 1e+12, not 10000000000000.0"]
    with pytest.raises(ValidationError) as e:
        check_pre_reward(np.array([1.0, -2e12, np.inf]), 3)
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'pre_reward': -2e+12 is beyond +-1e+12: a unit or parsing error?",
        "row 3 field 'pre_reward': 'inf' is not a finite number"]


def test_a_column_named_like_an_event_is_refused_with_the_name_it_resembles():
    """``conversions`` beside ``direct_open`` was learnt as no conversion at all."""
    with pytest.raises(ValidationError) as e:
        event_matrix(pd.DataFrame({"direct_open": [1, 0], "conversions": [1, 1], "GMV": [5, 0],
                                   "user_id": ["a", "b"], "revenue": [5, 0]}))
    assert [str(p) for p in e.value.problems] == [
        "field 'conversions': is not an event column (did you mean 'conversion'?): its values "
        "would not be learnt",
        "field 'GMV': is not an event column (did you mean 'gmv'?): its values would not be "
        "learnt"]
    assert event_matrix(pd.DataFrame({"direct_open": [1, 0], "user_id": ["a", "b"],
                                      "revenue": [5, 0], "conversion_30d": [1, 0]})
                        ).tolist() == [[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
