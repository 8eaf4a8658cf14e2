"""The live programme: roster arms, user-level activity, Parquet logs, the daily operation."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from store import decisions as decisions_store
from store import live as live_store
from store import open_store
from workbench import ValidationError
from workbench.agent.state import load_agent, segments_of
from workbench.library.assembly import render
from workbench.agent.users import stable_arm, synthetic_users
from workbench.library.seed import seed
from workbench.lift.report import from_run
from workbench.live.activity import ingest_activity
from workbench.live.day import programme_day, programme_ingest
from workbench.live.logs import events_dir, outcomes_version, user_outcomes
from workbench.live import roster as roster_module
from workbench.live.roster import import_roster, load_roster

CLOCK = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture
def live(file_store):
    return file_store


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def roster(store, n=400, start=0, seed_=1, **kw):
    users = synthetic_users(n, segments_of(store), seed_, start=start)
    return import_roster(store, csv_bytes(users), name=f"r{start}.csv", actor="t",
                         joined_on=kw.pop("joined_on", "2026-11-01"), **kw)


def events_csv(rows: list[tuple]) -> bytes:
    return csv_bytes(pd.DataFrame(rows, columns=["user_id", "event", "value", "occurred_at",
                                                 "decision_id"]))


# -- roster --------------------------------------------------------------------------------

def test_arms_follow_the_salted_hash_and_survive_reimports_and_later_joiners(live):
    roster(live, 3000, salt="s3cret", holdout_share=0.2)
    first = load_roster(live).set_index("user_id")["arm"]
    expected = np.where(stable_arm(pd.Series(first.index), 0.2, salt="s3cret"), "holdout",
                        "agent")
    assert (first.to_numpy() == expected).all()
    # Re-import the same users with new attributes, plus 1000 newcomers a week later.
    report = roster(live, 4000, seed_=9, joined_on="2026-11-08")
    assert (report.rows, report.new_users, report.total_users) == (4000, 1000, 4000)
    after = load_roster(live).set_index("user_id")
    assert (after.loc[first.index, "arm"] == first).all()
    assert set(after.loc[first.index, "joined_on"]) == {"2026-11-01"}
    newcomers = after.drop(first.index)
    assert set(newcomers["joined_on"]) == {"2026-11-08"}
    assert (newcomers["arm"].to_numpy() == np.where(stable_arm(
        pd.Series(newcomers.index), 0.2, salt="s3cret"), "holdout", "agent")).all()
    assert live_store.programme(live)["salt"] == "s3cret"
    assert [r["new_users"] for r in live_store.roster_imports(live)] == [3000, 1000]


def test_a_csv_and_a_parquet_roster_give_the_same_arms(live, tmp_path):
    users = synthetic_users(500, segments_of(live), 2)
    import_roster(live, csv_bytes(users), name="a.csv", actor="t", joined_on="2026-11-01",
                  salt="k")
    arms = load_roster(live).set_index("user_id")["arm"]
    other = open_store(tmp_path / "other.db")
    seed(other)
    buf = io.BytesIO()
    users.to_parquet(buf)
    import_roster(other, buf.getvalue(), name="a.parquet", actor="t", joined_on="2026-11-01",
                  salt="k")
    assert (load_roster(other).set_index("user_id")["arm"] == arms).all()
    other.close()


def test_a_bad_roster_names_row_and_field_and_writes_nothing(live):
    roster(live, 100)
    before = load_roster(live)
    users = synthetic_users(5, segments_of(live), 3, start=1000)
    users["segment"] = users["segment"].astype(str)
    users.loc[2, "segment"] = "martians"
    users.loc[4, "habitual_hour"] = 31
    with pytest.raises(ValidationError) as e:
        import_roster(live, csv_bytes(users), name="bad.csv", actor="t",
                      joined_on="2026-11-02")
    assert [(p.row, p.field) for p in e.value.problems] == [(3, "segment"),
                                                            (5, "habitual_hour")]
    pd.testing.assert_frame_equal(load_roster(live), before)
    assert len(live_store.roster_imports(live)) == 1


def test_a_rosters_bad_rows_are_listed_in_file_order(live):
    """Each check used to list its own rows, so rows bad in different columns came out as
    row 5, 4, 3, 2; within a row the columns keep the file's order."""
    seg = segments_of(live)[0]
    data = (f"user_id,platform,segment,habitual_hour\nu1,ios,{seg},3\nu2,pc,{seg},3\n"
            f"u3,ios,{seg},44\nu4,ios,martians,3\n,ios,{seg},3\nu6,tv,,25\n").encode()
    with pytest.raises(ValidationError) as e:
        import_roster(live, data, name="r.csv", actor="t", joined_on="2026-11-01")
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'platform': 'pc' is not one of ios, android, web",
        "row 3 field 'habitual_hour': '44' is not a number from 0 to 23",
        "row 4 field 'segment': unknown segment 'martians'",
        "row 5 field 'user_id': is empty",
        "row 6 field 'platform': 'tv' is not one of ios, android, web",
        "row 6 field 'segment': is empty",
        "row 6 field 'habitual_hour': '25' is not a number from 0 to 23"]
    assert live_store.programme(live) is None


