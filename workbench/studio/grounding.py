"""Grounding: every claim a draft makes must be backed by what the marketer gave the studio.

A rewrite may reword a message, never promise more than it did. An invented "today only", a
"free gift" nobody offers, a "first order" deal sent to regulars or "Start your weekly shop" for a
burger restaurant misleads the reader, and a copy tool must never do that. This module extracts
the checkable claims of a draft (amounts, other numbers, deadlines and dates, promo codes, free
perks, product-category words and relationship statements) and looks each up in the sources:
the voucher, the original copy, the merchant and product category, and the segment's definition
(its ``may_say`` list in ``seed/segment_voices.csv``). It also checks the other direction: every
offer amount, promo code and date of the original must survive ("until 30 September" never
becomes "until 30").

Both sides are read folded first (``claimwords.fold``: "２０％", "Frее", "🎁", "ends Fri", "30/09"
are written one way), the merchant's name is blanked ("Sunday Bakery" dates nothing), a perk is
what is given *and on what* ("free fries with every combo" does not back "free fries with every
order"), and the words no pattern can value (urgency, offer mechanics such as "double points",
widened terms such as "no minimum", the same in French, German, Spanish and Malay/Indonesian)
may appear only where the voucher or the original already uses them. The check leans to
refusing: a refused draft is retried or written by the rules engine, an accepted invention
reaches customers.

The same check runs on the rules engine's drafts (which must never fail it) and on a model's
(which are retried with the reasons). The result lists every claim checked, so the page can show
why a draft was rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.studio import claimwords as cw
from workbench.studio import offerscope, perkwords
from workbench.studio.datewords import (CONNECTIVE, DAYS, DEADLINE, MONTHS, anchor, deadlines,
                                        end_dates, newsy, normalise, offer_dates, starts)
from workbench.studio.claimlists import (CATEGORY_FAMILIES, CATEGORY_TERMS, PRESSURE,
                                         RELATIONSHIPS, STOCK, STOCK_FACT, URGENCY)
from workbench.studio.claimwords import fold
from workbench.studio.voices import voice

CLAIM_KINDS = ("amount", "number", "deadline", "code", "free", "category", "relationship",
               "condition")

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w|[.,]\d)")
_SAVING = re.compile(r"\b(?:save|saving|savings of|take|knock)\s+(?:an extra\s+|up to\s+)?$",
                     re.IGNORECASE)
_COUNT_WORD = re.compile(r"\b(?:" + "|".join(w for w, v in cw.NUMBER_WORDS.items()
                                              if v > 1 and " " not in w) + r")\b")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_DELIVERY = re.compile(r"\b(?:deliver(?:y|ies|ed)?|shipping|ships?|postage)\b", re.IGNORECASE)


_stem, _words = offerscope.stem, offerscope.words


codes = cw.codes


def _compact(text: str) -> str:
    return re.sub(r"[\s_-]+", "", fold(text)).lower()


def _families(category: str) -> set[str]:
    c = (category or "").lower()
    return {f for key, fams in CATEGORY_FAMILIES.items() if key in c for f in fams}


def category_terms(text: str) -> list[tuple[str, str]]:
    """(term, family) for every product-category word of the text."""
    low = " " + normalise(text) + " "
    stems = _words(text)
    out = []
    for fam, terms in CATEGORY_TERMS.items():
        for t in terms:
            hit = f" {t} " in low if " " in t else _stem(t) in stems
            if hit and (t, fam) not in out:
                out.append((t, fam))
    return out


def _said(phrase: str, facts: str) -> bool:
    """``phrase`` (singular or plural) is one the sources use."""
    k = cw.key(phrase).strip()
    return (k[:-1] if k.endswith("s") else k) in cw.key(facts)


def relationship_claims(text: str) -> list[tuple[str, str]]:
    """(kind, phrase) for every statement about the reader's history with the merchant."""
    folded, keyed = fold(text), cw.key(text)  # matched without accents, quoted as written
    same = len(folded) == len(keyed)
    return [(k, folded[m.start():m.end()] if same else m.group(0))
            for k, p in RELATIONSHIPS.items() for m in p.finditer(keyed)]


# -- the check ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """One checkable claim of a draft and whether the sources back it (``reason`` says why)."""

    kind: str
    text: str
    supported: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "supported": self.supported,
                "reason": self.reason}


