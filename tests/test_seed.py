"""The demo data: complete, valid, and idempotent to load."""

from __future__ import annotations

from collections import Counter

from workbench.library import service as library
from workbench.library.assembly import Template
from workbench.library.seed import SEED_DIR, seed
from workbench.library.validation import check_template

CRM_SEGMENTS = {"potential_new_customers", "new_buyers", "lapsing_buyers", "abandoned_cart",
                "unpaid_order", "post_purchase", "price_drop", "active_old_followers",
                "frequent_buyers", "new_followers", "repeat_buyers"}
FLAWS = {"audience_assumption_error", "weak_call_to_action", "vague_incentive",
         "misaligned_tone", "irrelevant_offer"}


def test_seed_has_the_eleven_crm_segments_and_every_kind_and_channel(store):
    assert CRM_SEGMENTS <= {s["id"] for s in store.segments()}
    assert [k["id"] for k in store.kinds()] == [
        "greeting", "tone", "value_prop", "offer", "cta", "visual"]
    assert {c["id"] for c in store.channels()} == {"push", "email", "sms", "in_app"}
    per_kind = Counter(c["kind"] for c in store.components(status="active"))
    assert min(per_kind.values()) >= 5
    assert store.use_cases()[0]["id"] == "reactivation"


def test_seeding_twice_adds_nothing(store):
    before = store.counts(), len(store.template_performance())
    result = seed(store)
    assert not result.added_anything
    assert (store.counts(), len(store.template_performance())) == before


def test_reseeding_never_brings_back_an_archived_atom(store):
    a = store.components(kind="cta", status="active")[0]
    library.set_status(store, [a["id"]], "archived", "ana")
    seed(store)
    assert store.component(a["id"])["status"] == "archived"
    assert [c["text"] for c in store.components(status="active")].count(a["text"]) == 0


def test_every_seed_template_is_valid_against_the_seed_library(store):
    kinds = [k["id"] for k in store.kinds()]
    channels = {c["id"]: c for c in store.channels()}
    segments = [s["id"] for s in store.segments()]
    components = store.components(status="active")
    for t in store.templates():
        assert check_template(t, kinds=kinds, channels=channels, segments=segments,
                              components=components) == [], t["name"]


def test_messages_per_segment_include_flawed_ones_with_performance_history(store):
    messages = [t for t in store.templates() if not Template.from_row(t).slots]
    assert CRM_SEGMENTS <= {t["segment"] for t in messages}
    flaws = Counter(t["meta"].get("flaw") for t in messages if t["meta"].get("flaw"))
    assert set(flaws) == FLAWS and min(flaws.values()) >= 3
    for t in messages:
        weeks = store.template_performance(t["id"])
        assert len(weeks) >= 4 and all(w["reads"] <= w["sends"] for w in weeks)


def test_flawed_messages_perform_worse_within_their_segment(store):
    read_rate = {}
    for t in store.templates():
        weeks = store.template_performance(t["id"])
        if weeks:
            read_rate[t["id"]] = (t["segment"], bool(t["meta"].get("flaw")),
                                  sum(w["reads"] for w in weeks) / sum(w["sends"] for w in weeks))
    for segment in CRM_SEGMENTS:
        good = [r for s, f, r in read_rate.values() if s == segment and not f]
        bad = [r for s, f, r in read_rate.values() if s == segment and f]
        if good and bad:
            assert max(bad) < max(good), segment


def test_seed_files_are_data_not_code():
    names = {p.name for p in SEED_DIR.iterdir()}
    assert {"components.csv", "templates.csv", "performance.csv", "segments.csv"} <= names
    assert not [n for n in names if n.endswith(".py")]
