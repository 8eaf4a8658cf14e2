"""The live programme's day run daily: the frequency cap and the daily limit count the
programme's own sends, past and pending (``workbench.live.pacing``)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbench import ValidationError
from workbench.agent.guardrails import GUARDRAILS
from workbench.agent.state import segments_of
from workbench.agent.users import synthetic_users
from workbench.cli import main
from workbench.live import pacing
from workbench.live.day import programme_day
from workbench.live.roster import import_roster, load_roster

FIRST = date(2026, 11, 2)
WEEK = pd.Timedelta(days=7)


def _roster(store, n=300, sends_7d=None):
    users = synthetic_users(n, segments_of(store), 1)
    if sends_7d is not None:
        users["sends_7d"] = sends_7d
    buf = io.BytesIO()
    users.to_csv(buf, index=False)
    import_roster(store, buf.getvalue(), name="r.csv", actor="t", joined_on="2026-10-01")


def _sends(outbox) -> pd.DataFrame:
    frames = [pd.read_csv(f, dtype={"user_id": str}) for f in sorted(outbox.glob("*.csv"))]
    sends = pd.concat(frames, ignore_index=True)
    sends["at"] = pd.to_datetime(sends["send_at"], utc=True, format="ISO8601")
    sends["day"] = sends["at"].dt.date
    return sends.sort_values(["user_id", "at"], ignore_index=True)


def _most_in_a_week(sends: pd.DataFrame) -> pd.Series:
    """Per user, the most sends in any 168 hours (a window starting at one of them)."""
    most = {}
    for user, at in sends.groupby("user_id")["at"]:
        t = at.dt.tz_localize(None).to_numpy()
        most[user] = int(max(np.searchsorted(t, t + WEEK.to_timedelta64(), "left")
                             - np.arange(len(t))))
    return pd.Series(most)


def test_a_programme_decided_every_day_keeps_the_weekly_cap_and_one_send_a_day(
        file_store, tmp_path):
    """Before: each day's run counted only the roster's sends_7d, so 10 daily runs sent
    users up to 7 messages in 7 days and two on one day."""
    _roster(file_store, sends_7d=0)
    outbox = tmp_path / "outbox"
    for k in range(10):
        programme_day(file_store, FIRST + timedelta(days=k), outbox, learn_log=False)
    sends = _sends(outbox)
    assert _most_in_a_week(sends).max() == 3  # the agent's frequency_cap_7d, reached
    assert not sends.duplicated(["user_id", "day"]).any()
    # a skipped send is the agent's own cap skip: flagged, certain, and not in the outbox
    log = pq.read_table(tmp_path / "wb.db.live" / "decisions" / "day=2026-11-05"
                        / "batch.parquet").to_pandas()
    capped = (log["guardrails"] & GUARDRAILS["frequency_cap"]) > 0
    assert capped.sum() > 0 and not log.loc[capped, "send"].any()
    assert (log.loc[capped, "propensity"] == 1).all() and (log.loc[capped, "p_send"] == 1).all()


def test_days_decided_out_of_order_count_each_others_pending_sends(file_store, tmp_path):
    _roster(file_store, sends_7d=0)
    outbox = tmp_path / "outbox"
    for k in (6, 0, 3, 1, 5, 2, 7, 4):
        programme_day(file_store, FIRST + timedelta(days=k), outbox, learn_log=False)
    sends = _sends(outbox)
    assert _most_in_a_week(sends).max() <= 3
    assert not sends.duplicated(["user_id", "day"]).any()


def test_the_rosters_sends_7d_are_outside_sends_that_count_against_every_week(file_store,
                                                                               tmp_path):
    outside = np.tile([0, 1, 2, 3], 75)
    _roster(file_store, sends_7d=outside)
    outbox = tmp_path / "outbox"
    for k in range(8):
        programme_day(file_store, FIRST + timedelta(days=k), outbox, learn_log=False)
    sends = _sends(outbox)
    roster = load_roster(file_store).set_index("user_id")["sends_7d"]
    most = _most_in_a_week(sends)
    room = 3 - roster[most.index]
    assert (most <= room).all()
    assert set(roster[sends["user_id"]]) <= {0, 1, 2}  # sends_7d of 3: nothing more


def test_the_daily_limit_is_stored_with_the_programme_and_reported(file_store, tmp_path):
    _roster(file_store, sends_7d=0)
    first = programme_day(file_store, FIRST, tmp_path / "o", max_per_day=2, learn_log=False)
    assert first["max_per_day"] == 2
    later = programme_day(file_store, FIRST + timedelta(days=1), tmp_path / "o",
                          learn_log=False)
    assert later["max_per_day"] == 2 == pacing.stored(file_store)["max_per_day"]
    with pytest.raises(ValidationError, match="whole number >= 1"):
        programme_day(file_store, FIRST + timedelta(days=2), tmp_path / "o", max_per_day=0)


def _blocked(existing: list[list[str]], candidates: list[str], *, room=3, per_day=1):
    """pacing._blocked on readable times (UTC): each candidate against its own sends."""
    def minutes(text):
        return np.datetime64(text, "m").astype(np.int64)
    i = np.array([k for k, times in enumerate(existing) for _ in times], np.int64)
    e = np.array([minutes(x) for times in existing for x in times], np.int64)
    t = np.array([minutes(x) for x in candidates], np.int64)
    day = date(2026, 11, 10)
    weekday = np.array([date.fromisoformat(x[:10]).weekday() for x in candidates])
    return pacing._blocked(i, e, t, len(t), day, weekday, zone="UTC",
                           room=np.full(len(t), room), per_day=per_day).tolist()


def test_the_cap_counts_any_168_hours_and_the_daily_limit_the_calendar_day():
    three_days = ["2026-11-04T10:00", "2026-11-06T10:00", "2026-11-08T10:00"]
    assert _blocked([three_days, three_days, three_days, []],
                    ["2026-11-10T09:00",   # 4 within 168 h of 2026-11-04T10:00
                     "2026-11-11T10:00",   # exactly 7 days after the first: it is out
                     "2026-11-15T09:00",   # 3 in the week from 11-08 10:00
                     "2026-11-12T10:00"]) == [True, False, False, False]
    # pending sends ahead count too: the busiest window may start at the candidate
    ahead = ["2026-11-11T08:00", "2026-11-13T08:00", "2026-11-16T08:00"]
    assert _blocked([ahead], ["2026-11-10T21:00"]) == [True]
    assert _blocked([ahead[:2]], ["2026-11-10T21:00"]) == [False]
    # one send per calendar day, unless the limit is raised
    assert _blocked([["2026-11-10T08:00"]], ["2026-11-10T21:00"]) == [True]
    assert _blocked([["2026-11-10T08:00"]], ["2026-11-10T21:00"], per_day=2) == [False]
    assert _blocked([["2026-11-09T23:00"]], ["2026-11-10T00:00"]) == [False]
    # no room at all (outside sends at the cap)
    assert _blocked([[]], ["2026-11-10T21:00"], room=0) == [True]


def test_programme_day_cli_takes_and_reports_the_daily_limit(file_store, tmp_path, capsys):
    _roster(file_store, sends_7d=0)
    db = str(tmp_path / "wb.db")
    assert main(["--db", db, "programme", "day", "--date", "2026-11-02", "--outbox",
                 str(tmp_path / "o"), "--max-per-day", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["max_per_day"] == 2
    assert main(["--db", db, "programme", "day", "--date", "2026-11-03",
                 "--max-per-day", "0"]) == 2
    assert "--max-per-day" in capsys.readouterr().err


# -- the programme's time zone ---------------------------------------------------------------

def _local(sends: pd.DataFrame, zone: str) -> pd.Series:
    return sends["at"].dt.tz_convert(zone)


@pytest.mark.parametrize("zone,first", [("Asia/Kuala_Lumpur", date(2026, 11, 2)),
                                        ("America/New_York", date(2026, 10, 28))])
def test_send_hours_and_quiet_hours_are_the_programmes_local_ones(file_store, tmp_path, zone,
                                                                  first):
    """Before: send_at was UTC midnight plus the hour, so a Malaysian programme's 08:00-21:00
    sends landed at 16:00-05:00 local. New York's week crosses the end of summer time."""
    _roster(file_store, sends_7d=0)
    outbox = tmp_path / "outbox"
    result = programme_day(file_store, first, outbox, timezone=zone, learn_log=False)
    assert result["timezone"] == zone
    sends = _sends(outbox)
    assert sends["send_at"].str.endswith("Z").all()
    local = _local(sends, zone)
    assert (local.dt.hour == sends["hour"]).all() and (local.dt.day_of_week == sends["weekday"]).all()
    assert local.dt.hour.between(8, 21).all()  # quiet hours 22:00-08:00, local
    assert local.dt.date.between(first, first + timedelta(days=6)).all()
    # the zone is the programme's from now on
    later = programme_day(file_store, first + timedelta(days=1), outbox, learn_log=False)
    assert later["timezone"] == zone == pacing.stored(file_store)["timezone"]
    assert _local(_sends(outbox), zone).dt.hour.between(8, 21).all()


