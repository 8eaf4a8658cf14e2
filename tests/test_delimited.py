"""Semicolon- and tab-separated files, as spreadsheets in decimal-comma locales save "CSV",
are read by every importer: users, roster, events (file and inbox), pre-period rewards, lift
outcomes and the library. Each was told "required column 'user_id' is missing" before."""

from __future__ import annotations

import csv
import json

import pytest

from workbench.agent.ingest import load_pre_reward
from workbench.agent.state import load_agent, segments_of
from workbench.cli import main
from workbench.delimited import delimiter
from workbench.library.service import import_components
from workbench.lift.report import read_csv
from workbench.live.activity import ingest_activity
from workbench.live.roster import import_roster, load_roster


@pytest.mark.parametrize("header, sep", [
    ("user_id,segment", ","), ("user_id;segment", ";"), ("user_id\tsegment", "\t"),
    (b"\xef\xbb\xbfuser_id;segment\r\nu1;a\r\n", ";"), ("user_id", ","),
    ("user_id,note\nu1;a;b", ","),  # the header decides, not the values
])
def test_the_header_line_names_the_separator(header, sep):
    assert delimiter(header) == sep


@pytest.fixture
def store(file_store):
    return file_store  # on a file: the CLI reopens it by path, the roster writes beside it


def test_a_semicolon_users_file_is_decided_and_its_events_ingested(store, tmp_path, capsys):
    segs = segments_of(store)
    users = tmp_path / "users.csv"
    users.write_text("user_id;segment;platform\n" + "".join(
        f"u{i};{segs[i % len(segs)]};ios\n" for i in range(30)), encoding="utf-8")
    out = tmp_path / "batch.csv"
    db = ["--db", store.path]
    assert main([*db, "decide", "--users", str(users), "--out", str(out), "--seed", "1",
                 "--start", "2026-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["users"] == 30
    with out.open(newline="") as f:
        sent = [(r["decision_id"], r["send_at"].replace(" ", "T").replace(":00:00", ":30:00"))
                for r in csv.DictReader(f) if r["send"] == "True"]
    assert sent
    events = tmp_path / "events.csv"
    events.write_text("decision_id;event;value;occurred_at\n"
                      + "".join(f"{d};direct_open;1;{at}\n" for d, at in sent))
    assert main([*db, "ingest", str(events), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["inserted"], report["quarantined"]) == (len(sent),) * 2 + (0,)


def test_a_tab_separated_roster_and_semicolon_inbox_events(store):
    segs = segments_of(store)
    rows = "".join(f"r{i}\t{segs[i % len(segs)]}\n" for i in range(40))
    got = import_roster(store, b"user_id\tsegment\n" + rows.encode(), name="r.tsv",
                        actor="t", joined_on="2026-11-01")
    assert got.rows == 40 and len(load_roster(store)) == 40
    events = b"user_id;event;value;occurred_at\nr1;engagement;1;2026-11-20T08:00:00Z\n"
    from datetime import datetime, timezone

    report = ingest_activity(store, events, name="e.csv", actor="t",
                             clock=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert report.inserted == 1 and not report.quarantined


def test_semicolon_pre_rewards_lift_outcomes_and_library_import(store):
    assert load_pre_reward(b"user_id;pre_reward\nu1;0.5\nu2;1\n") == {"u1": 0.5, "u2": 1.0}
    lift = read_csv(b"user_id;arm;engagement\n" + b"".join(
        f"u{i};{'holdout' if i % 4 == 0 else 'agent'};{i % 3}\n".encode() for i in range(40)),
        "outcomes.csv")
    assert lift.metrics == ["engagement"] and lift.treated.sum() == 30
    result = import_components(store, "kind;text\ngreeting;Hello from a semicolon file\n"
                               .encode(), "lib.csv", "ana")
    assert len(result.created) == 1
    assert store.query("SELECT text FROM components WHERE id = ?", result.created) == [
        {"text": "Hello from a semicolon file"}]
    load_agent(store)  # the library still makes an agent


def test_a_users_file_with_an_empty_segment_says_so(store, tmp_path, capsys):
    users = tmp_path / "users.csv"
    users.write_text("user_id,segment\nu1,\nu2, \n", encoding="utf-8")
    assert main(["--db", store.path, "decide", "--users", str(users)]) == 1
    err = capsys.readouterr().err
    assert "row 1 field 'segment': is empty" in err and "row 2 field 'segment': is empty" in err
    assert "'nan'" not in err


def test_a_lift_file_with_an_empty_arm_is_refused_by_name(tmp_path):
    from workbench import ValidationError

    with pytest.raises(ValidationError) as e:
        read_csv(b"user_id,arm,engagement\nu1,agent,1\n", "one.csv")
    assert str(e.value) == (
        "one.csv was rejected; nothing was imported:\n- field 'arm': the file has 1 agent and "
        "0 holdout users; a lift needs at least 2 users in each arm")


def _counts(store) -> dict[str, int]:
    return {t: store.db[t].count for t in store.db.table_names()}


EVENTS_HEADER = "decision_id,event,value,occurred_at\n"


@pytest.mark.parametrize("command, files, error", [
    (["programme", "roster", "{r.csv}"], {"r.csv": "user_id,segment,user_id\nu1,new_buyers,u2\n"},
     "r.csv was rejected; nothing was imported:\n"
     "- field 'user_id': column 'user_id' appears twice in the header"),
    (["programme", "roster", "{r.csv}"], {"r.csv": "user_id,Segment, segment \nu1,a,b\n"},
     "r.csv was rejected; nothing was imported:\n"
     "- field 'segment': column 'segment' appears twice in the header"),
    (["programme", "roster", "{r.csv}"],
     {"r.csv": "user_id;segment;days_inactive;days_inactive\nu1;new_buyers;3;4\n"},
     "r.csv was rejected; nothing was imported:\n"
     "- field 'days_inactive': column 'days_inactive' appears twice in the header"),
    (["ingest", "{e.csv}"], {"e.csv": "decision_id,event,value,occurred_at,value\n"
                                      "1-u1,direct_open,1,2026-11-15T09:00:00,0\n"},
     "The file was rejected:\n- field 'value': column 'value' appears twice in the header"),
    (["ingest", "{e.csv}", "--pre-reward", "{p.csv}"],
     {"e.csv": EVENTS_HEADER, "p.csv": "user_id,pre_reward,PRE_REWARD\nu1,1,2\n"},
     "The pre-period rewards were rejected:\n"
     "- field 'pre_reward': column 'pre_reward' appears twice in the header"),
    (["decide", "--users", "{u.csv}"], {"u.csv": "user_id,segment,segment\nu1,new_buyers,x\n"},
     "u.csv was rejected; nothing was decided:\n"
     "- field 'segment': column 'segment' appears twice in the header"),
    (["lift", "--file", "{o.csv}"], {"o.csv": "user_id,arm,direct_open,arm\n" + "".join(
        f"u{i},{'agent' if i % 2 else 'holdout'},1,holdout\n" for i in range(8))},
     "The file was rejected:\n- field 'arm': column 'arm' appears twice in the header"),
], ids=["roster user_id", "roster segment, case and spaces", "roster days_inactive", "events",
        "pre-period rewards", "users", "lift outcomes"])
def test_every_reader_refuses_a_repeated_column_and_writes_nothing(store, tmp_path, capsys,
                                                                   command, files, error):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    before = _counts(store)
    args = [str(tmp_path / a[1:-1]) if a.startswith("{") else a for a in command]
    assert main(["--db", store.path, *args]) == 1
    assert capsys.readouterr().err == f"error: {error}\n"
    assert _counts(store) == before
    assert not (tmp_path / "wb.db.live" / "roster").exists() or not any(
        (tmp_path / "wb.db.live" / "roster").iterdir())


def test_the_inbox_and_library_readers_refuse_a_repeated_column(store):
    from workbench import ValidationError

    import_roster(store, b"user_id,segment\nr1," + segments_of(store)[0].encode() + b"\n",
                  name="r.csv", actor="t", joined_on="2026-11-01")
    before = _counts(store)
    with pytest.raises(ValidationError) as e:
        ingest_activity(store, b"user_id,event,occurred_at,Event\n"
                               b"r1,engagement,2026-11-20T08:00:00Z,intent\n",
                        name="e.csv", actor="t")
    assert str(e.value) == ("e.csv was rejected:\n"
                            "- field 'event': column 'event' appears twice in the header")
    with pytest.raises(ValidationError) as e:
        import_components(store, b"kind,text,tone,text,tone\ngreeting,Hi,neutral,Ho,playful\n",
                          "lib.csv", "ana")
    assert str(e.value) == ("The file was rejected:\n"
                            "- field 'text': column 'text' appears twice in the header\n"
                            "- field 'tone': column 'tone' appears twice in the header")
    assert _counts(store) == before
