"""The library service: batches land whole or not at all, history is kept, files are checked."""

from __future__ import annotations

import json

import pytest

from workbench.library import service as library
from workbench import LibraryFrozenError, ValidationError
from workbench.library.service import Edit


def snapshot(store):
    """Everything a library write may touch, to prove a rejected write changed nothing."""
    return (store.query("SELECT * FROM components ORDER BY id"),
            store.query("SELECT * FROM component_revisions ORDER BY id"),
            store.query("SELECT * FROM audit_log ORDER BY id"))


def first(store, kind):
    return store.components(kind=kind, status="active")[0]


def test_add_component_stores_it_with_a_create_revision(store):
    cid = library.add_component(store, {"kind": "cta", "text": "  Jom order! ", "tone": "playful",
                                        "tags": "Casual, Malay"}, "ana")
    row = store.component(cid)
    assert (row["text"], row["segment"], row["tone"], row["tags"], row["created_by"]) == (
        "Jom order!", None, "playful", "casual;malay", "ana")
    assert [(r["action"], r["new_text"]) for r in store.component_revisions(cid)] == [
        ("create", "Jom order!")]


def test_add_rejects_a_duplicate_and_writes_nothing(store):
    existing = first(store, "cta")
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.add_component(store, {"kind": "cta", "text": existing["text"].upper()}, "ana")
    assert [str(p) for p in e.value.problems] == [
        f"field 'text': duplicate cta atom: same text as component #{existing['id']}"]
    assert snapshot(store) == before


def test_edit_batch_applies_whole_with_revisions(store):
    a, b = store.components(kind="greeting", status="active")[:2]
    changed = library.save_edits(store, [
        Edit(a["id"], {"text": "Hai kawan!"}, row=1),
        Edit(b["id"], {"tags": "friendly"}, row=2)], "ben")
    assert changed == [a["id"], b["id"]]
    assert store.component(a["id"])["text"] == "Hai kawan!"
    rev = store.component_revisions(a["id"])[0]
    assert (rev["action"], rev["old_text"], rev["new_text"], rev["actor"]) == (
        "edit", a["text"], "Hai kawan!", "ben")
    assert json.loads(rev["old_fields"])["text"] == a["text"]


def test_one_invalid_edit_rejects_the_whole_batch_naming_row_and_field(store):
    a, b = store.components(kind="greeting", status="active")[:2]
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.save_edits(store, [
            Edit(a["id"], {"text": "A perfectly good greeting"}, row=1),
            Edit(b["id"], {"text": "", "segment": "vip"}, row=2)], "ben")
    assert [str(p) for p in e.value.problems] == [
        f"row 2 (component #{b['id']}) field 'text': must not be empty",
        f"row 2 (component #{b['id']}) field 'segment': unknown segment 'vip'"]
    assert snapshot(store) == before


def test_unchanged_edit_writes_no_revision(store):
    a = first(store, "greeting")
    before = snapshot(store)
    assert library.save_edits(store, [Edit(a["id"], {"text": a["text"] + "  "})], "ben") == []
    assert snapshot(store) == before


def test_read_only_fields_cannot_be_edited(store):
    a = first(store, "greeting")
    with pytest.raises(ValidationError, match="field 'version': cannot be edited"):
        library.save_edits(store, [Edit(a["id"], {"version": 99}, row=1)], "ben")


def test_archive_and_restore_keep_history_and_never_delete(store):
    a = first(store, "offer")
    n = store.db["components"].count
    library.set_status(store, [a["id"]], "archived", "ana")
    assert store.component(a["id"])["status"] == "archived"
    assert a["id"] not in [c["id"] for c in store.components(status="active")]
    library.set_status(store, [a["id"]], "active", "ana")
    assert store.db["components"].count == n
    assert [r["action"] for r in store.component_revisions(a["id"])][:2] == ["restore", "archive"]


def test_restoring_is_refused_when_an_equal_atom_took_its_place(store):
    a = first(store, "offer")
    library.set_status(store, [a["id"]], "archived", "ana")
    library.add_component(store, {"kind": "offer", "text": a["text"]}, "ana")
    with pytest.raises(ValidationError, match="duplicate offer atom"):
        library.set_status(store, [a["id"]], "active", "ana")
    assert store.component(a["id"])["status"] == "archived"


