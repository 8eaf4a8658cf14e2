"""Incremental rewards through ingest: baselines per segment and batch, no lost decisions,
refusal without a holdout, and pre-period rewards from a validated file."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent.ingest import ingest_events, load_pre_reward
from workbench.agent.policy import AgentConfig
from workbench.agent.state import decisions_frame, load_agent, record_batch, save_config
from workbench.agent.users import synthetic_users

START = date(2026, 11, 23)


def _batch(store, start: date, seed: int) -> pd.DataFrame:
    agent = load_agent(store)
    d = agent.decide(synthetic_users(600, agent.segments, seed), seed=seed, start=start)
    return record_batch(store, agent, d, actor="t", source="test", seed=seed, start=start)[1]


def _csv(rows) -> bytes:
    return ("decision_id,event,value,occurred_at\n"
            + "".join(f"{d},direct_open,1,{t}\n" for d, t in rows)).encode()


def _rewards(store) -> dict[str, float]:
    frame = decisions_frame(store, load_agent(store))
    return dict(zip(frame["decision_id"], frame["reward"]))


@pytest.fixture
def incremental_store(store):
    save_config(store, AgentConfig(incremental=True), "t")
    return store


def test_incremental_ingest_learns_every_decision_once_its_batch_has_closed(incremental_store):
    store = incremental_store
    rendered = _batch(store, START, seed=1)
    hold = rendered[rendered["arm"] == "holdout"]
    sent = rendered[rendered["send"]]
    assert len(hold) > 0 and len(sent) > 0
    # every holdout user of the first segment opens; among agent users, the first 30 sent
    # before the events' time (an event before its send is quarantined)
    seg0 = hold[hold["ctx_segment"] == 0]
    sent = sent[pd.to_datetime(sent["send_at"]) <= pd.Timestamp("2026-11-24T10:00:00")]
    assert len(sent) >= 30
    opened = set(seg0["decision_id"]) | set(sent["decision_id"][:30])
    data = _csv((d, "2026-11-24T10:00:00") for d in sorted(opened))
    # Holdout decisions (no send time) used to fall due on day 3 and be learnt alone, leaving
    # the sent ones without a baseline: the later ingest then failed and rolled back.
    early = ingest_events(store, load_agent(store), data, "e.csv", "t",
                          as_of=START + timedelta(days=3))
    assert (early.inserted, early.learned) == (len(opened), 0)
    later = ingest_events(store, load_agent(store), b"decision_id,event,occurred_at\n", "e.csv",
                          "t", as_of=START + timedelta(days=9))
    assert (later.learned, later.waiting) == (len(rendered), 0)
    frame = decisions_frame(store, load_agent(store))
    assert frame["learned"].tolist() == [1] * len(rendered)
    rewards = _rewards(store)
    segments = range(len(load_agent(store).segments))
    base = {s: (1.0 if s == 0 and len(seg0) else 0.0) for s in segments}
    expected = {d: (1.0 if d in opened else 0.0) - base[s]
                for d, s in zip(rendered["decision_id"], rendered["ctx_segment"])
                if s in set(hold["ctx_segment"])}
    assert {d: rewards[d] for d in expected} == pytest.approx(expected)


def test_each_batch_is_measured_against_the_holdout_of_its_own_period(incremental_store):
    store = incremental_store
    first = _batch(store, START, seed=1)
    second = _batch(store, START + timedelta(days=7), seed=2)
    opened = first.loc[first["arm"] == "holdout", "decision_id"]  # only batch 1's holdout opens
    ingest_events(store, load_agent(store), _csv((d, "2026-11-24T10:00:00") for d in opened),
                  "e.csv", "t", as_of=START + timedelta(days=30))
    rewards = _rewards(store)
    agent_first = first.loc[first["arm"] == "agent", "decision_id"]
    agent_second = second.loc[second["arm"] == "agent", "decision_id"]
    assert {rewards[d] for d in agent_first} == {-1.0}
    assert {rewards[d] for d in agent_second} == {0.0}


def test_incremental_without_a_holdout_is_refused_before_anything_is_written(store):
    rendered = _batch(store, START, seed=1)
    before = load_agent(store).config
    with pytest.raises(ValidationError) as e:  # refused where it is configured
        save_config(store, AgentConfig(incremental=True, holdout_share=0.0), "t")
    assert [p.field for p in e.value.problems] == ["holdout_share"]
    assert "set holdout_share above 0" in str(e.value)
    assert load_agent(store).config == before
    # An agent configured so anyway (e.g. by a script) is refused by ingest, writing nothing.
    agent = load_agent(store)
    object.__setattr__(agent.config, "incremental", True)
    object.__setattr__(agent.config, "holdout_share", 0.0)
    data = _csv([(rendered["decision_id"].iloc[0], "2026-11-24T10:00:00")])
    with pytest.raises(ValidationError) as e:
        ingest_events(store, agent, data, "e.csv", "t", as_of=START + timedelta(days=30))
    assert [p.field for p in e.value.problems] == ["holdout_share"]
    assert store.db["outcome_events"].count == 0


def test_pre_period_rewards_make_a_difference_in_differences(incremental_store):
    store = incremental_store
    rendered = _batch(store, START, seed=1)
    agent_rows = rendered[rendered["arm"] == "agent"]
    hold = rendered[rendered["arm"] == "holdout"]
    who = agent_rows.iloc[0]
    same_segment_hold = hold[hold["ctx_segment"] == who["ctx_segment"]]
    assert len(same_segment_hold)
    h = same_segment_hold.iloc[0]
    pre = load_pre_reward(f"user_id,pre_reward\n{who['user_id']},2\n{h['user_id']},0.5\n"
                          .encode())
    assert pre == {str(who["user_id"]): 2.0, str(h["user_id"]): 0.5}
    report = ingest_events(store, load_agent(store), _csv([]), "e.csv", "t",
                           as_of=START + timedelta(days=30), pre_reward=pre)
    assert report.pre_reward_missing == len(rendered) - 2
    # holdout mean change in the segment: -0.5 for one user, 0 for the others
    baseline = -0.5 / len(same_segment_hold)
    assert _rewards(store)[who["decision_id"]] == pytest.approx(-2.0 - baseline)


def test_a_bad_pre_reward_file_is_rejected_naming_line_and_column():
    with pytest.raises(ValidationError) as e:
        load_pre_reward(b"user_id,pre_reward\nu1,1\nu2,nan\n,3\nu1,2\nu4,lots\nu5,1e300\n")
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'pre_reward': 'nan' is not a finite number",  # data rows: the header
        "row 3 field 'user_id': is empty",                          # is no row
        "row 4 field 'user_id': user 'u1' appears twice",
        "row 5 field 'pre_reward': 'lots' is not a finite number",
        "row 6 field 'pre_reward': 1e+300 is beyond +-1e+12: a unit or parsing error?"]
    with pytest.raises(ValidationError, match="required column 'pre_reward'"):
        load_pre_reward(b"user_id,value\nu1,1\n")


def test_pre_period_rewards_are_refused_when_the_reward_is_not_incremental(store):
    _batch(store, START, seed=1)
    with pytest.raises(ValidationError) as e:
        ingest_events(store, load_agent(store), _csv([]), "e.csv", "t", pre_reward={"1": 1.0})
    assert [p.field for p in e.value.problems] == ["pre_reward"]


def test_a_value_under_a_header_with_no_name_rejects_the_events_file_and_stores_nothing(
        store):
    """The value column's header left out (``decision_id,event,,occurred_at``): every amount
    sat in a column without a name and was dropped without a word, each event read as 1.
    Empty trailing columns (a spreadsheet's ``,,``) are still read as nothing."""
    from store import decisions as decisions_store

    rendered = _batch(store, START, seed=3)
    sent = rendered[rendered["send"]].sort_values("send_at").iloc[:2]
    at = (pd.Timestamp(sent["send_at"].max()) + pd.Timedelta(hours=1)).isoformat()
    rows = [f"{d},gmv,{40 + k},{at}" for k, d in enumerate(sent["decision_id"])]
    misaligned = ("decision_id,event,,occurred_at\n" + "\n".join(rows) + "\n").encode()
    with pytest.raises(ValidationError) as e:
        ingest_events(store, load_agent(store), misaligned, "e.csv", "t", as_of=START)
    assert [str(p) for p in e.value.problems] == [
        "row 1: column 3 has no name in the header but has a value ('40'): name the column, "
        "or delete it"]
    assert decisions_store.event_keys(store, set(sent["decision_id"])) == set()
    trailing = ("decision_id,event,value,occurred_at,,\n"
                + "".join(f"{r},,\n" for r in rows)).encode()
    report = ingest_events(store, load_agent(store), trailing, "e.csv", "t", as_of=START)
    assert (report.inserted, report.ignored_columns) == (2, [])
