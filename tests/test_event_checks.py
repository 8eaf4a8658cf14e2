"""Plausible maxima of outcome events per use case (issue 13, "Event sanity per event type"):
stored in the SQLite file, refused by name when invalid, used by ``workbench ingest`` and the
live programme's ingest, settable from the CLI and on Agent control > Event checks."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT
from workbench import ValidationError
from workbench.agent.event_checks import (DEFAULT_MAXIMA, StaleLimitsError, load_limits,
                                          save_limits)
from workbench.agent.ingest import ingest_events
from workbench.agent.state import load_agent, record_batch
from workbench.agent.users import synthetic_users
from workbench.cli import main

START = date(2026, 11, 23)
CLOCK = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _add_use_case(store, uc_id: str) -> None:
    store.upsert_reference("use_cases", [{
        "id": uc_id, "name": "Holiday bookings", "inactive_days": 30, "goal_metric": "gmv",
        "created_at": "9999-01-01T00:00:00Z"}])  # after the programme's own


def _settings(store):
    return (store.query("SELECT * FROM agent_settings ORDER BY key"),
            store.query("SELECT * FROM audit_log ORDER BY id"))


def test_each_use_case_has_its_own_maxima_and_the_defaults_until_one_is_saved(store):
    _add_use_case(store, "holidays")
    assert load_limits(store).use_case == "reactivation"  # the programme's use case
    assert dict(load_limits(store).maxima) == dict(DEFAULT_MAXIMA) == {"gmv": 100_000.0}
    assert (load_limits(store).saved_by, load_limits(store).saved_at) == (None, None)
    save_limits(store, {"gmv": "5000"}, "ana")
    save_limits(store, {"gmv": 250_000}, "ben", use_case="holidays")
    mine, theirs = load_limits(store), load_limits(store, "holidays")
    assert (mine.use_case, dict(mine.maxima), mine.saved_by) == ("reactivation",
                                                                  {"gmv": 5000.0}, "ana")
    assert (theirs.use_case, dict(theirs.maxima), theirs.saved_by) == ("holidays",
                                                                        {"gmv": 250_000.0},
                                                                        "ben")
    audit = store.audit_log(2)
    assert [(a["actor"], a["action"], a["entity_id"], json.loads(a["detail"])) for a in audit] == [
        ("ben", "event_maxima", "holidays", {"before": {"gmv": 100000.0},
                                             "after": {"gmv": 250000.0}}),
        ("ana", "event_maxima", "reactivation", {"before": {"gmv": 100000.0},
                                                 "after": {"gmv": 5000.0}})]


@pytest.mark.parametrize("value, problem", [
    ("-5", "field 'gmv': '-5' must be above 0"),
    (0, "field 'gmv': '0' must be above 0"),
    ("nan", "field 'gmv': 'nan' is not a finite number"),
    (float("inf"), "field 'gmv': 'inf' is not a finite number"),
    ("lots", "field 'gmv': 'lots' is not a number"),
    ("", "field 'gmv': '' is not a number"),
    (True, "field 'gmv': 'True' is not a number"),
    ("1e13", "field 'gmv': '1e13' must be at most 1e+12"),
])
def test_an_invalid_maximum_is_refused_naming_the_event_and_nothing_is_saved(store, value,
                                                                            problem):
    before = _settings(store)
    with pytest.raises(ValidationError) as err:
        save_limits(store, {"gmv": value}, "ana")
    assert [str(p) for p in err.value.problems] == [problem]
    assert _settings(store) == before
    assert dict(load_limits(store).maxima) == {"gmv": 100_000.0}


def test_binary_and_unknown_events_have_no_maximum_to_set_and_an_unknown_use_case_is_named(
        store):
    before = _settings(store)
    with pytest.raises(ValidationError) as err:
        save_limits(store, {"direct_open": 3, "basket": 10, "gmv": 10}, "ana")
    assert [str(p) for p in err.value.problems] == [
        "field 'direct_open': is a 0/1 event; it has no maximum to set",
        "field 'basket': is not an event with a maximum (those are: gmv)"]
    with pytest.raises(ValidationError) as err:
        save_limits(store, {"gmv": 10}, "ana", use_case="nope")
    assert [str(p) for p in err.value.problems] == [
        "field 'use_case': 'nope' is not a use case (known: reactivation)"]
    assert _settings(store) == before


def _batch(store):
    agent = load_agent(store)
    d = agent.decide(synthetic_users(200, agent.segments, 4), seed=4, start=START)
    rendered = record_batch(store, agent, d, actor="t", source="test", seed=4, start=START)[1]
    row = rendered[rendered["send"]].iloc[0]
    return row["decision_id"], pd.Timestamp(row["send_at"]).to_pydatetime()


def test_ingest_quarantines_a_value_above_the_use_cases_saved_maximum(store):
    did, sent = _batch(store)
    at = [(sent + timedelta(minutes=m)).isoformat() for m in (10, 20, 30)]
    save_limits(store, {"gmv": "5000"}, "ana")
    data = ("decision_id,event,value,occurred_at\n"
            f"{did},gmv,4999.5,{at[0]}\n{did},gmv,5000.01,{at[1]}\n{did},gmv,5000,{at[2]}\n")
    report = ingest_events(store, load_agent(store), data.encode(), "e.csv", "t", clock=CLOCK)
    assert (report.inserted, report.quarantined) == (
        2, [(3, "value '5000.01' of gmv is over the plausible maximum 5000")])
    assert [q["reason"] for q in store.query("SELECT reason FROM quarantine")] == [
        "value '5000.01' of gmv is over the plausible maximum 5000"]


def test_the_cli_shows_and_sets_maxima_and_refuses_bad_values_by_name(db_path, capsys):
    assert main(["event-limits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "use_case": "reactivation", "maxima": {"gmv": 100000.0}, "saved_by": None,
        "saved_at": None}
    assert main(["event-limits", "--max", "gmv=7500", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["maxima"], shown["saved_by"]) == ({"gmv": 7500.0}, "cli")
    assert main(["event-limits", "--max", "gmv=-1", "--max", "intent=2"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: The plausible maxima were not saved:\n"
                   "- field 'gmv': '-1' must be above 0\n"
                   "- field 'intent': is a 0/1 event; it has no maximum to set\n")
    assert main(["event-limits", "--max", "gmv"]) == 2
    assert "'gmv' is not EVENT=VALUE" in capsys.readouterr().err
    assert main(["event-limits", "--max", "gmv=5000", "--max", "GMV=6000"]) == 2
    assert "gmv is given twice (5000 and 6000); give it once" in capsys.readouterr().err
    with open_store(db_path) as s:
        assert dict(load_limits(s).maxima) == {"gmv": 7500.0}
        # and `workbench ingest` uses it
        did, sent = _batch(s)
    events = db_path.parent / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n"
                      f"{did},gmv,8000,{(sent + timedelta(hours=1)).isoformat()}\n")
    assert main(["ingest", str(events), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["inserted"], report["quarantine"]) == (0, [
        {"line": 2, "reason": "value '8000' of gmv is over the plausible maximum 7500"}])


def test_the_live_programme_ingest_quarantines_amounts_and_refunds_beyond_the_maximum(tmp_path):
    from tests.test_live import CLOCK as LIVE_CLOCK
    from tests.test_live import events_csv, roster
    from workbench.live.activity import ingest_activity

    with open_store(tmp_path / "wb.db") as s:
        from workbench.library.seed import seed

        seed(s)
        roster(s, 50)
        save_limits(s, {"gmv": 1000}, "ana")
        r = ingest_activity(s, events_csv([
            ("3", "gmv", 999.5, "2026-11-20T10:00:00Z", ""),
            ("3", "gmv", -1000, "2026-11-20T11:00:00Z", ""),    # a refund within the maximum
            ("4", "gmv", 1000.5, "2026-11-20T10:00:00Z", ""),
            ("4", "gmv", -5000, "2026-11-20T11:00:00Z", ""),    # an implausible refund
            ("5", "gmv", 1e300, "2026-11-20T10:00:00Z", ""),
        ]), name="e.csv", actor="t", clock=LIVE_CLOCK)
    assert (r.rows, r.inserted) == (5, 2)
    assert r.quarantined == [
        (4, "value '1000.5' of gmv is over the plausible maximum 1000.0"),
        (5, "value '-5000.0' of gmv is a refund beyond the plausible maximum 1000.0"),
        (6, "value '1e+300' of gmv is over the plausible maximum 1000.0")]


def test_agent_control_shows_the_event_checks_and_saves_them_or_names_the_bad_field(db_path):
    at = AppTest.from_file(str(ROOT / "pages/3_Agent_control.py"), default_timeout=30).run()
    assert not at.exception
    assert "Event checks" in [h.value for h in at.subheader]
    box = at.text_input(key="event_max_gmv")
    assert box.value == "100000"
    box.set_value("-3")
    assert at.button[-1].label == "Save event checks"
    at.button[-1].click().run()
    import ui

    assert [e.value for e in at.error] == [  # the problem shown as typed (escaped)
        "The plausible maxima were not saved:\n\n- "
        + ui.plain("field 'gmv': '-3' must be above 0")]
    with open_store(db_path) as s:
        assert load_limits(s).saved_by is None
    at.text_input(key="event_max_gmv").set_value("2500")
    at.button[-1].click().run()
    assert not at.error
    assert "Saved: gmv at most 2500" in [s.value for s in at.success]
    with open_store(db_path) as s:
        assert dict(load_limits(s).maxima) == {"gmv": 2500.0}


def test_an_amount_with_no_value_is_quarantined_in_both_ingests(store, tmp_path):
    """An empty value counts 1 for the 0/1 events; a GMV line with no amount was stored as 1
    currency unit in both ingests."""
    did, sent = _batch(store)
    at = [(sent + timedelta(minutes=m)).isoformat() for m in (10, 20)]
    data = ("decision_id,event,value,occurred_at\n"
            f"{did},gmv,,{at[0]}\n{did},direct_open,,{at[1]}\n")
    report = ingest_events(store, load_agent(store), data.encode(), "e.csv", "t", clock=CLOCK)
    why = "gmv needs a value: the amount (an empty value counts 1 only for the other events)"
    assert (report.inserted, report.quarantined) == (1, [(2, why)])

    from tests.test_live import CLOCK as LIVE_CLOCK
    from tests.test_live import events_csv, roster
    from workbench.live.activity import ingest_activity

    with open_store(tmp_path / "wb.db") as s:
        from workbench.library.seed import seed

        seed(s)
        roster(s, 50)
        r = ingest_activity(s, events_csv([
            ("3", "gmv", None, "2026-11-20T10:00:00Z", ""),
            ("3", "engagement", None, "2026-11-20T10:00:00Z", ""),
        ]), name="e.csv", actor="t", clock=LIVE_CLOCK)
        assert (r.rows, r.inserted, r.quarantined) == (2, 1, [(2, why)])
        assert [q["raw"] for q in s.query("SELECT raw FROM quarantine")] == [
            "3,gmv,,2026-11-20T10:00:00Z,"]


def test_a_save_based_on_an_older_version_is_refused_and_keeps_the_newer_one(store):
    assert load_limits(store).version == 0  # the defaults, never saved
    first = save_limits(store, {"gmv": "1234"}, "ana", based_on=0)
    assert (first.version, load_limits(store).version) == (1, 1)
    newer = save_limits(store, {"gmv": "2222"}, "cli")  # a script: no version to check
    assert newer.version == 2
    before = _settings(store)
    with pytest.raises(StaleLimitsError) as err:
        save_limits(store, {"gmv": "3000"}, "ana", based_on=1)
    assert str(err.value) == (
        f"Not saved: the event checks of use case reactivation were changed by cli at "
        f"{newer.saved_at} since you opened them (you opened version 1, they are now version "
        "2). Theirs: gmv at most 2222. Yours: gmv at most 3000. Save yours again if it still "
        "holds.")
    assert _settings(store) == before
    assert (dict(load_limits(store).maxima), load_limits(store).version) == ({"gmv": 2222.0}, 2)
    assert save_limits(store, {"gmv": "3000"}, "ana", based_on=2).version == 3


def test_a_maximum_saved_before_versions_counts_as_version_1(store):
    from store import agent as agent_store

    agent_store.save_setting(store, "event_maxima:reactivation", json.dumps(
        {"maxima": {"gmv": 900.0}, "by": "old", "at": "2026-01-01T00:00:00Z"}), "old")
    assert (dict(load_limits(store).maxima), load_limits(store).version) == ({"gmv": 900.0}, 1)
    with pytest.raises(StaleLimitsError):
        save_limits(store, {"gmv": "3000"}, "ana", based_on=0)


def test_agent_control_shows_a_maximum_changed_underneath_and_refuses_a_stale_save(db_path):
    import ui

    with open_store(db_path) as s:
        save_limits(s, {"gmv": "1234"}, "ana")
    at = AppTest.from_file(str(ROOT / "pages/3_Agent_control.py"), default_timeout=30).run()
    assert at.text_input(key="event_max_gmv").value == "1234"
    with open_store(db_path) as s:  # `workbench event-limits --max gmv=2222` meanwhile
        cli = save_limits(s, {"gmv": "2222"}, "cli")
    at.number_input(key="trial_users").set_value(2000).run()  # any rerun
    assert not at.exception
    assert at.text_input(key="event_max_gmv").value == "2222"
    assert [c.value for c in at.caption if c.value.startswith("Use case")] == [
        "Use case reactivation: direct_open, engagement, intent, conversion, "
        "conversion_vertical are 0 or 1; an amount above its plausible maximum is a broken "
        "export or an attack, not a customer, and goes to the quarantine with the reason. "
        f"Saved by cli at {cli.saved_at}."]
    at.text_input(key="event_max_gmv").set_value("3000")  # typed on version 2...
    with open_store(db_path) as s:  # ...while someone saves version 3
        third = save_limits(s, {"gmv": "4444"}, "ben")
    at.button(key="event_checks_save").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [ui.plain(
        f"Not saved: the event checks of use case reactivation were changed by ben at "
        f"{third.saved_at} since you opened them (you opened version 2, they are now version "
        "3). Theirs: gmv at most 4444. Yours: gmv at most 3000. Save yours again if it still "
        "holds.")]
    assert _said(at) == []
    assert at.text_input(key="event_max_gmv").value == "4444"  # the page shows theirs
    with open_store(db_path) as s:
        assert (dict(load_limits(s).maxima), load_limits(s).version) == ({"gmv": 4444.0}, 3)
    at.text_input(key="event_max_gmv").set_value("3000")  # applied again, now on version 3
    at.button(key="event_checks_save").click().run()
    assert _said(at) == ["Saved: gmv at most 3000"]
    assert not at.error
    with open_store(db_path) as s:
        assert (dict(load_limits(s).maxima), load_limits(s).version) == ({"gmv": 3000.0}, 4)
    at.run()  # a later rerun keeps the saved value and says it no more
    assert (at.text_input(key="event_max_gmv").value, _said(at)) == ("3000", [])


def _said(at) -> list[str]:
    """The success boxes of the page's saves (the sidebar shows the mode in one too)."""
    return [s.value for s in at.success if s.value.startswith("Saved")]