@dataclass(frozen=True)
class Grounding:
    """Every claim checked, and what of the original's offer the draft lost."""

    claims: tuple[Claim, ...]
    lost: tuple[str, ...]

    @property
    def unsupported(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if not c.supported)

    @property
    def ok(self) -> bool:
        return not self.unsupported and not self.lost

    def problems(self) -> list[str]:
        """Reasons a marketer (or a model, on retry) can act on."""
        out = [f"it claims '{c.text}' ({c.kind}): {c.reason}" for c in self.unsupported]
        return out + [f"it dropped or changed {x}" for x in self.lost]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "claims": [c.as_dict() for c in self.claims],
                "lost": list(self.lost), "problems": self.problems()}


def _text(msg: Mapping[str, Any]) -> str:
    """The message's fields as one text, each its own sentence (a title's perk does not run
    on into the body)."""
    parts = [str(msg.get(f) or "").strip() for f in ("title", "preheader", "body")]
    return " . ".join(p for p in parts if p)


@dataclass(frozen=True)
class Sources:
    """What a draft may draw on: the voucher, the original copy, merchant and category, and the
    segment's definition."""

    voucher: str
    original: str
    merchant: str
    category: str
    segment: str | None

    @classmethod
    def of(cls, msg: Mapping[str, Any], segment: str | None = None) -> Sources:
        return cls(str(msg.get("voucher") or ""), _text(msg), str(msg.get("merchant") or ""),
                   str(msg.get("product_category") or ""), segment or msg.get("segment"))

    @property
    def facts(self) -> str:
        """What the offer says: the voucher and the original (the merchant's name is no
        claim: "Sunday Bakery" sets no deadline)."""
        return f"{self.voucher} . {self.original}"

    def unnamed(self, text: str) -> str:
        """``text`` folded, with the merchant's name blanked out (same length)."""
        text = fold(text)
        name = fold(self.merchant).strip()
        if len(name) < 2:
            return text
        return re.sub(re.escape(name), lambda m: "_" * len(m.group(0)), text, flags=re.I)


def _where(needle_in: Sequence[tuple[str, bool]]) -> str:
    names = [n for n, ok in needle_in if ok]
    return "in the " + " and the ".join(names) if names else ""


def _check_deadline(d: str, sentence: str, src: Sources) -> Claim:
    """A deadline is backed by one of the offer's own dates (a news date only backs news)."""
    a = anchor(d)
    facts = src.unnamed(src.facts)
    dates = deadlines(facts) if newsy(sentence) else offer_dates(facts)
    if a in ("saturday", "sunday") and any("weekend" in normalise(x) for x in dates):
        return Claim("deadline", d, True, "a day of the original's weekend")
    for x in dates:
        pool = f" {normalise(x)} "
        pool = pool if f" {a} " in pool else f" {anchor(x)} "  # "Mondays", "Sunday 12 May"
        pos = pool.find(f" {a} ")
        if not a or pos < 0:
            continue
        nxt = pool[pos + len(a) + 2:].split(" ", 1)[0]
        if a.split()[-1].isdigit() and re.fullmatch(MONTHS, nxt):
            return Claim("deadline", d, False, f"the date is cut short: the original says "
                         f"'{a} {nxt}'")
        if CONNECTIVE.match(x) and CONNECTIVE.match(d) and starts(d) != starts(x):
            return Claim("deadline", d, False, f"the original says '{x}': "
                         f"{'when it ends' if starts(d) else 'when it starts'}")
        where = _where([("voucher", f" {a} " in f" {normalise(src.voucher)} "),
                        ("original", f" {a} " in f" {normalise(src.original)} ")])
        return Claim("deadline", d, True, where)
    return Claim("deadline", d, False, "no deadline like it in the voucher or the original")


# "until" in the other languages: it restates the original's end date (the date itself is
# checked as a deadline)
_UNTIL = re.compile(r"sampai|hasta|jusqu'?\w*|bis \d+", re.IGNORECASE)
_FIRST_ONLY = re.compile(r"\bfirst[- ](?:time |ever )?(?:order|purchase|ride|booking|visit|box|trip"
                         r"|stay|shop|basket)\b")
_NEXT = re.compile(r"\b(?:your|a|the|any|every) (?:next|second|another|future|repeat) (?:\w+ )?"
                   r"(?:orders?|purchases?|rides?|bookings?|visits?|box(?:es)?|trips?|stays?"
                   r"|shops?|baskets?)\b")
_NEXT_ANY = re.compile(r"\b(?:next|second|another|future|repeat) (?:\w+ )?(?:orders?|purchases?"
                       r"|rides?|bookings?|visits?|box(?:es)?|trips?|stays?|shops?|baskets?)\b")
_NOVEL_REASON = {
    "deadline": "urgency or timing that the voucher and the original do not have",
    "amount": "an offer the voucher and the original do not make",
    "condition": "it changes the offer's terms; the voucher and the original do not say it"}


