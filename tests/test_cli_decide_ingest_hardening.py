"""`workbench decide --out` and `workbench ingest --as-of` at their edges."""

from __future__ import annotations

import json
import re

import pandas as pd

from store import open_store
from workbench.cli import main

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_decide_out_writes_send_at_as_iso_utc_with_z_like_the_outbox(db_path, tmp_path,
                                                                   capsys):
    """Before: `2026-11-23 11:00:00`, no zone marker, beside the outbox's `...Z`."""
    for name in ("b.csv", "b.json"):
        out = tmp_path / name
        assert main(["decide", "--synthetic", "60", "--start", "2026-11-20", "--seed", "1",
                     "--out", str(out)]) == 0
        batch_id = json.loads(capsys.readouterr().out)["batch_id"]
        batch = (pd.DataFrame(json.loads(out.read_text())) if name.endswith(".json")
                 else pd.read_csv(out, dtype={"send_at": str}))
        sent = batch[batch["send"]]
        assert len(sent) and sent["send_at"].str.match(ISO_Z).all(), sent["send_at"].head()
        assert batch.loc[~batch["send"], "send_at"].isna().all()
        with open_store(db_path) as s:  # the same instants as the decision log's (UTC)
            logged = {r["id"]: r["send_at"] for r in s.query(
                "SELECT id, send_at FROM decisions WHERE batch_id = ? AND send = 1",
                [batch_id])}
        assert {d: pd.Timestamp(logged[d], tz="UTC") for d in sent["decision_id"]} == {
            d: pd.Timestamp(t) for d, t in zip(sent["decision_id"], sent["send_at"])}


def _today():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).date()


def test_decide_without_start_begins_on_todays_utc_date(db_path, capsys, monkeypatch):
    """The batch's send times are UTC, so is its first day: the local date (a day ahead in
    Asia in the morning, a day behind in the Americas at night) put a batch's sends a day
    off from the `ingest --as-of` day that closes them."""
    from datetime import date

    from workbench.cli import agent as agent_cli

    monkeypatch.setattr(agent_cli, "_today", lambda: date(2031, 5, 6))
    assert main(["decide", "--synthetic", "40", "--seed", "3"]) == 0
    batch_id = json.loads(capsys.readouterr().out)["batch_id"]
    with open_store(db_path) as s:
        (row,) = s.query("SELECT start_day FROM decision_batches WHERE id = ?", [batch_id])
    assert row["start_day"] == "2031-05-06"


def _learnt(db_path) -> int:
    with open_store(db_path) as s:
        return s.query("SELECT count(*) AS n FROM decisions WHERE learned = 1")[0]["n"]


def _decided_weeks_ago(tmp_path, capsys) -> pd.DataFrame:
    from datetime import timedelta
    out = tmp_path / "b.csv"
    start = (_today() - timedelta(days=20)).isoformat()  # every window closed by today
    assert main(["decide", "--synthetic", "100", "--start", start, "--seed", "2",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    return pd.read_csv(out)


def test_ingest_refuses_an_as_of_after_today_before_reading_anything(db_path, tmp_path,
                                                                      capsys):
    """Before: --as-of 2027-01-01 was taken, an event at 2027-01-01T00:00 was stored and every
    decision learnt whole before its window closed."""
    from datetime import timedelta
    batch = _decided_weeks_ago(tmp_path, capsys)
    did = batch.loc[batch["send"], "decision_id"].iloc[0]
    tomorrow = _today() + timedelta(days=1)
    events = tmp_path / "e.csv"
    events.write_text("decision_id,event,value,occurred_at\n"
                      f"{did},direct_open,1,{tomorrow.isoformat()}T00:00:00\n")
    for day in (tomorrow, _today() + timedelta(days=400)):
        assert main(["ingest", str(events), "--as-of", day.isoformat(), "--json"]) == 2
        err = capsys.readouterr().err
        assert "'--as-of'" in err and "after today" in err and "Traceback" not in err
    with open_store(db_path) as s:
        assert s.query("SELECT count(*) AS n FROM outcome_events")[0]["n"] == 0
        assert s.query("SELECT count(*) AS n FROM quarantine")[0]["n"] == 0
    assert _learnt(db_path) == 0
    # today is taken; the line, after it, is in the future and closes nothing
    assert main(["ingest", str(events), "--as-of", _today().isoformat(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["quarantined"], report["inserted"], report["as_of"]) == (1, 0, None)


def test_a_file_with_no_stored_line_closes_no_window_even_with_as_of(db_path, tmp_path,
                                                                     capsys):
    """Before: a header-only file with --as-of learnt all 100 decisions as zero rewards, though
    the README says such a file "closes no window and learns nothing (as_of: null)"."""
    batch = _decided_weeks_ago(tmp_path, capsys)
    did = batch.loc[batch["send"], "decision_id"].iloc[0]
    header = "decision_id,event,value,occurred_at\n"
    files = {"header.csv": header,
             "quarantined.csv": header + f"{did},direct_open,7,2026-01-01T00:00:00\n"
                                         "999-nobody,direct_open,1,2026-01-01T00:00:00\n"}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        assert main(["ingest", str(path), "--as-of", _today().isoformat(), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["as_of"], report["learned_decisions"], report["partly_learned"]) == (
            None, 0, 0), name
    assert _learnt(db_path) == 0
    # one stored line: the explicit day closes the windows, as before
    sent_at = pd.Timestamp(batch.loc[batch["decision_id"] == did, "send_at"].iloc[0])
    good = tmp_path / "good.csv"
    good.write_text(header + f"{did},direct_open,1,"
                             f"{(sent_at + pd.Timedelta(hours=1)).isoformat()}\n")
    assert main(["ingest", str(good), "--as-of", _today().isoformat(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["learned_decisions"] == 100
    assert _learnt(db_path) == 100
