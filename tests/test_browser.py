"""Real-browser tests: Debian's Chromium, headless, against ``streamlit run`` on 127.0.0.1 with
its own SQLite file. Each page (Home.py with pages/0_Overview.py, pages/1_Components.py, ...)
is driven as a person would."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from store import open_store

pytestmark = pytest.mark.browser

# Assertions wait as long as the page's actions do (conftest: 20 s); Playwright's own 5 s is
# too short for a first script run on a busy two-core machine.
expect.set_options(timeout=20_000)


def open_components(page, url):
    page.goto(url + "/Components")
    expect(page.get_by_role("heading", name="Components")).to_be_visible()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    return grid


def search(page, text):
    box = page.get_by_role("textbox", name="Search text or tags")
    box.fill(text)
    box.press("Enter")


def wait_until_idle(page, timeout=60_000):
    """Wait until the app's script is not running (Streamlit shows its status widget while a
    run is in progress; a grid being re-drawn by a run can drop what is typed into it)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


#: resolves after the browser has drawn two more frames
NEXT_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def edit_first_text_cell(page, grid, new_text):
    """Open the text cell of the first grid row, replace its content, commit with Enter.

    The text is typed with the keyboard into the cell editor once it has focus, and checked:
    on a busy machine a late re-render of the grid can close or replace the editor, so the
    edit is cancelled (Escape) and made again until the editor holds exactly ``new_text`` and
    the page counts the change as unsaved (the app has it).

    Enter waits two animation frames after the last keystroke. The grid's editor takes the
    typed value into its own state on a later frame than the text box shows it; an Enter sent
    in the same frame as the last key (as Playwright does, no person can) was ignored in about
    half of the runs: the editor stayed open, nothing reached the app, and the next attempt
    found the cell already in edit mode. Watching the websocket showed no edit was ever sent;
    with the two frames 8 of 8 runs sent it, against 2 of 6 without."""
    expect(grid).to_have_attribute("data-testid", "stDataFrame")
    editor = page.locator("textarea.gdg-input")
    for attempt in range(6):
        wait_until_idle(page)
        page.wait_for_timeout(300)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 300, box["y"] + 52)  # header is ~35 px, rows ~35 px
        page.keyboard.press("Enter")
        try:
            expect(editor).to_be_focused(timeout=10_000)
            page.keyboard.press("ControlOrMeta+a")
            page.keyboard.type(new_text)
            expect(editor).to_have_value(new_text, timeout=5_000)
        except AssertionError:
            page.keyboard.press("Escape")
            if attempt == 5:
                raise
            continue
        page.evaluate(NEXT_FRAMES)
        page.keyboard.press("Enter")
        try:  # the page counts the grid's unsaved changes once the app has the edit
            expect(page.get_by_text("unsaved change(s) in the grid")).to_be_visible(
                timeout=10_000)
            break
        except AssertionError:  # the editor was closed by a re-render, not by Enter
            if editor.count():
                page.keyboard.press("Escape")
            if attempt == 5:
                raise


