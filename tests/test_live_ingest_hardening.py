"""The live programme as a real CRM team runs it: what counts as an outcome, what an events
file's header and attribution may look like, what is refused, stored, counted and learnt."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from store import decisions as decisions_store
from store import live as live_store
from store import open_store
from workbench import ValidationError
from workbench.agent.state import segments_of
from workbench.agent.users import synthetic_users
from workbench.library.seed import seed
from workbench.lift.report import from_run, phase_table
from workbench.live.activity import ingest_activity
from workbench.live.logs import user_outcomes
from workbench.live.roster import import_roster, load_roster

CLOCK = datetime(2026, 12, 1, tzinfo=timezone.utc)


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def roster(store, n, start=0, joined_on="2026-11-01", **kw):
    """Import ``n`` synthetic users; the salt is fixed (a random one makes a small roster's
    holdout size a draw: 43 users at 10% have fewer than 2 in the holdout 6% of the time)."""
    kw.setdefault("salt", "hardening")
    users = synthetic_users(n, segments_of(store), 1, start=start)
    return import_roster(store, csv_bytes(users), name=f"r{start}.csv", actor="t",
                         joined_on=joined_on, **kw)


def events_csv(rows: list[tuple], columns=("user_id", "event", "value", "occurred_at",
                                           "decision_id")) -> bytes:
    return csv_bytes(pd.DataFrame(rows, columns=list(columns)))


def decided(store, day: str) -> int:
    """Record ``day`` as decided (a batch and its day row), as ``programme day`` does, without
    deciding: what counts as an outcome depends only on the day."""
    batch = decisions_store.insert_batch(store, actor="t", source=f"programme {day}", seed=0,
                                         start_day=day, n_users=0, n_sent=0)
    live_store.record_day(store, day_iso=day, batch_id=batch, n_users=0, n_sent=0,
                          log_path=f"decisions/day={day}/batch.parquet")
    return batch


# -- 1. the outcome window --------------------------------------------------------------------

def test_outcomes_count_from_the_first_decided_day_or_the_join_day_whichever_is_later(
        file_store):
    """Events before the programme's first decided day, and a user's events before they
    joined, are pre-treatment (``pre_metrics``), not outcomes; a user who joined after the
    last event day has no outcome day and is left out."""
    live = file_store
    roster(live, 4)                                      # 0-3 join on 1 Nov
    roster(live, 1, start=4, joined_on="2026-11-15")     # 4 joins mid-programme
    roster(live, 1, start=5, joined_on="2026-11-25")     # 5 joins after the data
    decided(live, "2026-11-10")
    ingest_activity(live, events_csv([
        ("0", "conversion", 1, "2026-11-05T08:00:00Z", ""),   # before the programme
        ("0", "gmv", 30, "2026-11-05T08:00:05Z", ""),
        ("0", "conversion", 1, "2026-11-12T08:00:00Z", ""),
        ("4", "conversion", 1, "2026-11-12T08:00:00Z", ""),   # before 4 joined
        ("4", "conversion", 1, "2026-11-16T08:00:00Z", ""),
        ("5", "engagement", 1, "2026-11-18T08:00:00Z", ""),   # 5 joins on the 25th
    ]), name="e.csv", actor="t", clock=CLOCK)
    out = user_outcomes(live, ids=True)
    assert sorted(out["user_id"]) == ["0", "1", "2", "3", "4"]
    assert out["phase_days"].tolist() == [9, 0]  # 10 to 18 Nov
    k = {m: i for i, m in enumerate(out["metrics"])}
    by_user = out["user_id"].argsort()
    active = out["phase_metrics"][by_user, 0, :]
    assert active[:, k["conversion"]].tolist() == [1, 0, 0, 0, 1]
    assert active[:, k["gmv"]].tolist() == [0] * 5
    pre = out["pre_metrics"][by_user]
    assert pre[:, k["conversion"]].tolist() == [1, 0, 0, 0, 1]
    assert pre[:, k["gmv"]].tolist() == [30, 0, 0, 0, 0]
    arms = load_roster(live).set_index("user_id")["arm"]
    assert (out["holdout"] == (arms.loc[out["user_id"]] == "holdout").to_numpy()).all()
    # the pre-programme events are ML-RATE covariates (the columns with any event)
    data = from_run(out)
    assert data.covariates.shape == (5, 6 + 2)


def _programme_with_a_pre_week(tmp_path, name: str, n: int, seed_: int, true_lift: float):
    """A programme of ``n`` users (half in the holdout) decided from 10 Nov, with a week of
    identical arms before it and 14 days where the agent's daily conversion chance is
    ``1 + true_lift`` times the holdout's: the lift of days with conversion is
    ``true_lift`` exactly in expectation."""
    s = open_store(tmp_path / f"{name}.db")
    seed(s)
    roster(s, n, holdout_share=0.5, salt=name, joined_on="2026-10-01")
    decided(s, "2026-11-10")
    arms = load_roster(s)
    agent = (arms["arm"] == "agent").to_numpy()
    rng = np.random.default_rng(seed_)
    start = date(2026, 11, 3)
    rows = []
    for d in range(21):
        day = start + timedelta(days=d)
        p = np.where(agent & (day >= date(2026, 11, 10)), 0.1 * (1 + true_lift), 0.1)
        for u in arms["user_id"].to_numpy()[rng.random(n) < p]:
            rows.append((u, "conversion", 1, f"{day.isoformat()}T12:00:00Z", ""))
    ingest_activity(s, events_csv(rows), name="events.csv", actor="t", clock=CLOCK)
    return s


def test_a_known_lift_is_covered_with_a_pre_programme_week_in_the_data(tmp_path):
    """A true +20% with a pre-programme week of identical arms: counted from the first
    event day, the week diluted the lift to about +13% and the 95% intervals covered +20%
    in about half the programmes; counted from the first decided day they cover it as 95%
    intervals should (at least 17 of 20 programmes: p < 0.02 for a true 95% coverage)."""
    covered, estimates = 0, []
    for rep in range(20):
        s = _programme_with_a_pre_week(tmp_path, f"p{rep}", 3000, rep, 0.2)
        data = from_run(user_outcomes(s))
        row = phase_table(data, adjusted=False).set_index(["phase", "metric"]).loc[
            ("active", "conversion")]
        covered += bool(row["ci_low"] <= 0.2 <= row["ci_high"])
        estimates.append(row["lift"])
        s.close()
    assert covered >= 17, (covered, estimates)
    assert abs(np.mean(estimates) - 0.2) < 0.02  # unbiased (the se of this mean is ~0.008)


# -- 2. the decision column under another name; attributions that arrive late ---------------

def _decided_day(live, tmp_path, learn_log=True, n=300):
    """A day decided for real (11 Nov): its sent decisions, earliest send first."""
    from workbench.live.day import programme_day

    roster(live, n)
    day = programme_day(live, date(2026, 11, 10), tmp_path / "out", learn_log=learn_log)
    return pd.read_csv(day["outbox"], dtype=str).sort_values("send_at").reset_index(drop=True)


def _after(sent_at: str, minutes: int = 60) -> str:
    return (pd.Timestamp(sent_at) + pd.Timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("header", ["Decision ID", "decisionId", "DECISION-ID", " decision_id"])
def test_a_decision_column_spelt_another_way_is_read_and_other_columns_are_reported(
        file_store, tmp_path, header):
    """``Decision ID`` was ignored without a word: the events were stored unattributed, the
    agent learnt nothing, and the corrected file was all duplicates."""
    live = file_store
    sent = _decided_day(live, tmp_path)
    d = sent.iloc[0]
    data = events_csv([(d["user_id"], "conversion", 1, _after(d["send_at"]), d["decision_id"],
                        "push")], columns=("User ID", "event", "value", "occurredAt", header,
                                           "channel"))
    r = ingest_activity(live, data, name="e.csv", actor="t", clock=CLOCK)
    assert r.ignored_columns == ["channel"]
    assert r.read_as == {"User ID": "user_id", "occurredAt": "occurred_at"} | (
        {} if header.strip() == "decision_id" else {header: "decision_id"})
    assert (r.inserted, r.attributed["inserted"]) == (1, 1)
    assert decisions_store.event_keys(live, {d["decision_id"]}) == {
        (d["decision_id"], "conversion", _after(d["send_at"])[:-1])}


def test_two_headers_read_as_one_column_refuse_the_file_naming_both(file_store):
    roster(file_store, 10)
    from workbench import ValidationError

    with pytest.raises(ValidationError) as e:
        ingest_activity(file_store, b"user_id,event,occurred_at,decision_id,Decision ID\n",
                        name="e.csv", actor="t", clock=CLOCK)
    assert str(e.value.problems[0]) == ("field 'decision_id': columns 'decision_id' and "
                                        "'Decision ID' are both read as 'decision_id'; keep one")


@pytest.mark.parametrize("learn_log", [True, False])
def test_a_later_line_attributes_an_event_stored_without_its_decision(file_store, tmp_path,
                                                                      learn_log):
    """The same (user, event, time) first without, then with its decision_id: the second
    was a duplicate, and the attribution was lost for good. It now attaches to the stored
    event: learnt on both learning paths, and the lift still counts the event once."""
    from workbench.live.day import programme_ingest

    live = file_store
    sent = _decided_day(live, tmp_path, learn_log)
    d = sent.iloc[0]
    at = _after(d["send_at"])
    line = (d["user_id"], "gmv", 40, at, d["decision_id"])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_bytes(events_csv([(*line[:4], "")]))
    first = programme_ingest(live, inbox, as_of=date(2026, 11, 12))
    assert first["reports"][0]["inserted"] == 1
    (inbox / "b.csv").write_bytes(events_csv([line]))
    second = programme_ingest(live, inbox, as_of=date(2026, 11, 30))
    b = second["reports"][1]
    assert (b["inserted"], b["attributions"], b["duplicates"]) == (0, 1, 0)
    if learn_log:
        assert b["attributed"]["inserted"] == 1
        assert decisions_store.event_keys(live, {d["decision_id"]}) == {
            (d["decision_id"], "gmv", at[:-1])}
    else:
        assert b["learnt_at_window_close"] == 1
        assert live_store.learned_days(live)["2026-11-10"]["events"] == 40.0
    (inbox / "c.csv").write_bytes(events_csv([line, (*line[:4], "")]))  # again: duplicates
    third = programme_ingest(live, inbox, as_of=date(2026, 11, 30))["reports"][2]
    assert (third["inserted"], third["attributions"], third["duplicates"]) == (0, 0, 2)
    out = user_outcomes(live, ids=True)
    k = list(out["metrics"]).index("gmv")
    assert out["phase_metrics"][:, 0, k].sum() == 40.0  # counted once


# -- 3. what is refused, stored, counted and learnt; line numbers of the team's file ---------

@pytest.mark.parametrize("learn_log", [True, False])
def test_lines_are_numbered_as_in_the_file_and_stored_lines_are_never_called_refused(
        file_store, tmp_path, learn_log):
    """Line 2 before its send, line 4 refused, line 5 a refund, line 6 an unknown decision,
    a blank line 7, line 8 conversion_vertical. The learning path's numbers came from a
    re-serialised CSV of the attributed lines (line 3 for line 2, line 5 for line 6); the
    summary said 1 quarantined for 3 lines listed refused, 2 of them stored and counted; the
    refund was stored but 'refused' for learning (and a day learnt from the Parquet logs
    failed whole on a decision whose only event was a refund: the agent takes no negative
    outcome)."""
    from workbench.live.day import programme_ingest

    live = file_store
    sent = _decided_day(live, tmp_path, learn_log)
    d, e = sent.iloc[0], sent.iloc[1]
    early = (pd.Timestamp(d["send_at"]) - pd.Timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    text = events_csv([
        (d["user_id"], "conversion", 1, early, d["decision_id"]),             # 2
        (d["user_id"], "gmv", 25, _after(d["send_at"]), d["decision_id"]),    # 3
        (d["user_id"], "sleep", 1, _after(d["send_at"]), d["decision_id"]),   # 4
        (e["user_id"], "gmv", -40, _after(e["send_at"]), e["decision_id"]),   # 5
        (e["user_id"], "engagement", 1, _after(e["send_at"]), "99-" + e["user_id"]),  # 6
    ]) + b"\n" + events_csv([
        (e["user_id"], "conversion_vertical", 1, _after(e["send_at"]), e["decision_id"])
    ]).split(b"\n", 1)[1]                                                     # 7 blank, 8
    (inbox / "late.csv").write_bytes(text)
    out = programme_ingest(live, inbox, as_of=date(2026, 11, 30))
    assert out["rejected"] == []
    r = out["reports"][0]
    assert out["quarantined"] == r["quarantined"] == 1
    assert r["quarantine"] == [{"line": 4, "reason": (
        "event 'sleep' is not one of direct_open, engagement, intent, conversion, "
        "conversion_vertical, gmv")}]
    assert [q["line"] for q in decisions_store.quarantine(live)] == [4]
    assert (r["rows"], r["inserted"], r["not_learnt"]) == (6, 5, 4)
    assert r["not_learnt_by_reason"] == {"before the send": 1, "refund": 1,
                                         "no such decision": 1, "not a decision event": 1}
    lines = {x["line"]: x["reason"] for x in r["not_learnt_lines"]}
    assert sorted(lines) == [2, 5, 6, 8]
    assert lines[2].startswith(f"occurred_at {early[:-1]} is before the decision's send")
    assert lines[5] == ("a refund (gmv -40) counts in the lift; the agent learns from "
                        "purchases, not refunds")
    assert lines[6].startswith(f"no decision '99-{e['user_id']}' in the decision log")
    if learn_log:  # the purchase is learnt now
        assert r["attributed"]["inserted"] == 1 and r["attributed"]["quarantined"] == 0
        assert {k[0] for k in decisions_store.event_keys(
            live, {d["decision_id"], e["decision_id"]})} == {d["decision_id"]}
    else:  # at the window's close
        assert r["learnt_at_window_close"] == 1
        assert out["learned"]["learned_days"] == ["2026-11-10"]
        assert live_store.learned_days(live)["2026-11-10"]["events"] == 25.0
    # and every stored line counts in the lift, the refund too
    users = user_outcomes(live, ids=True)
    k = list(users["metrics"]).index("gmv")
    gmv = dict(zip(users["user_id"], users["phase_metrics"][:, 0, k]))
    assert (gmv[d["user_id"]], gmv[e["user_id"]]) == (25.0, -40.0)


def test_ids_with_commas_and_quotes_are_learnt_as_written(file_store, tmp_path):
    """The attributed lines were written back to CSV with the quotes stripped: 'Doe, Jane'
    had 5 fields for a header of 4, and a"b became decision 1-ab, unknown."""
    from workbench.live.day import programme_day

    live = file_store
    ids = ["Doe, Jane", 'a"b', "plain"] + [f"x{i}" for i in range(60)]
    users = synthetic_users(len(ids), segments_of(live), 1)
    users["user_id"] = ids
    import_roster(live, csv_bytes(users), name="r.csv", actor="t", joined_on="2026-11-01",
                  holdout_share=0.05, salt="q")
    day = programme_day(live, date(2026, 11, 10), tmp_path / "out")
    sent = pd.read_csv(day["outbox"], dtype=str).set_index("user_id")
    odd = [u for u in ("Doe, Jane", 'a"b') if u in sent.index]
    assert odd  # at least one of them is sent to (agent arm, salt "q")
    rows = [(u, "conversion", 1, _after(sent.loc[u, "send_at"]), sent.loc[u, "decision_id"])
            for u in odd]
    r = ingest_activity(live, events_csv(rows), name="odd.csv", actor="t", clock=CLOCK)
    assert (r.quarantined, r.credit["not_learnt"], r.attributed["inserted"]) == (
        [], 0, len(odd))
    assert {k[0] for k in decisions_store.event_keys(live, set(sent.loc[odd, "decision_id"]))
            } == set(sent.loc[odd, "decision_id"])


