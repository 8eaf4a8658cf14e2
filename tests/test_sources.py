"""The pages' sources: the live programme, every simulated run and an imported file, the picker
that chooses among them on the Lift report, Agent control and Posteriors, and the sidebar's
status. One database holds a small live programme (three weeks of events, passive from the
third) and two finished runs (600 users, then a tiny one of 100); the browser tests at the end
serve that same file."""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from store import live as live_store
from store import open_store
from tests.conftest import ROOT, serve_app
from tests.sources_fixtures import live_programme, simulated_runs
from workbench import sources
from workbench.lift import html as fmt
from workbench.lift import report as lr
from workbench.lift.estimators import unadjusted
from workbench.live.logs import events_dir
from workbench.sim import trial

# Browser assertions wait as long as a page's first script run may take on a busy machine.
expect.set_options(timeout=20_000)

LIFT, POSTERIORS, CONTROL = ("pages/4_Lift_report.py", "pages/2_Posteriors.py",
                             "pages/3_Agent_control.py")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sources") / "workbench.db"
    start = live_programme(path, users=1200, days=21, passive_from=14)
    older, tiny = simulated_runs(path, (600, 100))
    return {"path": path, "start": start, "older": older, "tiny": tiny}


def listed(path) -> list[sources.Source]:
    with open_store(path) as s:
        return sources.list_sources(s)


# -- the listing and its readers -----------------------------------------------------------

def test_sources_are_the_live_programme_every_run_newest_first_and_the_file(db):
    got = listed(db["path"])
    assert [(s.key, s.kind, s.run_id) for s in got] == [
        ("live", "live", None), (f"run:{db['tiny']}", "run", db["tiny"]),
        (f"run:{db['older']}", "run", db["older"]), ("file", "file", None)]
    assert got[1].label == f"Simulated run #{db['tiny']} · quick demo · 100 users · done"
    assert got[0].detail == "1,200 users · 2 days decided · 1 events files"
    assert sources.default_key(got) == "live"  # the live programme has a roster


def test_live_weekly_lift_is_dated_and_equals_the_lift_of_the_raw_events(db):
    with open_store(db["path"]) as s:
        live = sources.find(sources.list_sources(s), "live")
        weekly = sources.weekly(s, live)
        roster = pq.read_table(str(db["path"]) + ".live/roster/roster.parquet",
                               columns=["user_id", "arm"]).to_pandas()
        events = pd.concat([pd.read_parquet(p) for p in events_dir(s).glob("day=*/*.parquet")],
                           ignore_index=True)
    start = db["start"]
    assert sorted(set(weekly["week_start"])) == [start, start + timedelta(days=7),
                                                 start + timedelta(days=14)]
    assert weekly.groupby("week")["mode"].first().tolist() == ["active", "active", "passive"]
    # Week 1's direct-open lift from the raw events: days with an open per user, zeros kept.
    days = pd.to_datetime(events["occurred_at"]).dt.date
    in_week = events[(events["event"] == "direct_open") & (days >= start + timedelta(days=7))
                     & (days < start + timedelta(days=14))]
    per_user = in_week.groupby("user_id").size().reindex(roster["user_id"], fill_value=0)
    agent = (roster["arm"] == "agent").to_numpy()
    want = unadjusted(per_user.to_numpy(float)[agent], per_user.to_numpy(float)[~agent])
    row = weekly[(weekly["week"] == 1) & (weekly["metric"] == "direct_open")].iloc[0]
    assert (row["n_agent"], row["n_holdout"]) == (want.n_t, want.n_c)
    assert math.isclose(row["lift"], want.lift, rel_tol=1e-9)
    assert math.isclose(row["ci_low"], want.ci[0], rel_tol=1e-9)


def test_live_weekly_lift_counts_a_user_from_the_week_they_joined(tmp_path):
    from tests.sources_fixtures import csv_bytes
    from workbench.agent.state import segments_of
    from workbench.agent.users import synthetic_users
    from workbench.live.roster import import_roster

    path = tmp_path / "workbench.db"
    start = live_programme(path, users=300, days=14, passive_from=7, decided=1)
    with open_store(path) as s:
        late = synthetic_users(100, segments_of(s), 9)
        late["user_id"] = "late-" + late["user_id"].astype(str)
        import_roster(s, csv_bytes(late), name="more.csv", actor="t",
                      joined_on=(start + timedelta(days=9)).isoformat())
        weekly = sources.weekly(s, sources.find(sources.list_sources(s), "live"))
    users = weekly.groupby("week")[["n_agent", "n_holdout"]].first().sum(axis=1)
    assert users.tolist() == [300, 400]  # the 100 who joined on day 9 count from week 1


