"""The grounding check: each claim type of a draft is backed by the sources or rejected."""

from __future__ import annotations

import pytest

from workbench import ValidationError
from workbench.studio import grounding
from workbench.studio.voices import load_voices, voice

CUSHIONS = {"segment": "post_purchase", "channel": "push", "merchant": "Rumah Home Living",
            "product_category": "home", "voucher": "15% off cushions and bedding min RM80",
            "title": "Your sofa is home", "body": "Matching cushions are 15% off when you spend "
            "RM80 or more, until 30 September. Use code HOME15. Shop the collection."}
BURGER = {"segment": "frequent_buyers", "channel": "push", "merchant": "Patty Lab",
          "product_category": "burger restaurant", "voucher": "RM5 off first order min RM20",
          "title": "A deal", "body": "Get RM5 off a first-time order over RM20 with code "
          "PATTY5. Free fries with every combo. Order now."}


def unsupported(draft, original=CUSHIONS, segment=None):
    return [(c.kind, c.text) for c in grounding.check(draft, original, segment).unsupported]


@pytest.mark.parametrize("kind, draft, bad", [
    ("amount", "15% off cushions over RM80.", []),
    ("amount", "20% off cushions over RM80.", [("amount", "20%")]),
    ("amount", "15% off cushions over RM50.", [("amount", "RM50")]),
    ("number", "15% off over RM80 on all 3 cushion sizes.", [("number", "3")]),
    ("deadline", "15% off over RM80 until 30 September.", []),
    ("deadline", "15% off over RM80 until 30.", [("deadline", "until 30")]),
    ("deadline", "15% off over RM80, today only!", [("deadline", "today only")]),
    ("deadline", "15% off over RM80 this week only.", [("deadline", "this week only")]),
    ("deadline", "15% off over RM80 until Sunday.", [("deadline", "until Sunday")]),
    ("deadline", "Last chance: 15% off over RM80 until 30 September.", []),
    ("code", "Use code HOME15 for 15% off over RM80.", []),
    ("code", "Use code HOME20 for 15% off over RM80.", [("code", "HOME20")]),
    ("code", "Use code home15 for 15% off over RM80.", [("code", "home15")]),
    ("category", "15% off cushions and bedding over RM80.", []),
    ("category", "Start your weekly shop: 15% off over RM80.", [("category", "weekly shop")]),
    ("category", "Order breakfast now: 15% off over RM80.", [("category", "breakfast")]),
    ("relationship", "Thanks for your order! 15% off over RM80.", []),
    ("relationship", "Thanks for being a regular! 15% off over RM80.",
     [("relationship", "regular")]),
    ("relationship", "We missed you! 15% off over RM80.", [("relationship", "missed you")]),
])
def test_each_claim_type_passes_when_backed_and_fails_when_invented(kind, draft, bad):
    assert unsupported(draft) == bad


def test_urgency_without_any_deadline_in_the_original_is_invented():
    assert unsupported("Hurry, RM5 off your next order over RM20!", BURGER) == [
        ("deadline", "Hurry")]
    assert unsupported("Hurry: 15% off over RM80 until 30 September.") == []


@pytest.mark.parametrize("draft, bad", [
    ("Free fries with every combo, RM5 off over RM20.", []),
    ("Free delivery and RM5 off over RM20.", [("free", "Free delivery")]),
    ("A free drink with RM5 off over RM20.", [("free", "free drink")]),
    ("Your fries are on us.", []),
])
def test_free_perks_must_be_offered_by_the_original(draft, bad):
    assert unsupported(draft, BURGER) == bad


@pytest.mark.parametrize("segment, draft, ok", [
    ("frequent_buyers", "Thanks for being a regular: RM5 off your next order.", True),
    ("frequent_buyers", "First time here? RM5 off your first order.", False),
    ("potential_new_customers", "New to Patty Lab? RM5 off your first order.", True),
    ("potential_new_customers", "We missed you! RM5 off.", False),
    ("potential_new_customers", "Your usual is ready: RM5 off.", False),
    ("abandoned_cart", "Your cart is still waiting: RM5 off.", True),
    ("lapsing_buyers", "Your cart is still waiting: RM5 off.", False),
    ("unpaid_order", "Payment has not gone through. Pay now.", True),
    ("new_followers", "Thanks for following Patty Lab: RM5 off your first order.", True),
])
def test_relationship_statements_must_fit_the_segment_definition(segment, draft, ok):
    claims = [c for c in grounding.check(draft, BURGER, segment).claims
              if c.kind == "relationship"]
    assert claims, draft
    assert all(c.supported for c in claims) is ok


def test_category_words_fit_the_product_category_even_when_the_original_does_not_use_them():
    assert unsupported("Your next burger is RM5 off over RM20.", BURGER) == []
    assert unsupported("Your next serum is RM5 off over RM20.", BURGER) == [
        ("category", "serum")]


def test_lost_lists_the_original_amounts_codes_and_dates_the_draft_dropped():
    kept = "Cushions 15% off over RM80 until 30 September with code HOME15."
    assert grounding.check(kept, CUSHIONS).lost == ()
    cut = "Cushions 15% off until 30 with code HOME 15."
    assert grounding.check(cut, CUSHIONS).lost == (
        "the amount RM80", "the promo code HOME15", "the date 'until 30 September'")


def test_news_dates_are_not_offer_dates():
    msg = {"body": "New stock arrived this week. RM5 off orders over RM40. Offer ends Friday."}
    assert grounding.offer_dates(msg["body"]) == ["ends Friday"]


def test_result_names_every_claim_and_why_a_draft_was_rejected():
    g = grounding.check("Today only: 20% off cushions over RM80 until 30 September.", CUSHIONS)
    d = g.as_dict()
    assert d["ok"] is False
    assert [(c["kind"], c["text"], c["supported"]) for c in d["claims"]] == [
        ("amount", "20%", False), ("amount", "RM80", True),
        ("deadline", "Today only", False), ("deadline", "until 30 September", True),
        ("category", "cushion", True)]
    assert d["problems"][0] == ("it claims '20%' (amount): no such amount in the voucher or "
                                "the original")
    assert "it dropped or changed the amount 15%" in d["problems"]


def test_segment_voices_come_from_the_seed_file_and_a_bad_row_is_named(tmp_path):
    assert voice("frequent_buyers").may_say == frozenset({"regular", "returning"})
    assert voice("no_such_segment").known is False
    bad = tmp_path / "voices.csv"
    bad.write_text("segment,relationship,title,opener,cta,may_say\n"
                   "x,friendly,T,O,Order now,regular;hugs\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        load_voices(bad)
    assert [(p.row, p.field) for p in e.value.problems] == [(2, "relationship"), (2, "may_say")]
