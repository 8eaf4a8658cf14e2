"""The agent's life in the store: its configuration, posteriors, decision log and snapshots.

Posteriors are saved whole after every learning step (a few hundred kB), so a restarted
workbench decides exactly as the one that stopped. Every batch of decisions is logged with its
propensities and contexts: that log is what outcome events are matched against, and what the
agent learns from when their attribution window closes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from store import Store, busy, now
from store import agent as agent_store
from store import decisions as decisions_store
from workbench.agent.actions import ActionSpace
from workbench.agent.logrows import log_rows
from workbench.agent.mixes import CTX_VARS, Mixes, batch_ids, batch_mixes
from workbench.agent.models import option_moments
from workbench.agent.policy import Agent, AgentConfig
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import EVENTS

CONFIG_KEY = "agent_config"
SNAPSHOT_DRAWS = 500  # P(best) for display: +-0.02 is plenty


def segments_of(store: Store) -> list[str]:
    return [s["id"] for s in store.segments(include_archived=True)]


def load_config(store: Store) -> AgentConfig:
    value = agent_store.setting(store, CONFIG_KEY)
    return AgentConfig.from_dict(json.loads(value)) if value is not None else AgentConfig()


def save_config(store: Store, config: AgentConfig, actor: str) -> None:
    with store.transaction():
        agent_store.save_setting(store, CONFIG_KEY, json.dumps(config.to_dict()), actor)
        store.audit(actor, "configure", "agent", None, config.to_dict())


def load_agent(store: Store, config: AgentConfig | None = None,
               space: ActionSpace | None = None) -> Agent:
    """The agent over the current library, with its saved posteriors (new atoms join at
    their prior; archived atoms are no longer offered)."""
    models = {name: GaussianPosterior.from_bytes(state)
              for name, state in agent_store.model_states(store).items()}
    return Agent(space or ActionSpace.from_library(store), segments_of(store),
                 config or load_config(store), models)


def current_agent(store: Store, agent: Agent) -> Agent:
    """``agent``, or, when another process has saved posteriors since it was loaded, the agent
    as stored now (same configuration and library): a job that learns on the older posteriors
    and saves them would undo what the other one learnt."""
    stored = agent_store.model_states(store)
    if all(stored.get(k, b) == b for k, b in ((k, m.to_bytes())
                                              for k, m in agent.models.items())):
        return agent
    return load_agent(store, agent.config, agent.space)


def save_models(store: Store, agent: Agent) -> None:
    at = now()
    agent_store.save_models(
        store, [{"dimension": name, "state": m.to_bytes(), "n": m.n, "updated_at": at}
                for name, m in agent.models.items()])


def decision_ids(batch_id: int, user_ids: Sequence[Any]) -> list[str]:
    return [f"{batch_id}-{u}" for u in user_ids]


def record_batch(store: Store, agent: Agent, decisions: pd.DataFrame, *, actor: str,
                 source: str, seed: int, start: date,
                 snapshots: Callable[[], list[dict[str, Any]]] | None = None,
                 lock: Callable[[], AbstractContextManager[Any]] = nullcontext
                 ) -> tuple[int, pd.DataFrame]:
    """Log a batch (rendered with its texts) and return its id and the rendered frame with
    a ``decision_id`` column, ready to export to a sending platform.

    ``snapshots``, when given, computes snapshot rows that are written in the batch's own
    transaction: a batch and its snapshot land together or not at all. ``lock`` (a context
    manager factory) is held from the snapshot's read to the write only: rendering and the
    log rows (seconds for a large batch) come before it, so a job waiting on the same lock
    waits for the write, not for them."""
    rendered = agent.render(decisions)
    rows = log_rows(agent.space, decisions)  # seconds for a large batch: before the locks
    with lock():
        extra = snapshots() if snapshots is not None else []  # before the write lock
        with store.transaction():
            batch_id = decisions_store.insert_batch(
                store, actor=actor, source=source, seed=seed, start_day=start.isoformat(),
                n_users=len(decisions), n_sent=int(decisions["send"].sum()))
            decisions_store.insert_decision_rows(store, rows.rows(batch_id))
            if extra:
                agent_store.save_snapshots(store, extra)
            store.audit(actor, "decide", "batch", batch_id,
                        {"users": len(decisions), "sent": int(decisions["send"].sum())})
    rendered.insert(0, "decision_id", decision_ids(batch_id, rendered["user_id"]))
    return batch_id, rendered


def decide_batch(store: Store, agent: Agent, users: pd.DataFrame, *, actor: str, source: str,
                 seed: int | None, start: date) -> tuple[int, pd.DataFrame]:
    """Decide for ``users``, log the batch and snapshot the agent's beliefs: what the CLI and
    the Posteriors page both do. Returns the batch id and the rendered batch.

    Deciding learns nothing, so the posteriors are not saved: ``agent`` was loaded before
    the batch was decided (seconds, for a large one), and an ingest may have learnt and saved
    newer ones meanwhile; saving ``agent``'s would undo that, while its decisions stay marked
    learnt. The snapshot is of the posteriors as stored now, taken under the ingest's lock,
    and is written in the batch's transaction: a busy database leaves neither, never a batch
    without its snapshot."""
    decisions = agent.decide(users, seed=seed, start=start)
    # The seed actually used (fresh when ``seed`` is None), so the batch can be replayed;
    # the learning jobs' lock: no ingest saves between the snapshot's read and the write.
    batch_id, rendered = record_batch(
        store, agent, decisions, actor=actor, source=source,
        seed=decisions.attrs["seed"], start=start,
        snapshots=lambda: snapshot_rows(current_agent(store, agent), start, decisions),
        lock=lambda: busy.exclusive(store, "learn"))
    rendered.attrs["seed"] = decisions.attrs["seed"]
    return batch_id, rendered


def decisions_frame(store: Store, agent: Agent, *, ids: Iterable[str] | None = None,
                    batch_id: int | None = None) -> pd.DataFrame:
    """Logged decisions in the shape :meth:`Agent.learn` takes: those with the given ``ids``,
    of one batch, or, with neither, all of them (see :func:`store.decisions.decisions`)."""
    rows = decisions_store.decisions(store, ids=ids, batch_id=batch_id)
    slots = agent.space.slot_names
    out: dict[str, list[Any]] = {k: [] for k in (
        "decision_id", "user_id", "arm", "send", "channel", "weekday", "hour", "choice_send",
        "guardrails", "learned", "reward", *[f"ctx_{v}" for v in CTX_VARS],
        *[f"atom_{s}" for s in slots])}
    for r in rows:
        ctx, atoms = json.loads(r["ctx"]), json.loads(r["atoms"])
        out["decision_id"].append(r["id"])
        for k in ("user_id", "arm", "channel", "guardrails", "learned", "reward"):
            out[k].append(r[k])
        out["send"].append(bool(r["send"]))
        out["weekday"].append(-1 if r["weekday"] is None else r["weekday"])
        out["hour"].append(-1 if r["hour"] is None else r["hour"])
        out["choice_send"].append(r["policy_send"])
        for v in CTX_VARS:
            out[f"ctx_{v}"].append(ctx[v])
        for s in slots:
            out[f"atom_{s}"].append(atoms.get(s, -1))
    frame = pd.DataFrame(out)
    for col in ("guardrails", "choice_send", *[f"ctx_{v}" for v in CTX_VARS]):
        frame[col] = frame[col].astype(np.int64)
    return frame


def stored_outcomes(store: Store, frame: pd.DataFrame, new: Iterable[dict] = ()
                    ) -> pd.DataFrame:
    """Event totals per decision of ``frame`` (rows aligned), from the stored events plus
    ``new`` ones not stored yet (``decision_id``, ``event``, ``value``)."""
    ids = frame["decision_id"].tolist()
    events: dict[str, dict[str, float]] = {}
    for r in decisions_store.event_totals(store, ids):
        events.setdefault(r["decision_id"], {})[r["event"]] = r["v"]
    wanted = set(ids)
    for e in new:
        if e["decision_id"] in wanted:
            row = events.setdefault(e["decision_id"], {})
            row[e["event"]] = row.get(e["event"], 0.0) + e["value"]
    return pd.DataFrame({e: [events.get(d, {}).get(e, 0.0) for d in ids] for e in EVENTS})


def snapshot_rows(agent: Agent, day: date, decisions: pd.DataFrame | None = None
                  ) -> list[dict[str, Any]]:
    """Each dimension's beliefs on ``day`` per segment (at the segment's most common context
    in ``decisions``) and the day's traffic shares, as snapshot rows, computed without the
    store: the computation takes seconds, so a writer computes them before it takes the write
    lock and writes them in its own transaction (:func:`record_batch` with ``snapshots``)."""
    rows = []
    segs = agent.segments
    for d in agent.space.dimensions:
        pol = agent.policies[d.name]
        contexts, share = [], {}
        for s_idx, seg in enumerate(segs):
            sub = None
            values: dict[str, int] = {"segment": s_idx}
            if decisions is not None and len(decisions):
                sub = decisions[decisions["ctx_segment"] == s_idx]
                values = typical_context(sub, s_idx)
            contexts.append(agent.context_code(d.kind, values))
            share[seg] = _shares(agent, d.name, sub)
        P, _ = pol.prob_best(contexts, SNAPSHOT_DRAWS, np.random.default_rng(day.toordinal()))
        mean, sd = option_moments(pol, contexts)
        K = len(d.options)
        mean, sd = mean.reshape(len(contexts), K), sd.reshape(len(contexts), K)
        for i, seg in enumerate(segs):
            if d.name == "timing":  # by hour of day: 24 rows instead of 168
                for h in range(24):
                    cols = [w * 24 + h for w in range(7)]
                    rows.append(_snap_row(day, d.name, seg, str(h), f"{h:02d}:00",
                                          mean[i, cols].mean(), sd[i, cols].mean(),
                                          P[i, cols].sum(), share[seg].get(str(h))))
                continue
            for k, o in enumerate(d.options):
                rows.append(_snap_row(day, d.name, seg, str(o.value), o.label, mean[i, k],
                                      sd[i, k], P[i, k], share[seg].get(str(o.value))))
    return rows


def _snap_row(day: date, dim: str, seg: str, option: str, label: str, mean: float, sd: float,
              p_best: float, share: float | None) -> dict[str, Any]:
    return {"day": day.isoformat(), "dimension": dim, "segment": seg, "option": option,
            "label": label, "mean": float(mean), "sd": float(sd), "p_best": float(p_best),
            "share": None if share is None else float(share)}


def _shares(agent: Agent, dim: str, sub: pd.DataFrame | None) -> dict[str, float]:
    """Share of the segment's decisions that chose each option of ``dim``."""
    if sub is None or not len(sub):
        return {}
    is_agent = np.asarray(sub["arm"]).astype(str) == "agent"
    sent = np.asarray(sub["send"], bool)
    if dim == "send":
        if not is_agent.any():
            return {}
        rate = float(sent[is_agent].mean())
        return {"True": rate, "False": 1 - rate}
    rows = is_agent & sent
    if not rows.any():
        return {}
    if dim == "timing":
        values = np.asarray(sub["hour"])[rows].astype(int).astype(str)
    elif dim == "channel":
        values = np.asarray(sub["channel"])[rows].astype(str)
    else:
        values = np.asarray(sub[dim.replace("slot:", "atom_")])[rows].astype(str)
    keys, counts = np.unique(values, return_counts=True)
    return {str(k): float(c) / rows.sum() for k, c in zip(keys, counts)}