def pick_source(page, label):
    """Choose ``label`` in the run and source picker (retried: a click landing while the page
    still draws can be lost)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Showing")
    for attempt in range(4):
        box.click()
        page.get_by_role("option", name=label).click()
        try:
            expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(
                f"Showing: {label}", timeout=10_000)
            return
        except AssertionError:
            if attempt == 3:
                raise


def test_home_shows_the_programme_and_links_to_every_page(page, app_server):
    page.goto(app_server["url"])
    # the server's first run migrates and seeds the database: give it time on a busy machine
    expect(page.get_by_role("heading", name="CRM workbench")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Reactivation of inactive users")).to_be_visible()
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Active atoms")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_attached()
    page.locator('[data-testid="stPageLink"]').filter(has_text="Components").click()
    expect(page.get_by_role("heading", name="Components")).to_be_visible()


def test_editing_a_component_in_the_grid_saves_it_with_a_revision(page, app_server):
    grid = open_components(page, app_server["url"])  # the app seeds a new database
    # 20 of the library's rows in view, not Streamlit's default 10 (a row is 35 px)
    expect(page.get_by_text("65 component(s).")).to_be_visible()
    assert grid.bounding_box()["height"] >= 35 * 21
    with open_store(app_server["db"]) as s:
        target = s.components(kind="value_prop", status="active")[0]
    search(page, target["text"])
    expect(page.get_by_text("1 component(s).")).to_be_visible()
    edit_first_text_cell(page, grid, "Hot meals at your door in 30 minutes.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Saved 1 component(s).")).to_be_visible()
    with open_store(app_server["db"]) as s:
        row = s.component(target["id"])
        rev = s.component_revisions(target["id"])[0]
    assert row["text"] == "Hot meals at your door in 30 minutes."
    assert (rev["action"], rev["old_text"], rev["new_text"], rev["actor"]) == (
        "edit", target["text"], "Hot meals at your door in 30 minutes.", "browser-test")


def test_an_invalid_edit_shows_row_and_field_and_saves_nothing(page, app_server):
    grid = open_components(page, app_server["url"])  # the app seeds a new database
    with open_store(app_server["db"]) as s:
        target = s.components(kind="cta", status="active")[0]
        before = s.query("SELECT * FROM components ORDER BY id")
    search(page, target["text"])
    expect(page.get_by_text("1 component(s).")).to_be_visible()
    edit_first_text_cell(page, grid, "Order {now}")
    page.get_by_role("button", name="Save changes").click()
    alert = page.locator('[data-testid="stAlertContentError"]')
    expect(alert).to_contain_text("The edits were rejected")
    expect(alert).to_contain_text(f"row 1 (component #{target['id']}) field 'text'")
    with open_store(app_server["db"]) as s:
        assert s.query("SELECT * FROM components ORDER BY id") == before


def test_import_a_file_then_preview_messages(page, app_server, tmp_path):
    good = tmp_path / "more.csv"
    good.write_text("kind,text,tone\ncta,Browse tonight's deals,playful\n", encoding="utf-8")
    open_components(page, app_server["url"])
    page.get_by_role("tab", name="Import / export").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(good))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported more.csv: 1 created, 0 updated, 0 unchanged.")).to_be_visible()
    with open_store(app_server["db"]) as s:
        assert s.components(search="Browse tonight's deals")[0]["source"] == "import"

    bad = tmp_path / "bad.csv"
    bad.write_bytes("kind,text\ngreeting,Olá amigo\n".encode("latin-1"))
    page.get_by_role("tab", name="Import / export").click()
    # The uploader may still show the first file with its own "add" input: the dropzone's.
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator('[data-testid="stAlertContentError"]')).to_contain_text(
        "is not valid UTF-8")

    page.get_by_role("tab", name="Preview").click()
    expect(page.locator('[data-testid="stMetric"]').filter(
        has_text="Distinct Push notification messages")).to_be_visible()
    # the Preview tab's mock-ups (the Templates tab has a sample of its own, hidden now)
    expect(page.get_by_role("tabpanel").locator('[data-preview="push"]').first).to_be_visible()


def test_a_component_saved_over_someone_elses_newer_change_is_refused(page, app_server):
    from workbench.library import service as library

    grid = open_components(page, app_server["url"])  # the app seeds a new database
    with open_store(app_server["db"]) as s:
        target = s.components(kind="offer", status="active")[0]
    search(page, target["text"])
    expect(page.get_by_text("1 component(s).")).to_be_visible()
    edit_first_text_cell(page, grid, "My browser offer text")
    with open_store(app_server["db"]) as s:  # another person saves the same atom meanwhile
        library.save_edits(s, [library.Edit(target["id"], {"text": "Their offer text"})],
                           "aisha")
    page.get_by_role("button", name="Save changes").click()
    alert = page.locator('[data-testid="stAlertContentError"]')
    expect(alert).to_contain_text(f"Component #{target['id']} was changed by aisha at")
    expect(alert).to_contain_text("Their text: Their offer text")
    expect(alert).to_contain_text("Your text: My browser offer text")
    with open_store(app_server["db"]) as s:
        assert s.component(target["id"])["text"] == "Their offer text"


def test_unsaved_grid_edits_are_kept_with_a_warning_when_the_filter_changes(page, app_server):
    grid = open_components(page, app_server["url"])  # the app seeds a new database
    with open_store(app_server["db"]) as s:
        target = s.components(kind="cta", status="active")[-1]
    search(page, target["text"])
    expect(page.get_by_text("1 component(s).")).to_be_visible()
    edit_first_text_cell(page, grid, "Tap to order tonight")
    search(page, "zzzz-no-match")
    expect(page.get_by_text("You have 1 unsaved edit(s)")).to_be_visible()
    page.get_by_role("button", name="Discard edits").click()
    expect(page.get_by_text("Discarded 1 unsaved edit(s).")).to_be_visible()
    with open_store(app_server["db"]) as s:
        assert s.component(target["id"])["text"] == target["text"]


def test_posteriors_page_decides_and_charts_the_beliefs(page, app_server):
    page.goto(app_server["url"] + "/Posteriors")
    expect(page.get_by_role("heading", name="Posteriors")).to_be_visible()
    page.get_by_text("Decide a batch or load outcome events").click()
    page.get_by_role("button", name="Decide a batch").click()
    expect(page.get_by_text("Decided batch")).to_be_visible(timeout=30000)
    charts = page.locator('[data-testid="stPlotlyChart"] .main-svg')
    expect(charts.first).to_be_attached()
    expect(page.get_by_text("Expected reward: posterior mean and 95% interval")).to_be_visible()
    # The densities chart has a legend naming its options.
    density = page.locator('[data-testid="stPlotlyChart"]').filter(
        has_text="Posterior densities (top 6)")
    expect(density.locator(".legend .traces").first).to_be_attached()
    expect(page.get_by_text("Why this message")).to_be_visible()
    with open_store(app_server["db"]) as s:
        assert s.db["decision_batches"].count >= 1
        assert s.db["decisions"].count >= 2000


def test_agent_control_runs_a_trial_that_a_second_tab_also_sees(page, browser, app_server):
    page.goto(app_server["url"] + "/Agent_control")
    expect(page.get_by_role("heading", name="Agent control")).to_be_visible()
    page.get_by_label("Users").fill("2000")
    page.get_by_label("Days", exact=True).fill("14")
    page.get_by_label("Active days").fill("7")
    page.get_by_role("button", name="Start a new run").click()
    progress = page.locator('[data-testid="stProgress"]')
    expect(progress).to_contain_text("day 14 of 14", timeout=180_000)
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_attached()
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(app_server["url"] + "/Agent_control")
    expect(other.locator('[data-testid="stProgress"]')).to_contain_text("done · day 14 of 14",
                                                                        timeout=60_000)
    other.context.close()
    with open_store(app_server["db"]) as s:
        run = s.query("SELECT * FROM sim_runs ORDER BY id DESC LIMIT 1")[0]
        assert (run["status"], run["days_done"], run["users"]) == ("done", 14, 2000)


def test_lift_report_page_shows_an_imported_file(page, app_server, tmp_path):
    rows = ["user_id,arm,phase,engagement,direct_open,pre_engagement"]
    rows += [f"u{i},{'holdout' if i % 10 == 0 else 'agent'},active,{i % 4},{i % 2},{i % 3}"
             for i in range(800)]
    f = tmp_path / "outcomes.csv"
    f.write_text("\n".join(rows) + "\n")
    page.goto(app_server["url"] + "/Lift_report")
    expect(page.get_by_role("heading", name="Lift report")).to_be_visible()
    pick_source(page, "Imported file")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(f))
    expect(page.get_by_text("Days with engagement").first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Download report (HTML)")).to_be_visible()


def test_rewrite_studio_rewrites_judges_blind_and_reveals(page, app_server):
    page.goto(app_server["url"] + "/Rewrite_studio")
    expect(page.get_by_role("heading", name="Rewrite studio")).to_be_visible()
    expect(page.get_by_text("Offline rules engine (deterministic, no network)")).to_be_visible()
    page.get_by_role("button", name="Rewrite all 1 weak message", exact=True).click()
    expect(page.get_by_text("1 rewrite(s) ready in the Rewrites tab.")).to_be_visible(timeout=30000)
    page.get_by_role("tab", name="Rewrites").click()
    with open_store(app_server["db"]) as s:
        body = s.query("SELECT rewrite FROM rewrites")[0]["rewrite"]
    expect(page.locator('[data-preview="push"]').filter(
        has_text=json.loads(body)["body"]).first).to_be_visible()
    expect(page.get_by_text("Blind verdict of the model judge").first).to_be_visible()
    page.get_by_role("tab", name="Blind judging").click()
    expect(page.get_by_text("wait for a colleague's blind judgment")).to_be_visible()
    name = page.get_by_role("textbox", name="Your name")  # one's own rewrite is not blind: a colleague judges
    name.fill("colleague")
    name.press("Enter")
    page.get_by_role("tab", name="Blind judging").click()
    expect(page.get_by_text("Message A", exact=True)).to_be_visible()
    page.locator('[data-testid="stRadio"]').filter(has_text="Your pick").get_by_text(
        "No preference").click()
    page.get_by_role("button", name="Submit blind judgment").click()
    expect(page.get_by_text("was the rewrite").first).to_be_visible()
    expect(page.get_by_text("You had no preference.").first).to_be_visible()
    with open_store(app_server["db"]) as s:
        rows = s.query("SELECT choice, preferred FROM judgments")
    assert rows == [{"choice": "none", "preferred": "none"}]


def test_llm_settings_saves_an_agent_tests_it_and_logs_the_call(page, app_server):
    from tests.scripted_server import ScriptedServer
    from workbench.studio import llm
    with ScriptedServer(default='{"ok": true}') as server:
        page.goto(app_server["url"] + "/LLM_settings")
        expect(page.get_by_role("heading", name="LLM settings")).to_be_visible()
        panel = page.get_by_role("tabpanel").first
        panel.get_by_role("textbox", name="Base URL").fill(server.base_url)
        panel.get_by_role("textbox", name="Model").fill("scripted")
        panel.get_by_role("button", name="Save diagnosis settings").click()
        expect(page.get_by_text("Saved the diagnosis settings")).to_be_visible()
        expect(page.get_by_text(f"scripted at {server.base_url}").first).to_be_visible()
        page.get_by_role("button", name="Test connection").first.click()
        expect(page.get_by_text("answered valid JSON")).to_be_visible(timeout=20000)
        expect(page.get_by_text("Recent calls")).to_be_visible()
        assert len(server.requests) >= 1
    with open_store(app_server["db"]) as s:
        (row,) = s.query("SELECT agent, base_url, model FROM llm_settings "
                         "WHERE agent = 'diagnosis'")
        assert row == {"agent": "diagnosis", "base_url": server.base_url, "model": "scripted"}
        assert s.query("SELECT status FROM llm_calls")[-1]["status"] in ("ok", "repaired")
        # back to offline, so other tests of this app see the default
        llm.save_settings(s, "diagnosis", base_url="", model="", temperature=0.2, timeout_s=30,
                          max_retries=2, actor="browser-test")


def test_every_page_has_its_menu_entry_and_a_title_without_emoji(page, app_server):
    import re

    emoji = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
    page.goto(app_server["url"])
    nav = page.locator('[data-testid="stSidebarNav"] a')
    expect(nav).to_have_count(7)
    # each link is a Material icon (a ligature of Streamlit's own font) and its label
    assert [t.split("\n")[-1].strip() for t in nav.all_inner_texts()] == [
        "Home", "Components", "Posteriors", "Agent control", "Lift report", "Rewrite studio",
        "LLM settings"]
    for name, title in (("Components", "Components"), ("LLM settings", "LLM settings"),
                        ("Home", "CRM workbench")):
        nav.filter(has_text=name).first.click()
        heading = page.get_by_role("heading", level=1).first
        expect(heading).to_have_text(title)
        assert not emoji.search(heading.inner_text())
    # one sidebar: the entry drew it once, with the page menu above it
    expect(page.get_by_role("textbox", name="Your name")).to_have_count(1)


def test_agent_control_preset_fills_the_form_and_numbers_show_whole(page, app_server):
    page.goto(app_server["url"] + "/Agent_control")
    expect(page.get_by_role("heading", name="Agent control")).to_be_visible()
    users = page.get_by_label("Users")
    expect(users).to_have_value("100000")
    # the whole number fits in its box, and the preset's name in its select box
    assert users.evaluate("e => e.scrollWidth <= e.clientWidth")
    preset = page.get_by_role("combobox", name="Preset")
    expect(preset).to_have_value("Longitudinal study")
    assert preset.evaluate("e => e.scrollWidth <= e.clientWidth")
    preset.click()
    page.get_by_role("option", name="Quick demo").click()
    expect(users).to_have_value("20000")
    expect(page.get_by_label("Days", exact=True)).to_have_value("84")
    expect(page.get_by_label("Active days")).to_have_value("42")


def test_lift_report_html_is_built_when_downloaded(page, app_server, tmp_path):
    rows = ["user_id,arm,phase,engagement,pre_engagement"]
    rows += [f"u{i},{'holdout' if i % 10 == 0 else 'agent'},active,{i % 4},{i % 3}"
             for i in range(600)]
    f = tmp_path / "outcomes.csv"
    f.write_text("\n".join(rows) + "\n")
    page.goto(app_server["url"] + "/Lift_report")
    pick_source(page, "Imported file")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(f))
    button = page.get_by_role("button", name="Download report (HTML)")
    expect(button).to_be_visible(timeout=60_000)
    with page.expect_download() as info:
        button.click()
    html = open(info.value.path(), encoding="utf-8").read()
    assert "<html" in html[:200].lower() and "</html>" in html[-200:].lower()
    assert "outcomes.csv" in html
    for heading in ("Summary", "Lift per metric and phase", "Per user, agent and holdout",
                    "How this was measured"):  # the forwardable manager's report
        assert f"<h2>{heading}</h2>" in html, heading


def test_llm_settings_stays_on_the_agent_tab_after_a_save(page, app_server):
    page.goto(app_server["url"] + "/LLM_settings")
    expect(page.get_by_role("heading", name="LLM settings")).to_be_visible()
    page.get_by_role("tab", name="Evaluation").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_role("button", name="Save evaluation settings").click()
    expect(page.get_by_text("Saved the evaluation settings: offline rules engine.")).to_be_visible()
    expect(page.get_by_role("tab", name="Evaluation")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("button", name="Save evaluation settings")).to_be_visible()


@pytest.mark.parametrize("path,heading", [("", "CRM workbench"), ("/Components", "Components"),
                                          ("/Lift_report", "Lift report")])
def test_pages_request_nothing_outside_the_app(page, app_server, path, heading):
    """The app runs with no network: no font, icon or script comes from elsewhere (a page's
    Material icon as the favicon used to be fetched from fonts.gstatic.com)."""
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(app_server["url"] + path)
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    page.wait_for_timeout(1500)  # the favicon and fonts load after the first draw
    outside = [u for u in seen if not u.startswith((app_server["url"], "data:", "blob:"))]
    assert seen and outside == []