def test_a_platform_that_sends_at_once_is_told_its_events_are_not_learnt(file_store, tmp_path):
    """Every attributed event before its send_at was refused in the learning path with exit
    0 and no word in the summary; they are now counted, by reason, in the file's report."""
    live = file_store
    sent = _decided_day(live, tmp_path)
    rows = [(s.user_id, "direct_open", 1, (pd.Timestamp(s.send_at) - pd.Timedelta(hours=2)
                                           ).strftime("%Y-%m-%dT%H:%M:%SZ"), s.decision_id)
            for s in sent.iloc[:20].itertuples() if pd.Timestamp(s.send_at).hour >= 2]
    assert rows
    r = ingest_activity(live, events_csv(rows), name="e.csv", actor="t", clock=CLOCK)
    assert r.inserted == len(rows) and r.quarantined == []
    assert r.credit["not_learnt_by_reason"] == {"before the send": len(rows)}
    assert r.to_dict()["not_learnt"] == len(rows)


# -- 5. one rule for a duplicate in both stores --------------------------------------------

def test_an_event_is_the_same_event_at_whole_seconds_in_the_lift_and_the_learning_log(
        file_store, tmp_path):
    """The lift store kept sub-second times and the learning log whole seconds: a purchase
    exported as 10:00:00.250Z, then as 10:00:00Z, was stored twice (its GMV doubled in the
    lift) and learnt once. Both compare at whole seconds now."""
    live = file_store
    sent = _decided_day(live, tmp_path)
    d = sent.iloc[0]
    at = _after(d["send_at"])
    line = (d["user_id"], "gmv", 30, at[:-1] + ".250Z", d["decision_id"])
    first = ingest_activity(live, events_csv([line]), name="a.csv", actor="t", clock=CLOCK)
    again = ingest_activity(live, events_csv([(*line[:3], at, line[4])]), name="b.csv",
                            actor="t", clock=CLOCK)
    assert (first.inserted, again.inserted, again.duplicates) == (1, 0, 1)
    same_second = ingest_activity(live, events_csv([
        (d["user_id"], "conversion", 1, at[:-1] + ".100Z", d["decision_id"]),
        (d["user_id"], "conversion", 1, at[:-1] + ".900Z", d["decision_id"])]),
        name="c.csv", actor="t", clock=CLOCK)
    assert (same_second.inserted, same_second.duplicates) == (1, 1)
    assert same_second.attributed["inserted"] == 1
    users = user_outcomes(live, ids=True)
    k = list(users["metrics"]).index("gmv")
    assert dict(zip(users["user_id"], users["phase_metrics"][:, 0, k]))[d["user_id"]] == 30.0
    assert decisions_store.event_keys(live, {d["decision_id"]}) == {
        (d["decision_id"], "gmv", at[:-1]), (d["decision_id"], "conversion", at[:-1])}