def test_one_send_a_day_is_a_local_calendar_day():
    ist = "Asia/Kolkata"  # +05:30: 2026-11-10T20:00Z is 11-11 01:30 there
    minutes = np.array([np.datetime64("2026-11-10T20:00", "m").astype(np.int64)])
    assert pacing._local_days(minutes, ist).tolist() == [
        date(2026, 11, 11).toordinal() - date(1970, 1, 1).toordinal()]
    assert pacing._local_days(minutes, "UTC").tolist() == [
        date(2026, 11, 10).toordinal() - date(1970, 1, 1).toordinal()]


def test_a_day_not_given_is_today_in_the_programmes_time_zone(file_store, tmp_path):
    _roster(file_store, sends_7d=0)
    zone = "Pacific/Kiritimati"  # UTC+14: its today is often the UTC tomorrow
    result = programme_day(file_store, None, tmp_path / "o", timezone=zone, learn_log=False)
    assert result["day"] == pacing.local_today(zone).isoformat()


def test_a_time_zone_that_is_not_one_is_refused_before_anything_is_decided(file_store,
                                                                           tmp_path, capsys):
    _roster(file_store, sends_7d=0)
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        programme_day(file_store, FIRST, tmp_path / "o", timezone="Mars/Base")
    db = str(tmp_path / "wb.db")
    for bad in ("Mars/Base", "asia/kuala_lumpur", "", "America", "../etc/passwd"):
        assert main(["--db", db, "programme", "day", "--date", "2026-11-02",
                     "--timezone", bad]) == 2
        err = capsys.readouterr().err
        assert "--timezone" in err and "not an IANA time zone name" in err, err
    assert "did you mean Asia/Kuala_Lumpur?" in (main(
        ["--db", db, "programme", "day", "--timezone", "asia/kuala_lumpur"]) == 2
        and capsys.readouterr().err)
    assert not (tmp_path / "o").exists() and pacing.stored(file_store)["timezone"] == "UTC"


