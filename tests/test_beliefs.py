"""Reading the beliefs: features in words, traffic versus the favourite, interval axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.agent.beliefs import (TrafficNote, feature_name, interval_axis, traffic_note)
from workbench.agent.guardrails import GUARDRAILS

ATOMS = {69: "Morning, neighbour!", 7: "20% off today"}


@pytest.mark.parametrize("feature, name", [
    ("atom:69|inactivity:<30d", "atom: Morning, neighbour! · inactive < 30 days"),
    ("atom:7|inactivity:90d+", "atom: 20% off today · inactive 90+ days"),
    ("atom:12", "atom #12 (deleted)"),
    ("hour:8|platform:ios", "08:00 · on iOS"),
    ("near:23", "around 23:00"),
    ("daypart:morning|daypart:evening", "morning send · usually active in the evening"),
    ("bias|segment:lapsed_buyers", "baseline · segment: lapsed buyers"),
    ("length:short|exposures:1-2", "short text · 1-2 sends in 7 days"),
    ("tag:summer|engagement:high", "tag: summer · high past engagement"),
    ("channel:push", "channel: push"),
    ("weekend", "weekend"),
])
def test_feature_names_read_as_words(feature, name):
    assert feature_name(feature, ATOMS) == name


def test_every_feature_of_a_real_agent_has_a_name_without_raw_codes(store):
    from workbench.agent import state as agent_state

    agent = agent_state.load_agent(store)
    atoms = {int(a["id"]): a["text"] for a in store.components()}
    assert any(f.startswith("atom:") for p in agent.policies.values() for f in p.model.features)
    for pol in agent.policies.values():
        for f in pol.model.features:
            name = feature_name(f, atoms)
            assert "|" not in name and "(deleted)" not in name, (f, name)
            if f.startswith("atom:"):
                assert atoms[int(f.split("|")[0][5:])] in name


def beliefs_frame():
    return pd.DataFrame({"option": [20, 8, 3], "label": ["Mon 20:00", "Mon 08:00", "Mon 03:00"],
                         "mean": [0.30, 0.28, 0.10], "p_best": [0.40, 0.55, 0.05],
                         "allowed": [True, True, True]})


def test_traffic_note_explains_when_the_most_served_is_not_the_favourite():
    served = pd.Series([8] * 95 + [20] * 5)
    flags = pd.Series([GUARDRAILS["traffic_cap"]] * 10 + [0] * 90)
    note = traffic_note(beliefs_frame(), served, flags)
    assert note == TrafficNote(
        served="Mon 08:00", served_share=0.95, served_p_best=0.55, favourite="Mon 20:00",
        favourite_share=0.05, favourite_p_best=0.40,
        guardrail_shares={"no_consent": 0.0, "frequency_cap": 0.0, "quiet_hours": 0.0,
                          "must_send": 0.0, "traffic_cap": 0.1, "exploration": 0.0})
    text = note.text()
    assert "**Mon 08:00** (95% of messages)" in text
    assert "P(best) is 55% for Mon 08:00 and 40% for Mon 20:00" in text
    assert "capacity cap on an atom's share 10%" in text
    # labels typed by people are escaped for Markdown; the bold around them stays markup
    quoted = note.text(lambda label: label.replace(":", "\\:"))
    assert "**Mon 08\\:00** (95% of messages)" in quoted and "for Mon 20\\:00" in quoted


def test_no_traffic_note_when_traffic_follows_the_favourite_or_is_empty():
    assert traffic_note(beliefs_frame(), pd.Series([20, 20, 8])) is None
    assert traffic_note(beliefs_frame(), pd.Series([], dtype=int)) is None


def test_forbidden_options_are_not_the_favourite():
    b = beliefs_frame().assign(allowed=[False, True, True])
    assert traffic_note(b, pd.Series([8, 8, 20])) is None


def test_interval_axis_ignores_one_very_wide_interval_but_shows_every_mean():
    rng = np.random.default_rng(0)
    mean = rng.normal(0.3, 0.02, 60)
    low, high = mean - 0.02, mean + 0.02
    low[0], high[0] = -50.0, 50.0  # one option nobody has tried
    lo, hi = interval_axis(mean, low, high)
    assert -0.1 < lo < mean.min() and mean.max() < hi < 0.7
    assert (lo, hi) == pytest.approx(interval_axis(mean, low, high))
    narrow = interval_axis([1.0, 2.0], [0.5, 1.5], [1.5, 2.5])
    assert narrow[0] <= 0.5 and narrow[1] >= 2.5


def test_interval_axis_clips_the_one_wide_interval_among_a_handful():
    mean = [0.30, 0.28, 0.25, 0.22, 0.20, 0.18, 0.0]
    low = [0.28, 0.26, 0.23, 0.20, 0.18, 0.16, -2.0]  # the last option was never tried
    high = [0.32, 0.30, 0.27, 0.24, 0.22, 0.20, 2.0]
    lo, hi = interval_axis(mean, low, high)
    assert (lo, hi) == pytest.approx((0.0 - 0.016, 0.32 + 0.016))


def test_interval_axis_keeps_intervals_of_equal_width_whole():
    lo, hi = interval_axis([0.0, 0.0], [-1.4, -1.4], [1.4, 1.4])
    assert (lo, hi) == pytest.approx((-1.54, 1.54))


# -- why this option -------------------------------------------------------------------------

def _learnt_agent():
    """Two segments; atom 901 of slot s0 is scoped to segment b and pays there far better than
    anything; late hours pay best of all (but 22:00-08:00 is quiet by default)."""
    from workbench.agent import ActionSpace, Agent, AgentConfig
    from workbench.agent.users import synthetic_users

    space = ActionSpace.synthetic(slots=1, atoms_per_slot=3).with_atoms(
        [{"id": 901, "kind": "s0", "text": "only b", "tags": "", "segment": "b"}])
    agent = Agent(space, ["a", "b"], AgentConfig(holdout_share=0.0, interactions="off"))
    rng = np.random.default_rng(1)
    for r in range(4):
        users = synthetic_users(3000, ["a", "b"], r)
        for ch in ("push", "email", "sms", "in_app"):
            users[f"consent_{ch}"] = True
        d = agent.decide(users, seed=r)
        p = 0.04 + 0.2 * (d["atom_s0"] == 901) + 0.01 * (d["hour"] >= 20)
        agent.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < p}))
    return agent


def test_why_compares_with_an_option_the_user_could_have_got():
    agent = _learnt_agent()
    s0 = agent.space.dimension("slot:s0")
    labels = {o.value: o.label for o in s0.options}
    in_b = agent.beliefs("slot:s0", {"segment": 1})
    assert in_b.sort_values("mean")["option"].iloc[-1] == 901  # the best there, by far
    for value in (1, 2, 3):  # a user of segment a never had the other segment's atom
        versus = agent.explain("slot:s0", {"segment": 0}, value)["versus"].iloc[0]
        in_a = agent.beliefs("slot:s0", {"segment": 0})
        others = in_a[(in_a["option"] != value) & in_a["allowed"]]
        assert versus == labels[others.sort_values("mean")["option"].iloc[-1]] != "only b"
    timing = agent.space.dimension("timing")
    chosen = next(o.value for o in timing.options if o.value % 24 == 12)
    versus = agent.explain("timing", {"segment": 0}, chosen)["versus"].iloc[0]
    hour = next(o.value for o in timing.options if o.label == versus) % 24
    assert 8 <= hour < 22, versus  # a quiet hour was never the alternative


def test_why_contributions_add_up_to_the_difference_of_means():
    agent = _learnt_agent()
    why = agent.explain("slot:s0", {"segment": 1}, 901, top=1000)
    b = agent.beliefs("slot:s0", {"segment": 1}).set_index("label")
    assert why["contribution"].sum() == pytest.approx(
        b.loc["only b", "mean"] - b.loc[why["versus"].iloc[0], "mean"], abs=1e-9)