# -- 6. a summary that adds up ------------------------------------------------------------

def test_the_ingest_totals_add_up_the_files_and_both_learning_paths():
    from workbench.live.activity import ingest_totals

    reports = [
        {"file": "a.csv", "skipped": False, "inserted": 10, "attributions": 1,
         "duplicates": 2, "quarantined": 3, "not_learnt": 2, "ignored_columns": ["channel"],
         "not_learnt_by_reason": {"before the send": 2},
         "attributed": {"learned_decisions": 14539, "late_corrections": 4}},
        {"file": "b.csv", "skipped": False, "inserted": 5, "attributions": 0,
         "duplicates": 0, "quarantined": 0, "not_learnt": 1, "ignored_columns": [],
         "not_learnt_by_reason": {"refund": 1}, "attributed": {}},
        {"file": "c.csv", "skipped": True, "inserted": 0, "quarantined": 0},
    ]
    learned = {"learned_days": ["2026-11-10"], "decisions": 100, "late_days": [],
               "late_decisions": 7}
    assert ingest_totals(reports, learned) == {
        "inserted": 15, "attributions": 1, "duplicates": 2, "quarantined": 3,
        "not_learnt": 3, "not_learnt_by_reason": {"before the send": 2, "refund": 1},
        "learned_decisions": 14639, "late_corrections": 11,
        "ignored_columns": {"a.csv": ["channel"]}}


