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
- ``oracle_ts``: a reference, not a competitor. Gaussian Thompson Sampling per segment and
  dimension that is *told* what no real learner knows: each segment's base rate, the true spread
  of each dimension's effects for that segment, the reward's noise (``p (1 - p)`` at the base
  rate), the true effects of what the other dimensions chose (taken out of the reward each
  dimension learns from), and that night hours are poor (masked, as the agent's quiet hours
  are). It is not told which option is best. Its regret shows how low a learner gets that, like
  MABWiser, treats each segment and dimension on its own: where the agent is level with it, no
  better prior or noise model would help, and only structure shared between segments,
  dimensions or options can.
- ``agent_all_hours`` and ``oracle_ts_all_hours``, run only when named: the same two with every
  hour open (the agent's quiet hours lifted, the reference without its night mask), for what
  knowing that nights are poor is worth here; an environment of someone else's may not make
  them poor.
- ``oracle_ts_sequential``, run only when named: ``oracle_ts`` learning after every single user
  instead of every batch. No learner in a batched programme can (a day's users are decided
  before any of their outcomes is seen), so it shows how low Thompson Sampling per segment
  and dimension gets here with every advantage a real learner lacks.

Each player's random numbers come from its own seed (environment seed, run seed, player name),
and the users and outcomes from another, so a player's figures do not depend on which other
players run beside it.

Regret of a decision is the expected reward of the segment's best composite action that day
minus the expected reward of the action taken (pseudo-regret: no outcome noise), reported per
1,000 decisions.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.agent import ActionSpace, Agent, AgentConfig, Guardrails
from workbench.sim.envs import HOURS, NIGHT, SLOTS, Environment

PLAYERS = ("agent", "mabwiser", "beta_ts", "uniform", "oracle_ts")
#: Run only when asked for (``--players``): the agent with its quiet hours lifted and the
#: reference without the night mask, for what the mask is worth (every environment here makes
#: night hours poor; one of someone else's may not).
EXTRA_PLAYERS = ("agent_all_hours", "oracle_ts_all_hours", "oracle_ts_sequential")
#: Players whose mean regret is also given as a ratio to MABWiser's.
RATIOS = ("agent", "oracle_ts", "agent_all_hours", "oracle_ts_all_hours",
          "oracle_ts_sequential")
START = date(2026, 1, 5)  # a Monday


def action_space(env: Environment, available: tuple[int, ...]) -> ActionSpace:
    """The environment's actions as the agent's space, built through the public API
    (:meth:`ActionSpace.plain`): three slots of untagged atoms, the agent's usual 168 send slots
    (the environment only cares about the hour), the environment's channels, and "send" as the
    only send option."""
    return ActionSpace.plain(dict(zip(SLOTS, available)), env.channels, skip=False)


class _AgentPlayer:
    guardrails = Guardrails()

    def __init__(self, env: Environment, seed: int):
        self.env, self.seed = env, seed
        self.config = AgentConfig(holdout_share=0.0, guardrails=self.guardrails)
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


class _AgentAllHoursPlayer(_AgentPlayer):
    """The agent with its quiet hours lifted: every hour may be chosen."""

    guardrails = Guardrails(quiet_start=0, quiet_end=0)


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


class _OracleTSPlayer:
    """Gaussian Thompson Sampling per segment and dimension told everything but which option is
    best (see the module docstring): each option's prior is ``N(base, sd^2)``, with ``base`` the
    segment's base rate and ``sd`` the spread of the dimension's true effects for the segment at
    the start; the noise is ``base (1 - base)``; and each dimension learns from the reward minus
    the true effects of the options the other dimensions chose, so its options' rewards do not
    rise as the other dimensions improve (the level an independent bandit cannot separate from
    its own options' merit) and the prior mean stays right for an option added mid-run."""

    night = NIGHT  # hours it never sends at

    def __init__(self, env: Environment, seed: int):
        self.env, self.rng = env, np.random.default_rng(seed)
        base = np.asarray(env.base, float)
        self.k = env.available(0)
        self.day = 0
        self.noise, self.m0 = base * (1 - base), base
        self.day_hours = np.array([h not in self.night for h in HOURS])
        self.sd = []
        for d, e in enumerate(env.effects(0)):
            if d < len(SLOTS):
                e = e[:, :self.k[d]]  # the atoms there at the start
            elif d == len(SLOTS):
                e = e[:, self.day_hours]
            self.sd.append(np.maximum(e.std(axis=1), 1e-9)[:, None])
        self.n = [np.zeros((len(base), k)) for k in env.shape]
        self.y = [np.zeros((len(base), k)) for k in env.shape]

    def grow(self, day: int) -> None:
        self.k, self.day = self.env.available(day), day

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        out = []
        noise, m0 = self.noise[:, None], self.m0[:, None]
        for d, k in enumerate((*self.k, *self.env.shape[len(SLOTS):])):
            mean, precision = _posterior(self.n[d][:, :k], self.y[d][:, :k], self.sd[d], m0,
                                         noise)
            score = mean[seg] + self.rng.standard_normal((len(seg), k)) / np.sqrt(precision[seg])
            if d == len(SLOTS):
                score[:, ~self.day_hours] = -np.inf
            out.append(score.argmax(axis=1))
        return np.column_stack(out)

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        own = np.column_stack([e[seg, actions[:, d]]
                               for d, e in enumerate(self.env.effects(self.day))])
        taught = _own_rewards(reward, own)
        for d, (n, y) in enumerate(zip(self.n, self.y)):
            np.add.at(n, (seg, actions[:, d]), 1)
            np.add.at(y, (seg, actions[:, d]), taught[:, d])


def _posterior(n: np.ndarray, y: np.ndarray, sd: np.ndarray, m0: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each option's normal posterior (prior ``N(m0, sd^2)``, noise variance ``noise``, ``n``
    rewards summing to ``y``): its mean and precision."""
    precision = 1 / sd ** 2 + n / noise
    return (m0 / sd ** 2 + y / noise) / precision, precision


def _own_rewards(reward: np.ndarray | float, own: np.ndarray) -> np.ndarray:
    """What each dimension learns from (``own``: the true effect of each dimension's choice,
    dimensions last): the reward less the effects of the other dimensions' choices."""
    return np.asarray(reward)[..., None] - own.sum(axis=-1, keepdims=True) + own


class _OracleAllHoursPlayer(_OracleTSPlayer):
    """The reference without the night mask (its spread of send-hour effects over all hours)."""

    night = ()


class _SequentialOracleTSPlayer(_OracleTSPlayer):
    """``oracle_ts`` learning after every user (run only when named). It draws each user's
    outcome itself (Bernoulli at the environment's expected reward, from its own random
    numbers) and learns it before choosing for the next user, so the batch's outcomes, drawn
    by the harness after the whole batch is decided, are not needed: regret is counted from
    expected rewards either way."""

    def choose(self, users: pd.DataFrame, seg: np.ndarray, day: int) -> np.ndarray:
        sizes = (*self.k, *self.env.shape[len(SLOTS):])
        D, K, hour = len(sizes), max(sizes), len(SLOTS)

        def padded(arrays: list[np.ndarray]) -> np.ndarray:  # segments x dimensions x K
            return np.stack([np.pad(a[:, :k], ((0, 0), (0, K - k)))
                             for a, k in zip(arrays, sizes)], axis=1)

        n, y, eff = padded(self.n), padded(self.y), padded(self.env.effects(day))
        sd = np.concatenate(self.sd, axis=1)[:, :, None]
        closed = np.arange(K)[None, :] >= np.asarray(sizes)[:, None]
        closed[hour, :len(HOURS)] |= ~self.day_hours
        expected, dims = self.env.expected(day), np.arange(D)
        z = self.rng.standard_normal((len(seg), D, K))
        u = self.rng.random(len(seg))
        out = np.empty((len(seg), D), np.int64)
        for i, s in enumerate(seg):
            mean, precision = _posterior(n[s], y[s], sd[s], self.m0[s], self.noise[s])
            score = np.where(closed, -np.inf, mean + z[i] / np.sqrt(precision))
            a = out[i] = score.argmax(axis=1)
            own = eff[s, dims, a]
            n[s, dims, a] += 1
            y[s, dims, a] += _own_rewards(float(u[i] < expected[(s, *a)]), own)
        for d, k in enumerate(sizes):
            self.n[d][:, :k], self.y[d][:, :k] = n[:, d, :k], y[:, d, :k]
        return out

    def learn(self, seg: np.ndarray, actions: np.ndarray, reward: np.ndarray) -> None:
        pass  # learnt user by user in choose


_MAKERS = {"agent": _AgentPlayer, "mabwiser": _MabwiserPlayer, "beta_ts": _BetaPlayer,
           "uniform": _UniformPlayer, "oracle_ts": _OracleTSPlayer,
           "agent_all_hours": _AgentAllHoursPlayer, "oracle_ts_all_hours": _OracleAllHoursPlayer,
           "oracle_ts_sequential": _SequentialOracleTSPlayer}


def player_seed(env: Environment, seed: int, player: str) -> int:
    """A player's own seed: from the environment's, the run's and the player's name, so it
    does not depend on which other players run."""
    ss = np.random.SeedSequence([env.seed, seed, zlib.crc32(player.encode())])
    return int(ss.generate_state(1)[0] >> 1)


@dataclass(frozen=True)
class SeedResult:
    player: str
    regret_per_1k: float
    reward_per_1k: float
    seconds_per_batch: float


def run(env: Environment, seed: int, players: tuple[str, ...] = PLAYERS) -> list[SeedResult]:
    """Play every player through the environment's days on the same users and outcomes."""
    rng = np.random.default_rng([env.seed, seed])
    made = {name: _MAKERS[name](env, player_seed(env, seed, name)) for name in players}
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
    if "mabwiser" in per:
        m = row["players"]["mabwiser"]["mean"]
        for p in RATIOS:
            if p in per:
                row[f"{p}_to_mabwiser"] = round(row["players"][p]["mean"] / m, 3) if m else None
    return row


def format_regret(result: Mapping[str, Any]) -> str:
    """The regret benchmark as a plain-text table (per seed, mean, time per batch, ratio)."""
    lines = []
    for name, row in result["environments"].items():
        w = max([10, *map(len, row["players"])])
        lines.append(f"{name}{' (held out)' if row['held_out'] else ''}: {row['about']}")
        lines.append(f"  {'player':<{w}} {'mean':>8} {'sd':>7}  {'s/batch':>8}  regret per 1k "
                     "per seed")
        for p, v in row["players"].items():
            sd = "" if v["sd"] is None else f"{v['sd']:.2f}"
            lines.append(f"  {p:<{w}} {v['mean']:>8.2f} {sd:>7}  {v['seconds_per_batch']:>8.3f}  "
                         + " ".join(f"{x:.2f}" for x in v["regret_per_1k"]))
        for p in RATIOS:
            if row.get(f"{p}_to_mabwiser") is not None:
                lines.append(f"  {p} / mabwiser = {row[f'{p}_to_mabwiser']:.3f}")
    lines.append(f"load average {result['load_average']}, {result['seconds']} s")
    return "\n".join(lines)
