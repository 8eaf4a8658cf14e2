"""The template service: adds and edits are validated whole (the problem names the field, nothing
is written), history is kept, archive and restore replace delete, stale saves are refused, a
frozen library refuses everything, and message counts follow the channel."""

from __future__ import annotations

import pytest

from workbench import LibraryFrozenError, StaleEditError, ValidationError
from workbench.library import templates as tpl
from workbench.library.assembly import pool_from_components


def snapshot(store):
    """Everything a template write may touch, to prove a refused write changed nothing."""
    return (store.query("SELECT * FROM templates ORDER BY id"),
            store.query("SELECT * FROM template_revisions ORDER BY id"),
            store.query("SELECT * FROM audit_log ORDER BY id"))


def slot_template(store, channel):
    return next(t for t in store.templates(channel=channel, segment="") if "{" in t["body"])


NEW = {"name": "Weekend push", "channel": "push", "title": "{greeting}",
       "body": "{offer} {cta}", "image": "{visual}"}


def test_a_new_template_is_stored_with_a_create_revision(store):
    tid = tpl.add_template(store, dict(NEW, name="  Weekend push "), "ana")
    row = store.template(tid)
    assert {k: row[k] for k in ("name", "channel", "segment", "title", "body", "image",
                                "version", "status", "created_by")} == {
        "name": "Weekend push", "channel": "push", "segment": None, "title": "{greeting}",
        "body": "{offer} {cta}", "image": "{visual}", "version": 1, "status": "active",
        "created_by": "ana"}
    (rev,) = tpl.template_history(store, tid)
    assert (rev.version, rev.action, rev.actor) == (1, "create", "ana")
    assert rev.changes == {"name": ("", "Weekend push"), "channel": ("", "push"),
                           "title": ("", "{greeting}"), "body": ("", "{offer} {cta}"),
                           "image": ("", "{visual}")}


@pytest.mark.parametrize("changes, expected", [
    ({"title": "{greeting"},
     "field 'title': unbalanced '{' at character 1"),
    ({"body": "{offer} {coupon}"},
     "field 'body': unknown slot '{coupon}' (known: {cta}, {greeting}, {offer}, {tone}, "
     "{value_prop}, {visual})"),
    ({"name": " "}, "field 'name': must not be empty"),
    ({"channel": "fax"},
     "field 'channel': unknown channel 'fax' (known: push, email, sms, in_app)"),
    ({"channel": "sms"}, "field 'title': SMS messages have no title; leave it empty"),
    ({"segment": "vip"}, "field 'segment': unknown segment 'vip'"),
    ({"title": "x" * 51}, "field 'title': title is 51 characters, over the Push "
                          "notification limit of 50"),
    ({"image": "y" * 2001}, "field 'image': is 2001 characters; a template field is at most "
                            "2000"),
    ({"name": "n" * 121}, "field 'name': is 121 characters; a name is at most 120"),
])
def test_an_invalid_edit_names_the_field_and_writes_nothing(store, changes, expected):
    t = slot_template(store, "push")
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        tpl.save_template(store, t["id"], changes, "ana", based_on=t["version"])
    assert [str(p) for p in e.value.problems] == [f"(template #{t['id']}) {expected}"]
    assert e.value.summary == "The template was not saved"
    assert snapshot(store) == before


def test_an_invalid_new_template_names_the_field_and_adds_nothing(store):
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        tpl.add_template(store, dict(NEW, body="{offer} {cta", title=""), "ana")
    assert [str(p) for p in e.value.problems] == [
        "field 'body': unbalanced '{' at character 9"]
    assert snapshot(store) == before


def test_an_edit_that_makes_an_assembled_text_too_long_names_the_atoms(store):
    t = slot_template(store, "push")
    with pytest.raises(ValidationError) as e:
        tpl.save_template(store, t["id"], {"title": "{greeting} {value_prop} {offer}"}, "ana")
    (problem,) = e.value.problems
    assert problem.field == "title"
    assert "assembled title can reach" in problem.message
    assert "over the Push notification limit of 50 (longest with greeting #" in problem.message