# -- 4 and 6. lift --live: what is missing, and arms too small ------------------------------

def test_lift_live_says_what_is_missing_and_refuses_an_arm_too_small(db_path, tmp_path,
                                                                      capsys):
    """With a roster and decided days but no events it said 'no roster and events yet'; with
    a holdout of 0 or 1 users it crashed with a traceback (ValueError: each arm needs at least
    two users)."""
    from workbench.cli import main

    def said() -> str:
        assert main(["lift", "--live"]) == 1
        out = capsys.readouterr()
        assert out.out == "" and len(out.err.strip().splitlines()) == 1
        return out.err.strip()

    assert said().startswith("error: The live programme has no roster and events yet: import")
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("user_id,segment\n" + "".join(
        f"u{i},new_buyers\n" for i in range(40)))
    assert main(["programme", "roster", str(roster_file), "--joined-on", "2026-11-01",
                 "--holdout-share", "0"]) == 0
    capsys.readouterr()
    assert said() == ("error: The live programme has a roster of 40 users but no decided day "
                      "and no events yet: decide days with `workbench programme day` and load "
                      "the platform's events with `workbench programme ingest`.")
    assert main(["programme", "day", "--date", "2026-11-20", "--outbox",
                 str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert said() == ("error: The live programme has a roster of 40 users and 1 decided day(s) "
                      "from 2026-11-20 but no events yet: load the platform's events with "
                      "`workbench programme ingest`.")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "e.csv").write_text("user_id,event,value,occurred_at\n"
                                 "u1,engagement,1,2026-11-20T19:04:00Z\n")
    assert main(["programme", "ingest", "--inbox", str(inbox)]) == 0
    capsys.readouterr()
    assert said() == ("error: No lift: the holdout has 0 users and the agent arm 40 (its "
                      "holdout share is 0); a lift needs at least 2 users in each arm.")
    # and the Lift report page says so instead of failing
    from tests.test_pages import LIFT, app

    at = app(LIFT)
    assert not at.exception
    assert [i.value for i in at.info if i.value.startswith("No lift:")] == [
        "No lift: the holdout has 0 users and the agent arm 40 (its holdout share is 0); a lift "
        "needs at least 2 users in each arm. Or pick a simulated run or a file above."]


def test_a_holdout_of_one_user_has_no_lift(file_store):
    from workbench.live.logs import why_no_lift

    roster(file_store, 43)
    decided(file_store, "2026-11-10")
    ingest_activity(file_store, events_csv([("1", "engagement", 1, "2026-11-12T08:00:00Z", "")]),
                    name="e.csv", actor="t", clock=CLOCK)
    users = user_outcomes(file_store)
    users["holdout"][:] = False
    users["holdout"][0] = True
    assert why_no_lift(file_store, users) == (
        "No lift: the holdout has 1 user and the agent arm 42 (its holdout share is 0.1); a "
        "lift needs at least 2 users in each arm.")
    assert why_no_lift(file_store) is None  # the roster's own arms: 43 users at 10%


def test_programme_ingest_sums_its_files_and_warns_of_lines_it_did_not_learn(
        file_store, tmp_path, capsys):
    """The top of the summary said "learned": {"decisions": 0} and one quarantined line while
    the files' reports held the rest: its totals now add up the files and both learning
    paths, and the command warns on stderr (exit 0) of stored lines the agent did not learn
    and of columns it did not read."""
    from workbench.cli import main

    live = file_store
    sent = _decided_day(live, tmp_path)
    early = [(s.user_id, "direct_open", 1, (pd.Timestamp(s.send_at) - pd.Timedelta(hours=2)
                                            ).strftime("%Y-%m-%dT%H:%M:%SZ"), s.decision_id)
             for s in sent.iloc[:10].itertuples() if pd.Timestamp(s.send_at).hour >= 2]
    later = [(s.user_id, "direct_open", 1, _after(s.send_at), s.decision_id)
             for s in sent.iloc[10:15].itertuples()]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    df = pd.DataFrame(early + later, columns=["user_id", "event", "value", "occurred_at",
                                              "decision_id"]).assign(campaign="x")
    (inbox / "e.csv").write_bytes(csv_bytes(df))
    live.close()
    assert main(["--db", str(tmp_path / "wb.db"), "programme", "ingest", "--inbox",
                 str(inbox)]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert (result["inserted"], result["quarantined"], result["not_learnt"]) == (
        len(early) + len(later), 0, len(early))
    assert result["not_learnt_by_reason"] == {"before the send": len(early)}
    # the windows are still open on the file's last day: learnt in part, not whole
    assert result["learned_decisions"] == 0
    assert result["reports"][0]["attributed"]["partly_learned"] > 0
    assert result["ignored_columns"] == {"e.csv": ["campaign"]}
    assert out.err.splitlines() == [
        f"warning: {len(early)} line(s) stored but not learnt ({len(early)} before the send); "
        "see the report's 'not_learnt'", "warning: columns not read (e.csv: campaign)"]


def test_a_programme_east_of_utc_learns_the_events_of_sends_on_the_utc_day_before(
        file_store, tmp_path):
    """Kiritimati's 10 Nov 08:00 is 9 Nov 18:00 UTC, and the events log is kept by UTC day:
    learning read only the folders from the decided day on, so every event of a send on the
    decided day before 14:00 there (Sydney: before 11:00) was left out of the day learnt.
    The agent draws its hours afresh each run: 1,000 users make a few such sends certain
    (about 7 in 100 of the day's sends)."""
    from workbench.live.day import programme_day, programme_ingest

    live = file_store
    roster(live, 1000)
    day = programme_day(live, date(2026, 11, 10), tmp_path / "out",
                        timezone="Pacific/Kiritimati", learn_log=False)
    sent = pd.read_csv(day["outbox"], dtype=str)
    early = sent[sent["send_at"] < "2026-11-10"]
    assert len(early)  # sends on the UTC day before the decided day
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "e.csv").write_bytes(events_csv([
        (d.user_id, "conversion", 1, _after(d.send_at, 30), d.decision_id)
        for d in sent.itertuples()]))
    out = programme_ingest(live, inbox, as_of=date(2026, 11, 30))
    assert out["learned"]["learned_days"] == ["2026-11-10"]
    assert live_store.learned_days(live)["2026-11-10"]["events"] == float(len(sent))


def test_a_value_under_a_header_with_no_name_rejects_the_programmes_events_file(file_store):
    """``user_id,event,,occurred_at``: the amounts sat under no name and were dropped, each
    purchase stored as a value of 1. Empty trailing columns are still read as nothing."""
    live = file_store
    roster(live, 4)
    decided(live, "2026-11-10")
    misaligned = b"user_id,event,,occurred_at\n0,gmv,40,2026-11-12T08:00:00Z\n"
    with pytest.raises(ValidationError) as e:
        ingest_activity(live, misaligned, name="e.csv", actor="t", clock=CLOCK)
    assert str(e.value) == (
        "e.csv was rejected:\n- row 1: column 3 has no name in the header but has a value "
        "('40'): name the column, or delete it")
    assert user_outcomes(live, ids=True) is None  # no events stored
    trailing = b"user_id,event,value,occurred_at,,\n0,gmv,40,2026-11-12T08:00:00Z,,\n"
    r = ingest_activity(live, trailing, name="e.csv", actor="t", clock=CLOCK)
    assert (r.inserted, r.ignored_columns) == (1, [])