def test_live_phases_are_each_stretch_of_a_mode_back_to_active_included(tmp_path):
    path = tmp_path / "workbench.db"
    start = live_programme(path, users=300, days=14, passive_from=5, decided=1)
    with open_store(path) as s:
        s.db["management_events"].insert({
            "mode": "active", "actor": "t", "note": "",
            "at": (start + timedelta(days=10)).isoformat() + "T00:00:00Z"})
        live = sources.find(sources.list_sources(s), "live")
        data = sources.lift_data(s, live)
        periods = sources.phase_periods(s, live, data.phase_days)

    def day(k):
        return start + timedelta(days=k)

    assert periods == [("active", day(0), day(4)), ("passive", day(5), day(9)),
                       ("active", day(10), day(13))]
    html = lr.manager_report(data, lr.phase_table(data), periods=periods, generated="now")
    meta = html.split("<p class='meta'>")[1].split("</p>")[0]
    assert f"{day(0):%d %b %Y} to {day(13):%d %b %Y}" in meta
    assert meta.count(f"{fmt.PHASE_LABELS['active']}:") == 2, meta


def test_live_daily_timeline_counts_sends_and_events_per_arm_and_day(db):
    with open_store(db["path"]) as s:
        daily = sources.daily(s, sources.find(sources.list_sources(s), "live"))
        decided = {d["day"]: d["n_sent"] for d in live_store.days(s)}
        events = pd.concat([pd.read_parquet(p) for p in events_dir(s).glob("day=*/*.parquet")],
                           ignore_index=True)
    start = db["start"]
    assert len(daily) == 2 * 21 and daily["date"].iloc[0] == start.isoformat()
    agent = daily[daily["arm"] == "agent"].set_index("date")
    for day, sent in decided.items():
        assert agent.loc[day, "sends"] == sent
    assert daily[daily["arm"] == "holdout"]["sends"].isna().all()  # BAU: not ours to know
    opens = events[events["event"] == "direct_open"].groupby(
        pd.to_datetime(events["occurred_at"]).dt.strftime("%Y-%m-%d")).size()
    both = daily.groupby("date")["direct_open"].sum()
    assert both.to_dict() == {d: float(n) for d, n in opens.items()}
    assert daily.groupby("mode")["date"].nunique().to_dict() == {"active": 14, "passive": 7}


def test_a_runs_agent_is_read_from_its_sandbox_and_a_file_has_none(db):
    with open_store(db["path"]) as s:
        got = sources.list_sources(s)
        run = trial.run_row(s, db["older"])
        assert sources.agent_db(s, got[2]) == run["folder"] + "/library.db"
        assert sources.agent_db(s, got[0]) == str(db["path"])
        assert sources.agent_db(s, got[3]) is None


def test_the_live_marker_moves_with_a_new_events_file_and_a_mode_switch(tmp_path):
    path = tmp_path / "w.db"
    live_programme(path, users=200, days=8, passive_from=4, decided=0)
    before = listed(path)[0].marker
    with open_store(path) as s:
        s.record_mode("active", "t", "back to curation")
    after_mode = listed(path)[0].marker
    assert len({before, after_mode}) == 2
    with open_store(path) as s:
        from workbench.live.activity import ingest_activity

        uid = pq.read_table(str(path) + ".live/roster/roster.parquet").column("user_id")[0]
        ingest_activity(s, f"user_id,event,occurred_at\n{uid},engagement,2026-01-01T10:00:00Z\n"
                        .encode(), name="late.csv", actor="t")
    assert listed(path)[0].marker not in (before, after_mode)


def test_status_names_the_mode_and_no_run_when_none_moves(db):
    with open_store(db["path"]) as s:
        assert sources.status(s) == sources.Status(s.current_mode(), None)


def test_phase_spans_follow_each_other_from_the_first_day(db):
    start = db["start"]
    assert lr.phase_spans({"active": 14, "passive": 7}, start) == [
        ("active", start, start + timedelta(days=13)),
        ("passive", start + timedelta(days=14), start + timedelta(days=20))]


