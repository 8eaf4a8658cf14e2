"""A batch of decisions as a frame: option values and send times, rendered texts, and the
option each logged decision chose on a (possibly changed) action space."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from workbench.agent.actions import ActionSpace, Dimension
from workbench.agent.guardrails import GUARDRAILS
from workbench.library.assembly import render


def decode(space: ActionSpace, frame: pd.DataFrame, start: date) -> pd.DataFrame:
    """Option values and send times from the chosen indices (``choice_*`` columns of
    :meth:`workbench.agent.policy.Agent.decide_arrays`), for a batch whose first day is ``start``."""
    timing = frame["choice_timing"].to_numpy()
    weekday, hour = timing // 24, timing % 24
    start_dt = np.datetime64(datetime(start.year, start.month, start.day), "h")
    offset = (weekday - start.weekday()) % 7
    frame["weekday"] = weekday.astype(np.int8)
    frame["hour"] = hour.astype(np.int8)
    frame["send_at"] = start_dt + (offset * 24 + hour).astype("timedelta64[h]")
    channels = np.array([o.value for o in space.dimension("channel").options],
                        dtype=object)
    frame["channel"] = pd.Categorical.from_codes(
        frame["choice_channel"].to_numpy(), categories=list(channels))
    for d in space.dimensions:
        if d.kind == "slot":
            ids = np.array([o.value for o in d.options], dtype=np.int64)
            frame[d.name.replace("slot:", "atom_")] = ids[frame[f"choice_{d.name}"]]
    return frame


def render_texts(space: ActionSpace, decisions: pd.DataFrame) -> pd.DataFrame:
    """Add the template and assembled texts of sent decisions (for export; small batches)."""
    frame = decisions.copy()
    templates, titles, bodies, atoms_json = [], [], [], []
    for row in frame.itertuples(index=False):
        if not row.send:
            templates.append(None), titles.append(""), bodies.append("")
            atoms_json.append("{}")
            continue
        tpl = space.template_for(row.channel)
        choice = {s: space.atoms[getattr(row, f"atom_{s}")] for s in tpl.slots}
        msg = render(tpl, choice)
        templates.append(space.templates[row.channel]["id"])
        titles.append(msg.title)
        bodies.append(msg.body)
        atoms_json.append(str({s: a["id"] for s, a in choice.items()}).replace("'", '"'))
    frame["template_id"] = pd.array(templates, dtype="Int64")
    sent = frame["send"].to_numpy(bool)
    frame["channel"] = frame["channel"].astype(object).where(sent, None)
    frame["send_at"] = frame["send_at"].where(sent)
    frame["title"] = titles
    frame["body"] = bodies
    frame["atoms"] = atoms_json
    frame["guardrail_names"] = [",".join(k for k, b in GUARDRAILS.items() if f & b)
                                for f in frame["guardrails"]]
    return frame


def choice_index(d: Dimension, decisions: pd.DataFrame) -> np.ndarray:
    """Current option index of each decision's chosen value (-1 when it is gone)."""
    if d.kind == "slot":
        values = decisions[d.name.replace("slot:", "atom_")].to_numpy()
    elif d.name == "timing":
        values = (decisions["weekday"].to_numpy().astype(int) * 24
                  + decisions["hour"].to_numpy().astype(int))
    elif d.name == "channel":
        values = decisions["channel"].astype(str).to_numpy()
    else:
        raise KeyError(d.name)
    lookup = {o.value: i for i, o in enumerate(d.options)}
    return pd.Series(values).map(lookup).fillna(-1).to_numpy(np.int64)