def test_a_roster_read_in_batches_merges_and_reports_rows_as_one_read_would(live, monkeypatch):
    monkeypatch.setattr(roster_module, "BATCH_ROWS", 150)  # 400 users: three batches
    roster(live, 400, salt="k", holdout_share=0.2)
    first = load_roster(live).set_index("user_id")
    assert first.index.tolist() == [str(i) for i in range(400)]
    assert (first["arm"].to_numpy() == np.where(stable_arm(pd.Series(first.index), 0.2,
                                                           salt="k"), "holdout", "agent")).all()
    # Users 300-699 a week later (300-399 known): the known keep their arm and join day, and
    # users 0-299, absent from the file, stay.
    report = roster(live, 400, start=300, seed_=5, joined_on="2026-11-08")
    assert (report.rows, report.new_users, report.total_users) == (400, 300, 700)
    after = load_roster(live).set_index("user_id")
    assert sorted(after.index, key=int) == [str(i) for i in range(700)]
    assert (after.loc[first.index, "arm"] == first["arm"]).all()
    assert (after.loc[first.index, ["joined_on", "pre_engagement", "start_inactive"]]
            == first[["joined_on", "pre_engagement", "start_inactive"]]).all().all()
    assert set(after.drop(first.index)["joined_on"]) == {"2026-11-08"}
    assert report.holdout_users == int((after["arm"] == "holdout").sum())
    # A repeat two batches apart and a bad value in the last batch: file rows, nothing written.
    users = synthetic_users(400, segments_of(live), 3, start=1000)
    users.loc[320, "user_id"] = users.loc[10, "user_id"]
    users.loc[350, "habitual_hour"] = 31
    with pytest.raises(ValidationError) as e:
        import_roster(live, csv_bytes(users), name="bad.csv", actor="t",
                      joined_on="2026-11-09")
    assert [(p.row, p.field) for p in e.value.problems] == [(351, "habitual_hour")]
    users.loc[350, "habitual_hour"] = 3
    with pytest.raises(ValidationError) as e:
        import_roster(live, csv_bytes(users), name="bad.csv", actor="t",
                      joined_on="2026-11-09")
    assert [(p.row, p.field, p.message) for p in e.value.problems] == [
        (321, "user_id", "user '1010' appears twice")]
    pd.testing.assert_frame_equal(load_roster(live).set_index("user_id"), after)
    assert len(live_store.roster_imports(live)) == 2


def test_the_holdout_share_cannot_change_once_users_are_assigned(live):
    roster(live, 100, holdout_share=0.1)
    with pytest.raises(ValidationError, match="holdout share is 0.1"):
        roster(live, 100, holdout_share=0.3)


# -- activity --------------------------------------------------------------------------------