def test_a_frozen_library_refuses_every_write(store):
    store.record_mode("passive", "manager")
    a = first(store, "offer")
    before = snapshot(store)
    for call in (
        lambda: library.add_component(store, {"kind": "cta", "text": "New"}, "ana"),
        lambda: library.save_edits(store, [Edit(a["id"], {"text": "x"})], "ana"),
        lambda: library.set_status(store, [a["id"]], "archived", "ana"),
        lambda: library.import_components(store, b"kind,text\ncta,New\n", "f.csv", "ana"),
    ):
        with pytest.raises(LibraryFrozenError, match="frozen"):
            call()
    assert snapshot(store) == before
    store.record_mode("active", "manager")
    assert library.add_component(store, {"kind": "cta", "text": "New"}, "ana")


# -- import / export ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_round_trips_without_changes(store, fmt):
    data = library.export_components(store, fmt)
    before = store.query("SELECT * FROM components ORDER BY id")
    result = library.import_components(store, data, f"lib.{fmt}", "ana")
    assert (result.created, result.updated, result.unchanged) == ([], [], len(before))
    assert store.query("SELECT * FROM components ORDER BY id") == before


def test_csv_import_adds_new_rows_and_updates_rows_with_an_id(store):
    a = first(store, "cta")
    data = (f"id,kind,text,segment,tags\n{a['id']},cta,Tap to order,,fast\n"
            ",greeting,Apa khabar?,new_buyers,malay\n").encode()
    result = library.import_components(store, data, "lib.csv", "ana")
    assert result.updated == [a["id"]] and len(result.created) == 1
    assert store.component(a["id"])["text"] == "Tap to order"
    new = store.component(result.created[0])
    assert (new["kind"], new["segment"], new["source"]) == ("greeting", "new_buyers", "import")
    assert store.component_revisions(a["id"])[0]["action"] == "import"


def test_json_import_accepts_a_components_object(store):
    data = json.dumps({"components": [{"kind": "tone", "text": "Treat yourself tonight."}]})
    result = library.import_components(store, data.encode(), "lib.json", "ana")
    assert len(result.created) == 1


def rejected(store, data, name="lib.csv"):
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.import_components(store, data, name, "ana")
    assert snapshot(store) == before
    return [str(p) for p in e.value.problems]


def test_import_rejects_unknown_and_missing_columns(store):
    assert rejected(store, b"kind,txt,colour\ncta,x,red\n") == [
        "field 'txt': unknown column 'txt' in the header (expected: id, kind, text, segment, "
        "offer_type, product_category, tone, tags, status)",
        "field 'colour': unknown column 'colour' in the header (expected: id, kind, text, "
        "segment, offer_type, product_category, tone, tags, status)",
        "field 'text': required column 'text' is missing"]


def test_import_rejects_a_file_that_is_not_utf8(store):
    data = "kind,text\ncta,Order now\ngreeting,Olá\n".encode("latin-1")
    assert rejected(store, data) == [
        "row 2: byte 0xe1 is not valid UTF-8; save the file with UTF-8 encoding"]


