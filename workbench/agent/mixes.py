"""Which rows teach each model, and each batch's mix of options per context.

Why: the models centre every row on the mix of its own batch in its context (see
:meth:`workbench.agent.models.DimensionPolicy.learn`). A learn call may hold only part of a
batch (the decisions whose window opened since the last ingest, late rewards), so the mix must
be the whole batch's: callers that learn in parts compute it with :func:`batch_mixes` on the
whole batch and pass it to :meth:`workbench.agent.policy.Agent.learn`; a call that holds whole
batches (the simulated world, the benchmark, a day's log) needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.agent import batches
from workbench.agent.guardrails import GUARDRAILS

if TYPE_CHECKING:
    from workbench.agent.policy import Agent

#: The user-state variables logged with each decision (``ctx_<variable>`` columns).
CTX_VARS = ("segment", "inactivity", "engagement", "exposures", "daypart", "platform", "consent")
#: Per model name: (batch id, context code) -> decisions per option.
Mixes = dict[str, dict[tuple[int, int], np.ndarray]]


@dataclass(frozen=True)
class Teaching:
    """The rows that teach one model: a mask over the call's rows, their context codes and
    chosen option indices (for the rows of the mask)."""

    ok: np.ndarray
    ctx: np.ndarray
    choice: np.ndarray


def column(decisions: pd.DataFrame | Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return np.asarray(decisions[name])


def agent_rows(decisions: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
    if "holdout" in decisions:
        return ~np.asarray(decisions["holdout"], bool)
    return np.asarray(decisions["arm"]).astype(str) == "agent"


def batch_ids(decisions: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
    """Each row's batch id: the prefix of its ``decision_id`` (``<batch>-<user>``), or 0 for
    rows of a batch not logged yet (a decide frame, the simulated world's arrays)."""
    n = len(column(decisions, "guardrails"))
    if "decision_id" not in decisions:
        return np.zeros(n, np.int64)
    ids = pd.Series(np.asarray(decisions["decision_id"])).astype(str)
    return pd.to_numeric(ids.str.split("-", n=1).str[0], errors="coerce").fillna(0
                                                                             ).to_numpy(np.int64)


def teaching_rows(d, agent: np.ndarray, sent: np.ndarray, forced: np.ndarray,
                  override: np.ndarray) -> np.ndarray:
    """The decisions that teach dimension ``d`` about the policy's own choice: send-or-skip
    learns from every agent decision a guardrail did not override; content and channel from
    what was sent by choice; timing from everything sent."""
    if d.name == "send":
        return agent & ~forced & ~override
    return sent & ~forced if d.kind == "slot" or d.name == "channel" else sent


def teaching(agent: Agent, decisions: pd.DataFrame | Mapping[str, np.ndarray],
             same_space: bool = False) -> dict[str, Teaching]:
    """The rows, contexts and choices that teach each dimension and each candidate pair."""
    flags = column(decisions, "guardrails")
    mine = agent_rows(decisions)
    sent = column(decisions, "send").astype(bool) & mine
    forced = (flags & GUARDRAILS["must_send"]) > 0
    override = (flags & (GUARDRAILS["frequency_cap"] | GUARDRAILS["no_consent"])) > 0
    codes = {v: column(decisions, f"ctx_{v}") for v in CTX_VARS}
    out, slot_rows = {}, {}
    for d in agent.space.dimensions:
        pol = agent.policies[d.name]
        rows = teaching_rows(d, mine, sent, forced, override)
        col = (column(decisions, f"choice_{d.name}").astype(np.int64)
               if d.name == "send" or same_space else batches.choice_index(d, decisions))
        ok = rows & (col >= 0)
        out[d.name] = Teaching(ok, pol.ctx.code({v: c[ok] for v, c in codes.items()}), col[ok])
        slot_rows[d.name] = rows, col
    for name, (ok, joint) in agent.pairs.joint_rows(slot_rows).items():
        pol = agent.pairs.policies[name]
        out[name] = Teaching(ok, pol.ctx.code({v: c[ok] for v, c in codes.items()}), joint)
    return out


def batch_mixes(agent: Agent, decisions: pd.DataFrame | Mapping[str, np.ndarray],
                same_space: bool = False) -> Mixes:
    """Each whole batch's decisions per option, per model and (batch id, context), from the
    rows that teach the model (pass every decision of the batches, holdout included)."""
    batch = batch_ids(decisions)
    out: Mixes = {}
    for name, t in teaching(agent, decisions, same_space).items():
        pol = agent.policies.get(name) or agent.pairs.policies[name]
        K = len(pol.dim.options)
        b = batch[t.ok]
        keys, pos = np.unique(np.column_stack([b, t.ctx]), axis=0, return_inverse=True)
        counts = np.zeros((len(keys), K))
        np.add.at(counts, (pos.ravel(), t.choice), 1.0)
        out[name] = {(int(k[0]), int(k[1])): counts[i] for i, k in enumerate(keys)}
    return out