def test_activity_is_converted_to_utc_checked_and_quarantined(live):
    roster(live, 50)
    data = events_csv([
        ("3", "direct_open", 1, "2026-11-20T00:30:00+02:00", ""),   # 19th in UTC
        ("3", "gmv", -12.5, "2026-11-20T10:00:00Z", ""),            # a refund
        ("4", "engagement", "", "2026-11-20 08:00:00", ""),          # value defaults to 1
        ("4", "intent", 2, "2026-11-20T08:00:00Z", ""),              # binary, not 0/1
        ("4", "conversion", -1, "2026-11-20T08:00:00Z", ""),
        ("5", "sleep", 1, "2026-11-20T08:00:00Z", ""),
        ("5", "direct_open", 1, "yesterday", ""),
        ("5", "direct_open", 1, "2026-12-02T08:00:00Z", ""),         # after the clock
        ("999", "direct_open", 1, "2026-11-20T08:00:00Z", ""),
        ("", "direct_open", 1, "2026-11-20T08:00:00Z", ""),
        ("6", "gmv", "nan", "2026-11-20T08:00:00Z", ""),
    ])
    r = ingest_activity(live, data, name="e.csv", actor="t", clock=CLOCK)
    assert (r.rows, r.inserted, r.duplicates) == (11, 3, 0)
    assert r.quarantined == [
        (5, "value '2' of intent is not 0 or 1"),
        (6, "value '-1' is negative (only gmv refunds may be)"),
        (7, "event 'sleep' is not one of direct_open, engagement, intent, conversion, "
            "conversion_vertical, gmv"),
        (8, "occurred_at is not an ISO date/time"),
        (9, "occurred_at 2026-12-02T08:00:00 is in the future"),
        (10, "user '999' is not in the roster"),
        (11, "user_id is empty"),
        (12, "value 'nan' is not a number")]
    assert {(q["line"], q["source"]) for q in decisions_store.quarantine(live)} == {
        (line, "e.csv") for line, _ in r.quarantined}
    stored = pq.read_table(events_dir(live)).to_pandas().sort_values("occurred_at")
    assert stored[["user_id", "event", "value"]].values.tolist() == [
        ["3", "direct_open", 1.0], ["4", "engagement", 1.0], ["3", "gmv", -12.5]]
    assert [str(t) for t in stored["occurred_at"]] == [
        "2026-11-19 22:30:00", "2026-11-20 08:00:00", "2026-11-20 10:00:00"]
    assert sorted(p.name for p in events_dir(live).iterdir()) == ["day=2026-11-19",
                                                                  "day=2026-11-20"]


def test_activity_is_stored_once_per_file_and_per_user_event_and_time(live):
    roster(live, 50)
    a = events_csv([("1", "engagement", 1, "2026-11-20T08:00:00Z", ""),
                    ("1", "engagement", 1, "2026-11-20T08:00:00Z", ""),
                    ("2", "engagement", 1, "2026-11-21T08:00:00Z", "")])
    first = ingest_activity(live, a, name="a.csv", actor="t", clock=CLOCK)
    assert (first.inserted, first.duplicates) == (2, 1)
    again = ingest_activity(live, a, name="a-copy.csv", actor="t", clock=CLOCK)
    assert again.skipped and again.inserted == 0
    b = events_csv([("1", "engagement", 1, "2026-11-20T09:00:00+01:00", ""),  # same instant
                    ("3", "engagement", 1, "2026-11-21T08:00:00Z", "")])
    second = ingest_activity(live, b, name="b.csv", actor="t", clock=CLOCK)
    assert (second.inserted, second.duplicates) == (1, 1)
    assert pq.read_table(events_dir(live)).num_rows == 3
    assert [f["name"] for f in live_store.files(live)] == ["a.csv", "b.csv"]


# -- outcomes ------------------------------------------------------------------------------

def test_per_user_outcomes_per_phase_equal_a_hand_computation(live):
    roster(live, 20)
    ids = load_roster(live)["user_id"].tolist()
    u0, u1 = ids[0], ids[1]
    ingest_activity(live, events_csv([
        (u0, "direct_open", 1, "2026-11-20T08:00:00Z", ""),
        (u0, "direct_open", 1, "2026-11-20T20:00:00Z", ""),   # same day: one day with opens
        (u0, "direct_open", 1, "2026-11-21T08:00:00Z", ""),
        (u0, "gmv", 30, "2026-11-21T09:00:00Z", ""),
        (u0, "gmv", -10, "2026-11-21T10:00:00Z", ""),          # refund, same day: sums
        (u1, "engagement", 1, "2026-11-22T08:00:00Z", ""),      # passive from the 22nd
        (u1, "gmv", 5, "2026-11-23T08:00:00Z", ""),
    ]), name="e.csv", actor="t", clock=CLOCK)
    live.db["management_events"].insert({"mode": "passive", "actor": "t",
                                         "at": "2026-11-21T12:00:00Z", "note": ""})
    out = user_outcomes(live)
    assert out["phase_days"].tolist() == [2, 2]  # 20th, 21st active; 22nd, 23rd passive
    pm = out["phase_metrics"]
    k = {m: i for i, m in enumerate(out["metrics"])}
    expected = np.zeros_like(pm)
    expected[0, 0, k["direct_open"]] = 2
    expected[0, 0, k["gmv"]] = 20
    expected[1, 1, k["engagement"]] = 1
    expected[1, 1, k["gmv"]] = 5
    np.testing.assert_array_equal(pm, expected)
    data = from_run(out, source="live programme")
    assert data.phases == ["active", "passive"]
    assert data.outcomes["active"]["gmv"].tolist() == expected[:, 0, k["gmv"]].tolist()
    assert (data.treated == (load_roster(live)["arm"] == "agent").to_numpy()).all()