def snapshots(store: Store, dimension: str, segment: str) -> pd.DataFrame:
    return pd.DataFrame(agent_store.snapshots(store, dimension, segment))


def latest_batch(store: Store, agent: Agent) -> pd.DataFrame:
    """The decisions of the most recent batch (empty when none was made yet)."""
    batch_id = decisions_store.latest_batch_id(store)
    if batch_id is None:
        return decisions_frame(store, agent, ids=[])
    return decisions_frame(store, agent, batch_id=batch_id)


def typical_context(decisions: pd.DataFrame, segment_index: int) -> dict[str, int]:
    """The most common bucket of every context variable among a segment's users."""
    values = {"segment": segment_index}
    if not len(decisions):
        return values
    mask = np.asarray(decisions["ctx_segment"]) == segment_index
    if not mask.any():
        return values
    for var in CTX_VARS:
        if var != "segment":
            values[var] = int(np.bincount(np.asarray(decisions[f"ctx_{var}"])[mask]).argmax())
    return values


def batches(store: Store) -> list[dict[str, Any]]:
    return decisions_store.batches(store)


def logged_mixes(store: Store, agent: Agent, frame: pd.DataFrame) -> Mixes:
    """The whole mix of every batch ``frame``'s decisions belong to (see
    :mod:`workbench.agent.mixes`), from the decision log: a learn call of part of a batch
    centres its rows on it."""
    out: Mixes = {}
    for b in sorted(set(batch_ids(frame).tolist())):
        for name, cells in batch_mixes(agent, decisions_frame(store, agent, batch_id=b)
                                       ).items():
            out.setdefault(name, {}).update(cells)
    return out
