"""Assembly of messages from templates and atoms: slots, counts, samples, channel limits."""

from __future__ import annotations

import pytest

from workbench.library.assembly import (
    SlotSyntaxError, Template, channel_fields, check_channel_limits, count_permutations, fill,
    longest, parse_slots, render, sample_messages,
)
from workbench.library.channels import sms_info


def atoms(kind, *texts, start=1):
    return [{"id": start + i, "kind": kind, "text": t} for i, t in enumerate(texts)]


POOL = {
    "greeting": atoms("greeting", "Hi!", "Hello there!", start=1),
    "offer": atoms("offer", "RM3 off over RM15.", "Free delivery.", "10% off.", start=10),
    "cta": atoms("cta", "Order now", start=20),
}
PUSH = {"id": "push", "name": "Push notification", "title_max": 50, "preheader_max": 0,
        "body_max": 40}


def test_parse_slots_keeps_order_and_repeats():
    assert parse_slots("{greeting} {offer} {greeting}") == ["greeting", "offer", "greeting"]
    assert parse_slots("no slots here") == []


@pytest.mark.parametrize("pattern, position", [
    ("{greeting", 1), ("greeting}", 9), ("{a {b}", 1), ("ok {offer} }", 12)])
def test_unbalanced_braces_name_the_position(pattern, position):
    with pytest.raises(SlotSyntaxError, match="unbalanced") as e:
        parse_slots(pattern)
    assert e.value.position == position


def test_empty_slot_name_is_rejected():
    with pytest.raises(SlotSyntaxError, match="not a slot name"):
        parse_slots("Hi {} there")


def test_fill_and_render_use_one_atom_per_kind():
    tpl = Template(title="{greeting}", body="{offer} {cta}. {greeting}")
    msg = render(tpl, {"greeting": POOL["greeting"][1], "offer": POOL["offer"][0],
                       "cta": POOL["cta"][0]})
    assert (msg.title, msg.body) == ("Hello there!", "RM3 off over RM15. Order now. Hello there!")
    assert msg.atoms == {"greeting": 2, "offer": 10, "cta": 20}
    assert fill("plain", {}) == "plain"


def test_permutations_are_the_product_over_distinct_slots():
    tpl = Template(title="{greeting}", body="{greeting} {offer} {cta}")
    assert count_permutations(tpl, POOL) == 2 * 3 * 1
    assert count_permutations(Template(body="{offer} {visual}"), POOL) == 0


def test_samples_are_distinct_deterministic_and_capped_by_the_space():
    tpl = Template(title="{greeting}", body="{offer} {cta}")
    all_msgs = sample_messages(tpl, POOL, 100, seed=3)
    assert len(all_msgs) == 6
    assert len({(m.title, m.body) for m in all_msgs}) == 6
    assert sample_messages(tpl, POOL, 4, seed=3) == sample_messages(tpl, POOL, 4, seed=3)
    assert sample_messages(Template(body="{visual}"), POOL, 3) == []


def test_sampling_a_huge_space_does_not_enumerate_it():
    big = {f"s{i}": atoms(f"s{i}", *[f"a{j}" for j in range(30)]) for i in range(8)}
    tpl = Template(body=" ".join(f"{{s{i}}}" for i in range(8)))
    assert count_permutations(tpl, big) == 30 ** 8
    assert len(sample_messages(tpl, big, 5, seed=1)) == 5


def test_longest_takes_the_longest_atom_of_each_slot():
    tpl = Template(title="{greeting}", body="{offer} {cta}")
    out = longest(tpl, POOL)
    assert out["body"].length == len("RM3 off over RM15. Order now")
    assert out["body"].atoms == {"offer": 10, "cta": 20}
    assert out["title"].length == len("Hello there!")


def test_channel_limit_is_checked_once_assembled():
    tpl = Template(title="{greeting}", body="{offer} {cta} and a long literal tail")
    problems = check_channel_limits(tpl, POOL, PUSH)
    assert [(p.field, p.message) for p in problems] == [(
        "body", "assembled body can reach 52 characters, over the Push notification limit of "
                "40 (longest with offer #10, cta #20)")]


def test_fields_the_channel_lacks_are_reported():
    sms = {"id": "sms", "name": "SMS", "title_max": 0, "preheader_max": 0, "body_max": 160}
    problems = check_channel_limits(Template(title="{greeting}", body="{cta}"), POOL, sms)
    assert [str(p) for p in problems] == ["field 'title': SMS messages have no title; leave it "
                                          "empty"]


def test_sms_counter_knows_gsm_and_unicode_parts():
    info = sms_info("a" * 160)
    assert (info.encoding, info.units, info.single_limit, info.parts) == ("GSM-7", 160, 160, 1)
    assert sms_info("a" * 161).parts == 2
    assert sms_info("{" * 80).units == 160  # extension characters cost two septets
    assert sms_info("Jom makan 😋").encoding == "UCS-2"
    assert sms_info("é" * 71).encoding == "GSM-7"
    assert sms_info("ą" * 71).parts == 2
    assert sms_info("hi").remaining == 158


SMS = {"id": "sms", "name": "SMS", "title_max": 0, "preheader_max": 0, "body_max": 160}
EMAIL = {"id": "email", "name": "E-mail", "title_max": 78, "preheader_max": 100,
         "body_max": 1200}


def test_a_channel_shows_only_the_fields_it_has():
    assert channel_fields(SMS) == ("body",)
    assert channel_fields(PUSH) == ("title", "body", "image")
    assert channel_fields(EMAIL) == ("title", "preheader", "body", "image")
    assert channel_fields(None) == ("title", "preheader", "body", "image")


def test_counts_for_a_channel_vary_only_the_slots_it_shows():
    pool = {**POOL, "visual": atoms("visual", "A bowl", "A burger", "A bike", start=30)}
    t = Template(title="{greeting}", body="{offer} {cta}", image="{visual}")
    assert count_permutations(t, pool) == 2 * 3 * 1 * 3
    assert count_permutations(t, pool, PUSH) == 2 * 3 * 1 * 3
    # An SMS has no title and no image: only the body's offer and cta make messages differ.
    assert count_permutations(t, pool, SMS) == 3 * 1
    msgs = sample_messages(t, pool, 10, seed=1, channel=SMS)
    assert sorted(m.body for m in msgs) == [
        "10% off. Order now", "Free delivery. Order now", "RM3 off over RM15. Order now"]


def test_a_slot_missing_only_from_a_hidden_field_does_not_empty_the_channel():
    t = Template(title="{headline}", body="{offer} {cta}")
    assert count_permutations(t, POOL) == 0
    assert count_permutations(t, POOL, SMS) == 3
    msgs = sample_messages(t, POOL, 5, seed=0, channel=SMS)
    assert sorted(m.body for m in msgs) == [
        "10% off. Order now", "Free delivery. Order now", "RM3 off over RM15. Order now"]
    assert {m.title for m in msgs} == {""}