def test_the_outcomes_version_changes_with_each_import_file_and_mode_switch(live):
    roster(live, 50)
    versions = [outcomes_version(live)]
    ingest_activity(live, events_csv([("3", "engagement", 1, "2026-11-20T08:00:00Z", "")]),
                    name="e.csv", actor="t", clock=CLOCK)
    versions.append(outcomes_version(live))
    ingest_activity(live, events_csv([("3", "engagement", 1, "2026-11-20T08:00:00Z", "")]),
                    name="e.csv", actor="t", clock=CLOCK)  # the same file: skipped
    versions.append(outcomes_version(live))
    live.db["management_events"].insert({"mode": "passive", "actor": "t",
                                         "at": "2026-11-21T12:00:00Z", "note": ""})
    versions.append(outcomes_version(live))
    roster(live, 60)
    versions.append(outcomes_version(live))
    assert versions[1] == versions[2]
    assert len(set(versions)) == 4


# -- daily operation -----------------------------------------------------------------------

def test_programme_day_writes_only_agent_arm_sends_once_per_date(live, tmp_path):
    roster(live, 600)
    outbox = tmp_path / "outbox"
    first = programme_day(live, date(2026, 11, 20), outbox)
    content = (outbox / "decisions-2026-11-20.csv").read_bytes()
    (outbox / "decisions-2026-11-20.csv").unlink()  # the platform lost it: rerun
    again = programme_day(live, date(2026, 11, 20), outbox)
    assert (outbox / "decisions-2026-11-20.csv").read_bytes() == content
    assert again == first | {"rerun": True}
    assert len(decisions_store.batches(live)) == 1
    sent = pd.read_csv(outbox / "decisions-2026-11-20.csv", dtype={"user_id": str})
    arms = load_roster(live).set_index("user_id")["arm"]
    assert set(arms[sent["user_id"]]) == {"agent"}
    assert len(sent) == first["sent"] and first["users"] == int((arms == "agent").sum())
    assert sent["decision_id"].tolist() == [f"{first['batch_id']}-{u}" for u in sent["user_id"]]
    log = pq.read_table(tmp_path / "wb.db.live" / "decisions" / "day=2026-11-20"
                        / "batch.parquet")
    assert log.num_rows == first["users"]
    logged = {r["id"] for r in decisions_store.decisions(live, batch_id=first["batch_id"])}
    assert logged == set(log.column("decision_id").to_pylist())


def test_the_outbox_carries_each_message_as_the_library_renders_it(live, tmp_path):
    roster(live, 800)
    day = programme_day(live, date(2026, 11, 20), tmp_path / "o", learn_log=False)
    sent = pd.read_csv(day["outbox"], dtype={"user_id": str}, keep_default_na=False)
    assert len(sent) == day["sent"] > 100
    space = load_agent(live).space
    for r in sent.to_dict("records"):
        tpl = space.template_for(r["channel"])
        msg = render(tpl, {s: space.atoms[int(r[f"atom_{s}"])] for s in tpl.slots})
        assert (r["template_id"], r["title"], r["preheader"], r["body"], r["image"]) == (
            space.templates[r["channel"]]["id"], msg.title, msg.preheader, msg.body, msg.image)
    # One text per distinct message, kept beside the log: a rerun writes the same texts.
    messages = pq.read_table(tmp_path / "wb.db.live" / "decisions" / "day=2026-11-20"
                             / "messages.parquet")
    assert messages.num_rows == len(sent.drop_duplicates(["title", "preheader", "body",
                                                          "image", "channel"]))
    again = programme_day(live, date(2026, 11, 20), tmp_path / "o", fmt="parquet")
    pd.testing.assert_frame_equal(pq.read_table(again["outbox"]).to_pandas()[
        ["title", "preheader", "body", "image"]].fillna(""), sent[
        ["title", "preheader", "body", "image"]], check_dtype=False)


