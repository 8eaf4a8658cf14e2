"""One simulated day, and the agent's week, as array arithmetic: no store, no files.

Everything here takes the run's fixed :class:`World` (users, parameters, calendar) and its
moving :class:`~workbench.sim.checkpoint.State`, moves the state on, and returns what happened
(a :class:`DayResult`). Every random number is drawn from a generator seeded by (seed, day), so
a day simulated again after a crash draws exactly what it drew the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench.agent.policy import Agent
from workbench.agent.reward import EVENTS
from workbench.agent.users import DAYPART_OF_HOUR, ENGAGEMENT, EXPOSURES, INACTIVITY
from workbench.lift.metrics import week_mode
from workbench.sim.checkpoint import NO_DAY, State
from workbench.sim.config import BURN_IN_DAYS, PHASES, TrialConfig
from workbench.sim.world import (
    METRICS, Population, WorldParams, content_signature, generate_population, open_probability,
    organic_return, wear,
)

ARMS = ("agent", "holdout")


@dataclass(frozen=True, eq=False)
class World:
    """What stays fixed during a run: its users, the world's parameters and the calendar."""

    config: TrialConfig
    pop: Population
    start: date
    holdout_idx: np.ndarray
    arm_sizes: tuple[int, int]  # agent, holdout

    @classmethod
    def build(cls, config: TrialConfig, segments: list[str]) -> World:
        pop = generate_population(config.users, segments, config.seed, config.holdout_share,
                                  config.world)
        holdout_idx = np.flatnonzero(pop.holdout)
        return cls(config, pop, date.fromisoformat(config.start), holdout_idx,
                   (pop.size - len(holdout_idx), len(holdout_idx)))

    @property
    def params(self) -> WorldParams:
        return self.config.world

    def weekday(self, t: int) -> int:
        return (self.start.weekday() + t) % 7

    def date(self, t: int) -> date:
        return self.start + timedelta(days=t)


@dataclass(frozen=True, eq=False)
class DayResult:
    """A recorded day, per arm (index 0 the agent's, 1 the holdout's): realised metric sums,
    their expected values (what the draws average to), sends and messageable users."""

    day: int
    mode: str
    sends: tuple[int, int]
    messageable: tuple[int, int]
    realised: tuple[np.ndarray, np.ndarray]
    expected: tuple[list[float], list[float]]

    def rows(self, run_id: int, world: World) -> list[dict[str, Any]]:
        """The day's rows of the run's daily aggregates."""
        return [{
            "run_id": run_id, "day": self.day, "arm": name, "mode": self.mode,
            "date": world.date(self.day).isoformat(), "users": int(world.arm_sizes[a]),
            "messageable": self.messageable[a], "sends": self.sends[a],
            **{m: float(self.realised[a][k]) for k, m in enumerate(METRICS)},
            **{f"e_{m}": float(self.expected[a][k]) for k, m in enumerate(METRICS)}}
            for a, name in enumerate(ARMS)]


# -- the world's day ---------------------------------------------------------------------------

