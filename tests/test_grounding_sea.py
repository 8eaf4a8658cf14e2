"""Grounding in the forms a South-East Asian programme writes: Malay, Indonesian, Vietnamese,
Thai, Tagalog and Chinese words for codes, dates, currencies, free perks, statuses and stock
limits. A faithful rewrite in any of them passes the studio's whole check, and an invention in
any of them is refused for what it is. (Mended against the dev half of held-out set 4; these
cases are written here, on other merchants and offers.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.studio import claimwords as cw
from workbench.studio import perkwords
from workbench.studio.copyrules import Intent, mentions_free
from workbench.studio.pipeline import Studio

_NO_LIMITS = SimpleNamespace(_limits=lambda msg: {"title": None, "preheader": None, "body": None})


def msg(voucher, body, title="", segment="promo_deal_seekers", category="retail",
        merchant="Kedai Kita"):
    return {"segment": segment, "channel": "push", "merchant": merchant,
            "product_category": category, "voucher": voucher, "title": title, "body": body}


def problems(source, body, title=""):
    return Studio.check(_NO_LIMITS, source, {"title": title, "preheader": "", "body": body})


@pytest.mark.parametrize("text, code", [
    ("Guna kod JIMAT5 sekarang", ["JIMAT5"]),
    ("Masukkan kode HEMATBANGET saat checkout", ["HEMATBANGET"]),
    ("Nhập mã GIAM20 để được giảm", ["GIAM20"]),
    ("B1T1 on all mugs today", []),
    ("B1F1 roti canai", []),
])
def test_promo_codes_are_read_after_the_words_other_languages_use(text, code):
    assert cw.codes(text) == code


def test_a_code_added_where_the_original_says_no_code_is_needed_is_refused():
    src = msg("Gratis ongkir min. belanja Rp75.000, tanpa kode",
              "Belanja minimal Rp75.000 dan nikmati gratis ongkir. Tanpa kode voucher.")
    assert any("ONGKIRHEMAT" in p for p in problems(
        src, "Belanja minimal Rp75.000, masukkan kode ONGKIRHEMAT, dan nikmati gratis ongkir."))


@pytest.mark.parametrize("text, amounts", [
    ("Spend 3,000 THB or more", ["฿3000"]),
    ("đơn từ 250.000đ", ["₫250000"]),
    ("từ 250.000 VNĐ", ["₫250000"]),
    ("เพียง 99 บาทต่อเดือน", ["฿99"]),
])
def test_currencies_written_after_the_number_are_amounts(text, amounts):
    assert cw.amounts(text) == amounts


@pytest.mark.parametrize("text, folded", [
    ("sah sehingga 30 Okt", "sah sehingga 30 October"),
    ("berlaku hingga 9 Des", "berlaku hingga 9 December"),
    ("即日起至11月30日", "即日起至 30 November "),
    ("sampai 5/4 ya", "sampai 5 April ya"),
    ("1/2 price on mugs", "1/2 price on mugs"),
])
def test_dates_in_malay_indonesian_and_chinese_read_as_dates(text, folded):
    assert cw.fold(text) == folded


@pytest.mark.parametrize("text, things", [
    ("Start your 14-day free trial", [("trial",)]),
    ("Try PlayBox free for 14 days", [()]),
    ("Start your free trial and binge the series", [("trial",)]),
    ("We'll handle all the setup at no cost", [("setup",)]),
    ("A free mug comes with it", [("mug",)]),
    ("ดูหนังฟรี 30 วัน", [()]),
])
def test_what_a_perk_gives_is_the_noun_phrase_it_names(text, things):
    assert [g.things for g in perkwords.perks(text)] == things


@pytest.mark.parametrize("text", ["B1F1 on roti canai", "2-for-1 tees", "two mugs for the price of one",
                                  "Beli 1 Percuma 1 roti"])
def test_a_multi_buy_in_any_spelling_keeps_a_free_perk(text):
    assert mentions_free(text)


BOGO = msg("Buy 1 Take 1 on all iced teas", "All iced teas are Buy 1 Take 1 today only.",
           merchant="Tsaa Corner", category="cafe")


@pytest.mark.parametrize("body", [
    "B1T1 iced teas, today only.",
    "2-for-1 on every iced tea, today only.",
    "Get two iced teas for the price of one, today only.",
    "Buy one iced tea and get another free, today only.",
])
def test_a_multi_buy_restated_in_other_words_passes(body):
    assert problems(BOGO, body) == []


TRIAL = msg("14-day free trial, then S$9.90/month, cancel anytime",
            "Try PlayBox free for 14 days. After that it's S$9.90/month and you can cancel "
            "anytime.", segment="potential_new_customers", category="streaming",
            merchant="PlayBox")


@pytest.mark.parametrize("body", [
    "Two weeks of PlayBox on the house, then S$9.90/month.",
    "Your first 14 days cost nothing; after that it's S$9.90/month.",
    "Start your free 14-day trial and binge every series. Then S$9.90/month.",
])
def test_a_free_trial_in_other_words_passes_and_the_terms_beside_it_may_be_dropped(body):
    assert problems(TRIAL, body) == []


def test_a_free_perk_the_original_does_not_give_is_still_refused():
    assert any("free" in p for p in problems(
        TRIAL, "Try PlayBox free for 14 days, plus a free speaker. Then S$9.90/month."))


def test_the_terms_beside_a_product_are_no_product_words_but_the_product_is():
    intent = Intent.of(msg("5x points on dining with the Ruby Card, no registration required",
                           "Earn 5x points on dining with your Ruby Card. No registration "
                           "required."))
    assert "registration" not in intent.product and "required" not in intent.product
    assert intent.missing("Earn 5x points on groceries.") == [
        "the product word 'card'", "the product word 'dining'", "the product word 'ruby'"]


def test_a_translation_into_another_script_is_not_refused_for_the_english_product_words():
    src = msg("20% off pearl milk tea until 30 Nov", "20% off pearl milk tea until 30 Nov.",
              category="cafe")
    assert [p for p in problems(src, "珍珠奶茶20%折扣，即日起至11月30日。")
            if "product word" in p] == []


def test_a_price_in_thousands_with_the_currency_left_out_keeps_the_amount():
    src = msg("Giảm 10% cho đơn từ 500.000đ", "Giảm 10% cho đơn từ 500.000đ.", category="fashion")
    assert [p for p in problems(src, "Giảm 10% cho đơn từ 500K.") if "amount" in p] == []


def test_until_in_another_language_restating_the_end_date_passes():
    src = msg("Diskon 20% sehingga 12 Mac", "Diskon 20% untuk semua kasut sehingga 12 Mac.")
    assert problems(src, "Diskon 20% untuk semua kasut, sampai 12/3.") == []


# -- inventions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("source, body, kind", [
    (msg("RM5 off your next 2 rides", "RM5 off your next 2 rides until 30 Nov.",
         category="ride_hailing"), "RM5 off all your rides until 30 Nov.", "condition"),
    (msg("S$30 off flights to Hanoi, code HAN30", "Get S$30 off flights to Hanoi with code HAN30.",
         category="travel"),
     "Get S$30 off flights to Hanoi, Da Nang and Ho Chi Minh with code HAN30.", "condition"),
    (msg("", "New stalls just opened near you. Open the app to see them.",
         category="food_delivery"),
     "New stalls just opened near you. They only take a limited number of orders a day.",
     "deadline"),
    (msg("Beli 1 Percuma 1 roti", "Beli 1 Percuma 1 roti hari ini.", category="bakery"),
     "Beli 1 Percuma 1 roti hari ini. Stok terhad!", "deadline"),
    (msg("ทดลองดูฟรี 30 วัน", "สมัครวันนี้ ดูฟรี 30 วัน", category="streaming"),
     "สมัครวันนี้ ดูฟรี 30 วัน ภายในอาทิตย์นี้เท่านั้น", "deadline"),
])
def test_scope_stock_and_deadlines_added_in_any_language_are_refused(source, body, kind):
    assert any(f"({kind})" in p for p in problems(source, body)), problems(source, body)


CARD = msg("3x points on groceries with the Ruby Card", "Earn 3x points on groceries with "
           "your Ruby Card.", segment="frequent_buyers", category="banking_cards")


@pytest.mark.parametrize("body, refused", [
    ("As one of our Priority Banking clients, earn 3x points on groceries with your Ruby Card.",
     True),
    ("Salamat, suki! Earn 3x points on groceries with your Ruby Card.", False),
])
def test_a_status_must_be_the_sources_own_while_a_regular_may_be_called_one(body, refused):
    assert any("relationship" in p for p in problems(CARD, body)) is refused


def test_time_since_a_delivery_is_no_lapse_but_time_alone_is():
    src = msg("", "Your kettle was delivered 2 weeks ago. Tell us how it's going.",
              segment="post_purchase", category="home")
    assert problems(src, "It's been two weeks since your kettle arrived. Tell us how it's "
                         "going.") == []
    assert any("lapsed" in p for p in problems(src, "It's been two weeks! Tell us how it's "
                                                    "going."))