def test_a_day_learnt_from_the_parquet_logs_teaches_as_the_sqlite_log_does(tmp_path):
    """The same day decided twice (same roster, salt and seed): once with SQLite's learning
    log, taught by the decision events' path, once without it, learnt from the Parquet logs.
    The posteriors must agree; late events then correct the Parquet-learnt day once."""
    stores, outboxes = [], []
    for name, sqlite_log in (("sqlite", True), ("parquet", False)):
        s = open_store(tmp_path / f"{name}.db")
        seed(s)
        roster(s, 500, salt="same")
        outboxes.append(programme_day(s, date(2026, 11, 10), tmp_path / name,
                                      learn_log=sqlite_log)["outbox"])
        stores.append(s)
    sent = pd.read_csv(outboxes[0], dtype={"user_id": str})
    assert sent.equals(pd.read_csv(outboxes[1], dtype={"user_id": str}))
    rng = np.random.default_rng(4)
    rows = []
    for r in sent.to_dict("records"):
        at = pd.Timestamp(r["send_at"]) + pd.Timedelta(hours=2)
        if rng.random() < 0.3:
            rows.append((r["user_id"], "direct_open", 1, at.isoformat(), r["decision_id"]))
        if rng.random() < 0.1:
            rows.append((r["user_id"], "gmv", 20.0, at.isoformat(), r["decision_id"]))
        rows.append((r["user_id"], "engagement", 1, at.isoformat(), ""))  # not attributed
    first = sent.iloc[0]
    rows.append((first["user_id"], "intent", 1, "2026-11-20T09:00:00Z", first["decision_id"]))
    for s, name in zip(stores, ("sqlite", "parquet")):
        inbox = tmp_path / f"in-{name}"
        inbox.mkdir()
        (inbox / "events.csv").write_bytes(events_csv(rows))
        report = programme_ingest(s, inbox, as_of=date(2026, 11, 20))
    assert report["learned"]["learned_days"] == ["2026-11-10"]
    a, b = (load_agent(s) for s in stores)
    assert a.models.keys() == b.models.keys()
    for k in a.models:
        assert a.models[k].n == pytest.approx(b.models[k].n)
        np.testing.assert_allclose(a.models[k].mean, b.models[k].mean, rtol=1e-9, atol=1e-12)
    # A later file with one more conversion: a late correction of that decision only.
    (tmp_path / "in-parquet" / "late.csv").write_bytes(events_csv([(
        first["user_id"], "conversion", 1, "2026-11-21T09:00:00Z", first["decision_id"])]))
    late = programme_ingest(stores[1], tmp_path / "in-parquet", as_of=date(2026, 11, 21))
    assert late["learned"] == {"learned_days": [], "decisions": 0,
                               "late_days": ["2026-11-10"], "late_decisions": 1}
    again = programme_ingest(stores[1], tmp_path / "in-parquet", as_of=date(2026, 11, 22))
    assert again["learned"]["late_days"] == [] and again["loaded"] == 0
    for s in stores:
        s.close()


def test_users_joining_later_are_decided_from_their_join_day(live, tmp_path):
    roster(live, 200)
    roster(live, 300, joined_on="2026-11-25")
    early = programme_day(live, date(2026, 11, 20), tmp_path / "o", fmt="parquet",
                          learn_log=False)
    late = programme_day(live, date(2026, 11, 25), tmp_path / "o", fmt="parquet",
                         learn_log=False)
    arms = load_roster(live)
    agent = arms[arms["arm"] == "agent"]
    assert early["users"] == int((agent["joined_on"] == "2026-11-01").sum())
    assert late["users"] == len(agent)
    assert pq.read_table(late["outbox"]).num_rows == late["sent"]