def test_import_rejects_an_oversized_file(store):
    data = b"kind,text\n" + b"cta,x\n" * (library.MAX_IMPORT_BYTES // 6 + 1)
    assert rejected(store, data) == ["the file is 2.0 MB; the limit is 2 MB"]


def test_import_rejects_too_many_rows(store, monkeypatch):
    monkeypatch.setattr(library, "MAX_IMPORT_ROWS", 3)
    data = b"kind,text\n" + b"".join(f"cta,Go {i}\n".encode() for i in range(4))
    assert rejected(store, data) == ["the file has 4 rows; the limit is 3"]


def test_import_names_every_bad_row_and_field_and_writes_nothing(store):
    good_id = first(store, "cta")["id"]
    data = (
        "id,kind,text,segment,tone\n"
        ",cta,A fine new call to action,,\n"          # row 1: fine on its own
        ",greeting,,,\n"                              # row 2: empty text
        ",offer,RM5 off,nowhere,\n"                   # row 3: bad segment
        "999999,cta,Ghost,,\n"                        # row 4: unknown id
        f"{good_id},cta,Shout,,angry\n"               # row 5: bad tone
        ",cta,a fine new CALL to action,,\n"          # row 6: duplicate of row 1
        "abc,cta,x,,\n"                               # row 7: bad id
    ).encode()
    assert rejected(store, data) == [  # data row 1 is the first line under the header
        "row 2 field 'text': must not be empty",
        "row 3 field 'segment': unknown segment 'nowhere'",
        "row 4 field 'id': no component #999999 in the library; leave id empty to add a new one",
        "row 5 field 'tone': 'angry' is not one of playful, caring, urgent, premium, neutral",
        "row 7 field 'id': 'abc' is not a component id",
        "row 6 field 'text': duplicate cta atom: same text as row 1",
    ]


def test_import_rejects_ragged_csv_rows_and_bad_json(store):
    assert rejected(store, b"kind,text\ncta,Go,extra\n") == [
        "row 1: has 3 fields but the header has 2"]
    assert rejected(store, b'[{"kind": "cta", "text": "Go"},', "lib.json") == [
        "row 1: invalid JSON: Expecting value (column 32)"]
    assert rejected(store, b'[1]', "lib.json") == ["row 1: is not an object"]
    assert rejected(store, b"", "lib.csv") == ["the file is empty"]


def test_import_of_the_same_id_twice_is_rejected(store):
    cid = first(store, "cta")["id"]
    data = f"id,kind,text\n{cid},cta,One\n{cid},cta,Two\n".encode()
    assert rejected(store, data) == [f"row 2 field 'id': component #{cid} also appears in row 1"]


def test_csv_downloads_quote_formula_cells_and_keep_numbers():
    import pandas as pd

    text = library.csv_text(pd.DataFrame({
        "segment": ["=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "@SUM(A1)", "plain"],
        "lift": [-0.05, 0.1, 0.0, 1.5]}))
    assert text.splitlines() == [
        "segment,lift",
        "\"'=HYPERLINK(\"\"http://x\"\")\",-0.05",
        "'+cmd|' /C calc'!A0,0.1",
        "'@SUM(A1),0.0",
        "plain,1.5"]


# -- atoms must keep every active template sendable -------------------------------------------

PUSH_CLASSIC = "template 'Reactivation push — classic' (Push notification)"
#: The tightest room: the dormant segment's own tone and value proposition are the longest
ROOM = ("at most 30 characters fit here beside the longest tone #21, value_prop #32, "
        "offer #37")


def test_an_atom_too_long_for_a_template_channel_is_refused_with_the_room_left(store):
    """A 389-character call to action was accepted (a warning on the page only) and the agent
    then sent 506-character push bodies, limit 150."""
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.add_component(store, {"kind": "cta", "text": "Tap here now " * 30}, "qa")
    assert [str(p) for p in e.value.problems] == [
        f"field 'text': with this text, {PUSH_CLASSIC} can make a body of 509 characters for "
        f"segment dormant_90d_plus, over the limit of 150; {ROOM}"]
    assert snapshot(store) == before
    cid = library.add_component(store, {"kind": "cta", "text": "x" * 30}, "qa")  # fits exactly
    assert store.component(cid)["text"] == "x" * 30


def test_an_import_or_edit_that_makes_a_message_too_long_names_the_row(store):
    text = "Order your favourite meal today before it is gone"  # 49 characters
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.import_components(store, f"kind,text\ncta,{text}\n".encode(), "big.csv", "qa")
    assert [str(p) for p in e.value.problems] == [
        f"row 1 field 'text': with this text, {PUSH_CLASSIC} can make a body of 169 "
        f"characters for segment dormant_90d_plus, over the limit of 150; {ROOM}"]
    cta = first(store, "cta")
    with pytest.raises(ValidationError) as e:
        library.save_edits(store, [Edit(cta["id"], {"text": text}, row=3)], "qa")
    assert [str(p) for p in e.value.problems] == [
        f"row 3 (component #{cta['id']}) field 'text': with this text, {PUSH_CLASSIC} can make "
        f"a body of 169 characters for segment dormant_90d_plus, over the limit of 150; {ROOM}"]
    assert snapshot(store) == before
    # A tag edit of the same atom is not judged on its text
    assert library.save_edits(store, [Edit(cta["id"], {"tags": "short"})], "qa") == [cta["id"]]


def test_archiving_the_last_atom_a_template_needs_is_refused_naming_its_field(store):
    """Archiving every call to action left no message to make: the agent could not decide."""
    shared = [c for c in store.components(kind="cta", status="active") if c["segment"] is None]
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.set_status(store, [c["id"] for c in shared], "archived", "qa")
    assert [str(p) for p in e.value.problems] == [
        f"(component #{shared[0]['id']}) field 'status': with the 8 other 'cta' atom(s) taken "
        "out here, leaves no active one that template 'Reactivation push — classic' can use "
        "(its body); keep one or add another 'cta' atom first, or change the template"]
    assert snapshot(store) == before
    library.set_status(store, [c["id"] for c in shared[:-1]], "archived", "qa")
    greetings = [c["id"] for c in store.components(kind="greeting", status="active")]
    with pytest.raises(ValidationError) as e:
        library.set_status(store, [shared[-1]["id"], *greetings], "archived", "qa")
    assert [str(p) for p in e.value.problems][:2] == [
        f"(component #{shared[-1]['id']}) field 'status': is the last active 'cta' atom that "
        "template 'Reactivation push — classic' can use (its body); keep one or add another "
        "'cta' atom first, or change the template",
        f"(component #{greetings[0]}) field 'status': with the {len(greetings) - 1} other "
        "'greeting' atom(s) taken out here, leaves no active one that template 'Reactivation "
        "push — classic' can use (its title); keep one or add another 'greeting' atom first, "
        "or change the template"]


def test_a_template_slot_without_atoms_is_named_in_the_field_that_holds_it(store):
    from workbench.library.validation import check_template

    tpl = {"name": "t", "channel": "push", "title": "{greeting}", "body": "Hello {cta}"}
    found = check_template(tpl, kinds=["greeting", "cta"],
                           channels={c["id"]: c for c in store.channels()}, segments=[],
                           components=[first(store, "cta")])
    assert [str(p) for p in found] == [
        "field 'title': no active 'greeting' atom for any segment: add one before using this "
        "slot"]


def test_the_same_text_with_a_composed_or_combining_accent_is_one_atom(store):
    """'Café' with é (U+00E9) and with e + U+0301 look the same; both were stored."""
    composed, combining = "Caf\u00e9 ready", "Cafe\u0301 ready"
    cid = library.add_component(store, {"kind": "cta", "text": combining}, "qa")
    assert store.component(cid)["text"] == composed  # stored in one form (NFC)
    with pytest.raises(ValidationError) as e:
        library.add_component(store, {"kind": "cta", "text": composed}, "qa")
    assert [str(p) for p in e.value.problems] == [
        f"field 'text': duplicate cta atom: same text as component #{cid}"]


@pytest.mark.parametrize("data, problem", [
    (b'[{"kind": "cta", "text": "a", "TEXT": "b"}]',
     "field 'text': column 'text' appears twice in the object 1"),
    (b'[{"kind": "cta", "text": "a", "text": "b"}]',
     "field 'text': column 'text' appears twice in the object 1"),
    (b'[{"kind": "cta", "text": true}]',
     "row 1 field 'text': must be a text or a number, not JSON true"),
    (b'[{"kind": "cta", "text": Infinity}]',
     "row 1 field 'text': must be a text or a finite number, not inf"),
], ids=["two spellings", "twice", "true", "Infinity"])
def test_a_json_import_refuses_repeated_keys_and_values_that_are_not_texts(store, data,
                                                                            problem):
    """One of two keys was kept silently; ``true`` and ``Infinity`` were stored as the
    atom texts "True" and "inf"."""
    before = snapshot(store)
    with pytest.raises(ValidationError) as e:
        library.import_components(store, data, "lib.json", "qa")
    assert [str(p) for p in e.value.problems] == [problem]
    assert snapshot(store) == before


def test_an_unknown_long_id_is_named_as_written(store):
    with pytest.raises(ValidationError) as e:
        library.import_components(store, b"id,kind,text\n99999999999999999999999,cta,x\n",
                                  "lib.csv", "qa")
    assert [str(p) for p in e.value.problems] == [
        "row 1 field 'id': no component #99999999999999999999999 in the library; leave id "
        "empty to add a new one"]


def test_a_slot_used_twice_in_a_field_counts_its_atom_twice():
    from workbench.library.fit import template_problems

    channel = {"id": "sms", "name": "SMS", "title_max": 0, "preheader_max": 0, "body_max": 30}
    tpl = {"id": 1, "name": "echo", "channel": "sms", "segment": None, "title": "",
           "preheader": "", "body": "{cta}, yes: {cta}", "image": ""}
    have = {1: {"id": 1, "kind": "cta", "text": "Go", "segment": None, "status": "active"}}
    new = {"kind": "cta", "text": "x" * 14, "segment": None, "status": "active"}  # 14+7+14
    assert [str(p) for p in template_problems([(2, None, None, new)], have, [tpl],
                                              {"sms": channel})] == [
        "row 2 field 'text': with this text, template 'echo' (SMS) can make a body of 35 "
        "characters, over the limit of 30; at most 11 characters fit here"]
    fits = {**new, "text": "x" * 11}  # 11 + 7 + 11 = 29
    assert template_problems([(2, None, None, fits)], have, [tpl], {"sms": channel}) == []