def test_an_edit_is_saved_with_a_revision_of_what_it_replaced(store):
    t = slot_template(store, "sms")
    changed = tpl.save_template(store, t["id"], {"body": "{greeting} {cta}"}, "bo",
                                based_on=t["version"])
    assert changed == ["body"]
    row = store.template(t["id"])
    assert (row["body"], row["version"], row["updated_by"]) == ("{greeting} {cta}",
                                                                 t["version"] + 1, "bo")
    rev = tpl.template_history(store, t["id"])[0]
    assert (rev.action, rev.actor, rev.changes) == (
        "edit", "bo", {"body": (t["body"], "{greeting} {cta}")})
    assert rev.summary() == f"body: {t['body']!r} -> '{{greeting}} {{cta}}'"


def test_an_unchanged_save_writes_nothing(store):
    t = slot_template(store, "sms")
    before = snapshot(store)
    assert tpl.save_template(store, t["id"], {"body": f"  {t['body']} ", "segment": ""},
                             "bo", based_on=t["version"]) == []
    assert snapshot(store) == before


def test_a_save_over_a_newer_change_is_refused_with_who_when_and_both_texts(store):
    t = slot_template(store, "sms")
    tpl.save_template(store, t["id"], {"body": "{greeting} {cta}"}, "aisha")
    theirs = store.template(t["id"])
    before = snapshot(store)
    with pytest.raises(StaleEditError) as e:
        tpl.save_template(store, t["id"], {"body": "{offer} {cta}"}, "bo",
                          based_on=t["version"])
    (c,) = e.value.conflicts
    assert (c.subject, c.component_id, c.based_on, c.version, c.changed_by, c.changed_at,
            c.your_text, c.their_text) == (
        "template", t["id"], t["version"], t["version"] + 1, "aisha", theirs["updated_at"],
        "body: {offer} {cta}", "body: {greeting} {cta}")
    assert str(c).startswith(f"template #{t['id']} was changed by aisha at ")
    assert snapshot(store) == before
    # Opened again at the new version, the same edit saves.
    assert tpl.save_template(store, t["id"], {"body": "{offer} {cta}"}, "bo",
                             based_on=theirs["version"]) == ["body"]


def test_archive_and_restore_keep_the_template_and_its_history(store):
    t = slot_template(store, "sms")
    assert tpl.set_template_status(store, t["id"], "archived", "ana", based_on=1) == ["status"]
    assert store.template(t["id"])["status"] == "archived"
    assert t["id"] not in [x["id"] for x in store.templates()]
    tpl.set_template_status(store, t["id"], "active", "ana")
    row = store.template(t["id"])
    assert (row["status"], row["body"], row["version"]) == ("active", t["body"], 3)
    assert [(r.action, r.changes) for r in tpl.template_history(store, t["id"])[:2]] == [
        ("restore", {"status": ("archived", "active")}),
        ("archive", {"status": ("active", "archived")})]


def test_a_restore_is_checked_against_the_library_as_it_is_now(store):
    t = slot_template(store, "sms")
    tpl.set_template_status(store, t["id"], "archived", "ana")
    for c in store.components(kind="cta", status="active"):  # the slot loses every atom
        store.update_component(c["id"], {"status": "archived"}, "ana")
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        tpl.set_template_status(store, t["id"], "active", "ana")
    assert [(p.field, p.message) for p in e.value.problems] == [
        ("body", "no active 'cta' atom for any segment: add one before using this slot")]
    assert snapshot(store) == before


