"""Assembly of messages from templates and atoms: slots, counts, samples, channel limits."""

from __future__ import annotations

import pytest

from workbench.library.assembly import (
    SlotSyntaxError, Template, check_channel_limits, count_permutations, fill, longest,
    parse_slots, render, sample_messages,
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
