"""Real-browser tests of the template editor (Debian's Chromium, headless, against ``streamlit run``
with its own SQLite file; fixtures in conftest): a person edits a template, sees the field named
when the edit is invalid, fixes it, and follows a preview warning to the editor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from store import open_store

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)


def open_tab(page, url, tab):
    page.goto(url + "/Components")
    expect(page.get_by_role("heading", name="Components")).to_be_visible(timeout=60_000)
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
    return page.get_by_role("tabpanel")


def choose(page, panel, label, option):
    """Pick ``option`` in the select box ``label`` of the visible tab."""
    panel.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).click()


def test_a_template_is_edited_an_invalid_edit_named_then_fixed(page, app_server):
    panel = open_tab(page, app_server["url"], "Templates")  # the first visit seeds the file
    with open_store(app_server["db"]) as s:
        t = next(x for x in s.templates(channel="sms") if "{" in x["body"])
    choose(page, panel, "Template", f"#{t['id']} · {t['name']} · sms")
    body = panel.get_by_role("textbox", name="Body")
    expect(body).to_have_value(t["body"])
    title = panel.get_by_role("textbox", name="Title (push/in-app headline, e-mail subject)")
    title.fill("Hello {greeting}")
    body.fill("{greeting} {cta}")
    panel.get_by_role("button", name="Save template").click()
    alert = page.locator('[data-testid="stAlertContentError"]')
    expect(alert).to_contain_text("The template was not saved")
    expect(alert).to_contain_text(
        f"(template #{t['id']}) field 'title': SMS messages have no title; leave it empty")
    with open_store(app_server["db"]) as s:
        assert s.template(t["id"]) == t  # nothing written
    expect(title).to_have_value("Hello {greeting}")  # what was typed stays, to be fixed
    title.fill("")
    panel.get_by_role("button", name="Save template").click()
    expect(page.get_by_text(f"Saved template #{t['id']}.")).to_be_visible()
    with open_store(app_server["db"]) as s:
        row = s.template(t["id"])
    assert (row["title"], row["body"], row["version"], row["updated_by"]) == (
        "", "{greeting} {cta}", t["version"] + 1, "browser-test")
    history = page.locator('[data-testid="stDataFrame"]').filter(has_text="changes")
    expect(history).to_be_visible()


def test_a_preview_warning_leads_to_the_template_editor(page, app_server):
    panel = open_tab(page, app_server["url"], "Preview")
    with open_store(app_server["db"]) as s:
        t = next(x for x in s.templates(channel="push", segment="") if "{" in x["body"])
    choose(page, panel, "Template", t["name"])
    choose(page, panel, "Channel", "SMS")
    warning = page.locator('[data-testid="stAlertContentWarning"]').filter(
        has_text="SMS messages have no title")
    expect(warning).to_contain_text(f"Template '{t['name']}', field 'title'")
    page.get_by_role("button", name=f"Edit template #{t['id']}").click()
    expect(page.get_by_role("tab", name="Templates")).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_text("Fix the field 'title' of this template, then save.")).to_be_visible()
    expect(panel.get_by_role("combobox", name="Template")).to_have_value(
        f"#{t['id']} · {t['name']} · push")
    expect(panel.get_by_role("textbox", name="Body")).to_have_value(t["body"])