def simulate_day(w: World, st: State, t: int, mode: str, record: bool = True
                 ) -> DayResult | None:
    """Deliver the messages due on day ``t``, draw opens, organic returns and the funnel, and
    move every user's state to the end of the day. ``record=False`` (the burn-in) moves the
    state only and returns None."""
    pop, p = w.pop, w.params
    rng = np.random.default_rng([w.config.seed, t + BURN_IN_DAYS, 3])
    n = pop.size
    due = np.flatnonzero(st.pend_day == t)
    deliver = due[st.pend_send[due] & (st.d_inactive[due] >= p.inactive_days)]
    st.pend_day[due] = NO_DAY
    p_open = np.zeros(len(deliver), np.float32)
    promoted = np.zeros(len(deliver), bool)
    table = st.atoms.arrays()
    for arm_holdout, wear_name in ((False, "wear_agent"), (True, "wear_bau")):
        pick = np.flatnonzero(pop.holdout[deliver] == arm_holdout)
        users = deliver[pick]
        if not len(users):
            continue
        atoms = st.pend_atoms[users]
        arm_size = max(int(w.arm_sizes[int(arm_holdout)]), 1)
        wear_counts = getattr(st, wear_name)
        worn = wear(wear_counts / arm_size, p.wearout_scale)
        sig = content_signature(atoms)
        repeat = (sig == st.last_sig[users]).astype(np.float32)
        p_open[pick] = open_probability(
            p, pop, users, atoms, table, st.pend_hour[users], st.pend_channel[users],
            st.fatigue, repeat, t, worn)
        if record and not arm_holdout:  # BAU's message reached its steady state long ago
            wear_counts += np.bincount(atoms[atoms >= 0], minlength=len(wear_counts))
        promoted[pick] = ((table["category"][np.maximum(atoms, 0)] == 1)
                          & (atoms >= 0)).any(axis=1)
        st.last_sig[users] = sig
    opened_d = rng.random(len(deliver), dtype=np.float32) < p_open
    # Organic return for everyone; a message nudges it a little (awareness).
    p_org = organic_return(p, pop, st.d_inactive, t, w.weekday(t), st.fatigue)
    p_org[deliver] = np.minimum(p_org[deliver] * (1 + p.awareness), 0.95)
    organic = rng.random(n, dtype=np.float32) < p_org
    opened = np.zeros(n, bool)
    opened[deliver[opened_d]] = True
    engaged = organic | opened
    # Funnel for engaged users only.
    eng_idx = np.flatnonzero(engaged)
    org_e = organic[eng_idx]
    intent_m = rng.random(len(eng_idx)) < np.where(org_e, p.intent_organic, p.intent_open)
    conv_m = intent_m & (rng.random(len(eng_idx)) < p.conversion_given_intent)
    prom = np.zeros(n, bool)
    prom[deliver] = promoted
    share = p.vertical_share + p.vertical_boost * (~org_e & prom[eng_idx])
    vert_m = conv_m & (rng.random(len(eng_idx)) < share)
    gmv = np.where(conv_m, rng.lognormal(np.log(p.gmv_mean) - p.gmv_sigma ** 2 / 2,
                                         p.gmv_sigma, len(eng_idx)), 0).astype(np.float32)
    metric = np.column_stack([opened[eng_idx], np.ones(len(eng_idx)), intent_m, conv_m,
                              vert_m, gmv]).astype(np.float32)
    # A user is reactivated by a real session: an organic return, or an open that went on
    # to show intent. A glance at a notification alone leaves them lapsed.
    reactivated = organic.copy()
    reactivated[eng_idx[intent_m]] = True
    if not record:
        advance(st, reactivated, eng_idx, deliver, t)
        return None
    phase = PHASES.index(mode)
    st.phase_metrics[eng_idx, phase] += metric
    st.week_metrics[eng_idx] += metric
    st.phase_days[phase] += 1
    st.week_days[phase] += 1
    hold_d = pop.holdout[deliver]
    expected = _expected(w, p_org, p_open, promoted, hold_d, deliver)
    hold_e = pop.holdout[eng_idx]
    realised = (metric[~hold_e].sum(axis=0), metric[hold_e].sum(axis=0))
    sends = (int((~hold_d).sum()), int(hold_d.sum()))
    if st.week:
        _observe(st, t, n, deliver, eng_idx, metric)
    advance(st, reactivated, eng_idx, deliver, t)
    messageable = st.d_inactive >= p.inactive_days
    m_hold = int(messageable[w.holdout_idx].sum())
    return DayResult(t, mode, sends, (int(messageable.sum()) - m_hold, m_hold), realised,
                     expected)


def _expected(w: World, p_org: np.ndarray, p_open: np.ndarray, promoted: np.ndarray,
              hold_d: np.ndarray, deliver: np.ndarray) -> tuple[list[float], list[float]]:
    """Expected values of the day's metrics (what the draws average to), summed per arm."""
    p = w.params
    q_open = ((1 - p_org[deliver]) * p_open).astype(np.float32)
    base = p_org.sum(dtype=np.float64), p_org[w.holdout_idx].sum(dtype=np.float64)
    extra = (q_open.sum(dtype=np.float64), q_open[hold_d].sum(dtype=np.float64))
    q_vert = q_open * (p.vertical_share + p.vertical_boost * promoted)
    extra_vert = (q_vert.sum(), q_vert[hold_d].sum())
    cv = p.conversion_given_intent
    out = []
    for a in (0, 1):  # agent = all - holdout
        org = base[0] - base[1] if a == 0 else base[1]
        ex = extra[0] - extra[1] if a == 0 else extra[1]
        exv = extra_vert[0] - extra_vert[1] if a == 0 else extra_vert[1]
        po = p_open.sum() - p_open[hold_d].sum() if a == 0 else p_open[hold_d].sum()
        intent = org * p.intent_organic + ex * p.intent_open
        out.append([po, org + ex, intent, intent * cv,
                    org * p.intent_organic * cv * p.vertical_share + exv * p.intent_open * cv,
                    intent * cv * p.gmv_mean])
    return out[0], out[1]


def _observe(st: State, t: int, n: int, deliver: np.ndarray, eng_idx: np.ndarray,
             metric: np.ndarray) -> None:
    """The agent's observations: outcomes on the planned day of each of its decisions."""
    rows = np.flatnonzero(st.week["planned_day"] == t)
    u = st.week["users"][rows]
    sent_u = np.zeros(n, bool)
    sent_u[deliver] = True
    out = np.zeros((len(rows), len(EVENTS)), np.float32)
    pos = np.full(n, -1, np.int64)
    pos[eng_idx] = np.arange(len(eng_idx))
    k = pos[u]
    hit = k >= 0
    out[hit] = metric[k[hit]][:, [0, 1, 2, 3, 5]]
    st.week["outcome"][rows] = out
    st.week["delivered"][rows] = sent_u[u]


