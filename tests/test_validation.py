"""Validation messages name the row and field and say what is wrong."""

from __future__ import annotations

import pytest

from workbench.library.validation import (
    check_component, check_duplicates, check_template, normalize_component, normalize_tags,
)

KINDS = ["greeting", "offer", "cta"]
SEGMENTS = ["new_buyers", "lapsing_buyers"]
CHANNELS = {
    "push": {"id": "push", "name": "Push notification", "title_max": 50, "preheader_max": 0,
             "body_max": 150},
    "sms": {"id": "sms", "name": "SMS", "title_max": 0, "preheader_max": 0, "body_max": 160},
}


def problems_of(row, **kw):
    return [str(p) for p in check_component(normalize_component(row), kinds=KINDS,
                                            segments=SEGMENTS, **kw)]


def test_a_good_component_has_no_problem():
    assert problems_of({"kind": "greeting", "text": " Hi there! ", "segment": "new_buyers",
                        "tone": "Playful", "tags": "a, b;A"}) == []


def test_normalize_trims_and_canonicalises():
    row = normalize_component({"kind": " Greeting ", "text": " Hi ", "segment": "",
                               "tags": "Weekend, family;weekend", "offer_type": float("nan")})
    assert row == {"kind": "greeting", "text": "Hi", "segment": None, "offer_type": "",
                   "product_category": "", "tone": "", "tags": "weekend;family"}
    assert normalize_tags(None) == ""


@pytest.mark.parametrize("row, expected", [
    ({"kind": "greeting", "text": "   "}, "row 4 field 'text': must not be empty"),
    ({"kind": "salutation", "text": "Hi"},
     "row 4 field 'kind': unknown kind 'salutation' (known: cta, greeting, offer)"),
    ({"kind": "", "text": "Hi"}, "row 4 field 'kind': is required"),
    ({"kind": "greeting", "text": "Hi\x07there"},
     "row 4 field 'text': contains a control character at position 3"),
    ({"kind": "greeting", "text": "Hi\nthere"},
     "row 4 field 'text': contains a control character at position 3"),
    ({"kind": "greeting", "text": "Hi {name}"},
     "row 4 field 'text': must not contain '{' or '}': braces mark slots in templates"),
    ({"kind": "greeting", "text": "Hi\u200bthere"},
     "row 4 field 'text': contains an invisible character (U+200B ZERO WIDTH SPACE) at "
     "position 3; remove it (it often comes with text pasted from a web page)"),
    ({"kind": "greeting", "text": "\u202eevil\u202c hello"},
     "row 4 field 'text': contains an invisible character (U+202E RIGHT-TO-LEFT OVERRIDE) at "
     "position 1; remove it (it often comes with text pasted from a web page)"),
    ({"kind": "greeting", "text": "Hi", "tags": "vip\ufeff"},
     "row 4 field 'tags': contains an invisible character (U+FEFF ZERO WIDTH NO-BREAK SPACE) "
     "at position 4; remove it (it often comes with text pasted from a web page)"),
    ({"kind": "greeting", "text": "Hi", "segment": "vip"},
     "row 4 field 'segment': unknown segment 'vip'"),
    ({"kind": "offer", "text": "RM5 off", "offer_type": "gift"},
     "row 4 field 'offer_type': 'gift' is not one of percent_off, amount_off, free_delivery, "
     "cashback, bundle, none"),
    ({"kind": "greeting", "text": "Hi", "tone": "angry"},
     "row 4 field 'tone': 'angry' is not one of playful, caring, urgent, premium, neutral"),
    ({"kind": "greeting", "text": "Hi", "status": "deleted"},
     "row 4 field 'status': 'deleted' is not one of active, archived"),
    ({"kind": "greeting", "text": "x" * 501},
     "row 4 field 'text': is 501 characters; an atom is at most 500"),
])
def test_each_bad_component_field_is_named(row, expected):
    assert problems_of(row, row_no=4) == [expected]


