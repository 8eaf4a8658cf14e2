"""Builders of the pages' sources for tests: a small live programme with dated events and a
switch to passive management, and small simulated runs (shared by AppTest and browser tests)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from store import open_store
from workbench.agent.state import segments_of
from workbench.agent.users import synthetic_users
from workbench.library.seed import seed
from workbench.live.activity import ingest_activity
from workbench.live.day import programme_day
from workbench.live.roster import import_roster, load_roster
from workbench.sim.trial import create_run, preset, run_trial


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def live_programme(path: Path, users: int = 1200, days: int = 21, passive_from: int = 14,
                   decided: int = 2, seed_: int = 3) -> date:
    """A live programme on the database at ``path``: a roster, ``decided`` days decided to an
    outbox, and ``days`` days of user-level events (agent users open more often) ending
    yesterday, with management switched to passive at the start of day ``passive_from``.
    Returns the first day."""
    start = date.today() - timedelta(days=days)
    with open_store(path) as s:
        seed(s)
        segs = segments_of(s)
        import_roster(s, csv_bytes(synthetic_users(users, segs, seed_)), name="roster.csv",
                      actor="t", joined_on=(start - timedelta(days=30)).isoformat(),
                      salt="pages")
        arm = load_roster(s).set_index("user_id")["arm"]
        for t in range(decided):
            programme_day(s, start + timedelta(days=t), Path(str(path) + ".live") / "outbox")
        s.db["management_events"].insert({
            "mode": "passive", "actor": "t", "note": "",
            "at": (start + timedelta(days=passive_from)).isoformat() + "T00:00:00Z"})
        rng = np.random.default_rng(seed_)
        ids = arm.index.to_numpy()
        agent = (arm == "agent").to_numpy()
        rows = []
        for t in range(days):
            day = start + timedelta(days=t)
            opened = rng.random(len(ids)) < np.where(agent, 0.12, 0.08)
            engaged = opened | (rng.random(len(ids)) < 0.05)
            for name, hit in (("direct_open", opened), ("engagement", engaged)):
                rows += [(u, name, 1, f"{day.isoformat()}T10:00:00Z", "") for u in ids[hit]]
        events = pd.DataFrame(rows, columns=["user_id", "event", "value", "occurred_at",
                                             "decision_id"])
        ingest_activity(s, csv_bytes(events), name="events.csv", actor="t")
    return start


def simulated_runs(path: Path, sizes: tuple[int, ...] = (600, 100)) -> list[int]:
    """One finished quick-demo run per size (two weeks: one active, one passive), oldest
    first, on the database at ``path``."""
    ids = []
    with open_store(path) as s:
        seed(s)
        for i, users in enumerate(sizes):
            rid = create_run(s, preset("quick_demo", users=users, days=14, active_days=7,
                                       seed=3 + i), "t")
            run_trial(s, rid)
            ids.append(rid)
    return ids
