"""Incremental rewards learnt batch by batch against the holdout users of the same batch.

Why here: :mod:`workbench.agent.ingest` decides *when* decisions are learnt; this module says
how a batch's decisions get their baseline (see ``AgentConfig(incremental=True)``).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from store import Store
from workbench.agent.mixes import Mixes
from workbench.agent.policy import Agent
from workbench.agent.state import batches


def batch_of(decision_ids: pd.Series) -> pd.Series:
    """The batch id of each decision id (``<batch>-<user>``, see ``state.decision_ids``)."""
    return decision_ids.astype(str).str.split("-", n=1).str[0].astype(np.int64)


def in_closed_batches(store: Store, ids: list[str], closed: date, send_days: int) -> list[str]:
    """The decisions of ``ids`` whose batch's last possible send is on or before ``closed``."""
    start = {int(b["id"]): date.fromisoformat(b["start_day"][:10]) for b in batches(store)}
    keep = [start[b] + timedelta(days=send_days) <= closed
            for b in batch_of(pd.Series(ids)).tolist()]
    return [i for i, k in zip(ids, keep) if k]


def learn_incremental(agent: Agent, frame: pd.DataFrame, outcomes: pd.DataFrame,
                      mixes: Mixes | None = None) -> np.ndarray:
    """Learn batch by batch, so that each decision's baseline is the holdout users of its own
    segment and batch; returns the rewards (NaN for decisions left waiting for a baseline).

    Holdout rows added to a learn call only give the baseline: the agent learns from no
    holdout decision."""
    r = np.full(len(frame), np.nan)
    hold = (frame["arm"].astype(str) == "holdout").to_numpy()
    orphans = []
    for _, idx in frame.groupby(batch_of(frame["decision_id"]).to_numpy()).indices.items():
        if hold[idx].any():
            agent.learn(frame.iloc[idx], outcomes.iloc[idx], mixes=mixes)
            r[idx] = agent.rewards(frame.iloc[idx], outcomes.iloc[idx])
        else:
            orphans.append(idx)
    if orphans and hold.any():  # no holdout user in the batch: the others of this ingest
        idx = np.concatenate(orphans)
        rows = np.concatenate([idx, np.flatnonzero(hold)])
        sub, sub_out = frame.iloc[rows], outcomes.iloc[rows]
        agent.learn(sub, sub_out, mixes=mixes)
        r[idx] = agent.rewards(sub, sub_out)[:len(idx)]
    return r