def test_joiners_that_emoji_and_scripts_need_are_kept():
    family = "Family \U0001F468\u200d\U0001F469\u200d\U0001F467 deals"
    assert problems_of({"kind": "greeting", "text": family}) == []
    assert problems_of({"kind": "greeting", "text": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"}) == []


def test_a_library_rows_number_counts_records_from_the_first_under_the_header(tmp_path):
    """A quoted cell may span lines: the next row was named by the line its record ended on.
    A row is one record, and data row 1 is the first under the header, as every reader
    numbers rows (it was the file's line, header = 1)."""
    from store import open_store
    from workbench import ValidationError
    from workbench.library.seed import seed
    from workbench.library.service import import_components

    with open_store(tmp_path / "w.db") as s:
        seed(s)
        with pytest.raises(ValidationError) as e:
            import_components(s, b'kind,text\ngreeting,"Two\nlines"\ngreeting,\n', "l.csv", "a")
    assert [str(p) for p in e.value.problems] == [
        "row 1 field 'text': contains a control character at position 4",
        "row 2 field 'text': must not be empty"]


def test_duplicates_within_a_kind_are_found_case_and_space_insensitively():
    existing = [{"id": 7, "kind": "cta", "text": "Order now", "segment": None, "status": "active"},
                {"id": 8, "kind": "cta", "text": "Shop now", "segment": None,
                 "status": "archived"}]
    rows = [
        (2, None, None, normalize_component({"kind": "cta", "text": "order  NOW"})),
        (3, None, None, normalize_component({"kind": "greeting", "text": "Order now"})),
        (4, None, None, normalize_component({"kind": "cta", "text": "Shop now"})),
        (5, None, None, normalize_component({"kind": "cta", "text": "shop now"})),
    ]
    assert [str(p) for p in check_duplicates(rows, existing)] == [
        "row 2 field 'text': duplicate cta atom: same text as component #7",
        "row 5 field 'text': duplicate cta atom: same text as row 4",
    ]


def test_same_text_in_two_different_segments_is_not_a_duplicate():
    existing = [{"id": 1, "kind": "cta", "text": "Come back", "segment": "new_buyers",
                 "status": "active"}]
    row = normalize_component({"kind": "cta", "text": "Come back", "segment": "lapsing_buyers"})
    assert check_duplicates([(1, None, None, row)], existing) == []
    shared = normalize_component({"kind": "cta", "text": "Come back"})
    assert len(check_duplicates([(1, None, None, shared)], existing)) == 1


def tpl_problems(template, components=None):
    return [str(p) for p in check_template(template, kinds=KINDS, channels=CHANNELS,
                                           segments=SEGMENTS, components=components, row_no=2)]


ATOMS = [{"id": 1, "kind": "greeting", "text": "Hi", "segment": None, "status": "active"},
         {"id": 2, "kind": "offer", "text": "RM3 off over RM15", "segment": None,
          "status": "active"},
         {"id": 3, "kind": "cta", "text": "Order now", "segment": None, "status": "active"},
         {"id": 4, "kind": "offer", "text": "x" * 140, "segment": "new_buyers",
          "status": "active"}]


def test_a_good_template_has_no_problem():
    assert tpl_problems({"name": "T", "channel": "push", "title": "{greeting}",
                         "body": "{offer} {cta}"}, ATOMS[:3]) == []


@pytest.mark.parametrize("template, expected", [
    ({"name": "T", "channel": "push", "body": "{greeting} {offer"},
     ["row 2 field 'body': unbalanced '{' at character 12"]),
    ({"name": "T", "channel": "push", "body": "{greeting} {name}"},
     ["row 2 field 'body': unknown slot '{name}' (known: {cta}, {greeting}, {offer})"]),
    ({"name": "", "channel": "push", "body": ""},
     ["row 2 field 'name': must not be empty", "row 2 field 'body': must not be empty"]),
    ({"name": "T", "channel": "fax", "body": "Hi"},
     ["row 2 field 'channel': unknown channel 'fax' (known: push, sms)"]),
    ({"name": "T", "channel": "push", "body": "Hi\x1b[31m"},
     ["row 2 field 'body': contains a control character at position 3"]),
    ({"name": "T", "channel": "push", "title": "Sale\u2066!", "body": "Hi"},
     ["row 2 field 'title': contains an invisible character (U+2066 LEFT-TO-RIGHT ISOLATE) at "
      "position 5; remove it (it often comes with text pasted from a web page)"]),
    ({"name": "T", "channel": "sms", "title": "Hello", "body": "Hi"},
     ["row 2 field 'title': SMS messages have no title; leave it empty"]),
    ({"name": "T", "channel": "push", "body": "y" * 151},
     ["row 2 field 'body': body is 151 characters, over the Push notification limit of 150"]),
])
def test_each_bad_template_is_named(template, expected):
    assert tpl_problems(template) == expected


def test_limit_is_checked_per_segment_once_assembled():
    tpl = {"name": "T", "channel": "push", "body": "{greeting} {offer} {cta}"}
    assert tpl_problems(dict(tpl, segment="lapsing_buyers"), ATOMS) == []
    assert tpl_problems(dict(tpl, segment="new_buyers"), ATOMS) == [
        "row 2 field 'body': assembled body can reach 153 characters, over the Push "
        "notification limit of 150 (longest with greeting #1, offer #4, cta #3)"]
    assert tpl_problems(tpl, ATOMS) == [
        "row 2 field 'body': assembled body can reach 153 characters, over the Push "
        "notification limit of 150 (longest with greeting #1, offer #4, cta #3) in segment "
        "new_buyers"]


def test_a_slot_without_atoms_is_reported():
    assert tpl_problems({"name": "T", "channel": "push", "body": "{greeting} {cta}"},
                        ATOMS[:2]) == [
        "row 2 field 'body': no active 'cta' atom for any segment: add one before using this "
        "slot"]