def test_programme_ingest_loads_each_file_once_and_leaves_the_inbox_alone(live, tmp_path):
    roster(live, 300)
    day = programme_day(live, date(2026, 11, 10), tmp_path / "out")
    # the 40 earliest sends, opened an hour after the last of them (an event before its send
    # is quarantined)
    sent = pd.read_csv(day["outbox"], dtype={"user_id": str}).sort_values("send_at").head(40)
    opened_at = pd.Timestamp(sent["send_at"].max()) + pd.Timedelta(hours=1)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pd.DataFrame({"user_id": sent["user_id"], "event": "direct_open", "value": 1,
                  "occurred_at": opened_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "decision_id": sent["decision_id"]}
                 ).to_csv(inbox / "opens.csv", index=False)
    pd.DataFrame({"user_id": load_roster(live)["user_id"].head(100), "event": "engagement",
                  "value": 1, "occurred_at": "2026-11-21T08:00:00Z", "decision_id": ""}
                 ).to_parquet(inbox / "sessions.parquet")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in inbox.iterdir())
    first = programme_ingest(live, inbox)
    assert (first["files"], first["loaded"], first["inserted"]) == (2, 2, 140)
    assert first["reports"][0]["attributed"]["inserted"] == 40
    assert decisions_store.event_keys(live, set(sent["decision_id"])) == {
        (d, "direct_open", opened_at.strftime("%Y-%m-%dT%H:%M:%S")) for d in sent["decision_id"]}
    second = programme_ingest(live, inbox)
    assert (second["loaded"], second["skipped"], second["inserted"]) == (0, 2, 0)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in inbox.iterdir()) == before


@pytest.mark.parametrize("learn_log", [True, False])
def test_an_event_credited_to_another_users_decision_is_quarantined(live, tmp_path, learn_log):
    """A line whose decision_id is another user's decision (``<batch>-<user>``) would teach
    the agent one user's conversion as another's: it is refused whole, on both learning
    paths, and the user's own decision still learns from its own line."""
    roster(live, 300)
    day = programme_day(live, date(2026, 11, 10), tmp_path / "out", learn_log=learn_log)
    sent = pd.read_csv(day["outbox"], dtype={"user_id": str}).sort_values("send_at")
    owner, other = sent.iloc[0], sent.iloc[1]
    at = (pd.Timestamp(sent["send_at"].max()) + pd.Timedelta(hours=1)
          ).strftime("%Y-%m-%dT%H:%M:%SZ")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "events.csv").write_bytes(events_csv([
        (other["user_id"], "conversion", 1, at, owner["decision_id"]),
        (owner["user_id"], "direct_open", 1, at, owner["decision_id"])]))
    report = programme_ingest(live, inbox, as_of=date(2026, 11, 30))
    assert (report["inserted"], report["quarantined"]) == (1, 1)
    assert report["reports"][0]["quarantine"] == [{"line": 2, "reason": (
        f"decision {owner['decision_id']} is user {owner['user_id']}'s, "
        f"not {other['user_id']}'s")}]
    stored = pq.read_table(events_dir(live)).to_pandas()
    assert stored[["user_id", "event", "decision_id"]].values.tolist() == [
        [owner["user_id"], "direct_open", owner["decision_id"]]]
    if learn_log:
        assert decisions_store.event_keys(live, {owner["decision_id"]}) == {
            (owner["decision_id"], "direct_open", at[:-1])}
    else:
        assert report["learned"]["learned_days"] == ["2026-11-10"]
        assert live_store.learned_days(live)["2026-11-10"]["events"] == 1.0


# -- end to end ----------------------------------------------------------------------------

