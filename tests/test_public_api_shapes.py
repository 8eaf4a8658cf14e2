"""The agent driven as an outside harness would drive it, through the public API only
(``ActionSpace.plain``, ``Agent``, ``AgentConfig``, ``decide``, ``learn``), on shapes the
regret suite does not have: one segment and tiny batches, a single slot, users with only the two
required columns, conversions with GMV instead of opens, weeks of zero rewards, many atoms per
slot, forty segments. Each must decide valid options with proper propensities and end up better
than choosing at random."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.agent import ActionSpace, Agent, AgentConfig

CHANNELS = ("push", "email", "in_app")
NIGHT = [h for h in range(24) if h < 8 or h >= 22]

SHAPES = {
    "one segment, two atoms per slot, batches of 60": dict(
        segments=1, slots={"greeting": 2, "offer": 2, "cta": 2}, days=30, batch=60),
    "a single slot": dict(segments=3, slots={"offer": 6}, days=12, batch=1500),
    "users with only user_id and segment": dict(
        segments=3, slots={"greeting": 4, "offer": 4}, days=12, batch=1500, minimal=True),
    "conversions with GMV, no opens": dict(
        segments=2, slots={"offer": 5, "cta": 4}, days=15, batch=2000, gmv=True),
    "five batches of zero rewards first": dict(
        segments=2, slots={"offer": 5, "cta": 4}, days=17, batch=1500, zero_days=5),
    "twenty atoms per slot": dict(
        segments=2, slots={"greeting": 20, "offer": 20, "cta": 20}, days=12, batch=3000),
    "forty segments": dict(
        segments=40, slots={"greeting": 3, "offer": 4, "cta": 3}, days=12, batch=4000),
}


class _World:
    """Additive Bernoulli world with strong effects (so a dozen batches tell the options
    apart) and poor night hours (so the agent's default quiet hours cost nothing)."""

    def __init__(self, segments: int, slots: dict[str, int], seed: int):
        rng = np.random.default_rng(seed)
        self.base = rng.uniform(0.08, 0.14, segments)
        b = self.base[:, None]
        self.slot = {n: 0.5 * b * rng.standard_normal((segments, k)) for n, k in slots.items()}
        self.hour = 0.3 * b * rng.standard_normal((segments, 24))
        self.hour[:, NIGHT] = -0.8 * b
        self.channel = 0.4 * b * rng.standard_normal((segments, len(CHANNELS)))

    def p(self, seg: np.ndarray, batch: pd.DataFrame) -> np.ndarray:
        p = self.base[seg] + self.hour[seg, batch["choice_timing"].to_numpy(int) % 24] \
            + self.channel[seg, batch["choice_channel"].to_numpy(int)]
        for n, e in self.slot.items():
            p = p + e[seg, batch[f"choice_slot:{n}"].to_numpy(int)]
        return np.clip(p, 0.001, 0.95)

    def uniform(self, seg: np.ndarray) -> np.ndarray:
        """Expected reward of choosing every option at random."""
        return self.base[seg] + self.hour.mean(1)[seg] + self.channel.mean(1)[seg] + sum(
            e.mean(1)[seg] for e in self.slot.values())


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_the_public_api_learns_in_shapes_the_suite_does_not_have(shape):
    kw = SHAPES[shape]
    S, slots = kw["segments"], kw["slots"]
    world = _World(S, slots, seed=7)
    space = ActionSpace.plain(slots, CHANNELS, skip=False)
    names = [f"s{i}" for i in range(S)]
    agent = Agent(space, names, AgentConfig(holdout_share=0))
    rng = np.random.default_rng(8)
    late_agent, late_uniform = [], []
    for day in range(kw["days"]):
        n = kw["batch"]
        seg = rng.integers(0, S, n)
        users = pd.DataFrame({"user_id": np.arange(day * n, (day + 1) * n),
                              "segment": np.array(names)[seg]})
        if not kw.get("minimal"):
            users["platform"] = rng.choice(["ios", "android", "web"], n)
            users["days_inactive"] = rng.integers(14, 90, n)
        batch = agent.decide(users, seed=100 + day)  # replayable: no fresh draw per run
        assert len(batch) == n and batch["send"].all()
        for name, k in slots.items():
            assert batch[f"choice_slot:{name}"].between(0, k - 1).all()
        assert not np.isin(batch["choice_timing"] % 24, NIGHT).any()
        prop = batch["propensity"].to_numpy(float)
        assert np.isfinite(prop).all() and ((prop > 0) & (prop <= 1)).all()
        p = world.p(seg, batch)
        hit = rng.random(n) < p
        if day < kw.get("zero_days", 0):
            outcomes = pd.DataFrame({"direct_open": np.zeros(n)})
        elif kw.get("gmv"):
            outcomes = pd.DataFrame({"conversion": hit.astype(float),
                                     "gmv": hit * rng.lognormal(3.0, 0.5, n)})
        else:
            outcomes = pd.DataFrame({"direct_open": hit.astype(float)})
        agent.learn(batch, outcomes)
        if day >= kw["days"] - 3:
            late_agent.append(p.mean())
            late_uniform.append(world.uniform(seg).mean())
    gain = np.mean(late_agent) - np.mean(late_uniform)
    # At least half way from random choice to the best action, on the last batches (0.76-0.96
    # when written; random choice is 0).
    best = (world.base + world.hour.max(1) + world.channel.max(1)
            + sum(e.max(1) for e in world.slot.values())).mean()
    assert gain > (best - np.mean(late_uniform)) / 2, (np.mean(late_agent), np.mean(late_uniform),
                                                       best)
