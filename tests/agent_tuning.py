"""Private tuning harness for the agent's defaults (not a test, not the product benchmark).

The environment the issue describes: 4 segments of unequal size that disagree about what works,
3 content slots, a send hour and a channel; Bernoulli rewards around 3-10%; 60 daily batches of
5,000 users. Regret per 1,000 decisions against each segment's best fixed action, for the agent
through its public API and for Thompson Sampling with a Beta(1, 1) prior per segment x dimension
(the model of MABWiser's ThompsonSampling, vectorised here; ``--mabwiser`` runs MABWiser itself).
The held-out environments of ``workbench bench regret`` are not used here.

    PYTHONPATH=$PWD python tests/agent_tuning.py --seeds 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from workbench.agent import ActionSpace, Agent, AgentConfig, Guardrails
from workbench.agent.users import synthetic_users

SEGS = ["s0", "s1", "s2", "s3"]
SIZES = np.array([0.4, 0.3, 0.2, 0.1])
SLOTS, ATOMS = 3, 5


class Env:
    """logit p = base + sum of per-segment effects per dimension (hour, channel, atoms)."""

    def __init__(self, seed: int, shared: float = 0.5):
        rng = np.random.default_rng(seed)
        space = ActionSpace.synthetic(slots=SLOTS, atoms_per_slot=ATOMS, seed=seed)
        self.space = space
        self.dims = {"hour": 24, "channel": 4, **{f"s{i}": ATOMS for i in range(SLOTS)}}
        self.effects = {}
        for name, k in self.dims.items():
            g = rng.normal(0, 0.2, k)
            self.effects[name] = np.stack([shared * g + (1 - shared) * rng.normal(0, 0.2, k)
                                           for _ in SEGS])
        # Hours: smooth per-segment peaks.
        hours = np.arange(24)
        peaks = rng.choice([8, 12, 18, 20, 21], len(SEGS), replace=False)
        self.effects["hour"] = np.stack([0.3 * np.cos((hours - p) / 24 * 2 * np.pi)
                                         + rng.normal(0, 0.05, 24) for p in peaks])
        self.base = np.log(0.05 / 0.95) + rng.normal(0, 0.2, len(SEGS)) - 0.5

    def p(self, seg, choice):
        z = self.base[seg].copy()
        for name, idx in choice.items():
            z += self.effects[name][seg, idx]
        return 1 / (1 + np.exp(-z))

    def best_p(self, seg):
        z = self.base[seg] + sum(self.effects[n][seg].max(axis=1) for n in self.dims)
        return 1 / (1 + np.exp(-z))


def run_agent(env: Env, seed: int, batches: int, n: int, config: AgentConfig) -> float:
    rng = np.random.default_rng(seed + 1000)
    agent = Agent(env.space, SEGS, config)
    regret = 0.0
    for b in range(batches):
        u = synthetic_users(n, SEGS, seed * 1000 + b)
        seg = rng.choice(len(SEGS), n, p=SIZES)
        u["segment"] = pd.Categorical.from_codes(seg, SEGS)
        for ch in ("push", "email", "sms", "in_app"):
            u[f"consent_{ch}"] = True
        d = agent.decide(u, seed=int(rng.integers(2 ** 31)))
        choice = {"hour": d["hour"].to_numpy(), "channel": d["choice_channel"].to_numpy()}
        for i in range(SLOTS):
            choice[f"s{i}"] = d[f"choice_slot:s{i}"].to_numpy()
        p = env.p(seg, choice)
        regret += float((env.best_p(seg) - p).sum())
        agent.learn(d, pd.DataFrame({"direct_open": (rng.random(n) < p).astype(float)}),
                    same_space=True)
    return regret / (batches * n) * 1000


def run_beta_ts(env: Env, seed: int, batches: int, n: int) -> float:
    rng = np.random.default_rng(seed + 2000)
    alpha = {k: np.ones((len(SEGS), v)) for k, v in env.dims.items()}
    beta = {k: np.ones((len(SEGS), v)) for k, v in env.dims.items()}
    regret = 0.0
    for _ in range(batches):
        seg = rng.choice(len(SEGS), n, p=SIZES)
        choice = {k: rng.beta(alpha[k][seg], beta[k][seg]).argmax(axis=1) for k in env.dims}
        p = env.p(seg, choice)
        regret += float((env.best_p(seg) - p).sum())
        r = rng.random(n) < p
        for k in env.dims:
            np.add.at(alpha[k], (seg, choice[k]), r)
            np.add.at(beta[k], (seg, choice[k]), ~r)
    return regret / (batches * n) * 1000


def run_uniform(env: Env, seed: int, batches: int, n: int) -> float:
    rng = np.random.default_rng(seed + 4000)
    regret = 0.0
    for _ in range(batches):
        seg = rng.choice(len(SEGS), n, p=SIZES)
        choice = {k: rng.integers(0, v, n) for k, v in env.dims.items()}
        regret += float((env.best_p(seg) - env.p(seg, choice)).sum())
    return regret / (batches * n) * 1000


def run_mabwiser(env: Env, seed: int, batches: int, n: int) -> float:
    from mabwiser.mab import MAB, LearningPolicy

    rng = np.random.default_rng(seed + 3000)
    bandits = {(s, k): MAB(list(range(v)), LearningPolicy.ThompsonSampling(), seed=seed)
               for s in range(len(SEGS)) for k, v in env.dims.items()}
    history = {key: ([], []) for key in bandits}
    regret = 0.0
    for b in range(batches):
        seg = rng.choice(len(SEGS), n, p=SIZES)
        choice = {k: np.zeros(n, int) for k in env.dims}
        for (s, k), mab in bandits.items():
            who = np.flatnonzero(seg == s)
            if b == 0:
                choice[k][who] = rng.integers(0, env.dims[k], len(who))
            else:
                choice[k][who] = mab.predict(contexts=np.zeros((len(who), 1)))
        p = env.p(seg, choice)
        regret += float((env.best_p(seg) - p).sum())
        r = (rng.random(n) < p).astype(int)
        for (s, k), mab in bandits.items():
            who = seg == s
            if b == 0:
                mab.fit(choice[k][who], r[who])
            else:
                mab.partial_fit(choice[k][who], r[who])
    return regret / (batches * n) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--mabwiser", action="store_true")
    ap.add_argument("--exploration", type=float, default=None)
    ap.add_argument("--prior-scale", type=float, default=None)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--segment-only", action="store_true")
    ap.add_argument("--discount", type=float, default=None)
    args = ap.parse_args()
    kw = {}
    if args.exploration is not None:
        kw["exploration"] = args.exploration
    if args.prior_scale is not None:
        kw["prior_scale"] = args.prior_scale
    if args.segment_only:
        kw["contexts"] = {k: ("segment",) for k in ("slot", "timing", "channel", "send")}
    if args.discount is not None:
        kw["discount"] = args.discount
    config = AgentConfig(holdout_share=0.0, draws=1000, guardrails=Guardrails(
        always_send=True, frequency_cap_7d=1000, quiet_start=0, quiet_end=0), **kw)
    rows = []
    for s in range(args.first_seed, args.first_seed + args.seeds):
        env = Env(s)
        t0 = time.perf_counter()
        a = run_agent(env, s, args.batches, args.users, config)
        t1 = time.perf_counter()
        ts = run_beta_ts(env, s, args.batches, args.users)
        row = {"seed": s, "agent": round(a, 2), "beta_ts": round(ts, 2),
               "uniform": round(run_uniform(env, s, args.batches, args.users), 2),
               "agent_s_per_batch": round((t1 - t0) / args.batches, 3)}
        if args.mabwiser:
            row["mabwiser"] = round(run_mabwiser(env, s, args.batches, args.users), 2)
        rows.append(row)
        print(row, flush=True)
    df = pd.DataFrame(rows)
    print(df.mean(numeric_only=True).round(2).to_dict())


if __name__ == "__main__":
    main()
