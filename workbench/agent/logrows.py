"""A batch's rows of SQLite's decision log, computed before the write lock is taken.

:func:`workbench.agent.state.record_batch` builds the rows of ``decisions`` one Python dict at
a time from the rendered batch, inside its transaction: 270k decisions kept the write lock for
about 30 s, past every other writer's patience (a trial died of "database busy"). Here the
same values are computed column by column with no store at hand (about a second), so that the
transaction only inserts them (:func:`store.decisions.insert_decision_rows`); the batch's id,
which names every decision, is joined in last (:meth:`LogRows.rows`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.agent.actions import ActionSpace
from workbench.agent.mixes import CTX_VARS

__all__ = ["LogRows", "log_rows"]


@dataclass
class LogRows:
    """The decision log's columns of one batch, all but ``id`` and ``batch_id``, in the order
    of :data:`store.decisions.DECISION_COLUMNS` from ``user_id`` on."""

    user_id: list[str]
    columns: list[list]
    order: list[int] | None = None

    def __len__(self) -> int:
        return len(self.user_id)

    def rows(self, batch_id: int) -> list[tuple]:
        """Rows of :data:`store.decisions.DECISION_COLUMNS` for batch ``batch_id``, in the
        order of their ids: inserted in that order, the id index grows at one end instead of
        everywhere at once (a shorter write lock)."""
        if self.order is None:
            self.order = sorted(range(len(self.user_id)), key=self.user_id.__getitem__)
        table = list(zip(self.user_id, *self.columns))
        return [(f"{batch_id}-{table[i][0]}", batch_id, *table[i]) for i in self.order]


def log_rows(space: ActionSpace, decisions: pd.DataFrame) -> LogRows:
    """What :func:`workbench.agent.state.record_batch` stores for ``decisions`` (as
    :meth:`workbench.agent.policy.Agent.decide` returns them): the send fields of a decision
    that sent nothing are ``None``, ``atoms`` the ids of the atoms its channel's template
    shows, ``ctx`` and ``p`` JSON."""
    n = len(decisions)
    sent = decisions["send"].to_numpy(bool)
    channel = decisions["channel"].astype(object).to_numpy()

    def when_sent(values) -> list:
        return [v if s else None for v, s in zip(values, sent.tolist())]

    template_id = np.full(n, None, object)
    atoms = np.full(n, "{}", object)
    for name in pd.unique(channel[sent]):
        rows = sent & (channel == name)
        tpl = space.template_for(name)
        template_id[rows] = space.templates[name]["id"]
        ids = [[f'"{s}": {space.atoms[int(a)]["id"]}' for a in
                decisions[f"atom_{s}"].to_numpy()[rows].tolist()] for s in tpl.slots]
        atoms[rows] = ["{" + ", ".join(parts) + "}" for parts in zip(*ids)] if ids else "{}"
    ctx_format = "{{" + ", ".join(f'"{v}": {{}}' for v in CTX_VARS) + "}}"
    ctx = [ctx_format.format(*row) for row in zip(
        *(decisions[f"ctx_{v}"].to_numpy().astype(np.int64).tolist() for v in CTX_VARS))]
    p_cols = [c for c in decisions.columns if c.startswith("p_")]
    p_values = [[None if x != x else _number(x) for x in
                 decisions[c].to_numpy().astype(np.float64).tolist()] for c in p_cols]
    keys = [json.dumps(c[2:]) for c in p_cols]
    p = ["{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, row) if v is not None) + "}"
         for row in zip(*p_values)] if p_cols else ["{}"] * n
    propensity = [None if x != x else x for x in
                  decisions["propensity"].to_numpy().astype(np.float64).tolist()]
    send_at = decisions["send_at"].astype(str).tolist()
    return LogRows(
        user_id=decisions["user_id"].astype(str).tolist(),
        columns=[decisions["arm"].astype(str).tolist(), sent.astype(int).tolist(),
                 when_sent(channel.astype(str).tolist()),
                 when_sent(decisions["weekday"].to_numpy().astype(np.int64).tolist()),
                 when_sent(decisions["hour"].to_numpy().astype(np.int64).tolist()),
                 when_sent(send_at), template_id.tolist(), atoms.tolist(),
                 decisions["choice_send"].to_numpy().astype(np.int64).tolist(), ctx,
                 propensity, p, decisions["guardrails"].to_numpy().astype(np.int64).tolist()])


def _number(x: float) -> str:
    """``x`` as :func:`json.dumps` writes it."""
    return repr(x) if math.isfinite(x) else json.dumps(x)
