"""`workbench ingest` learns from partly elapsed attribution windows and ends where a single
learn of the whole window would."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from store import open_store
from workbench.agent.ingest import ingest_events
from workbench.library.seed import seed
from workbench.agent.state import decisions_frame, load_agent, record_batch
from workbench.agent.users import synthetic_users
from workbench.agent.windows import exposure_curve

START = date(2026, 11, 23)
CLOCK = datetime(2027, 1, 1)


def _batch(store, seed=1):
    agent = load_agent(store)
    d = agent.decide(synthetic_users(500, agent.segments, seed), seed=seed, start=START)
    return record_batch(store, agent, d, actor="t", source="test", seed=seed, start=START)[1]


def _events(rendered, day: int, share: float = 0.3) -> bytes:
    """One open per chosen sent decision, ``day`` days after its send (7 hours later)."""
    sent = rendered[rendered["send"]].sort_values("decision_id")
    rng = np.random.default_rng(day)
    pick = sent[rng.random(len(sent)) < share]
    lines = [f"{d},direct_open,1,{(pd.Timestamp(t) + timedelta(days=day, hours=7)).isoformat()}"
             for d, t in zip(pick["decision_id"], pick["send_at"])]
    return ("decision_id,event,value,occurred_at\n" + "\n".join(lines) + "\n").encode()


def _ingest(store, data, as_of, **kw):
    return ingest_events(store, load_agent(store), data, f"e{as_of}.csv", "t", as_of=as_of,
                         clock=CLOCK, **kw)


def _posteriors(store):
    return {k: (m.gram.copy(), m.xy.copy()) for k, m in load_agent(store).models.items()
            if not k.startswith("pair:")}


def test_sent_decisions_are_learnt_from_the_part_of_the_window_elapsed(store):
    rendered = _batch(store)
    first_day = min(pd.Timestamp(t) for t in rendered.loc[rendered["send"], "send_at"]).date()
    report = _ingest(store, _events(rendered, 0), first_day)
    assert report.learned == 0 and report.partly_learned > 0
    frame = decisions_frame(store, load_agent(store))
    part = frame[(frame["learned"] > 0) & (frame["learned"] < 1)]
    assert len(part) == report.partly_learned
    # Sent that day: between 0 and 1 day of a 3-day window, evenly arriving rewards.
    assert part["learned"].between(0, 1 / 3 + 1e-9).all()
    assert (frame.loc[frame["learned"] == 0, "reward"] == 0).all()


def test_learning_window_by_window_ends_where_one_learn_of_the_whole_window_does(store):
    rendered = _batch(store)
    files = [_events(rendered, d) for d in range(3)]
    # Step by step: each day's events ingested as they come, the weight growing.
    partly = 0
    for data in files:  # as of each file's last event (decisions sent later still open)
        partly += _ingest(store, data, None).partly_learned
    assert partly > 0
    _ingest(store, b"decision_id,event,value,occurred_at\n", START + timedelta(days=12))
    stepwise = _posteriors(store)
    frame = decisions_frame(store, load_agent(store))
    assert frame["learned"].tolist() == [1] * len(frame)

    # The same events once every window has closed (the later files as late corrections).
    other = open_store(":memory:")
    seed(other)
    rendered2 = _batch(other)
    assert rendered2["decision_id"].tolist() == rendered["decision_id"].tolist()
    for d, data in enumerate(files):
        ingest_events(other, load_agent(other), data, f"w{d}.csv", "t",
                      as_of=START + timedelta(days=12), clock=CLOCK, partial_windows=False)
    whole = _posteriors(other)
    for k in whole:
        assert np.allclose(stepwise[k][0], whole[k][0]), k
        assert np.allclose(stepwise[k][1], whole[k][1]), k
    assert _rewards(store) == pytest.approx(_rewards(other))


def _rewards(store):
    f = decisions_frame(store, load_agent(store))
    return dict(zip(f["decision_id"], f["reward"]))


def test_whole_windows_waits_for_the_window_to_close(store):
    rendered = _batch(store)
    report = _ingest(store, _events(rendered, 0), START + timedelta(days=1),
                     partial_windows=False)
    assert (report.learned, report.partly_learned) == (0, 0)


def test_the_exposure_curve_follows_how_rewards_arrived(store):
    agent = load_agent(store)
    curve = exposure_curve(store, agent)
    assert curve(np.array([0.0, 36.0, 72.0, 100.0])).tolist() == pytest.approx(
        [0.0, 0.5, 1.0, 1.0])
    rendered = _batch(store)
    # Every open arrives 7 hours after its send: once learnt, half the reward is not "by 36h".
    sent = rendered[rendered["send"]]
    data = ("decision_id,event,value,occurred_at\n" + "".join(
        f"{d},direct_open,1,{(pd.Timestamp(t) + timedelta(hours=7)).isoformat()}\n"
        for d, t in zip(sent["decision_id"], sent["send_at"]))).encode()
    _ingest(store, data, START + timedelta(days=12))
    assert len(sent) >= 200
    learnt = exposure_curve(store, load_agent(store))
    assert learnt(np.array([6.0, 8.0, 36.0])).tolist() == pytest.approx([0.0, 1.0, 1.0])