# -- the inbox and outbox named on the command line ------------------------------------------

def test_an_inbox_that_is_not_there_is_an_error_given_or_not(file_store, tmp_path, capsys):
    """An inbox that does not exist exits 1 naming it, given or the default; an empty name
    (which read the current folder as the inbox, exit 0) is a usage error, as is an empty
    --outbox (which wrote the outbox into the current folder)."""
    _roster(file_store, sends_7d=0)
    db = str(tmp_path / "wb.db")
    assert main(["--db", db, "programme", "ingest", "--inbox", "/no/such/dir"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Nothing was ingested") and "/no/such/dir does not exist" in err
    assert main(["--db", db, "programme", "ingest"]) == 1  # <db>.live/inbox not made yet
    assert "inbox does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["--db", db, "programme", "ingest", "--inbox", str(tmp_path / "file")]) == 2
    capsys.readouterr()
    for option in (["ingest", "--inbox"], ["day", "--date", "2026-11-02", "--outbox"]):
        for empty in ("", " "):
            assert main(["--db", db, "programme", *option, empty]) == 2
            err = capsys.readouterr().err
            assert f"'{option[-1]}': is empty: name a folder" in err, err
    assert pacing.stored(file_store)["timezone"] == "UTC"
    assert not (tmp_path / "wb.db.live" / "decisions").exists()  # nothing was decided
