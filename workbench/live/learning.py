"""Learning from the Parquet decision log: the agent learns a day of 8.8M decisions in one
vectorised update instead of a row per decision in SQLite.

A day decided without the SQLite learning log (``programme day --no-learn-log``, the path at
the study's scale) is learnt once its attribution window has closed: the last possible send
(``SEND_DAYS`` after the day, see :mod:`workbench.agent.ingest`) plus the agent's
``attribution_days``. DuckDB sums each decision's attributed events (those with its
``decision_id``, at or after its send, refunds left out: see :mod:`workbench.live.
attribution`) from the events Parquet files and the attributions (a ``decision_id`` a later
file gave an event stored without one), and the whole day goes
through :meth:`workbench.agent.policy.Agent.learn` at once, which reduces it to sufficient
statistics per feature before the posterior update; a decision without events is a zero
reward, as in the decision events' own path. Events files loaded after a day was learnt add
their rewards as late corrections (``late=True``: the decisions are not counted twice).
``live_learned`` records, per day, how many events files (in load order) have been counted.

Days decided with the SQLite learning log are left to the decision events' own path
(:mod:`workbench.agent.ingest`), which the activity ingest feeds; a day is learnt by one
path only.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from store import Store, busy
from store import agent as agent_store
from store import live as live_store
from store import parquet as columnar
from workbench.agent.ingest import SEND_DAYS
from workbench.agent.mixes import batch_mixes
from workbench.agent.reward import EVENTS
from workbench.agent.state import load_agent, load_config, save_models, snapshot_rows
from workbench.live.logs import SHOWN_SLOTS, attributed_files, shown_slots

#: Log columns the agent learns from (the options chosen as values: the action space may have
#: changed since; ``choice_send`` as it is), besides the ``ctx_*`` and ``atom_*`` columns.
LEARN_COLUMNS = ("arm", "send", "guardrails", "channel", "weekday", "hour", "choice_send")


def learn_days(store: Store, as_of: date, *, actor: str = "cron", con=None) -> dict:
    """Learn every Parquet-logged day whose attribution window has closed by ``as_of``, and
    the late events of days already learnt; returns what was learnt. One learning job at a
    time on the file (as ``workbench ingest``), computing with no write lock held."""
    with busy.exclusive(store, "learn"):
        return _learn_days(store, as_of, actor=actor, con=con)


def _learn_days(store: Store, as_of: date, *, actor: str, con) -> dict:
    agent = None
    window = timedelta(days=SEND_DAYS + load_config(store).attribution_days)
    shas = live_store.file_shas(store)
    learned = live_store.learned_days(store)
    out: dict = {"learned_days": [], "decisions": 0, "late_days": [], "late_decisions": 0}
    for row in live_store.days(store):
        done = learned.get(row["day"])
        first = date.fromisoformat(row["day"])
        if done is not None and done["files_through"] >= len(shas):
            continue
        if done is None and first + window > as_of:
            continue
        if live_store.sqlite_logged(store, row["batch_id"]):
            continue
        agent = agent or load_agent(store)
        con = con or columnar.connect()
        # Events are kept by UTC day, the decided day is the programme's own: east of UTC a
        # morning send (and its events) falls on the UTC day before.
        since = (first - timedelta(days=1)).isoformat()
        files = [f for f in attributed_files(store) if Path(f).parent.name[4:] >= since]
        if done is not None:  # only the files loaded since
            fresh = {s[:16] for s in shas[done["files_through"]:]}
            files = [f for f in files if Path(f).name[:16] in fresh]
        totals = columnar.decision_outcomes(con, row["log_path"], files, EVENTS, row["day"])
        rows = totals.column("row").to_numpy().astype(np.int64)
        schema = pq.read_schema(row["log_path"])
        table = pq.read_table(row["log_path"], columns=[
            c for c in schema.names if c in LEARN_COLUMNS or c.startswith(("ctx_", "atom_"))])
        n_day = table.num_rows
        mixes = None
        if done is not None:  # a late correction: only the decisions with new events,
            whole = table.to_pandas()  # centred on the whole day's mix
            _hide_unshown_slots(agent, whole, schema.metadata or {})
            mixes = batch_mixes(agent, whole)
            del whole
            some = np.unique(rows)
            table, rows = table.take(pa.array(some)), np.searchsorted(some, rows)
        frame = table.to_pandas()
        del table
        _hide_unshown_slots(agent, frame, schema.metadata or {})
        outcomes = pd.DataFrame({e: np.zeros(len(frame)) for e in EVENTS})
        for e in EVENTS:
            hit = pc.equal(totals.column("event"), e).to_numpy(zero_copy_only=False)
            outcomes.loc[rows[hit], e] = totals.column("v").to_numpy()[hit]
        # Learn and compute the snapshot first, then write in one short transaction.
        snapshots = []
        if done is None:
            agent.learn(frame, outcomes)
            snapshots = snapshot_rows(agent, as_of, frame)
            out["learned_days"].append(row["day"])
            out["decisions"] += len(frame)
        elif len(frame):
            agent.learn(frame, outcomes, late=True, mixes=mixes)
            out["late_days"].append(row["day"])
            out["late_decisions"] += len(frame)
        with store.transaction():
            if snapshots:
                agent_store.save_snapshots(store, snapshots)
            live_store.record_learned(store, day_iso=row["day"], decisions=n_day,
                                      events=float(totals.column("v").to_numpy().sum())
                                      if totals.num_rows else 0.0,
                                      files_through=len(shas))
            if len(frame):
                save_models(store, agent)
            store.audit(actor, "learn", "programme day", row["day"],
                        {k: v for k, v in out.items()})
    return out


def _hide_unshown_slots(agent, frame: pd.DataFrame, metadata: dict) -> None:
    """Blank (-1: not learnt) the atoms of slots the channel's template did not show (an
    SMS has no visual): they were chosen but never seen, as the SQLite log records them.
    The slots are those of the day's templates, saved with its log (logs written before
    that use today's)."""
    atoms = [c for c in frame.columns if c.startswith("atom_")]
    channel = frame["channel"].astype(str).to_numpy()
    saved = metadata.get(SHOWN_SLOTS)
    slots = json.loads(saved) if saved else shown_slots(agent.space)
    for name in np.unique(channel):
        if name not in slots:
            continue
        shown = set(slots[name])
        rows = channel == name
        for c in atoms:
            if c[len("atom_"):] not in shown:
                frame.loc[rows, c] = -1
