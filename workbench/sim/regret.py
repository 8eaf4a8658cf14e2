"""Regret of the agent and of stock bandits in the synthetic environments of
:mod:`workbench.sim.envs`, run side by side in one process.

Why: the agent must be the best choice a team can make, so it is compared, on the same users
and the same random outcomes (common random numbers), with what a team would otherwise use:

- ``agent``: :class:`workbench.agent.Agent` with its default configuration, through the public
  API only (``ActionSpace``, ``Agent``, ``AgentConfig``, ``decide``, ``learn``). The benchmark
  measures learning, not guardrails, so it asks for no holdout (``holdout_share=0``) and always
  sends (a ``send`` dimension with the single option "send"); each batch gets its own seed
  (recorded, so a run is reproducible). Atoms added mid-run join by rebuilding the agent with
  its learnt models (``Agent(space, segments, config, models=agent.models)``).
- ``mabwiser``: MABWiser's Thompson Sampling, one bandit per segment and dimension.
- ``beta_ts``: an independent Beta-Bernoulli Thompson Sampling per segment and dimension (numpy).
- ``uniform``: every option of every dimension at random.

Regret of a decision is the expected reward of the segment's best composite action that day
minus the expected reward of the action taken (pseudo-regret: no outcome noise), reported per
1,000 decisions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.agent import ActionSpace, Agent, AgentConfig
from workbench.agent.actions import Dimension, Option, atom_option, timing_options
from workbench.sim.envs import HOURS, SLOTS, Environment

PLAYERS = ("agent", "mabwiser", "beta_ts", "uniform")
START = date(2026, 1, 5)  # a Monday


def atom_id(slot: int, index: int) -> int:
    return 1000 * (slot + 1) + index


def action_space(env: Environment, available: tuple[int, ...]) -> ActionSpace:
    """The environment's actions as the agent's space: three slots of untagged atoms, the
    agent's usual 168 send slots (the environment only cares about the hour), the
    environment's channels, and "send" as the only send option."""
    atoms: dict[int, dict] = {}
    dims = []
    for j, (slot, k) in enumerate(zip(SLOTS, available)):
        opts = []
        for i in range(k):
            a = {"id": atom_id(j, i), "kind": slot, "text": f"{slot} {i}", "offer_type": None,
                 "tone": None, "product_category": None, "tags": "", "segment": None,
                 "status": "active"}
            atoms[a["id"]] = a
            opts.append(atom_option(a))
        dims.append(Dimension(f"slot:{slot}", "slot", tuple(opts)))
    dims.append(Dimension("timing", "timing", timing_options()))
    dims.append(Dimension("channel", "channel", tuple(
        Option(c, c, (f"channel:{c}",)) for c in env.channels)))
    dims.append(Dimension("send", "send", (Option(True, "send", ("send:yes",)),)))
    body = " ".join(f"{{{s}}}" for s in SLOTS)
    templates = {c: {"id": i + 1, "name": c, "channel": c, "title": "", "preheader": "",
                     "body": body, "image": "", "segment": None}
                 for i, c in enumerate(env.channels)}
    return ActionSpace(tuple(dims), templates, atoms)


class _AgentPlayer:
    def __init__(self, env: Environment, seed: int):
        self.env, self.seed = env, seed
        self.config = AgentConfig(holdout_share=0.0)
        self.k = env.available(0)
        self.agent = Agent(action_space(env, self.k), env.segments, self.config)

    def grow(self, day: int) -> None:
        k = self.env.available(day)
        if k != self.k:
            self.k = k
            self.agent = Agent(action_space(self.env, k), self.env.segments, self.config,
                               models=self.agent.models)

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        self.batch = self.agent.decide(users, seed=self.seed * 100_003 + day,
                                       start=START + timedelta(days=day))
        cols = [f"choice_slot:{s}" for s in SLOTS] + ["choice_timing", "choice_channel"]
        a = np.column_stack([self.batch[c].to_numpy(np.int64) for c in cols])
        a[:, 3] %= len(HOURS)  # the agent's send slot (weekday x hour) -> the hour
        return a

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        self.agent.learn(self.batch, pd.DataFrame({"direct_open": reward}))


class _BetaPlayer:
    """Independent Beta(1, 1)-Bernoulli Thompson Sampling per segment and dimension."""

    def __init__(self, env: Environment, seed: int):
        self.env, self.rng = env, np.random.default_rng(seed)
        S = len(env.segments)
        self.alpha = [np.ones((S, k)) for k in env.shape]
        self.beta = [np.ones((S, k)) for k in env.shape]
        self.k = env.available(0)

    def grow(self, day: int) -> None:
        self.k = self.env.available(day)

    def _sizes(self) -> tuple[int, ...]:
        return (*self.k, *self.env.shape[3:])

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        out = []
        for a, b, k in zip(self.alpha, self.beta, self._sizes()):
            out.append(self.rng.beta(a[seg, :k], b[seg, :k]).argmax(axis=1))
        return np.column_stack(out)

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        for d, (a, b) in enumerate(zip(self.alpha, self.beta)):
            np.add.at(a, (seg, actions[:, d]), reward)
            np.add.at(b, (seg, actions[:, d]), 1 - reward)


