"""The agent with the store: library-built action space, persistence, decision log, outcome
ingestion (quarantine, idempotence, late events), reward scalarisation, CLI and benchmark."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from workbench.library import service as library
from workbench.agent.actions import ActionSpace
from workbench.agent.state import (
    decisions_frame, latest_batch, load_agent, record_batch, save_models, snapshots,
)
from workbench.bench import bench_decide
from workbench.cli import main
from workbench import ValidationError
from workbench.agent.ingest import ingest_events
from workbench.agent.reward import EVENTS, RewardWeights, incremental, learn_weights, scalarise
from workbench.agent.users import synthetic_users

START = date(2026, 11, 23)


def batch(store, n=600, seed=1):
    agent = load_agent(store)
    users = synthetic_users(n, agent.segments, seed)
    d = agent.decide(users, seed=seed, start=START)
    batch_id, rendered = record_batch(store, agent, d, actor="t", source="test", seed=seed,
                                      start=START)
    return agent, batch_id, rendered


def events_csv(rows):
    lines = ["decision_id,event,value,occurred_at"] + [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_action_space_comes_from_the_active_library(store):
    space = ActionSpace.from_library(store)
    greeting = space.dimension("slot:greeting")
    active = {c["id"] for c in store.components(kind="greeting", status="active")}
    assert {o.value for o in greeting.options} == active
    assert set(space.templates) == {"push", "email", "sms", "in_app"}
    assert len(space.dimension("timing").options) == 168
    a = store.components(kind="greeting", status="active")[0]
    library.set_status(store, [a["id"]], "archived", "t")
    space = ActionSpace.from_library(store)
    assert a["id"] not in {o.value for o in space.dimension("slot:greeting").options}


def test_segment_scoped_atoms_are_only_served_in_their_segment(store):
    agent, _, rendered = batch(store, n=3000)
    scoped = {c["id"]: c["segment"] for c in store.components(status="active") if c["segment"]}
    sent = rendered[rendered["send"]]
    seg = np.array(agent.segments)[sent["ctx_segment"]]
    for slot in agent.space.slot_names:
        for atom, segment in scoped.items():
            assert (seg[sent[f"atom_{slot}"].to_numpy() == atom] == segment).all()


def test_a_frozen_library_keeps_serving(store):
    store.record_mode("passive", "manager")
    agent, _, rendered = batch(store)
    assert rendered["send"].any()
    assert rendered.loc[rendered["send"], "body"].str.len().gt(0).all()


def test_batches_are_logged_with_texts_within_channel_limits(store):
    agent, batch_id, rendered = batch(store)
    assert store.db["decisions"].count == len(rendered)
    limits = {c["id"]: c for c in store.channels()}
    sent = rendered[rendered["send"]]
    for r in sent.itertuples():
        assert len(r.body) <= limits[r.channel]["body_max"]
        assert json.loads(r.atoms)
    frame = decisions_frame(store, agent, batch_id=batch_id)
    assert list(frame["decision_id"]) == sorted(rendered["decision_id"])
    assert len(latest_batch(store, agent)) == len(rendered)


def test_saved_agent_decides_exactly_as_the_one_that_stopped(store):
    agent, _, rendered = batch(store)
    agent.learn(rendered, pd.DataFrame({"direct_open": np.arange(len(rendered)) % 3 == 0}))
    with store.transaction():
        save_models(store, agent)
    again = load_agent(store)
    users = synthetic_users(500, agent.segments, 9)
    pd.testing.assert_frame_equal(agent.decide(users, seed=4, start=START),
                                  again.decide(users, seed=4, start=START))


def test_ingest_learns_once_quarantines_bad_lines_and_is_idempotent(store):
    agent, _, rendered = batch(store)
    ids = list(rendered.loc[rendered["send"], "decision_id"][:20])
    good = [(i, "direct_open", 1, "2026-11-30T19:00:00") for i in ids[:10]]
    good += [(ids[0], "gmv", 30.5, "2026-11-30T20:00:00")]
    bad = [("999-nobody", "direct_open", 1, "2026-11-30T19:00:00"),
           (ids[1], "click", 1, "2026-11-30T19:00:00"),
           (ids[1], "gmv", "lots", "2026-11-30T19:00:00"),
           (ids[1], "gmv", 3, "last tuesday")]
    data = events_csv(good + bad)
    report = ingest_events(store, agent, data, "events.csv", "t", as_of=date(2026, 12, 10))
    assert (report.inserted, report.duplicates) == (11, 0)
    assert report.quarantined == [
        (13, "no decision '999-nobody' in the decision log"),
        (14, "event 'click' is not one of direct_open, engagement, intent, conversion, gmv"),
        (15, "value 'lots' is not a number >= 0"),
        (16, "occurred_at is not an ISO date/time")]
    assert report.learned == len(rendered)
    assert store.db["quarantine"].count == 4
    reward = store.query("SELECT reward FROM decisions WHERE id = ?", [ids[0]])[0]["reward"]
    assert reward == pytest.approx(1.0 + 30.5 * RewardWeights().gmv)
    state = {n: m.to_bytes() for n, m in load_agent(store).models.items()}

    again = ingest_events(store, load_agent(store), data, "events.csv", "t",
                          as_of=date(2026, 12, 10))
    assert (again.inserted, again.duplicates, again.learned, again.late_corrections) == (
        0, 11, 0, 0)
    assert store.db["quarantine"].count == 4
    assert store.db["outcome_events"].count == 11
    assert {n: m.to_bytes() for n, m in load_agent(store).models.items()} == state


def test_late_events_add_reward_without_counting_the_decision_twice(store):
    agent, _, rendered = batch(store)
    did = rendered.loc[rendered["send"], "decision_id"].iloc[0]
    ingest_events(store, agent, events_csv([]), "empty.csv", "t", as_of=date(2026, 12, 10))
    n_before = {k: m.n for k, m in agent.models.items()}
    report = ingest_events(store, agent, events_csv([(did, "conversion", 1,
                                                      "2026-12-11T10:00:00")]), "late.csv", "t",
                            as_of=date(2026, 12, 11))
    assert report.late_corrections == 1 and report.learned == 0
    assert {k: m.n for k, m in agent.models.items()} == n_before
    assert store.query("SELECT reward FROM decisions WHERE id = ?", [did])[0]["reward"] == \
        pytest.approx(RewardWeights().conversion)


def test_decisions_wait_for_their_attribution_window(store):
    """On a fixed clock: on the wall clock this failed once START's first sends were past
    (then learnt in part at the first ingest, and completed rather than learnt at the
    second)."""
    agent, _, rendered = batch(store)
    before_sends = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
    report = ingest_events(store, agent, events_csv([]), "e.csv", "t", as_of=START,
                           clock=before_sends)
    assert (report.learned, report.partly_learned) == (0, 0)
    report = ingest_events(store, agent, events_csv([]), "e.csv", "t", as_of=date(2026, 12, 10),
                           clock=datetime(2026, 12, 11, tzinfo=timezone.utc))
    assert report.learned == len(rendered)
    assert not snapshots(store, "channel", agent.segments[0]).empty


def test_a_decided_batch_and_its_snapshot_are_written_together_or_not_at_all(store,
                                                                           monkeypatch):
    """A snapshot write that fails (a lock taken between two transactions did this) leaves no
    batch without its snapshot: the whole decision is refused and can be made again."""
    from store import StoreBusyError
    from store import agent as agent_store
    from store import decisions as decisions_store
    from workbench.agent import state

    agent = load_agent(store)
    users = synthetic_users(300, agent.segments, 2)
    assert decisions_store.latest_batch_id(store) is None

    def refused(*_a, **_k):
        raise StoreBusyError("the database is busy")

    monkeypatch.setattr(agent_store, "save_snapshots", refused)
    with pytest.raises(StoreBusyError):
        state.decide_batch(store, agent, users, actor="t", source="test", seed=3, start=START)
    assert decisions_store.latest_batch_id(store) is None
    assert snapshots(store, "channel", agent.segments[0]).empty
    monkeypatch.undo()

    batch_id, rendered = state.decide_batch(store, agent, users, actor="t", source="test",
                                            seed=3, start=START)
    assert len(rendered) == 300 and rendered.attrs["seed"] == 3
    stored = snapshots(store, "channel", agent.segments[0])
    assert set(stored["day"]) == {START.isoformat()}
    assert decisions_store.latest_batch_id(store) == batch_id
    assert len(latest_batch(store, agent)) == 300


def test_deciding_holds_the_learning_lock_only_from_the_snapshot_to_the_write(
        file_store, monkeypatch):
    """An ingest waiting on the learning jobs' lock waits for the snapshot and the write, not
    for the seconds a large batch takes to render and turn into log rows."""
    from store import StoreBusyError, busy
    from workbench.agent import state

    def learn_lock_is_free() -> bool:
        try:
            with busy.exclusive(file_store, "learn", wait_s=0):
                return True
        except StoreBusyError:
            return False

    seen = {}
    real_rows, real_snapshot = state.log_rows, state.snapshot_rows

    def rows(*a, **k):
        seen["rows"] = learn_lock_is_free()
        return real_rows(*a, **k)

    def snapshot(*a, **k):
        seen["snapshot"] = learn_lock_is_free()
        return real_snapshot(*a, **k)

    monkeypatch.setattr(state, "log_rows", rows)
    monkeypatch.setattr(state, "snapshot_rows", snapshot)
    agent = load_agent(file_store)
    state.decide_batch(file_store, agent, synthetic_users(200, agent.segments, 4), actor="t",
                       source="test", seed=5, start=START)
    assert seen == {"rows": True, "snapshot": False}
    assert learn_lock_is_free()


def test_a_bad_events_file_is_rejected_whole(store):
    agent, _, _ = batch(store)
    with pytest.raises(ValidationError, match="required column 'occurred_at'"):
        ingest_events(store, agent, b"decision_id,event\nx,direct_open\n", "e.csv", "t")
    with pytest.raises(ValidationError, match="not valid UTF-8"):
        ingest_events(store, agent, "decision_id,event,occurred_at\né,x,y\n".encode("latin-1"),
                      "e.csv", "t")
    assert store.db["outcome_events"].count == 0


# -- reward -------------------------------------------------------------------------------

def test_reward_is_the_weighted_sum_of_events():
    out = pd.DataFrame({"direct_open": [1, 0], "conversion": [0, 2], "gmv": [0, 100.0]})
    w = RewardWeights(direct_open=1, engagement=0, intent=0, conversion=3, gmv=0.01)
    assert scalarise(out, w).tolist() == [1.0, 7.0]
    with pytest.raises(ValidationError, match="field 'gmv'"):
        RewardWeights(gmv=-1)
    with pytest.raises(ValidationError, match="field 'clicks'"):
        RewardWeights.from_mapping({"clicks": 1})


def test_reward_weights_can_be_learnt_from_a_downstream_value():
    rng = np.random.default_rng(0)
    out = pd.DataFrame({e: rng.poisson(2, 2000) for e in EVENTS})
    downstream = 0.5 * out["engagement"] + 4 * out["conversion"] + rng.normal(0, 0.1, 2000)
    w = learn_weights(out, downstream)
    assert w.conversion == pytest.approx(4, abs=0.05)
    assert w.engagement == pytest.approx(0.5, abs=0.05)
    assert w.gmv == pytest.approx(0, abs=0.02)


def test_incremental_reward_subtracts_the_holdout_baseline_of_the_cell():
    r = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    hold = np.array([False, True, False, False, True])
    cell = np.array([0, 0, 0, 1, 1])
    assert incremental(r, hold, cell).tolist() == [2.0, 0.0, 1.0, 1.0, 0.0]
    pre = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    assert incremental(r, hold, cell, pre).tolist() == [2.0, 0.0, 2.0, 2.0, 0.0]


# -- CLI and benchmark --------------------------------------------------------------------

def test_cli_decide_exports_a_batch_and_ingest_reports(db_path, tmp_path, capsys, monkeypatch):
    from datetime import date
    monkeypatch.setattr("workbench.cli.agent._today", lambda: date(2026, 12, 10))  # --as-of
    users = tmp_path / "users.csv"
    users.write_text("user_id,segment,days_inactive,platform\nu1,new_buyers,20,ios\n"
                     "u2,lapsing_buyers,45,android\nu3,abandoned_cart,100,web\n")
    out = tmp_path / "batch.csv"
    assert main(["decide", "--users", str(users), "--out", str(out), "--start",
                 "2026-11-23"]) == 0
    summary = json.loads(capsys.readouterr().out)
    exported = pd.read_csv(out)
    assert summary["users"] == 3 and list(exported["user_id"]) == ["u1", "u2", "u3"]
    assert {"decision_id", "channel", "send_at", "title", "body", "atoms", "propensity",
            "guardrails"} <= set(exported.columns)
    events = tmp_path / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n"
                      f"{exported['decision_id'][0]},engagement,1,2026-11-30T23:00:00\n"
                      "nope,engagement,1,2026-11-30T23:00:00\n")
    assert main(["ingest", str(events), "--json", "--as-of", "2026-12-10"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["inserted"], report["quarantined"]) == (1, 1)
    assert "line 3: no decision 'nope'" in captured.err
    bad_users = tmp_path / "bad.csv"
    bad_users.write_text("user_id,segment\nu1,vip\n")
    assert main(["decide", "--users", str(bad_users)]) == 1
    assert "field 'segment': unknown segment 'vip'" in capsys.readouterr().err


def test_bench_decide_reports_speed_size_and_the_mabwiser_ratio():
    result = bench_decide(20_000, mabwiser_users=5_000)
    assert result["users"] == 20_000 and result["decisions_per_second"] > 0
    assert result["problem"]["composite_actions"] == 8 ** 6 * 168 * 4 * 2
    assert result["mabwiser"]["users_timed"] == 5_000
    assert result["speedup_vs_mabwiser"] > 0
