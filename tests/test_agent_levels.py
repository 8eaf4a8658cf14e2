"""The reward level moves while the agent learns (the other dimensions improve, a season
starts): each model centres a row on its batch's mix, so an option is judged against what was
served beside it, never credited with the rise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.agent.actions import ActionSpace
from workbench.agent.policy import Agent, AgentConfig
from workbench.agent.users import synthetic_users

SEGS = ["a", "b", "c"]


def _rising_level(agent: Agent, batches: int = 6, n: int = 3000, seed: int = 0):
    """Two equally good atoms; the second is served more and more while every reward rises
    (4% to 19%)."""
    rng = np.random.default_rng(seed)
    first, second = (o.value for o in agent.space.dimension("slot:s0").options)
    for t in range(batches):
        d = agent.decide(synthetic_users(n, SEGS, seed=100 + t), seed=t)
        late = rng.random(len(d)) < t / (batches - 1)
        d["atom_s0"] = np.where(late, second, first)
        level = 0.04 + 0.03 * t
        agent.learn(d, pd.DataFrame({"direct_open": (rng.random(len(d)) < level) & d["send"]}))
    return first, second


def test_an_atom_served_when_every_reward_was_higher_takes_no_credit_for_the_rise():
    agent = Agent(ActionSpace.synthetic(slots=1, atoms_per_slot=2), SEGS,
                  AgentConfig(holdout_share=0.0))
    first, second = _rising_level(agent)
    b = agent.beliefs("slot:s0", {"segment": 0}).set_index("option")
    gap = b.loc[second, "mean"] - b.loc[first, "mean"]
    # Served mostly in the 16-19% batches against mostly in the 4-7% ones: a model with one
    # level for the whole run put the second atom 5.7 points ahead (and the gap of two equal
    # atoms outside 2 sd in half of the seeds below).
    assert abs(gap) < 0.015, gap
    assert 0.05 < b.loc[second, "p_best"] < 0.95
    # The levels shown are the served rewards': about 11.5% on average, for both atoms.
    assert b.loc[[first, second], "mean"].between(0.09, 0.14).all(), b["mean"]


def test_contrasts_are_as_uncertain_as_their_posterior_says():
    """Across seeds, the gap between two equally good atoms falls within 2 posterior sd
    about 95% of the time (the sd of a difference is at most the sum of the sds)."""
    inside = []
    for seed in range(12):
        agent = Agent(ActionSpace.synthetic(slots=1, atoms_per_slot=2), SEGS,
                      AgentConfig(holdout_share=0.0))
        first, second = _rising_level(agent, batches=4, n=1500, seed=seed)
        b = agent.beliefs("slot:s0", {"segment": 0}).set_index("option")
        gap = b.loc[second, "mean"] - b.loc[first, "mean"]
        inside.append(abs(gap) < 2 * (b.loc[second, "sd"] + b.loc[first, "sd"]))
    assert np.mean(inside) >= 10 / 12, inside