def _number(text: str) -> str:
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def check(draft: Mapping[str, Any] | str, original: Mapping[str, Any],
          segment: str | None = None) -> Grounding:
    """Ground every claim of ``draft`` in ``original`` (a message with its voucher, merchant and
    product category) and ``segment``; list what of the original's offer the draft lost.
    Both are read folded (:func:`claimwords.fold`): "２０％", "Frее" or "🎁" hide nothing."""
    src = Sources.of(original, segment)
    text = src.unnamed(draft if isinstance(draft, str) else _text(draft))
    facts = src.unnamed(src.facts)
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free_span(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    fact_amounts = set(cw.amounts(facts)) | offerscope.savings(facts)
    for m in cw.AMOUNT.finditer(text):
        a = cw.amount_of(m)
        taken.append(m.span())
        ok = cw.same_amount(a, fact_amounts)
        claims.append(Claim("amount", m.group(0), ok, _where(
            [("voucher", a in cw.amounts(src.voucher)), ("original", a in cw.amounts(src.original))])
            if ok else "no such amount in the voucher or the original"))
    for m in DEADLINE.finditer(text):
        sentence = re.split(r"(?<=[.!?])\s+", text[:m.end()])[-1] + text[m.end():].split(".")[0]
        claims.append(_check_deadline(m.group(0), sentence, src))
        taken.append(m.span())
    for m in URGENCY.finditer(text):
        u = m.group(0)
        taken.append(m.span())
        if STOCK.search(u):
            ok = bool(STOCK_FACT.search(src.original) or URGENCY.search(src.original))
        else:
            ok = bool(end_dates(facts) or URGENCY.search(src.original))
        claims.append(Claim("deadline", u, ok, (
            "the original has a deadline or a limit" if ok else
            "urgency the original does not have (no deadline, no stock limit)")))
    fact_codes = codes(facts)
    for m in cw.CODE.finditer(text):
        c = cw.code_of(m)
        if not c:
            continue
        taken.append(m.span())
        close = [x for x in fact_codes if x.lower() == c.lower() and x != c]
        # a code the sources write as a word (a product such as PS5 or XPS13) is theirs too
        ok = c in fact_codes or bool(re.search(rf"(?<!\w){re.escape(c)}(?!\w)", facts))
        claims.append(Claim("code", c, ok, "in the original" if ok else (
            f"the code is written differently from '{close[0]}'" if close
            else "no such promo code in the voucher or the original")))
    fact_numbers = {_number(n) for n in _DIGITS.findall(facts)} | {
        str(v) for w, v in cw.NUMBER_WORDS.items() if re.search(rf"\b{w}\b", cw.key(facts))}
    if perkwords.MULTIBUY.search(cw.key(facts)):  # "buy 1 take 1" is two for the price of one
        fact_numbers |= {"1", "2"}
    for m in _NUMBER.finditer(text):
        if free_span(*m.span()):
            if _SAVING.search(text[max(0, m.start() - 12):m.start()]):
                claims.append(Claim("amount", m.group(0), False, "an amount with no currency "
                                    "or percentage; the voucher and the original say "
                                    + (", ".join(sorted(fact_amounts)) or "none")))
                continue
            ok = _number(m.group(0)) in fact_numbers
            claims.append(Claim("number", m.group(0), ok, "in the original" if ok
                                else "no such number in the voucher or the original"))
    for m in _COUNT_WORD.finditer(cw.key(text)):  # "each of your next three orders"
        if free_span(*m.span()):
            ok = str(cw.NUMBER_WORDS[m.group(0)]) in fact_numbers
            claims.append(Claim("number", text[m.start():m.end()], ok, "in the original" if ok
                                else "no such number in the voucher or the original"))
    fact_perks = perkwords.perks(facts)
    for (a, b), things, scope in perkwords.perk_spans(text):
        p = perkwords.Given(text[a:b], things, scope)
        taken.append((a, b))
        ok = perkwords.backed(p, fact_perks, facts)
        terms = " or ".join(sorted({q.scope if (q.scope or "").strip("_") else "its own terms"
                                    for q in fact_perks}))  # a masked name is no scope
        claims.append(Claim("free", p.text, ok, "the original offers it" if ok else (
            "nothing like it is free in the voucher or the original" if not any(
                set(p.things) <= set(q.things) for q in fact_perks) else
            f"the original gives it only with {terms}")))
    dated = bool(end_dates(facts) or URGENCY.search(src.original))
    for kind, phrase, (a, b) in cw.novel_words(text, facts):
        if free_span(a, b):
            taken.append((a, b))
            # pressure restates a deadline the offer has ("ends 30 June" -> "don't miss
            # out"); a stock limit needs one in the original; a time ("48 hours") is a date
            stock = STOCK.search(phrase) or STOCK_FACT.search(phrase)
            backed = kind == "deadline" and (PRESSURE.search(phrase) or _UNTIL.fullmatch(phrase)
                                             or stock) and (
                STOCK_FACT.search(src.original) if stock else dated)
            claims.append(Claim(kind, text[a:b], bool(backed), (
                "the original has a deadline or a limit" if backed else _NOVEL_REASON[kind])))
    terms = cw.key(src.voucher or src.original)  # the offer's terms: the voucher's, if any
    if _FIRST_ONLY.search(terms) and not _NEXT_ANY.search(cw.key(facts)):
        for m in _NEXT.finditer(cw.key(text)):
            claims.append(Claim("condition", text[m.start():m.end()], False, "the offer is for "
                                "a first order only; this changes who can use it"))
    anchors = offerscope.product_terms(src.voucher, deadlines(src.voucher)) | {
        _stem(t) for t, _ in category_terms(facts)} | {
        _stem(w.lower()) for w in re.findall(r"\b[A-Z][a-z]{2,}\b", facts)}
    for word in offerscope.widened(text, _words(facts), anchors):
        claims.append(Claim("condition", word, False, "it adds to what the offer is on; the "
                            "voucher and the original do not name it"))
    named = f"{facts} . {src.merchant}"  # a merchant's name may say what it sells
    fact_words = _words(named)
    fams = _families(src.category)
    for term, fam in category_terms(text):
        in_facts = (f" {term} " in f" {normalise(named)} " if " " in term
                    else _stem(term) in fact_words)
        ok = in_facts or fam in fams
        claims.append(Claim("category", term, ok, (
            "in the original" if in_facts else f"fits the category '{src.category}'") if ok
            else f"a {fam} word, but this message is for '{src.category or 'no category'}'"))
    # the segment's definition decides (an original may be wrong for it: "first-time order"
    # sent to frequent buyers); a status the segment cannot know ("member") needs the original
    allowed = voice(src.segment).may_say if voice(src.segment).known else None
    original_rel = {k for k, _ in relationship_claims(facts)}
    for kind, phrase in relationship_claims(text):
        # a status is backed by the same status in the sources ("Platinum Card" backs
        # "Platinum Card holders", not "Priority Banking clients")
        said = kind in original_rel and (kind != "member" or _said(phrase, facts))
        ok = (kind in allowed or kind == "member" and said) if allowed is not None else said
        claims.append(Claim("relationship", phrase, ok, (
            f"fits the segment {src.segment}" if ok else
            f"the segment {src.segment or '(none)'} does not support a '{kind}' statement")))
    return Grounding(tuple(claims), tuple(lost(text, original)))


def lost(text: str, original: Mapping[str, Any]) -> list[str]:
    """The original's offer amounts, promo codes and dates that the draft does not keep (in
    any spelling of the same value: "RM 80.00" keeps RM80, "HOME 15" does not keep HOME15 as
    a code a reader can type, but "XPS 13" keeps the product XPS13 when the voucher names it)."""
    src = Sources.of(original)
    text = src.unnamed(text)
    out = []
    have_amounts = set(cw.amounts(text))
    out += [f"the amount {a}" for a in cw.amounts(src.facts)
            if not cw.keeps_amount(a, text, have_amounts)]
    have_codes = codes(text)
    product = _compact(src.voucher)
    out += [f"the promo code {c}" for c in codes(src.unnamed(src.original))
            if c not in have_codes and not (_compact(c) in product
                                            and _compact(c) in _compact(text))]
    norm = " " + normalise(text) + " "
    dates = offer_dates(src.unnamed(src.original))
    kept_day = any(re.search(r"\d", anchor(d)) and f" {anchor(d)} " in norm for d in dates)
    for d in dates:
        a = anchor(d)
        if kept_day and not re.search(r"\d", a) and not re.search(DAYS, a):
            continue  # "all week" said by its dates ("4-10 November"), which the draft keeps
        if "weekend" in a and " saturday " in norm and " sunday " in norm:
            continue  # "this weekend" as "Saturday and Sunday"
        if a and f" {a} " not in norm:
            out.append(f"the date '{d}'")
    return out


def offer_facts(msg: Mapping[str, Any]) -> dict[str, list[str]]:
    """The original's amounts, codes and dates: what "kept every number, code and date" means."""
    src = Sources.of(msg)
    return {"amounts": cw.amounts(src.facts), "codes": codes(src.unnamed(src.original)),
            "dates": offer_dates(src.unnamed(src.original))}