def test_a_card_arrow_follows_the_sign_and_colour_only_a_clear_large_sample():
    from workbench.lift.cards import card

    row = {"metric": "engagement", "lift": -0.052, "ci_low": -0.09, "ci_high": -0.01,
           "significant": True, "status": "ok", "small_sample": False, "n_holdout": 5000,
           "events_holdout": 900.0}
    c = card(row)
    assert (c.value, c.delta, c.arrow, c.colour, c.verdict, c.warning) == (
        "-5.2%", "95% interval -9.0% to -1.0%", "down", "red", "Significant", "")
    c = card({**row, "lift": 0.031, "ci_low": -0.01, "ci_high": 0.07, "significant": False})
    assert (c.arrow, c.colour, c.verdict) == ("up", "gray", "Not significant")
    c = card({**row, "lift": 1.22, "ci_low": 0.1, "ci_high": 3.5, "significant": False,
              "small_sample": True, "n_holdout": 10, "events_holdout": 4.0})
    assert (c.value, c.arrow, c.colour, c.verdict) == ("+122.0%", "up", "gray",
                                                       "Not called significant")
    assert c.warning.startswith("Small sample: 10 holdout users, 4 with an event. Too few")
    c = card({**row, "lift": float("nan"), "status": "no events in the holdout yet"})
    assert (c.value, c.arrow, c.colour, c.verdict) == ("—", "off", "gray", "")


def test_a_small_sample_is_never_called_significant_whatever_its_interval():
    from workbench.lift.estimators import unadjusted

    rng = np.random.default_rng(1)
    big = unadjusted(rng.poisson(3.0, 4000).astype(float), rng.poisson(1.0, 400).astype(float))
    small = unadjusted(rng.poisson(3.0, 90).astype(float), rng.poisson(1.0, 10).astype(float))
    assert big.ci[0] > 0 and big.significant and not big.small_sample
    assert small.ci[0] > 0 and small.small_sample and not small.significant


# -- pages (AppTest) -------------------------------------------------------------------------

