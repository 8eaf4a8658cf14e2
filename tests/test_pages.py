"""Page tests with Streamlit's AppTest: every page renders, and the Components page works end to
end against a real SQLite file."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT
import ui

PAGES = [p.file for p in ui.PAGES]
COMPONENTS = "pages/1_Components.py"
EDITOR = "components_editor_0"


def app(page: str = "Home.py") -> AppTest:
    """The app through its one entry, switched to ``page`` as the menu would."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    if page not in ("Home.py", ui.PAGES[0].file):
        at.switch_page(page).run()
    return at


OVERVIEW = "pages/0_Overview.py"


def test_the_overview_page_is_home_and_runs_on_its_own(db_path):
    assert ui.PAGES[0].file == OVERVIEW and ui.PAGES[0].title == "Home"
    at = AppTest.from_file(str(ROOT / OVERVIEW), default_timeout=30).run()
    assert not at.exception and at.title[0].value == "CRM workbench"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(db_path, page):
    at = app(page)
    assert not at.exception, at.exception
    assert at.title[0].value == next(p.title for p in ui.PAGES if p.file == page).replace(
        "Home", "CRM workbench")
    assert not at.error
    # the entry draws the sidebar once, whatever the page
    assert [t.key for t in at.sidebar.text_input] == ["actor"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_also_runs_on_its_own(db_path, page):
    """A page file run directly (no entry, no sidebar) still renders: nothing in a page
    depends on the entry having run first."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=30).run()
    assert not at.exception, at.exception
    assert at.title[0].value and not at.error


@pytest.mark.parametrize("page", PAGES)
def test_every_table_names_its_columns_in_words(db_path, page):
    """No header reads like a database column (product_category, updated_by, old_text...)."""
    import json

    at = app(page)
    for frame in at.dataframe:
        labels = json.loads(frame.proto.columns or "{}")
        for column in frame.value.columns:
            label = labels.get(str(column), {}).get("label") or str(column)
            assert "_" not in label, (page, column)


def test_no_page_title_or_menu_entry_carries_an_emoji():
    import re

    emoji = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
    for p in ui.PAGES:
        source = (ROOT / p.file).read_text(encoding="utf-8")
        assert not emoji.search(p.title + p.icon + source), p.file


def test_home_shows_library_size_and_mode(db_path):
    at = app()
    values = {m.label: m.value for m in at.metric}
    with open_store(db_path) as s:
        active = len(s.components(status="active"))
    assert values["Active atoms"] == str(active)
    assert values["Management mode"] == "Active"
    assert [link.label for link in at.get("page_link")] == [
        "Components", "Posteriors", "Agent control", "Lift report", "Rewrite studio",
        "LLM settings"]


def test_home_records_a_mode_change_and_the_library_freezes(db_path):
    at = app()
    at.radio(key="mode_choice").set_value("passive")
    at.text_input(key="mode_note").set_value("hand over to the agent")
    at.button[0].click().run()
    with open_store(db_path) as s:
        assert s.current_mode() == "passive"
        assert s.management_events()[-1]["note"] == "hand over to the agent"
    at.switch_page(COMPONENTS).run()
    assert any("frozen" in i.value for i in at.info)
    assert at.button(key="save_edits").disabled


def test_components_lists_the_library_and_filters_it(db_path):
    at = app(COMPONENTS)
    with open_store(db_path) as s:
        total = len(s.components(status="active"))
        ctas = len(s.components(kind="cta", status="active"))
    assert len(at.data_editor[0].value) == total
    at.multiselect(key="f_kind").set_value(["cta"]).run()
    assert len(at.data_editor[0].value) == ctas
    at.text_input(key="f_search").set_value("zzzz-no-match").run()
    assert len(at.data_editor[0].value) == 0


def test_inline_edit_is_saved_with_a_revision(db_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "apptest")
    at = app(COMPONENTS)
    first_id = int(at.data_editor[0].value.iloc[0]["id"])
    at.session_state[EDITOR] = {"edited_rows": {0: {"text": "Hai, apa khabar?"}},
                                "added_rows": [], "deleted_rows": []}
    at.button(key="save_edits").click().run()
    assert not at.exception
    assert any("Saved 1 component" in s.value for s in at.success)
    with open_store(db_path) as s:
        assert s.component(first_id)["text"] == "Hai, apa khabar?"
        rev = s.component_revisions(first_id)[0]
        assert (rev["action"], rev["new_text"], rev["actor"]) == (
            "edit", "Hai, apa khabar?", "apptest")


def test_invalid_inline_batch_is_rejected_whole_naming_row_and_field(db_path):
    at = app(COMPONENTS)
    df = at.data_editor[0].value
    with open_store(db_path) as s:
        before = s.query("SELECT * FROM components ORDER BY id")
    at.session_state[EDITOR] = {
        "edited_rows": {0: {"text": "A fine new greeting"}, 2: {"text": "Hi {first_name}"}},
        "added_rows": [], "deleted_rows": []}
    at.button(key="save_edits").click().run()
    assert len(at.error) == 1
    message = at.error[0].value
    assert "The edits were rejected" in message
    assert f"row 3 (component #{int(df.iloc[2]['id'])}) field 'text'" in message.replace("\\", "")
    with open_store(db_path) as s:
        assert s.query("SELECT * FROM components ORDER BY id") == before


def test_add_component_form(db_path):
    at = app(COMPONENTS)
    at.selectbox(key="add_kind").set_value("cta")
    at.text_area(key="add_text").set_value("Jom, order sekarang")
    at.selectbox(key="add_tone").set_value("playful")
    submit = [b for b in at.button if b.label == "Add component"][0]
    submit.click().run()
    with open_store(db_path) as s:
        row = s.components(search="Jom, order sekarang")
    assert [(r["kind"], r["tone"]) for r in row] == [("cta", "playful")]


def test_add_component_shows_the_problem_and_adds_nothing(db_path):
    at = app(COMPONENTS)
    with open_store(db_path) as s:
        n = s.db["components"].count
    at.text_area(key="add_text").set_value("   ")
    [b for b in at.button if b.label == "Add component"][0].click().run()
    assert "must not be empty" in at.error[0].value
    with open_store(db_path) as s:
        assert s.db["components"].count == n


def test_import_good_and_bad_files(db_path):
    at = app(COMPONENTS)
    at.file_uploader[0].set_value(
        ("new.csv", b"kind,text,tags\ncta,Grab it tonight,evening\n", "text/csv"))
    at.run()
    at.button(key="import_button").click().run()
    assert any("1 created" in s.value for s in at.success)
    with open_store(db_path) as s:
        n = s.db["components"].count
        assert s.components(search="Grab it tonight")[0]["source"] == "import"
    at.file_uploader[0].set_value(
        ("bad.csv", b"kind,text\ncta,Fine\ngreeting,\n", "text/csv"))
    at.run()
    at.button(key="import_button").click().run()
    assert "row 2 field 'text': must not be empty" in at.error[0].value.replace("\\", "")
    with open_store(db_path) as s:
        assert s.db["components"].count == n


def test_history_archive_and_restore(db_path):
    at = app(COMPONENTS)
    cid = at.selectbox(key="history_id").value
    at.button(key="status_button").click().run()
    with open_store(db_path) as s:
        assert s.component(cid)["status"] == "archived"
    assert at.button(key="status_button").label == "Restore"
    at.button(key="status_button").click().run()
    with open_store(db_path) as s:
        assert s.component(cid)["status"] == "active"
    history = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert list(history["action"][:2]) == ["restore", "archive"]


def test_preview_counts_permutations_and_renders_channel_mockups(db_path):
    at = app(COMPONENTS)
    assert int(at.metric[0].value.replace(",", "")) > 1000
    at.slider(key="pv_n").set_value(3).run()
    # the Preview tab's mock-ups (the template editor shows one sample of its own)
    htmls = [h.proto.body for h in at.get("html") if "data-template-sample" not in h.proto.body]
    assert len(htmls) == 3 and all('data-preview="push"' in h for h in htmls)
    at.selectbox(key="pv_channel").set_value("sms").run()
    htmls = [h.proto.body for h in at.get("html") if "data-template-sample" not in h.proto.body]
    assert all('data-testid="sms-counter"' in h for h in htmls)
    # A push template shown as SMS has a title the channel lacks: the page says so.
    assert any("SMS messages have no title" in w.value for w in at.warning)


POSTERIORS = "pages/2_Posteriors.py"


def test_posteriors_page_decides_a_batch_and_shows_beliefs(db_path):
    at = app(POSTERIORS)
    assert any("0 observations learnt" in c.value for c in at.caption)
    at.number_input(key="demo_users").set_value(500)
    at.button(key="decide_button").click().run()
    assert not at.exception
    assert any("Decided batch 1 for 500 users" in s.value for s in at.success)
    with open_store(db_path) as s:
        assert s.db["decisions"].count == 500
        assert s.db["posterior_snapshots"].count > 0
    at.selectbox(key="post_dimension").set_value("channel").run()
    assert not at.exception
    assert any("Sent by" in m.value for m in at.markdown)


def test_posteriors_page_loads_events_and_quarantines_bad_lines(db_path):
    at = app(POSTERIORS)
    at.button(key="decide_button").click().run()
    import pandas as pd

    with open_store(db_path) as s:
        row = s.query("SELECT id, send_at FROM decisions WHERE send = 1 LIMIT 1")[0]
    did = row["id"]
    when = (pd.Timestamp(row["send_at"]) + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    data = (f"decision_id,event,value,occurred_at\n{did},direct_open,1,{when}\n"
            f"ghost,direct_open,1,{when}\n").encode()
    at.file_uploader(key="events_file").set_value(("events.csv", data, "text/csv"))
    at.date_input(key="events_as_of").set_value((pd.Timestamp.today() + pd.Timedelta(days=30))
                                               .date())
    at.run()
    at.button(key="ingest_button").click().run()
    assert any("1 new events, 0 already loaded, 1 quarantined" in s.value.replace("\\", "")
               for s in at.success)
    with open_store(db_path) as s:
        assert s.db["outcome_events"].count == 1
        assert s.query("SELECT line, reason FROM quarantine") == [
            {"line": 3, "reason": "no decision 'ghost' in the decision log"}]


def test_posteriors_page_learns_nothing_from_an_events_file_with_no_stored_line(db_path):
    """The page loads events through the CLI's code: a header-only file on a batch whose
    windows closed weeks ago (by the wall clock) closes none of them."""
    from datetime import date

    from workbench.agent.state import decide_batch, load_agent
    from workbench.agent.users import synthetic_users

    with open_store(db_path) as s:
        agent = load_agent(s)
        decide_batch(s, agent, synthetic_users(200, agent.segments, 7), actor="t",
                     source="test", seed=7, start=date(2020, 1, 6))
    at = app(POSTERIORS)
    at.file_uploader(key="events_file").set_value(
        ("events.csv", b"decision_id,event,value,occurred_at\n", "text/csv"))
    at.run()
    at.button(key="ingest_button").click().run()
    assert "events.csv: 0 new events, 0 already loaded, 0 quarantined; 0 decisions learnt." \
        in [s.value.replace("\\", "") for s in at.success]
    with open_store(db_path) as s:
        assert s.query("SELECT count(*) AS n FROM decisions WHERE learned > 0") == [{"n": 0}]


def plotly_specs(at) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def colours_by_label(spec: dict) -> dict[str, str]:
    """Label -> colour of every trace point of a chart (markers, bars or lines)."""
    out = {}
    for trace in spec["data"]:
        if trace.get("name") and trace.get("line", {}).get("color"):
            out[trace["name"]] = trace["line"]["color"]
        colour = trace.get("marker", {}).get("color")
        if isinstance(colour, list) and isinstance(trace.get("y"), list):
            out.update(zip(trace["y"], colour))
    return out


def test_posteriors_page_gives_each_option_one_colour_in_every_chart(db_path):
    at = app(POSTERIORS)
    at.number_input(key="demo_users").set_value(2000)
    at.button(key="decide_button").click().run()
    for dim in ("channel", "slot:greeting"):
        at.selectbox(key="post_dimension").set_value(dim).run()
        assert not at.exception
        specs = {s["layout"].get("title", {}).get("text"): s for s in plotly_specs(at)}
        mean = colours_by_label(specs["Expected reward: posterior mean and 95% interval"])
        pbest = colours_by_label(specs["Probability of being best"])
        density_spec = specs["Posterior densities (top 6)"]
        density = colours_by_label(density_spec)
        assert density_spec["layout"]["showlegend"] is True
        assert len(mean) >= 2 and len(set(mean.values())) == len(mean)
        for other in (pbest, density):
            assert other and {k: mean[k] for k in other} == other
        # The mean chart's axis is set (wide intervals are clipped to it, not the reverse).
        lo, hi = specs["Expected reward: posterior mean and 95% interval"]["layout"]["xaxis"]["range"]
        assert lo < hi


def test_posteriors_page_colours_send_times_by_hour_in_every_chart(db_path):
    """The traffic chart counts hours ("21:00"), the other charts weekday x hour options
    ("Thu 21:00"): each option is a shade of its hour's colour, and the hour's line has it."""
    import re

    import numpy as np
    import plotly.colors as pcolors

    at = app(POSTERIORS)
    at.number_input(key="demo_users").set_value(2000)
    at.button(key="decide_button").click().run()
    at.selectbox(key="post_dimension").set_value("timing").run()
    assert not at.exception
    specs = plotly_specs(at)
    mean = colours_by_label(specs[0])
    lines = {t["name"]: t["line"]["color"] for t in specs[-1]["data"]}
    assert lines and all(re.fullmatch(r"\d\d:00", name) for name in lines)
    assert len(set(lines.values())) == len(lines)  # one colour per hour
    assert len(mean) == 24 and len(set(mean.values())) == 24
    checked = 0
    for label, colour in mean.items():
        if label[4:] not in lines:
            continue  # an hour the batch did not send at
        checked += 1
        base = np.array(pcolors.hex_to_rgb(lines[label[4:]]))
        got = np.array(pcolors.hex_to_rgb(colour))
        for target in (255, 0):  # a mix of the hour's colour with white or with black
            room = np.abs(target - base) > 20  # channels with room to move towards it
            share = (got - base)[room] / (target - base)[room]
            if np.allclose(share, share.mean(), atol=0.03) and 0 <= share.mean() <= 0.5:
                break
        else:
            raise AssertionError(f"{label} {colour} is no shade of its hour's colour")
    assert checked >= 12


def test_posteriors_page_names_features_in_words_and_explains_traffic(db_path):
    import re

    import pandas as pd

    from workbench.agent import state as agent_state
    from workbench.agent.beliefs import traffic_note

    at = app(POSTERIORS)
    at.number_input(key="demo_users").set_value(2000)
    at.button(key="decide_button").click().run()
    with open_store(db_path) as s:
        ids = [r["id"] for r in s.query("SELECT id FROM decisions WHERE send = 1 LIMIT 400")]
    # Dated after every attribution window has closed, so the agent learns the whole batch.
    when = (pd.Timestamp.today() + pd.Timedelta(days=60)).strftime("%Y-%m-%dT10:00:00")
    lines = "".join(f"{d},direct_open,1,{when}\n" for d in ids[::3])
    at.file_uploader(key="events_file").set_value(
        ("events.csv", ("decision_id,event,value,occurred_at\n" + lines).encode(), "text/csv"))
    at.date_input(key="events_as_of").set_value((pd.Timestamp.today() + pd.Timedelta(days=61))
                                               .date())
    at.run()
    at.button(key="ingest_button").click().run()
    assert not at.exception
    said = [s.value.replace("\\", "") for s in at.success]  # shown as typed: escaped
    assert any(" decisions learnt" in s and "; 0 decisions" not in s for s in said), said
    at.selectbox(key="post_dimension").set_value("slot:greeting").run()
    assert not at.exception
    why = [s for s in plotly_specs(at) if s["layout"].get("xaxis", {}).get("title", {}).get("text")
           == "contribution"]
    assert why, [i.value for i in at.info]
    names = why[0]["data"][0]["y"]
    assert names and not any(re.search(r"atom:\d|\|", n) for n in names), names
    # The note shows exactly when the most-served greeting is not the favourite.
    with open_store(db_path) as s:
        agent = agent_state.load_agent(s)
        batch = agent_state.latest_batch(s, agent)
    seg = agent.segments.index(at.selectbox(key="post_segment").value)
    ctx = agent_state.typical_context(batch, seg)
    rows = batch[(batch["ctx_segment"] == seg) & batch["send"]]
    note = traffic_note(agent.beliefs("slot:greeting", ctx), rows["atom_greeting"].astype(int),
                        rows["guardrails"])
    shown = [i.value for i in at.info if "Most traffic went to" in i.value]
    assert shown == ([] if note is None else [note.text(ui.plain)])  # bold, labels as typed


AGENT_CONTROL = "pages/3_Agent_control.py"


def wait_for(db_path, run_id, status="done", timeout=120):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open_store(db_path) as s:
            row = s.query("SELECT status FROM sim_runs WHERE id = ?", [run_id])[0]
        if row["status"] == status:
            return
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not reach {status}")


def test_agent_control_starts_a_background_run_and_shows_its_timeline(db_path, monkeypatch):
    import streamlit as st

    polls = []  # (fragment, run_every) of every fragment the page declares, in order
    real_fragment = st.fragment

    def spy(func=None, *, run_every=None, **kw):
        polls.append((func.__name__, run_every))
        return real_fragment(func, run_every=run_every, **kw)

    def last_run() -> dict:  # the fragments of the latest script run: sidebar, then page
        return dict(polls[-3:])

    monkeypatch.setattr(st, "fragment", spy)
    at = app(AGENT_CONTROL)
    assert any("No run yet" in i.value for i in at.info)
    # nothing runs: progress and timeline do not poll; the sidebar looks every few seconds
    assert last_run() == {"status_panel": ui.POLL_IDLE, "live": None, "live_timeline": None}
    at.selectbox(key="trial_preset").set_value("quick_demo").run()
    at.number_input(key="trial_users").set_value(2000)
    at.number_input(key="trial_days").set_value(14)
    at.number_input(key="trial_active").set_value(7)
    [b for b in at.button if b.label == "Start a new run"][0].click().run()
    assert not at.exception
    # the run is under way: every fragment follows it every second
    assert last_run() == {"status_panel": ui.POLL_MOVING, "live": 1.0, "live_timeline": 1.0}
    wait_for(db_path, 1)
    at.run()
    assert last_run() == {"status_panel": ui.POLL_IDLE, "live": None, "live_timeline": None}
    assert any("Run #1 (quick_demo, 2,000 users): done · day 14 of 14" in p.proto.text
               for p in at.get("progress"))
    table = next(d.value for d in at.dataframe if "Phase" in d.value.columns)
    assert [p.split(":")[0] for p in table["Phase"]] == ["Active management",
                                                         "Passive (agent on its own)"]
    with open_store(db_path) as s:
        assert s.db["sim_daily"].count == 28
        assert s.current_mode() == "active"  # the run switched its own copy, not the programme


def test_agent_control_refuses_a_second_run_visibly_and_cancels_the_first(db_path):
    from workbench.sim import trial

    with open_store(db_path) as s:
        first = trial.create_run(s, trial.preset("quick_demo", users=2000), "ana")
        trial.start_background(s, first)
    at = app(AGENT_CONTROL)
    at.number_input(key="trial_users").set_value(2000)
    [b for b in at.button if b.label == "Start a new run"][0].click().run()
    assert not at.exception
    assert any(f"run #{first} is still running (started by ana); one run at a time"
               in e.value.replace("\\", "") for e in at.error)
    at.button(key="cancel_button").click().run()
    with open_store(db_path) as s:
        assert trial.latest_run(s) is None
        assert s.audit_log(1)[0]["action"] == "cancel"


def test_choosing_a_preset_fills_the_form_and_an_untouched_form_submits_it(db_path, monkeypatch):
    from workbench.sim import runner, trial

    started = []  # the page starts a run through trial.start_new, the runner's
    monkeypatch.setattr(runner, "start_background", lambda store, run_id: started.append(run_id))
    at = app(AGENT_CONTROL)
    full = trial.PRESETS["longitudinal_study"]
    assert at.number_input(key="trial_users").value == full.users == 100_000
    at.selectbox(key="trial_preset").set_value("quick_demo").run()
    demo = trial.PRESETS["quick_demo"]
    assert [at.number_input(key=k).value for k in
            ("trial_users", "trial_days", "trial_active", "trial_seed")] == [
        demo.users, demo.days, demo.active_days, demo.seed]
    [b for b in at.button if b.label == "Start a new run"][0].click().run()
    assert not at.exception and not at.error
    with open_store(db_path) as s:
        run = trial.run_row(s, started[0])
    assert (run["preset"], run["users"], run["days"]) == ("quick_demo", demo.users, demo.days)


def test_agent_control_records_a_mode_switch(db_path):
    at = app(AGENT_CONTROL)
    at.radio(key="control_mode_choice").set_value("passive")
    at.text_input(key="control_mode_note").set_value("holiday freeze")
    [b for b in at.button if b.label == "Record mode change"][0].click().run()
    with open_store(db_path) as s:
        e = s.management_events()[-1]
    assert (e["mode"], e["note"]) == ("passive", "holiday freeze")
    # the form is ready for the next switch: pointing at the other mode, note emptied, enabled
    assert at.radio(key="control_mode_choice").value == "active"
    assert at.text_input(key="control_mode_note").value == ""
    submit = [b for b in at.button if b.label == "Record mode change"][0]
    assert not submit.disabled
    submit.click().run()
    with open_store(db_path) as s:
        assert [e["mode"] for e in s.management_events()[-2:]] == ["passive", "active"]


MODE_CONTROLS = [("Home.py", "mode"), (AGENT_CONTROL, "control_mode")]


@pytest.mark.parametrize("page, key", MODE_CONTROLS)
def test_mode_switch_follows_a_mode_change_made_elsewhere(db_path, page, key):
    """A tab opened while Active points its switch at passive; another tab (or the command
    line) then switches to passive: on its next rerun the switch points at active, the mode a
    click would now switch to, and the click switches back."""
    at = app(page)
    assert at.radio(key=f"{key}_choice").value == "passive"
    with open_store(db_path) as s:
        s.record_mode("passive", "someone-else", "switched in another tab")
    at.run()
    assert {m.label: m.value for m in at.metric}["Management mode"] == "Passive"
    assert at.radio(key=f"{key}_choice").value == "active"
    [b for b in at.button if b.label == "Record mode change"][0].click().run()
    assert [i.value for i in at.info if "Management is already" in i.value] == []
    with open_store(db_path) as s:
        assert [e["mode"] for e in s.management_events()[-2:]] == ["passive", "active"]
    assert at.radio(key=f"{key}_choice").value == "passive"


@pytest.mark.parametrize("page, key", MODE_CONTROLS)
def test_mode_switch_to_the_mode_in_force_points_the_switch_at_the_other(db_path, page, key):
    """Picking the mode already in force (switched elsewhere since the tab's last rerun) says
    so and points the switch at the other mode, so the next click does what it says."""
    at = app(page)
    with open_store(db_path) as s:
        s.record_mode("passive", "someone-else", "switched in another tab")
    at.radio(key=f"{key}_choice").set_value("passive")
    [b for b in at.button if b.label == "Record mode change"][0].click().run()
    assert [i.value for i in at.info if "Management is already" in i.value] == [
        "Management is already passive."]
    assert at.radio(key=f"{key}_choice").value == "active"
    [b for b in at.button if b.label == "Record mode change"][0].click().run()
    with open_store(db_path) as s:
        assert [(e["mode"], e["note"]) for e in s.management_events()[-2:]] == [
            ("passive", "switched in another tab"), ("active", "")]
    assert at.radio(key=f"{key}_choice").value == "passive"


def test_home_runs_the_demo_trial_in_one_click(db_path, monkeypatch):
    from workbench.sim import trial
    small = trial.preset("quick_demo", users=1500, days=7, active_days=7)
    monkeypatch.setitem(trial.PRESETS, "longitudinal_study", small)
    at = app()
    at.button(key="demo_trial").click().run()
    wait_for(db_path, 1)
    at = app()
    assert any(m.label == "Days simulated" and m.value == "7 / 7" for m in at.metric)


LIFT = "pages/4_Lift_report.py"


def test_lift_report_without_data_says_what_to_do(db_path):
    at = app(LIFT)
    assert at.selectbox(key="source_pick").value == "live"
    assert any(i.value.startswith("The live programme has no roster and events yet: import "
                                  "its users with `workbench programme roster`") for i in at.info)


def test_the_source_pickers_caption_shows_no_markdown_quotes(db_path):
    """Under "Showing", the live programme without a roster read "no roster yet: `workbench
    programme roster USERS.csv`" with the backquotes drawn (the caption shows its text as
    typed), on the Lift report, Posteriors and Agent control alike."""
    for page in (LIFT, "pages/2_Posteriors.py", "pages/3_Agent_control.py"):
        at = app(page)
        (detail,) = [c.value for c in at.caption if "no roster yet" in c.value]
        assert "`" not in detail
        assert detail.replace("\\", "") == ("no roster yet: import one with workbench "
                                              "programme roster USERS.csv")


def test_lift_report_on_a_finished_run_and_an_imported_file(db_path):
    from workbench.sim.trial import create_run, preset, run_trial

    with open_store(db_path) as s:
        rid = create_run(s, preset("quick_demo", users=3000, days=14, active_days=7), "t")
        run_trial(s, rid)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()
    at.switch_page(LIFT).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Days with direct opens" in labels and "GMV" in labels
    assert len(at.get("download_button")) == 2
    # 95% per segment: the page says how many intervals would exclude 0 by chance alone
    rows = len(next(d for d in at.dataframe if "Segment" in d.value.columns).value)
    caption = next(c.value for c in at.caption if " by segment (" in c.value)
    assert rows > 1 and caption == (
        "Days with direct opens by segment (Active management, unadjusted; segments with at "
        "least 20 users per arm). Each interval is 95% on its own: of 6 segments with no real "
        "difference, about 0.3 would still exclude 0 by chance.")
    at.selectbox(key="source_pick").set_value("file").run()
    at.file_uploader(key="lift_file").set_value(
        ("bad.csv", b"user_id,arm,engagement\nu1,maybe,1\n", "text/csv"))
    at.run()
    assert "row 1 field 'arm'" in at.error[0].value.replace("\\", "")


def test_home_gives_a_finished_runs_lift_with_its_interval_and_what_it_means(db_path):
    from workbench.sim.trial import create_run, preset, run_trial

    with open_store(db_path) as s:
        rid = create_run(s, preset("quick_demo", users=2000, days=14, active_days=7), "t")
        run_trial(s, rid)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()
    assert not at.exception
    lift = next(m for m in at.metric if m.label == "Direct-open lift")
    said = " ".join(c.value for c in at.caption).replace("\\", "")
    assert f"Days with direct opens: {lift.value} per user (95% interval" in said
    # 200 holdout users and a handful of opens: never a clear result on Home either
    assert "not distinguishable from business as usual" in said and "Small sample" in said


def outcomes_csv(agent: int, holdout: int, n: int = 600) -> bytes:
    """A user-level outcomes file; every agent user has ``agent`` days with engagement, every
    holdout user ``holdout`` (single digits, so files with other numbers have the same size)."""
    rows = ["user_id,arm,phase,engagement,pre_engagement"]
    rows += [f"u{i:04d},{'holdout' if i % 5 == 0 else 'agent'},active,"
             f"{holdout if i % 5 == 0 else agent},{i % 3}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def test_lift_report_tells_two_uploads_with_the_same_name_and_size_apart(db_path):
    first, second = outcomes_csv(agent=2, holdout=1), outcomes_csv(agent=1, holdout=2)
    assert len(first) == len(second) and first != second
    at = app(LIFT)
    at.selectbox(key="source_pick").set_value("file").run()
    lifts = []
    for data in (first, second):
        at.file_uploader(key="lift_file").set_value(("outcomes.csv", data, "text/csv"))
        at.run()
        at.toggle(key="lift_adjusted").set_value(False).run()
        assert not at.exception and not at.error
        lifts.append(next(m.value for m in at.metric if m.label == "Days with engagement"))
    assert lifts == ["+100.0%", "-50.0%"]


def test_components_save_over_a_newer_change_is_refused_naming_who_and_both_texts(
        db_path, monkeypatch):
    from workbench.library import service as library

    monkeypatch.setenv("WORKBENCH_USER", "apptest")
    at = app(COMPONENTS)
    first_id = int(at.data_editor[0].value.iloc[0]["id"])
    with open_store(db_path) as s:  # someone else saves the same atom after the page opened
        library.save_edits(s, [library.Edit(first_id, {"text": "Their newer greeting"})],
                           "aisha")
        theirs = s.component(first_id)
    at.session_state[EDITOR] = {"edited_rows": {0: {"text": "My own greeting"}},
                                "added_rows": [], "deleted_rows": []}
    at.button(key="save_edits").click().run()
    assert not at.exception
    message = at.error[0].value.replace("\\", "")
    assert (f"Component #{first_id} was changed by aisha at {theirs['updated_at']} "
            f"(you opened version 1, it is now version 2)") in message
    assert "Their text: Their newer greeting" in message
    assert "Your text: My own greeting" in message
    with open_store(db_path) as s:
        assert s.component(first_id)["text"] == "Their newer greeting"
    # Reloaded: the grid shows their text, and an edit made on it now saves.
    assert at.data_editor[0].value.iloc[0]["text"] == "Their newer greeting"
    at.session_state["components_editor_1"] = {
        "edited_rows": {0: {"text": "My own greeting"}}, "added_rows": [], "deleted_rows": []}
    at.button(key="save_edits").click().run()
    assert "Saved 1 component(s)." in [s.value for s in at.success]
    with open_store(db_path) as s:
        assert s.component(first_id)["text"] == "My own greeting"


def test_components_unsaved_edits_survive_a_filter_change_with_a_warning(db_path):
    at = app(COMPONENTS)
    first_id = int(at.data_editor[0].value.iloc[0]["id"])
    at.session_state[EDITOR] = {"edited_rows": {0: {"text": "Kept across filters"}},
                                "added_rows": [], "deleted_rows": []}
    at.text_input(key="f_search").set_value("zzzz-no-match").run()
    assert len(at.data_editor[0].value) == 0
    warning = next(w.value for w in at.warning if "unsaved" in w.value)
    assert warning.startswith(f"You have 1 unsaved edit(s) on component(s) #{first_id}")
    assert warning.endswith(f"Not in the list shown now: #{first_id}.")
    at.text_input(key="f_search").set_value("").run()
    assert at.data_editor[0].value.iloc[0]["text"] == "Kept across filters"
    at.button(key="save_edits").click().run()
    assert "Saved 1 component(s)." in [s.value for s in at.success]
    with open_store(db_path) as s:
        assert s.component(first_id)["text"] == "Kept across filters"


def test_components_unsaved_edits_can_be_discarded_and_then_nothing_is_saved(db_path):
    at = app(COMPONENTS)
    first_id = int(at.data_editor[0].value.iloc[0]["id"])
    with open_store(db_path) as s:
        before = s.component(first_id)
    at.session_state[EDITOR] = {"edited_rows": {0: {"text": "Soon discarded"}},
                                "added_rows": [], "deleted_rows": []}
    at.multiselect(key="f_kind").set_value([before["kind"]]).run()
    assert any("You have 1 unsaved edit(s)" in w.value for w in at.warning)
    at.button(key="discard_edits").click().run()
    assert "Discarded 1 unsaved edit(s)." in [s.value for s in at.success]
    assert not [w for w in at.warning if "unsaved" in w.value]
    at.button(key="save_edits").click().run()
    assert "Nothing to save: no cell was changed." in [i.value for i in at.info]
    with open_store(db_path) as s:
        assert s.component(first_id) == before


def test_components_preview_counts_only_the_slots_the_channel_shows(db_path):
    from workbench.library.assembly import Template, count_permutations, pool_from_components

    at = app(COMPONENTS)
    with open_store(db_path) as s:
        tpl = next(t for t in s.templates() if t["id"] == at.selectbox(key="pv_template").value)
        pool = pool_from_components(s.components(for_segment=at.selectbox(key="pv_segment").value,
                                                 status="active"))
    t = Template.from_row(tpl)
    body_only = 1
    for slot in t.slots_in(["body"]):
        body_only *= len(pool[slot])
    at.selectbox(key="pv_channel").set_value("sms").run()
    assert at.metric[0].label == "Distinct SMS messages"
    assert int(at.metric[0].value.replace(",", "")) == body_only
    assert body_only < count_permutations(t, pool)