def test_a_programme_run_through_outbox_and_inbox_reports_the_platforms_own_truth(live,
                                                                                  tmp_path):
    """Eight days where the sending platform is a simulated world that talks to the
    workbench only through the outbox and inbox folders: the live programme's per-user outcomes
    (and so its lift) equal the world's own per-user record to float32 precision (the
    precision of the trial's users.npz), and the agent learns."""
    from datetime import timedelta

    from workbench.agent.state import load_agent
    from workbench.lift.estimators import unadjusted
    from workbench.sim.world import WorldParams, generate_population, organic_return

    n, days = 1000, 8
    segs = segments_of(live)
    pop = generate_population(n, segs, seed=5)
    users = synthetic_users(n, segs, 5)
    users["segment"] = pd.Categorical.from_codes(pop.segment, categories=segs)
    import_roster(live, csv_bytes(users), name="roster.csv", actor="t",
                  joined_on="2026-10-01", salt="e2e")
    arm = load_roster(live).set_index("user_id")["arm"]
    start = date.today() - timedelta(days=days + 2)
    switch = start + timedelta(days=5)  # passive management from the sixth day
    live.db["management_events"].insert({"mode": "passive", "actor": "t", "note": "",
                                         "at": switch.isoformat() + "T00:00:00Z"})
    params, rng = WorldParams(), np.random.default_rng(11)
    inactive = pop.start_inactive.astype(np.int64).copy()
    truth = np.zeros((n, 2, 6))  # the world's record: days with each event, gmv summed
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    inbox.mkdir()
    shown = []  # the day each file's stored attributed events show (None: none stored)
    for t in range(days):
        day = start + timedelta(days=t)
        programme_day(live, day, outbox)
        sent = pd.read_csv(outbox / f"decisions-{day.isoformat()}.csv", dtype={"user_id": str})
        messaged = np.zeros(n, bool)
        messaged[sent["user_id"].astype(int).to_numpy()] = True
        decision = dict(zip(sent["user_id"].astype(int), sent["decision_id"]))
        # a message sent today and opened is credited, opened a minute after its send
        sent_today = {u: pd.Timestamp(at) for u, at in zip(sent["user_id"].astype(int),
                                                            sent["send_at"])
                      if pd.Timestamp(at).date() == day}
        p_org = organic_return(params, pop, inactive, t, day.weekday(), np.zeros(n, np.float32))
        organic = rng.random(n) < p_org
        opened = messaged & ~organic & (rng.random(n) < 0.12)
        engaged = organic | opened
        intent = engaged & (rng.random(n) < 0.3)
        conv = intent & (rng.random(n) < 0.25)
        gmv = np.where(conv, np.round(rng.lognormal(3, 0.5, n), 2), 0.0)
        phase = 0 if day < switch else 1
        rows = []
        for k, (name, hit) in enumerate((("direct_open", opened), ("engagement", engaged),
                                         ("intent", intent), ("conversion", conv))):
            truth[hit, phase, k] += 1
            for u in np.flatnonzero(hit):  # local time in +02:00, as the platform logs it
                at = f"{day.isoformat()}T{10 + k:02d}:30:00+02:00"
                if k == 0 and u in sent_today:
                    rows.append((str(u), name, 1, (sent_today[u] + pd.Timedelta(minutes=1))
                                 .strftime("%Y-%m-%dT%H:%M:%SZ"), decision[u]))
                else:
                    rows.append((str(u), name, 1, at, ""))
        truth[conv, phase, 5] += gmv[conv]
        rows += [(str(u), "gmv", gmv[u], f"{day.isoformat()}T15:00:00Z", "")
                 for u in np.flatnonzero(conv)]
        (inbox / f"events-{day.isoformat()}.csv").write_bytes(events_csv(rows))
        report = programme_ingest(live, inbox)
        assert report["loaded"] == 1
        shown.append([r for r in report["reports"] if not r["skipped"]][0]["attributed"]
                     .get("as_of"))
        inactive = np.where(engaged, 0, inactive + 1)
    out = user_outcomes(live, ids=True)
    order = out["user_id"].astype(int)
    np.testing.assert_allclose(out["phase_metrics"], truth[order][:, :, :6], rtol=1e-6)
    assert out["phase_days"].tolist() == [5, 3]
    data = from_run(out)
    treated = (arm.loc[out["user_id"]] == "agent").to_numpy()
    for phase_i, phase in enumerate(("active", "passive")):
        for k, metric in ((0, "direct_open"), (1, "engagement"), (5, "gmv")):
            y = data.outcomes[phase][metric]
            got = unadjusted(y[data.treated], y[~data.treated])
            w = truth[order][:, phase_i, k]
            world = unadjusted(w[treated], w[~treated])
            assert (got.mean_t, got.mean_c, got.n_t, got.n_c) == pytest.approx(
                (world.mean_t, world.mean_c, world.n_t, world.n_c), rel=1e-6)
            assert got.lift == pytest.approx(world.lift, rel=1e-6, nan_ok=True)
    agent = load_agent(live)
    assert sum(m.n for m in agent.models.values()) > 0
    # every window the stored events show as closed is learnt (a file whose attributed lines
    # are all quarantined, here opens logged before their send, shows no day and closes none)
    latest = date.fromisoformat(max(d for d in shown if d))
    assert decisions_store.due_ids(live, (latest - timedelta(days=3)).isoformat()) == []