class _MabwiserPlayer:
    """MABWiser Thompson Sampling, one bandit per segment and dimension."""

    def __init__(self, env: Environment, seed: int):
        from mabwiser.mab import MAB, LearningPolicy

        self.env = env
        self.k = env.available(0)
        sizes = (*self.k, *env.shape[3:])
        self.mabs = []
        for s in range(len(env.segments)):
            row = []
            for d, k in enumerate(sizes):
                mab = MAB(arms=list(range(k)), learning_policy=LearningPolicy.ThompsonSampling(),
                          seed=seed * 1000 + s * 10 + d)
                mab.fit(decisions=np.array([], int), rewards=np.array([], int))
                row.append(mab)
            self.mabs.append(row)

    def grow(self, day: int) -> None:
        k = self.env.available(day)
        for d, (old, new) in enumerate(zip(self.k, k)):
            for row in self.mabs:
                for arm in range(old, new):
                    row[d].add_arm(arm)
        self.k = k

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        out = np.zeros((len(seg), len(self.env.shape)), np.int64)
        for s, row in enumerate(self.mabs):
            who = np.flatnonzero(seg == s)
            if not len(who):
                continue
            for d, mab in enumerate(row):
                out[who, d] = np.atleast_1d(mab.predict(contexts=np.zeros((len(who), 1))))
        return out

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        for s, row in enumerate(self.mabs):
            who = seg == s
            if who.any():
                for d, mab in enumerate(row):
                    mab.partial_fit(decisions=actions[who, d], rewards=reward[who].astype(int))


class _UniformPlayer:
    def __init__(self, env: Environment, seed: int):
        self.env, self.rng = env, np.random.default_rng(seed)
        self.k = env.available(0)

    def grow(self, day: int) -> None:
        self.k = self.env.available(day)

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        sizes = (*self.k, *self.env.shape[3:])
        return np.column_stack([self.rng.integers(0, k, len(seg)) for k in sizes])

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        pass


_MAKERS = {"agent": _AgentPlayer, "mabwiser": _MabwiserPlayer, "beta_ts": _BetaPlayer,
           "uniform": _UniformPlayer}


@dataclass(frozen=True)
class SeedResult:
    player: str
    regret_per_1k: float
    reward_per_1k: float
    seconds_per_batch: float


def run(env: Environment, seed: int, players: tuple[str, ...] = PLAYERS) -> list[SeedResult]:
    """Play every player through the environment's days on the same users and outcomes."""
    rng = np.random.default_rng([env.seed, seed])
    made = {name: _MAKERS[name](env, int(rng.integers(2 ** 31))) for name in players}
    regret = dict.fromkeys(players, 0.0)
    reward = dict.fromkeys(players, 0.0)
    seconds = dict.fromkeys(players, 0.0)
    key, expected, best = None, None, None
    decisions = 0
    for day in range(env.days):
        users = env.users(day, rng)
        seg = users["segment"].cat.codes.to_numpy(np.int64)
        u = rng.random(len(users))  # common random numbers: one outcome draw per user
        k = (env.available(day), env.drift is not None and day)
        if k != key:
            key, expected = k, env.expected(day)
            best = env.best(day)[0]
        decisions += len(users)
        for name, player in made.items():
            t0 = time.perf_counter()
            player.grow(day)
            a = player.choose(users, seg, day)
            p = expected[(seg, *a.T)]
            r = (u < p).astype(float)
            player.learn(seg, a, r)
            seconds[name] += time.perf_counter() - t0
            regret[name] += float((best[seg] - p).sum())
            reward[name] += float(r.sum())
    return [SeedResult(n, 1000 * regret[n] / decisions, 1000 * reward[n] / decisions,
                       seconds[n] / env.days) for n in players]


def regret_row(e: Any, per: Mapping[str, list]) -> dict[str, Any]:
    """One environment's figures: per seed, mean, sd and time per batch of each player."""
    import statistics

    row: dict[str, Any] = {
        "about": e.about, "held_out": e.held_out, "segments": len(e.segments),
        "composite_actions": e.actions, "days": e.days, "batch": e.batch,
        "decisions_per_seed": e.days * e.batch, "players": {}}
    for p, rs in per.items():
        row["players"][p] = {
            "regret_per_1k": [round(r.regret_per_1k, 2) for r in rs],
            "mean": round(statistics.fmean(r.regret_per_1k for r in rs), 2),
            "sd": round(statistics.stdev(r.regret_per_1k for r in rs), 2) if len(rs) > 1
            else None,
            "reward_per_1k": round(statistics.fmean(r.reward_per_1k for r in rs), 2),
            "seconds_per_batch": round(statistics.fmean(r.seconds_per_batch for r in rs), 4),
        }
    if "agent" in per and "mabwiser" in per:
        m = row["players"]["mabwiser"]["mean"]
        row["agent_to_mabwiser"] = round(row["players"]["agent"]["mean"] / m, 3) if m else None
    return row


def format_regret(result: Mapping[str, Any]) -> str:
    """The regret benchmark as a plain-text table (per seed, mean, time per batch, ratio)."""
    lines = []
    for name, row in result["environments"].items():
        lines.append(f"{name}{' (held out)' if row['held_out'] else ''}: {row['about']}")
        lines.append(f"  {'player':<10} {'mean':>8} {'sd':>7}  {'s/batch':>8}  regret per 1k "
                     "per seed")
        for p, v in row["players"].items():
            sd = "" if v["sd"] is None else f"{v['sd']:.2f}"
            lines.append(f"  {p:<10} {v['mean']:>8.2f} {sd:>7}  {v['seconds_per_batch']:>8.3f}  "
                         + " ".join(f"{x:.2f}" for x in v["regret_per_1k"]))
        if row.get("agent_to_mabwiser") is not None:
            lines.append(f"  agent / mabwiser = {row['agent_to_mabwiser']:.3f}")
    lines.append(f"load average {result['load_average']}, {result['seconds']} s")
    return "\n".join(lines)
