"""The template editor on the Components page (AppTest, against a real SQLite file): edit, see the
field named when invalid, stale saves refused, archive and restore, and preview warnings whose
buttons open what fixes them."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT

COMPONENTS = "pages/1_Components.py"


def components() -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    at.switch_page(COMPONENTS).run()
    assert not at.exception
    return at


def editor(at: AppTest, field: str):
    """The editor's widget for ``field`` of the template picked now."""
    return next(w for w in [*at.text_input, *at.text_area]
                if w.key and w.key.startswith(f"tpl_{field}_"))


def table(at: AppTest, column: str):
    """The table on the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def submit(at: AppTest) -> None:
    next(b for b in at.button if b.label in ("Save template", "Add template")).click().run()


def pick(at: AppTest, template_id: int) -> None:
    at.selectbox(key="tpl_status_f").set_value("all").run()
    at.selectbox(key="tpl_pick").set_value(template_id).run()


def test_the_editor_saves_a_template_edit_with_its_history(db_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "apptest")
    at = components()
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="sms") if "{" in x["body"])
    pick(at, t["id"])
    assert editor(at, "body").value == t["body"]
    editor(at, "body").input("{greeting} {cta}")
    submit(at)
    assert f"Saved template #{t['id']}." in [m.value for m in at.success]
    with open_store(db_path) as s:
        row = s.template(t["id"])
    assert (row["body"], row["version"], row["updated_by"]) == ("{greeting} {cta}", 2, "apptest")
    history = table(at, "changes")
    assert list(history["action"]) == ["edit", "seed"]
    assert history["changes"][0] == f"body: {t['body']!r} -> '{{greeting}} {{cta}}'"
    counts = table(at, "atoms per slot")
    assert counts["atoms per slot"][0].startswith("{greeting} ")
    assert "{offer}" not in counts["atoms per slot"][0]


def test_an_invalid_edit_names_the_field_keeps_the_input_and_writes_nothing(db_path):
    at = components()
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="sms") if "{" in x["body"])
        before = s.query("SELECT * FROM templates ORDER BY id")
    pick(at, t["id"])
    editor(at, "title").input("Hello {greeting}")
    submit(at)
    error = at.error[0].value.replace("\\", "")
    assert error.startswith("The template was not saved:")
    assert (f"(template #{t['id']}) field 'title': SMS messages have no title; leave it empty"
            in error)
    assert editor(at, "title").value == "Hello {greeting}"  # what the person typed stays
    with open_store(db_path) as s:
        assert s.query("SELECT * FROM templates ORDER BY id") == before
    editor(at, "title").input("")
    submit(at)
    assert not at.error
    assert "Nothing to save: no field was changed." in [m.value for m in at.success]


def test_a_new_template_is_added_and_picked(db_path):
    at = components()
    at.selectbox(key="tpl_pick").set_value(0).run()
    editor(at, "name").input("Weekend SMS")
    at.selectbox(key="tpl_channel_0_0").set_value("sms")
    editor(at, "body").input("{greeting} {offer} {cta}")
    submit(at)
    with open_store(db_path) as s:
        new = s.templates(channel="sms")[-1]
    assert (new["name"], new["body"], new["segment"]) == (
        "Weekend SMS", "{greeting} {offer} {cta}", None)
    assert f"Added template #{new['id']}." in [m.value for m in at.success]
    assert at.selectbox(key="tpl_pick").value == new["id"]


def test_a_stale_template_save_is_refused_naming_who_and_both_texts(db_path):
    from workbench.library import templates as tpl

    at = components()
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="sms") if "{" in x["body"])
    pick(at, t["id"])
    with open_store(db_path) as s:  # someone else saves the same template meanwhile
        tpl.save_template(s, t["id"], {"body": "{greeting} {cta}"}, "aisha")
        theirs = s.template(t["id"])
    editor(at, "body").input("{offer} {cta}")
    submit(at)
    message = at.error[0].value.replace("\\", "")
    assert (f"Template #{t['id']} was changed by aisha at {theirs['updated_at']} "
            "(you opened version 1, it is now version 2)") in message
    assert "Their text: body: {greeting} {cta}" in message
    assert "Your text: body: {offer} {cta}" in message
    with open_store(db_path) as s:
        assert s.template(t["id"])["body"] == "{greeting} {cta}"
    assert editor(at, "body").value == "{greeting} {cta}"  # reloaded: their version
    editor(at, "body").input("{offer} {cta}")
    submit(at)
    with open_store(db_path) as s:
        assert s.template(t["id"])["body"] == "{offer} {cta}"


def test_archive_and_restore_from_the_editor(db_path):
    at = components()
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="sms") if "{" in x["body"])
    pick(at, t["id"])
    at.button(key="tpl_status_button").click().run()
    with open_store(db_path) as s:
        assert s.template(t["id"])["status"] == "archived"
    assert at.button(key="tpl_status_button").label == "Restore template"
    at.button(key="tpl_status_button").click().run()
    with open_store(db_path) as s:
        assert s.template(t["id"])["status"] == "active"
    assert list(table(at, "changes")["action"][:2]) == ["restore", "archive"]


def test_passive_management_disables_the_editor(db_path):
    with open_store(db_path) as s:
        s.record_mode("passive", "manager")
    at = components()
    assert next(b for b in at.button if b.label == "Save template").disabled
    assert at.button(key="tpl_status_button").disabled


def test_a_preview_warning_opens_the_template_in_the_editor(db_path):
    at = components()
    template_id = at.selectbox(key="pv_template").value
    at.selectbox(key="pv_channel").set_value("sms").run()
    warning = next(w.value for w in at.warning if "no title" in w.value).replace("\\", "")
    assert warning.endswith("field 'title': SMS messages have no title; leave it empty")
    assert warning.startswith("Template '")
    at.button(key="pv_fix_tpl_0").click().run()
    assert at.session_state["components_tab"] == "Templates"
    assert at.selectbox(key="tpl_pick").value == template_id
    assert "Fix the field 'title' of this template, then save." in [i.value for i in at.info]


def test_a_preview_warning_opens_the_atoms_that_make_a_text_too_long(db_path):
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="push", segment="") if "{" in x["body"])
        long_cta = s.components(kind="cta", status="active")[0]
        # a long call to action: the assembled push body now passes 150 characters
        s.update_component(long_cta["id"], {"text": "Order " + "now " * 30}, "ana")
        cta = s.component(long_cta["id"])
    at = components()
    at.selectbox(key="pv_template").set_value(t["id"]).run()
    assert any("over the Push notification limit of 150" in w.value for w in at.warning)
    at.button(key=next(b.key for b in at.button
                       if b.key and b.key.endswith(f"_{cta['id']}"))).click().run()
    assert at.session_state["components_tab"] == "Library"
    shown = at.data_editor[0].value
    assert cta["id"] in list(shown["id"])
    assert at.text_input(key="f_search").value == cta["text"]


def test_unsaved_changes_survive_opening_another_template_and_can_be_discarded(db_path):
    at = components()
    with open_store(db_path) as s:
        sms = next(x for x in s.templates(channel="sms") if "{" in x["body"])
        push = next(x for x in s.templates(channel="push") if "{" in x["body"])
    pick(at, sms["id"])
    editor(at, "body").input("{greeting} {cta}").run()
    assert any(w.value.startswith("Unsaved changes to body:") for w in at.warning)
    at.selectbox(key="tpl_pick").set_value(push["id"]).run()
    assert editor(at, "body").value == push["body"]
    assert f"Unsaved changes are also kept for template #{sms['id']}." in [
        c.value for c in at.caption]
    at.selectbox(key="tpl_pick").set_value(sms["id"]).run()
    assert editor(at, "body").value == "{greeting} {cta}"  # still there, still unsaved
    with open_store(db_path) as s:
        assert s.template(sms["id"])["body"] == sms["body"]
    at.button(key="tpl_discard").click().run()
    assert "Discarded the unsaved changes to body." in [m.value for m in at.success]
    assert editor(at, "body").value == sms["body"]
    assert not any(w.value.startswith("Unsaved changes") for w in at.warning)


def test_an_unsaved_change_kept_while_someone_saved_is_refused_as_stale(db_path):
    from workbench.library import templates as tpl

    at = components()
    with open_store(db_path) as s:
        sms = next(x for x in s.templates(channel="sms") if "{" in x["body"])
        push = next(x for x in s.templates(channel="push") if "{" in x["body"])
    pick(at, sms["id"])
    editor(at, "body").input("{offer} {cta}").run()
    at.selectbox(key="tpl_pick").set_value(push["id"]).run()
    with open_store(db_path) as s:  # meanwhile someone else saves the same template
        tpl.save_template(s, sms["id"], {"body": "{greeting} {cta}"}, "aisha")
    at.selectbox(key="tpl_pick").set_value(sms["id"]).run()
    submit(at)
    message = at.error[0].value.replace("\\", "")
    assert f"Template #{sms['id']} was changed by aisha at" in message
    assert "Your text: body: {offer} {cta}" in message
    with open_store(db_path) as s:
        assert s.template(sms["id"])["body"] == "{greeting} {cta}"


def test_a_preview_warning_for_a_slot_without_atoms_opens_the_add_form(db_path):
    with open_store(db_path) as s:
        for c in s.components(kind="cta", status="active"):
            s.update_component(c["id"], {"status": "archived"}, "ana")
    at = components()
    segment = at.selectbox(key="pv_segment").value
    warnings = [w.value.replace("\\", "") for w in at.warning]
    warning = next(w for w in warnings if "'cta'" in w)
    assert warning.endswith(f"field 'body': no active 'cta' atom for {segment}; add one before "
                            "using this slot")
    at.button(key="pv_fix_add_0").click().run()
    assert at.session_state["components_tab"] == "Add"
    assert (at.selectbox(key="add_kind").value, at.selectbox(key="add_segment").value) == (
        "cta", segment)


def test_archiving_a_template_archived_meanwhile_is_refused_not_applied_to_another(db_path):
    """Two tabs show the same active template; one archives it. The other's Archive click is
    for the template (and version) it showed: refused as stale, never applied to the template
    the picker falls back to once the archived one leaves the "active" list."""
    from workbench.library import templates as tpl

    at = components()
    with open_store(db_path) as s:
        t = next(x for x in s.templates(channel="sms", status="active") if "{" in x["body"])
        before = s.query("SELECT * FROM templates WHERE id != ? ORDER BY id", [t["id"]])
    at.selectbox(key="tpl_pick").set_value(t["id"]).run()
    assert at.selectbox(key="tpl_status_f").value == "active"
    assert at.button(key="tpl_status_button").label == "Archive template"
    banners = [m.value for m in at.success]  # the management mode's, before any click
    with open_store(db_path) as s:  # the other tab archives it meanwhile
        tpl.set_template_status(s, t["id"], "archived", "alice", based_on=1)
        theirs = s.template(t["id"])
    at.button(key="tpl_status_button").click().run()
    assert not at.exception
    assert [m.value for m in at.success] == banners  # no "Archived template #…"
    assert [e.value.replace("\\", "") for e in at.error] == [
        "Not saved: the library changed since you opened it. Nothing of this save was "
        "written; the editor now shows the current texts. Apply your change again if it "
        f"still holds.\n- Template #{t['id']} was changed by alice at {theirs['updated_at']} "
        "(you opened version 1, it is now version 2).  \n  Their text: status: archived  \n"
        "  Your text: status: archived"]
    with open_store(db_path) as s:
        assert s.query("SELECT * FROM templates WHERE id != ? ORDER BY id", [t["id"]]) == before
        assert (s.template(t["id"])["version"], s.template(t["id"])["updated_by"]) == (2, "alice")
