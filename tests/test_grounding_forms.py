"""Grounding reads a claim in any form a copy editor writes it: a faithful rewrite that says the
same thing in other words or formats passes the studio's whole check, and an invention that
used to hide behind an accident of the check (a missed perk, a product word) is refused for
what it is."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.studio import claimwords as cw
from workbench.studio import grounding
from workbench.studio.offerscope import product_terms, savings
from workbench.studio.pipeline import Studio

_NO_LIMITS = SimpleNamespace(_limits=lambda msg: {"title": None, "preheader": None, "body": None})


def msg(voucher, body, title="A note from us", segment="active_customers", merchant="Kedai Kita",
        category="retail"):
    return {"segment": segment, "channel": "push", "merchant": merchant,
            "product_category": category, "voucher": voucher, "title": title, "body": body}


def problems(source, title, body):
    """Every reason the studio would refuse this draft of ``source``."""
    return Studio.check(_NO_LIMITS, source, {"title": title, "preheader": "", "body": body})


CAFE = msg("buy 2 coffees get 1 free, 3-6pm", "Buy any 2 iced coffees and get the 3rd free, "
           "3-6pm daily. Order now.", merchant="Kopi Lane", category="cafe")
RESORT = msg("RM80 off resort bookings min RM600, code BEACH80", "Book a resort stay of RM600 "
             "or more with code BEACH80 and save RM80. Valid for stays until 30 November 2026. Book "
             "now.",
             category="travel")
WEEKEND = msg("triple stamps on orders of RM50 or more this weekend", "Collect triple stamps "
              "on every order of RM50 or more this weekend (Sat-Sun). Order now.")
TABLET = msg("price drop RM1,299 to RM1,149", "The Orbit Tab 11 you viewed is now RM1,149, "
             "down from RM1,299. Buy now.", segment="viewed_not_bought", category="electronics")
PAW = msg("15% off grain-free dog food", "The kibble in your cart is now 15% off. Check out "
          "and we'll ship it free.", segment="abandoned_cart", category="pets")
JUICE = msg("Bayar 2 dapat 3 jus segar", "Beli 3 jus segar, bayar 2 saja. Berlaku sampai "
            "Minggu. Pesan sekarang.", merchant="Jus Kita", category="cafe")
SHOES = msg("2nd pair 40% off running shoes", "New running shoes are in. Buy one pair, get the "
            "second at 40% off. Ends Saturday 8pm. Shop now.", category="fashion")
FERRY = msg("RM8 off return tickets", "Get RM8 off any return ticket to Tioman or Redang. "
            "Book now.", merchant="Blue Wake Ferries", category="travel")


@pytest.mark.parametrize("source, title, body", [
    # a date with its year, and a time window written out
    (RESORT, "A resort stay for less", "Spend RM 600+ on a resort stay with code BEACH80 and "
     "get RM 80 off. For stays through 30/11/2026. Book now."),
    (CAFE, "Afternoon coffee", "Buy any two iced coffees and get the third free, 3pm to 6pm "
     "every day. Order now."),
    # the weekend's days named, "3x" for "triple"
    (WEEKEND, "Triple stamps", "Collect 3x stamps on every order of RM50 or more, Saturday "
     "and Sunday only. Order now."),
    # a saving the price drop implies
    (TABLET, "Save RM150 on the Orbit Tab 11", "The Orbit Tab 11 you viewed is now RM1,149 "
     "(was RM1,299). Buy now."),
    # the voucher's product as the original calls it, and the perk in other words
    (PAW, "Still in your cart", "Your kibble is 15% off, and shipping is on us when you check "
     "out."),
    # "3 for 2" as a third one free, foreign urgency restating the original's own deadline
    (JUICE, "Jus segar", "Buruan! Beli 2 jus segar, yang ketiga gratis, hanya sampai Minggu. "
     "Pesan sekarang."),
    # an ordinal as a number, not a date
    (SHOES, "Running shoes", "New running shoes are in. Buy 1 pair, get the 2nd at 40% off. "
     "Ends Sat 20:00. Shop now."),
])
def test_a_faithful_rewrite_in_another_form_passes_the_whole_check(source, title, body):
    assert problems(source, title, body) == []


@pytest.mark.parametrize("source, body, claim", [
    # a daily window is no deadline: "limited time" has nothing to restate
    (CAFE, "Buy any 2 iced coffees and get the 3rd free, 3-6pm daily. Limited time only! "
     "Order now.", ("deadline", "Limited time")),
    (msg("", "Your order is reserved. Pay within 20 minutes to keep it. Pay now.",
         segment="unpaid_order"),
     "Your order is reserved. Pay within 20 minutes and we'll waive the delivery fee.",
     ("free", "we'll waive the delivery")),
    (msg("frete grátis acima de R$60", "O frete é grátis em pedidos acima de R$60. Peça "
         "agora."), "O frete é grátis em pedidos acima de R$60 e você ganha um brinde.",
     ("free", "brinde")),
    (TABLET, "Loved your last Kedai Kita order? The Orbit Tab 11 is now RM1,149.",
     ("relationship", "your last __________ order")),
    (TABLET, "As a V I P, the Orbit Tab 11 is now RM1,149.", ("relationship", "VIP")),
    (TABLET, "The Orbit Tab 11 you check every week is now RM1,149.",
     ("relationship", "you check every week")),
    (msg("10 € de descuento en tu primera compra", "¿Nuevo aquí? Ahorra 10 € en tu primera "
         "compra."), "¡Bienvenido de nuevo! Ahorra 10 € en tu primera compra.",
     ("relationship", "Bienvenido de nuevo")),
    (SHOES, "Buy any item, get the second at 40% off. Ends Saturday 8pm.",
     ("condition", "any item")),
    # a list that adds to what the offer is on
    (FERRY, "Get RM8 off any return ticket to Tioman, Redang or Perhentian.",
     ("condition", "Perhentian")),
    (CAFE, "Buy any 2 iced coffees or cakes and get the 3rd free, 3-6pm daily.",
     ("condition", "cakes")),
    # a date changed in another language is a date changed
    (JUICE, "Beli 3 jus segar, bayar 2 saja. Berlaku sampai Sabtu.", ("deadline", "Saturday")),
])
def test_an_invention_is_refused_for_what_it_claims(source, body, claim):
    found = [(c.kind, c.text) for c in grounding.check(body, source).unsupported]
    assert claim in found, found


def test_fold_reads_dates_with_years_time_windows_and_weekdays_of_other_languages():
    assert cw.fold("31/12/2026, 24/7, 2-5pm, 10:30-11:30am, Sat-Sun, half an hour") == (
        "31 December 2026, 24/7, 2pm-5pm, 10:30am-11:30am, Saturday-Sunday, 30 minutes")
    assert cw.fold("sampai Minggu, minggu ini, jusqu'à dimanche, bis Sonntag, até sexta") == (
        "sampai Sunday, minggu ini, jusqu'à Sunday, bis Sunday, até Friday")
    assert cw.amounts("R$ 80,00 ou 80 reais") == ["R$80"]


def test_product_words_leave_out_mechanics_dates_and_codes():
    assert product_terms("10 € Rabatt auf Zubehör ab 50 €") == {"zubehor"}
    assert product_terms("double points on shoes this weekend",
                         grounding.deadlines("double points on shoes this weekend")) == {"point",
                                                                                         "shoe"}
    assert product_terms("25% off weekend stays, code STAY25") == {"weekend", "stay"}


def test_a_saving_is_backed_only_by_a_price_the_sources_say_it_was():
    assert savings("now RM49 (was RM69)") == {"RM20"}
    assert savings("RM25 off denim min RM150. Shop now.") == set()