def test_a_day_is_learnt_with_the_slots_its_templates_showed_that_day(tmp_path):
    """The day's log keeps each template's slots; learning it days later blanks the slots
    that day's message did not show, whatever the templates say by then."""
    import json

    from workbench.live.learning import _hide_unshown_slots
    from workbench.live.logs import SHOWN_SLOTS, shown_slots

    s = open_store(tmp_path / "w.db")
    seed(s)
    roster(s, 200, salt="slots")
    day = programme_day(s, date(2026, 11, 10), tmp_path / "out", learn_log=False)
    log = live_store.day(s, day["day"])["log_path"]
    agent = load_agent(s)
    saved = json.loads(pq.read_schema(log).metadata[SHOWN_SLOTS])
    assert saved == shown_slots(agent.space) and set(saved) == set(agent.space.templates)
    # Later the templates changed: a channel showed only its first slot that day.
    channel = next(c for c, slots in saved.items() if len(slots) > 1)
    that_day = {SHOWN_SLOTS: json.dumps({**saved, channel: saved[channel][:1]}).encode()}
    frame = pq.read_table(log).to_pandas()
    before = frame.copy()
    _hide_unshown_slots(agent, frame, that_day)
    rows = (frame["channel"].astype(str) == channel).to_numpy()
    assert rows.any()
    for slot in agent.space.slot_names:
        col = f"atom_{slot}"
        shown_then = slot in saved[channel][:1]
        assert (frame.loc[rows, col] == -1).all() != shown_then, slot
        assert (frame.loc[rows, col] == before.loc[rows, col]).all() == shown_then, slot


@pytest.mark.parametrize("data", [b"user_id,event,value,occurred_at",
                                  b"user_id,event,value,occurred_at\r\n"],
                         ids=["no newline", "CRLF"])
def test_a_bare_header_is_an_empty_events_file_not_an_unreadable_one(live, data):
    """A header without its newline was "cannot be read as CSV or Parquet (Empty CSV file)",
    where every other reader takes it as a file with no line."""
    roster(live, 5)
    r = ingest_activity(live, data, name="e.csv", actor="t", clock=CLOCK)
    assert (r.rows, r.inserted, r.quarantined) == (0, 0, [])


def test_one_unreadable_inbox_file_does_not_hold_back_the_others(live, tmp_path):
    """A half-written file (empty here) stopped the whole inbox: every cron run failed on it
    and the good files beside it were never loaded."""
    roster(live, 50)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_empty.csv").write_bytes(b"")
    (inbox / "b_good.csv").write_bytes(events_csv([
        ("1", "engagement", 1, "2026-11-20T08:00:00Z", "")]))
    report = programme_ingest(live, inbox)
    assert (report["files"], report["loaded"], report["inserted"]) == (1, 1, 1)
    assert [r["file"] for r in report["rejected"]] == ["a_empty.csv"]
    assert report["rejected"][0]["reason"].startswith("a_empty.csv was rejected:")


def test_a_header_only_roster_fixes_nothing_and_a_salt_cannot_change(live):
    """A bare header created the programme with its salt and holdout share and nobody in it,
    so the real first import was refused ('the holdout share is 0.1; it cannot change once
    users are assigned'); a different --salt on a later import was ignored without a word."""
    with pytest.raises(ValidationError) as e:
        import_roster(live, b"user_id,segment\n", name="empty.csv", actor="t",
                      joined_on="2026-11-02")
    assert str(e.value) == ("empty.csv was rejected; nothing was imported:\n"
                            "- the file has no users (a header only)")
    assert live_store.programme(live) is None
    from workbench.live import live_dir
    assert not live_dir(live).exists()  # an empty <db>.live/roster/ was left behind
    users = synthetic_users(5, segments_of(live), 3)
    first = import_roster(live, csv_bytes(users), name="r.csv", actor="t",
                          joined_on="2026-11-02", holdout_share=0.5, salt="abc")
    assert first.holdout_share == 0.5
    with pytest.raises(ValidationError) as e:
        import_roster(live, csv_bytes(users), name="r2.csv", actor="t",
                      joined_on="2026-11-03", salt="other")
    assert [(p.field, p.message) for p in e.value.problems] == [(
        "salt", "the programme's salt was fixed by its first roster import; it cannot change "
        "once users are assigned")]
