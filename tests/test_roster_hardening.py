"""The roster as a CRM team feeds it: re-imports from other tools, spreadsheet re-saves, users
who leave, and a database that was never seeded. Each test failed before its fix."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from store import live as live_store
from store import open_store
from workbench import ValidationError
from workbench.agent.state import segments_of
from workbench.cli import main
from workbench.live.logs import decisions_dir
from workbench.live.roster import import_roster, load_roster

SEG = "lapsing_buyers"


@pytest.fixture
def store(file_store):
    return file_store  # on a file: the CLI reopens it by path, the roster writes beside it


def _write(path, header: str, rows: list[str]) -> str:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _cli(store, *args) -> tuple[int, str, str]:
    return main(["--db", store.path, *map(str, args)])


# -- 1. a re-import without consent columns keeps each known user's consent ----------------

def test_a_reimport_without_consent_columns_does_not_message_users_who_withdrew(
        store, tmp_path, capsys):
    """A Braze export with consents, then a Salesforce export without them: every known user
    was reset to push, e-mail and in-app allowed, and 18 of 50 users who had withdrawn
    consent were in the next day's outbox."""
    withdrawn = {f"u{i}" for i in range(1, 51)}
    first = _write(tmp_path / "cs1.csv", "user_id,segment,consent_push,consent_email,"
                   "consent_sms,consent_in_app",
                   [f"u{i},{SEG},false,false,false,false" for i in range(1, 51)]
                   + [f"u{i},{SEG},true,true,false,true" for i in range(51, 201)])
    second = _write(tmp_path / "cs2.csv", "user_id,segment,days_inactive",
                    [f"u{i},{SEG},40" for i in range(1, 201)])
    assert _cli(store, "programme", "roster", first, "--joined-on", "2026-11-01") == 0
    capsys.readouterr()
    assert _cli(store, "programme", "roster", second, "--joined-on", "2026-11-02") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kept_columns"] == ["platform", "past_engagement", "habitual_hour",
                                      "sends_7d", "consent_push", "consent_email",
                                      "consent_sms", "consent_in_app"]
    roster = load_roster(store).set_index("user_id")
    consents = ["consent_push", "consent_email", "consent_sms", "consent_in_app"]
    assert roster.loc[sorted(withdrawn), consents].to_numpy().sum() == 0
    assert (roster.drop(sorted(withdrawn))[consents].to_numpy().sum(axis=0)
            == [150, 150, 0, 150]).all()
    assert set(roster["days_inactive"]) == {40}  # what the file does say is updated
    assert _cli(store, "programme", "day", "--date", "2026-11-03", "--outbox",
                tmp_path / "out") == 0
    day = json.loads(capsys.readouterr().out)
    with open(tmp_path / "out" / "decisions-2026-11-03.csv", newline="") as f:
        sent = {r["user_id"] for r in csv.DictReader(f)}
    assert sent and not sent & withdrawn
    log = pq.read_table(decisions_dir(store) / "day=2026-11-03" / "batch.parquet",
                        columns=["user_id", "send"]).to_pandas()
    decided_withdrawn = log[log["user_id"].isin(withdrawn)]
    assert len(decided_withdrawn) > 0 and not decided_withdrawn["send"].any()
    assert int(log["send"].sum()) == day["sent"] == len(sent)


def test_unstated_attributes_keep_stored_values_and_new_users_get_the_defaults(store):
    import_roster(store, (f"user_id,segment,platform,habitual_hour,sends_7d,consent_sms\n"
                          f"a,{SEG},ios,7,2,true\nb,{SEG},web,8,3,true\n").encode(),
                  name="one.csv", actor="t", joined_on="2026-11-01")
    # b's habitual hour is an empty cell: b keeps 8; c is new and gets the defaults.
    report = import_roster(store, (f"user_id,segment,habitual_hour\na,{SEG},9\n"
                                   f"b,{SEG},\nc,{SEG},\n").encode(),
                           name="two.csv", actor="t", joined_on="2026-11-02")
    assert report.kept_columns == ("days_inactive", "platform", "past_engagement", "sends_7d",
                                   "consent_push", "consent_email", "consent_sms",
                                   "consent_in_app")
    got = load_roster(store).set_index("user_id")[
        ["platform", "habitual_hour", "sends_7d", "consent_sms", "consent_push"]]
    assert got.to_dict("index") == {
        "a": {"platform": "ios", "habitual_hour": 9, "sends_7d": 2, "consent_sms": True,
              "consent_push": True},
        "b": {"platform": "web", "habitual_hour": 8, "sends_7d": 3, "consent_sms": True,
              "consent_push": True},
        "c": {"platform": "android", "habitual_hour": 19, "sends_7d": 0, "consent_sms": False,
              "consent_push": True}}


# -- 7. a database that was never seeded -------------------------------------------------

def test_a_roster_on_an_unseeded_database_says_to_seed_first(tmp_path, capsys):
    roster = _write(tmp_path / "r.csv", "user_id,segment", [f"u1,{SEG}", "u2,x"])
    db = tmp_path / "fresh.db"
    assert main(["--db", str(db), "programme", "roster", roster]) == 1
    assert capsys.readouterr().err == (
        "error: r.csv was rejected; nothing was imported:\n"
        "- the library has no segments yet: run `workbench seed` on this database first\n")
    with open_store(db) as s:
        assert live_store.programme(s) is None
    assert not (tmp_path / "fresh.db.live").exists()