def app(db, page, monkeypatch) -> AppTest:
    monkeypatch.setenv("WORKBENCH_DB", str(db["path"]))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def cards(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_picking_an_older_run_shows_its_lift_and_keeps_the_choice_on_posteriors(
        db, monkeypatch):
    at = app(db, LIFT, monkeypatch)
    assert at.selectbox(key="source_pick").value == "live"
    at.selectbox(key="source_pick").set_value(f"run:{db['older']}").run()
    assert not at.exception
    with open_store(db["path"]) as s:
        older = sources.find(sources.list_sources(s), f"run:{db['older']}")
        table = lr.phase_table(sources.lift_data(s, older), adjusted=True)
    active = table[table["phase"] == "active"]
    assert cards(at) == {fmt.metric_name(r.metric): fmt.pct(r.lift)
                         if r.status in ("ok", "no variation") else "—"
                         for r in active.itertuples()}
    assert f"**Showing:** Simulated run \\#{db['older']}" in at.sidebar.markdown[0].value
    # Posteriors show that run's own agent (from its sandbox), not the latest run's.
    at.switch_page(POSTERIORS).run()
    assert not at.exception and at.selectbox(key="source_pick").value == f"run:{db['older']}"
    with open_store(db["path"]) as s:
        from workbench.agent.state import load_agent

        with open_store(sources.agent_db(s, older), migrate=False) as sandbox:
            n_older = load_agent(sandbox).models["slot:greeting"].n
        tiny = sources.find(sources.list_sources(s), f"run:{db['tiny']}")
        with open_store(sources.agent_db(s, tiny), migrate=False) as sandbox:
            n_tiny = load_agent(sandbox).models["slot:greeting"].n
    assert n_older != n_tiny
    assert any(c.value.startswith(f"{n_older:,} observations learnt for slot\\:greeting")
               for c in at.caption)


def test_a_finished_run_whose_folder_is_gone_says_so_instead_of_not_started(tmp_path,
                                                                            monkeypatch):
    path = tmp_path / "workbench.db"
    (rid,) = simulated_runs(path, (100,))
    (tmp_path / "workbench.db.runs").rename(tmp_path / "moved.runs")
    at = app({"path": path}, POSTERIORS, monkeypatch)
    assert at.selectbox(key="source_pick").value == f"run:{rid}"
    assert [i.value for i in at.info] == [
        f"Simulated run \\#{rid} · quick demo · 100 users · done: its folder (with the agent's "
        "sandbox) is missing beside the database; it was moved or deleted."]


def test_picking_the_live_programme_shows_its_lift_with_calendar_dates(db, monkeypatch):
    at = app(db, LIFT, monkeypatch)
    start = db["start"]
    spans = (f"Active management: {start:%d %b %Y} to {start + timedelta(days=13):%d %b %Y} · "
             f"Passive (agent on its own): {start + timedelta(days=14):%d %b %Y} to "
             f"{start + timedelta(days=20):%d %b %Y}")
    assert any(c.value.endswith(spans) for c in at.caption)
    assert [i.value for i in at.info] == [lr.INTERIM_NOTE]  # still running: an interim look
    assert set(cards(at)) >= {"Days with direct opens", "Days with engagement"}
    weekly = json.loads(next(c for c in at.get("plotly_chart")
                             if "lift week by week" in c.proto.spec).proto.spec)
    assert weekly["layout"]["xaxis"]["title"]["text"] == "Week starting"
    assert weekly["data"][2]["x"][0].startswith(start.isoformat())


def test_a_tiny_run_warns_of_its_small_sample_and_calls_nothing_significant(db, monkeypatch):
    at = app(db, LIFT, monkeypatch)
    at.selectbox(key="source_pick").set_value(f"run:{db['tiny']}").run()
    with open_store(db["path"]) as s:
        data = sources.lift_data(s, sources.find(sources.list_sources(s), f"run:{db['tiny']}"))
    holdout = int((~data.treated).sum())
    assert holdout < 100
    warnings = [w.value for w in at.warning if w.value.startswith("Small sample: ")]
    assert len(warnings) == len([m for m in at.metric if m.value != "—"]) > 0
    assert all(w.startswith(f"Small sample: {holdout} holdout users") for w in warnings)
    assert not [c.value for c in at.caption if "Significant ·" in c.value]
    from streamlit.proto.Metric_pb2 import Metric

    shown = [m.proto for m in at.metric if m.value != "—"]
    assert shown and {Metric.MetricColor.Name(p.color) for p in shown} == {"GRAY"}
    # the arrow still follows the sign of each lift
    assert [Metric.MetricDirection.Name(p.direction) for p in shown] == [
        "UP" if p.body.startswith("+") and p.body != "+0.0%" else
        "DOWN" if p.body.startswith("-") else "NONE" for p in shown]


def test_agent_control_timeline_follows_the_picked_source_with_dates(db, monkeypatch):
    at = app(db, CONTROL, monkeypatch)
    assert at.selectbox(key="source_pick").options == [s.label for s in listed(db["path"])
                                                       if s.kind != "file"]
    start = db["start"]
    phases = at.dataframe[0].value
    assert phases["Phase"].tolist() == [
        f"Active management: {start:%d %b %Y} to {start + timedelta(days=13):%d %b %Y}",
        (f"Passive (agent on its own): {start + timedelta(days=14):%d %b %Y} to "
         f"{start + timedelta(days=20):%d %b %Y}")]
    # The legend names each panel: sends and direct opens share a line style
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [(t["legendgroup"], t["legendgrouptitle"]["text"], t["name"]) for t in spec["data"]
            ] == [("sends", "Sends", "agent"),
                  ("events", "Events", "days with direct opens · agent"),
                  ("events", "Events", "days with engagement · agent"),
                  ("sends", "Sends", "holdout"),
                  ("events", "Events", "days with direct opens · holdout"),
                  ("events", "Events", "days with engagement · holdout")]
    at.selectbox(key="source_pick").set_value(f"run:{db['older']}").run()
    with open_store(db["path"]) as s:
        first = trial.daily(s, db["older"])["date"].min()
    phases = at.dataframe[0].value
    assert phases["Phase"].iloc[0].startswith(
        f"Active management: {pd.Timestamp(first):%d %b %Y} to")


def test_an_imported_file_is_remembered_while_posteriors_shows_the_live_agent(db, monkeypatch):
    at = app(db, LIFT, monkeypatch)
    at.selectbox(key="source_pick").set_value("file").run()
    assert any(i.value == "Upload a file to see its lift." for i in at.info)
    at.switch_page(POSTERIORS).run()
    assert not at.exception and at.selectbox(key="source_pick").value == "live"
    assert "Imported file cannot be shown here; showing Live programme." in [
        c.value for c in at.caption]
    at.switch_page(LIFT).run()
    assert at.selectbox(key="source_pick").value == "file"


# -- in a real browser (the last one starts a run on the file) -------------------------------

@pytest.fixture(scope="module")
def served(db):
    with serve_app(db["path"]) as url:
        yield url


def pick(page, label: str) -> None:
    """Choose ``label`` in the source picker; a click that lands while the page is still
    drawing can be lost, so it is tried again until the picker shows the choice."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Showing")
    for attempt in range(4):
        box.click()
        page.get_by_role("option", name=label).click()
        try:
            expect(sidebar(page)).to_contain_text(f"Showing: {label}", timeout=10_000)
            return
        except AssertionError:
            if attempt == 3:
                raise


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


@pytest.mark.browser
def test_browser_an_older_run_and_the_live_programme_on_the_lift_report(db, served, page):
    page.goto(served + "/Lift_report")
    expect(page.get_by_role("heading", name="Lift report")).to_be_visible(timeout=60_000)
    start = db["start"]
    expect(page.get_by_text(f"Active management: {start:%d %b %Y} to")).to_be_visible()
    expect(page.get_by_text("Week starting").first).to_be_attached()
    pick(page, f"Simulated run #{db['older']} · quick demo · 600 users · done")
    expect(sidebar(page)).to_contain_text(f"Showing: Simulated run #{db['older']}")
    expect(page.get_by_text("540 users with the agent, 60 in the holdout")).to_be_visible()
    pick(page, f"Simulated run #{db['tiny']} · quick demo · 100 users · done")
    expect(page.get_by_text("Small sample: ").first).to_be_visible()
    # the choice is kept across the pages of a session (the menu, not a new page load)
    sidebar(page).get_by_role("link", name="Posteriors").click()
    expect(page.get_by_role("heading", name="Posteriors")).to_be_visible()
    expect(sidebar(page)).to_contain_text(f"Showing: Simulated run #{db['tiny']}")
    expect(page.get_by_text("read from the run's own copy of the programme")).to_be_visible()


@pytest.mark.browser
def test_browser_sidebar_follows_a_mode_switch_made_elsewhere(db, served, page):
    page.goto(served + "/Lift_report")
    expect(sidebar(page)).to_contain_text("No simulated run in progress", timeout=60_000)
    with open_store(db["path"]) as s:
        mode = s.current_mode()
        other = "passive" if mode == "active" else "active"
        s.record_mode(other, "someone-else", "switched in another tab")
    label = {"active": "Active management", "passive": "Passive management"}
    expect(sidebar(page)).to_contain_text(label[other], timeout=15_000)
    expect(sidebar(page)).not_to_contain_text(label[mode])


@pytest.mark.browser
def test_browser_home_mode_switch_follows_a_mode_switch_made_elsewhere(db, served, page):
    """Home's switch points at the mode a click would switch to, also after a switch made in
    another tab: the page reruns on it, and the switch flips to the other mode with it."""
    page.goto(served)
    expect(page.get_by_text("Record mode change")).to_be_visible(timeout=60_000)
    with open_store(db["path"]) as s:
        mode = s.current_mode()
        other = "passive" if mode == "active" else "active"
    expect(page.get_by_role("radio", name=other)).to_be_checked()
    with open_store(db["path"]) as s:
        s.record_mode(other, "someone-else", "switched in another tab")
    expect(page.get_by_role("radio", name=mode)).to_be_checked(timeout=15_000)
    page.get_by_role("button", name="Record mode change").click()
    expect(page.get_by_role("radio", name=other)).to_be_checked(timeout=15_000)
    with open_store(db["path"]) as s:
        assert [e["mode"] for e in s.management_events()[-2:]] == [other, mode]


@pytest.mark.browser
def test_browser_sidebar_shows_a_running_runs_day_and_phase_change_in_place(db, served, page):
    page.goto(served + "/Lift_report")
    expect(page.get_by_role("heading", name="Lift report")).to_be_visible(timeout=60_000)
    with open_store(db["path"]) as s:
        rid = trial.create_run(s, trial.preset("quick_demo", users=1500, days=35,
                                               active_days=7, seed=9), "browser-test")
        trial.start_background(s, rid)
    status = sidebar(page).locator('[data-testid="stAlert"]').filter(has_text=f"Run #{rid}")
    expect(status).to_contain_text("active phase", timeout=90_000)
    expect(status).to_contain_text("of 35")
    seen = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "passive phase" not in seen:
        text = status.inner_text() if status.count() else ""
        seen |= {p for p in ("active phase", "passive phase") if p in text}
        page.wait_for_timeout(500)
    assert seen == {"active phase", "passive phase"}
    expect(sidebar(page)).to_contain_text("No simulated run in progress", timeout=120_000)
    with open_store(db["path"]) as s:
        assert trial.run_row(s, rid)["status"] == "done"

