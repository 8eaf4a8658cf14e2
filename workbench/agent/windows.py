"""Learning from partly elapsed attribution windows (the ``workbench ingest`` path).

Why: a decision's reward is the value of its events within the attribution window (3 days by
default). Waiting for the whole window before learning anything from a send cost about 11
regret per 1,000 decisions in a test harness: the agent keeps serving what it would already
have dropped. So a sent decision is learnt as soon as part of its window has elapsed, from its
events so far, with the weight of the share of its reward expected by then (the ``exposure``
of :meth:`workbench.agent.policy.Agent.learn`: the events so far are an unbiased estimate of
that share); each later ingest raises the weight as more of the window elapses, and events
that arrive are added as late rewards, so that when the window closes the data's statistics
are those of a single learn of the whole window (the learnt noise variance is not, see
:meth:`workbench.agent.policy.Agent.learn`).

**The share expected by a given time** comes from how rewards arrived in the past: the delays
from send to event of the latest events of wholly learnt decisions, each weighted by its reward
(event weight times value), once :data:`MIN_EVENTS` of them exist; before that the reward is
taken to arrive evenly over the window. A window counts as elapsed up to the end of the
ingest's ``as_of`` day (never past the wall clock): ingest event files as they come.

Incremental rewards (measured against the holdout users of the same batch) wait for whole
windows: the holdout's baseline is only known once the batch's windows have closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from store import Store
from store import decisions as decisions_store
from workbench.agent.policy import Agent
from workbench.agent.reward import EVENTS
from workbench.agent.state import decisions_frame, logged_mixes, stored_outcomes

#: Events of wholly learnt decisions needed before their delays replace the even arrival.
MIN_EVENTS = 200
#: The largest share of a window counted before it has closed.
OPEN_SHARE_MAX = 0.99


def exposure_curve(store: Store, agent: Agent) -> Callable[[np.ndarray], np.ndarray]:
    """The share of a window's reward expected by ``hours`` after the send."""
    window = max(agent.config.attribution_days * 24.0, 1.0)
    rows = decisions_store.event_delays(store)
    weights = dict(zip(EVENTS, agent.config.reward.as_array()))
    if len(rows) >= MIN_EVENTS:
        hours = np.array([max(float(r["hours"] or 0.0), 0.0) for r in rows])
        w = np.array([float(r["value"]) * weights.get(r["event"], 0.0) for r in rows])
        keep = (hours <= window) & (w > 0)
        if keep.sum() >= MIN_EVENTS:
            order = np.argsort(hours[keep])
            h, cw = hours[keep][order], np.cumsum(w[keep][order])
            cw /= cw[-1]
            return lambda t: np.interp(np.asarray(t, float), h, cw, left=0.0, right=1.0)
    return lambda t: np.clip(np.asarray(t, float) / window, 0.0, 1.0)


@dataclass(frozen=True)
class PartialLearning:
    """What learning from partly elapsed windows produced, to write in one transaction."""

    first: list[tuple[float, float, str]] = field(default_factory=list)
    grown: list[tuple[float, str]] = field(default_factory=list)

    def write(self, store: Store) -> None:
        if self.first or self.grown:
            decisions_store.mark_partly_learned(store, self.first, self.grown)

    @property
    def count(self) -> int:
        return len(self.first) + len(self.grown)


def learn_partial(store: Store, agent: Agent, as_of: date, wall: datetime,
                  new: Sequence[dict] = ()) -> PartialLearning:
    """Learn the sent decisions whose window is open (first from their events so far, then a
    growing weight), and complete those learnt in part whose window has closed; ``new`` are
    the events of this ingest not stored yet. Returns what to write; writes nothing."""
    if agent.config.incremental or agent.config.attribution_days <= 0:
        return PartialLearning()
    until = min(datetime.combine(as_of, time.max), wall)
    cutoff = (as_of - timedelta(days=agent.config.attribution_days)).isoformat()
    rows = decisions_store.open_sent(store, cutoff, until.isoformat(timespec="seconds"))
    if not rows:
        return PartialLearning()
    curve = exposure_curve(store, agent)
    ids = [r["id"] for r in rows]
    sent = pd.to_datetime(pd.Series([r["send_at"] for r in rows]), utc=True, format="ISO8601")
    elapsed = (pd.Timestamp(until, tz="UTC") - sent).dt.total_seconds().to_numpy() / 3600
    closed = np.array([r["send_at"][:10] <= cutoff for r in rows])
    share = np.where(closed, 1.0, np.minimum(curve(elapsed), OPEN_SHARE_MAX))
    before = np.array([float(r["learned"]) for r in rows])
    first = (before == 0) & (share > 0)
    grow = (before > 0) & (share > before)
    out = PartialLearning()
    if first.any():
        out = PartialLearning(first=_learn_first(store, agent, ids, first, share, new))
    if grow.any():
        pick = [ids[i] for i in np.flatnonzero(grow)]
        frame = decisions_frame(store, agent, ids=pick)
        pos = {d: i for i, d in enumerate(ids)}
        idx = np.array([pos[d] for d in frame["decision_id"]])
        zeros = pd.DataFrame(0.0, index=range(len(frame)), columns=list(EVENTS))
        agent.learn(frame, zeros, late=True, exposure=share[idx], counted=before[idx],
                    mixes=logged_mixes(store, agent, frame))
        out = PartialLearning(out.first, list(zip(share[idx].tolist(), frame["decision_id"])))
    return out


def _learn_first(store: Store, agent: Agent, ids: list[str], first: np.ndarray,
                 share: np.ndarray, new: Sequence[dict]) -> list[tuple[float, float, str]]:
    pick = [ids[i] for i in np.flatnonzero(first)]
    frame = decisions_frame(store, agent, ids=pick)
    outcomes = stored_outcomes(store, frame, new)
    pos = {d: i for i, d in enumerate(ids)}
    exp = share[[pos[d] for d in frame["decision_id"]]]
    agent.learn(frame, outcomes, exposure=exp, mixes=logged_mixes(store, agent, frame))
    r = np.asarray(agent.rewards(frame, outcomes), float)
    return list(zip(exp.tolist(), r.tolist(), frame["decision_id"]))