def test_the_last_all_segment_slot_template_cannot_be_archived(store):
    slot = [t for t in store.templates(segment="") if "{" in t["body"]]
    for t in slot[1:]:
        tpl.set_template_status(store, t["id"], "archived", "ana")
    with pytest.raises(ValidationError) as e:
        tpl.set_template_status(store, slot[0]["id"], "archived", "ana")
    assert [p.field for p in e.value.problems] == ["status"]
    assert "the last active all-segment template with slots" in e.value.problems[0].message


def test_a_frozen_library_refuses_every_template_write(store):
    t = slot_template(store, "sms")
    store.record_mode("passive", "manager")
    before = snapshot(store)
    for write in (lambda: tpl.add_template(store, NEW, "ana"),
                  lambda: tpl.save_template(store, t["id"], {"body": "{cta}"}, "ana"),
                  lambda: tpl.set_template_status(store, t["id"], "archived", "ana")):
        with pytest.raises(LibraryFrozenError, match="frozen"):
            write()
    assert snapshot(store) == before
    store.record_mode("active", "manager")
    assert tpl.save_template(store, t["id"], {"body": "{greeting} {cta}"}, "ana") == ["body"]


def test_unknown_fields_and_templates_are_refused_by_name(store):
    t = slot_template(store, "sms")
    with pytest.raises(ValidationError) as e:
        tpl.save_template(store, t["id"], {"version": 9, "colour": "red"}, "ana")
    assert [str(p) for p in e.value.problems] == [
        f"(template #{t['id']}) field 'colour': cannot be edited",
        f"(template #{t['id']}) field 'version': cannot be edited"]
    with pytest.raises(ValidationError) as e:
        tpl.save_template(store, 9999, {"body": "x"}, "ana")
    assert [str(p) for p in e.value.problems] == ["(template #9999): no longer exists"]


def test_message_counts_multiply_only_the_slots_the_channel_shows(store):
    t = slot_template(store, "push")
    segments = [s["id"] for s in store.segments()]
    counts = tpl.message_counts(store, t)
    assert [c.segment for c in counts] == segments
    pool = pool_from_components(store.components(for_segment=segments[0], status="active"))
    push = counts[0]
    assert push.per_slot == {s: len(pool[s]) for s in
                             ("greeting", "tone", "value_prop", "offer", "cta", "visual")}
    # The same template sent as SMS: no title, no image, so greeting and visual drop out.
    as_sms = tpl.message_counts(store, dict(t, channel="sms"))[0]
    assert as_sms.per_slot == {s: len(pool[s]) for s in ("tone", "value_prop", "offer", "cta")}
    assert as_sms.messages == (len(pool["tone"]) * len(pool["value_prop"])
                               * len(pool["offer"]) * len(pool["cta"]))
    assert as_sms.messages * len(pool["greeting"]) * len(pool["visual"]) == push.messages


def test_preview_warnings_name_the_template_the_field_and_the_atoms(store):
    t = slot_template(store, "push")
    sms = store.channel("sms")
    pool = pool_from_components(store.components(for_segment="new_buyers", status="active"))
    (w,) = tpl.preview_warnings(t, sms, pool, "new_buyers")
    assert (w.message, w.template_id, w.field, w.atom_ids, w.missing_kind) == (
        f"Template '{t['name']}', field 'title': SMS messages have no title; leave it empty",
        t["id"], "title", (), None)
    long_offer = max(pool["offer"], key=lambda a: len(a["text"]))
    tight = dict(store.channel("push"), body_max=40)
    w = next(x for x in tpl.preview_warnings(t, tight, pool, "new_buyers") if x.field == "body")
    assert long_offer["id"] in w.atom_ids and "over the Push notification limit of 40" in w.message
    empty = {k: v for k, v in pool.items() if k != "cta"}
    (w,) = tpl.preview_warnings(t, store.channel("push"), empty, "new_buyers")
    assert (w.missing_kind, w.field) == ("cta", "body")
    assert w.message == (f"Template '{t['name']}', field 'body': no active 'cta' atom for "
                         "new_buyers; add one before using this slot")