def advance(st: State, reactivated: np.ndarray, eng_idx: np.ndarray, deliver: np.ndarray,
            t: int) -> None:
    """The users' state at the end of day ``t``."""
    st.d_inactive = np.where(reactivated, 0, np.minimum(st.d_inactive.astype(np.int32) + 1,
                                                        30000)).astype(np.int16)
    st.fatigue *= np.float32(np.exp(-1 / 7))
    st.fatigue[deliver] += 1
    st.prev_send[deliver] = st.last_send[deliver]
    st.last_send[deliver] = t
    st.eng90 *= np.float32(1 - 1 / 90)
    st.eng90[eng_idx] += 1


def burn_in(w: World, st: State) -> None:
    """Before the trial, everyone gets business as usual for ``BURN_IN_DAYS``, so the trial
    starts from the programme's steady state (who is inactive, fatigue) rather than from
    everyone inactive at once."""
    for t in range(-BURN_IN_DAYS, 0):
        if t % 7 == 0:
            schedule_bau(w, st, t, everyone=True)
        simulate_day(w, st, t, "active", record=False)
    st.pend_day[:] = NO_DAY


def schedule_bau(w: World, st: State, t: int, everyone: bool = False) -> None:
    """Business as usual: one fixed push, on a fixed weekday at a fixed hour, to the holdout
    users who are messageable and consented to push."""
    pop, p = w.pop, w.params
    arm = np.ones(pop.size, bool) if everyone else pop.holdout
    users = np.flatnonzero(arm & (st.d_inactive >= p.inactive_days)
                           & (pop.consent & 1).astype(bool))
    st.pend_day[users] = t + (w.config.bau_weekday - w.weekday(t)) % 7
    st.pend_hour[users] = w.config.bau_hour
    st.pend_channel[users] = 0  # push
    st.pend_atoms[users] = np.array(st.bau_atoms, np.int32)
    st.pend_row[users] = -1
    st.pend_send[users] = True


# -- the agent's week --------------------------------------------------------------------------

def codes(w: World, st: State, users: np.ndarray) -> dict[str, np.ndarray]:
    """The agent's context codes of ``users`` today."""
    pop = w.pop
    return {
        "segment": pop.segment[users].astype(np.int16),
        "inactivity": INACTIVITY.codes(st.d_inactive[users]),
        "engagement": ENGAGEMENT.codes(st.eng90[users]),
        "exposures": EXPOSURES.codes(sends_7d(st, users)),
        "daypart": DAYPART_OF_HOUR[pop.habitual_hour[users]].astype(np.int16),
        "platform": pop.platform[users].astype(np.int16),
        "consent": pop.consent[users].astype(np.int16),
    }


def sends_7d(st: State, users: np.ndarray) -> np.ndarray:
    t = st.day
    return ((t - st.last_send[users] < 7).astype(np.int16)
            + (t - st.prev_send[users] < 7).astype(np.int16))


def world_atoms(agent: Agent, st: State, out: dict[str, np.ndarray]) -> np.ndarray:
    """The world's atom indices of each decision, ``users x slots`` (-1: the chosen
    channel's template does not use the slot)."""
    slots = agent.space.slot_names
    channels = [o.value for o in agent.space.dimension("channel").options]
    ch = out["choice_channel"].astype(np.int64)
    atoms = np.full((len(ch), len(slots)), -1, np.int32)
    for j, s in enumerate(slots):
        dim = agent.space.dimension(f"slot:{s}")
        to_world = np.array([st.atoms.index[o.value] for o in dim.options], np.int32)
        uses = np.array([s in agent.space.template_for(c).slots for c in channels])
        atoms[:, j] = np.where(uses[ch], to_world[out[f"choice_slot:{s}"]], -1)
    return atoms


def decide_week(w: World, st: State, agent: Agent, t: int) -> np.ndarray:
    """The agent decides the week for every messageable user of its arm: the messages are
    scheduled in the state and the decisions kept in ``st.week`` until their outcomes are
    in. Returns the world's atoms of each decision (for the decision log)."""
    users = np.flatnonzero(~w.pop.holdout & (st.d_inactive >= w.params.inactive_days))
    out = agent.decide_arrays(codes(w, st, users), np.zeros(len(users), bool),
                              sends_7d(st, users), seed=w.config.seed * 100_003 + t)
    timing = out["choice_timing"].astype(np.int16)
    planned = t + (timing // 24 - w.weekday(t)) % 7
    atoms = world_atoms(agent, st, out)
    st.pend_day[users] = planned
    st.pend_hour[users] = (timing % 24).astype(np.int8)
    st.pend_channel[users] = out["choice_channel"].astype(np.int8)
    st.pend_atoms[users] = atoms
    st.pend_row[users] = np.arange(len(users), dtype=np.int32)
    st.pend_send[users] = out["send"]
    st.week = {k: np.asarray(v) for k, v in out.items()}
    st.week["users"] = users.astype(np.int64)
    st.week["planned_day"] = planned.astype(np.int16)
    st.week["outcome"] = np.zeros((len(users), len(EVENTS)), np.float32)
    st.week["delivered"] = np.zeros(len(users), bool)
    return atoms


def learn_week(st: State, agent: Agent) -> None:
    """The agent learns from the week's outcomes and the week's decisions are let go."""
    wk = st.week
    # Users who came back before their send day were not messaged: not an observation.
    keep = wk["delivered"] | ~wk["send"]
    decisions = {k: v[keep] for k, v in wk.items() if k not in ("outcome", "users")}
    decisions["send"] = decisions["send"] & decisions["delivered"]
    decisions["holdout"] = np.zeros(int(keep.sum()), bool)
    outcomes = pd.DataFrame(wk["outcome"][keep], columns=list(EVENTS))
    if len(outcomes):
        agent.learn(decisions, outcomes, same_space=True)
    st.week = {}


def pilot(w: World, st: State, agent: Agent) -> None:
    """Before the trial, the agent learns from a pilot: a few rounds of messages to a sample
    of its arm, whose outcomes do not count in the trial (as a deployment would start from a
    short pilot rather than from nothing)."""
    pop, p = w.pop, w.params
    rng = np.random.default_rng([w.config.seed, 5])
    arm = np.flatnonzero(~pop.holdout)
    table = st.atoms.arrays()
    for r in range(w.config.pilot_rounds):
        users = np.sort(rng.choice(arm, max(len(arm) // 4, 1), replace=False))
        out = agent.decide_arrays(codes(w, st, users), np.zeros(len(users), bool),
                                  np.zeros(len(users), np.int16),
                                  seed=w.config.seed * 100_003 + 90_000 + r)
        p_open = open_probability(p, pop, users, world_atoms(agent, st, out), table,
                                  out["choice_timing"] % 24,
                                  out["choice_channel"].astype(np.int64),
                                  np.zeros(pop.size, np.float32),
                                  np.zeros(len(users), np.float32), -30,
                                  np.zeros(len(st.atoms.ids)))
        opened = (rng.random(len(users)) < p_open) & out["send"]
        outcomes = pd.DataFrame({"direct_open": opened.astype(float)})
        out["holdout"] = np.zeros(len(users), bool)
        agent.learn(out, outcomes, same_space=True)


# -- what a week leaves for the pages ----------------------------------------------------------

def week_moment_rows(w: World, st: State, run_id: int, week: int) -> list[dict[str, Any]]:
    """Per-user moments (n, sum, sum of squares) of the week's metrics per arm, for weekly
    lift with intervals; the week's counters start again at zero. The week's mode is that of
    most of its days: it is written when the next week starts, by which time the mode may
    already have switched."""
    rows = []
    mode = week_mode([p for p, n in zip(PHASES, st.week_days) for _ in range(int(n))]
                     ) if st.week_days.any() else st.mode
    for holdout, name in ((False, "agent"), (True, "holdout")):
        m = st.week_metrics[w.pop.holdout == holdout].astype(np.float64)
        for k, metric in enumerate(METRICS):
            rows.append({"run_id": run_id, "week": week, "arm": name, "mode": mode,
                         "metric": metric, "n": len(m), "sum": float(m[:, k].sum()),
                         "sumsq": float((m[:, k] ** 2).sum())})
    st.week_metrics[:] = 0
    st.week_days[:] = 0
    return rows


def decision_log(st: State, atoms: np.ndarray) -> dict[str, np.ndarray]:
    """The week's decisions to send, compactly: user, day, timing, channel, library atom ids,
    propensity and guardrail flags."""
    wk = st.week
    sent = np.flatnonzero(wk["send"])
    ids = np.array(st.atoms.ids, np.int32)
    return {"user": wk["users"][sent].astype(np.int32), "planned_day": wk["planned_day"][sent],
            "timing": wk["choice_timing"][sent],
            "channel": wk["choice_channel"][sent].astype(np.int8),
            "atoms": np.where(atoms[sent] >= 0, ids[np.maximum(atoms[sent], 0)], -1),
            "propensity": wk["propensity"][sent].astype(np.float32),
            "guardrails": wk["guardrails"][sent]}
