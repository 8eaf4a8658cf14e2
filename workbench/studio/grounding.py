"""Grounding: every claim a draft makes must be backed by what the marketer gave the studio.

A rewrite may reword a message, never promise more than it did. An invented "today only", a
"free gift" nobody offers, a "first order" deal sent to regulars or "Start your weekly shop" for a
burger restaurant misleads the reader, and a copy tool must never do that. This module extracts
the checkable claims of a draft (amounts, other numbers, deadlines and dates, promo codes, free
perks, product-category words and relationship statements) and looks each up in the sources:
the voucher, the original copy, the merchant and product category, and the segment's definition
(its ``may_say`` list in ``seed/segment_voices.csv``). It also checks the other direction: every
offer amount, promo code and date of the original must survive verbatim ("until 30 September"
never becomes "until 30").

The same check runs on the rules engine's drafts (which must never fail it) and on a model's
(which are retried with the reasons). The result lists every claim checked, so the page can show
why a draft was rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.studio.voices import voice

CLAIM_KINDS = ("amount", "number", "deadline", "code", "free", "category", "relationship")

_MONTHS = (r"(?:january|february|march|april|may|june|july|august|september|october|november"
           r"|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)")
_DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DATE = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\b|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b)")
_TIME = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|midnight|noon)"
_WHEN = (rf"(?:{_DATE}|{_TIME}(?:\s+(?:tonight|today|tomorrow))?|{_DAYS}\b|tonight|today"
         rf"|tomorrow|the end of (?:today|the day|the week|the month|{_MONTHS})"
         rf"|end of (?:day|week|month)|in \d+ (?:hours?|days?)\b|\d{{1,2}}\b)")
_DEADLINE = re.compile(
    rf"\b(?:until|till|til|by|before|ends?|ending|expires?|valid (?:until|till))\s+(?:at\s+|on\s+)?"
    rf"{_WHEN}"
    rf"|\b(?:within|in the next|for the next|over the next)\s+\d+\s+(?:hours?|days?|minutes?)\b"
    rf"|\b\d+\s+(?:hours?|days?)\s+(?:only|left)\b"
    rf"|\bthis (?:week(?:end)?|month|{_DAYS}|{_MONTHS})\b(?:\s+only)?"
    rf"|\b(?:all|every \w+ in|in) {_MONTHS}\b|\ball (?:week|month|weekend)( long)?\b"
    rf"|\b(?:today|tonight|tomorrow)\b(?:\s+only)?|\b{_DATE}|\b{_TIME}|\b{_DAYS}\b",
    re.IGNORECASE)
_URGENCY = re.compile(
    r"\b(?:limited[- ]time|last chance|ends? soon|ending soon|hurry|don'?t miss(?: out)?"
    r"|before (?:it'?s|they'?re|it goes|they go) (?:gone|back up)|before (?:this|the) (?:offer|deal)"
    r" (?:disappears|ends|expires)|act (?:fast|now)|now or never|while (?:stocks?|supplies) last"
    r"|running (?:low|out)|selling fast|only \d+ (?:left|units|pieces)|limited stock"
    r"|almost gone|few left)\b", re.IGNORECASE)
_STOCK = re.compile(r"\b(?:stocks?|supplies|units|left|limit|running low|selling fast|gone)\b",
                    re.IGNORECASE)
_AMOUNT = re.compile(r"RM\s?\d[\d,]*(?:\.\d+)?|\d+(?:\.\d+)?\s?%", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])")
_CODE = re.compile(r"\b(?i:code|promo|coupon)\s*:?\s*([A-Za-z0-9][A-Za-z0-9-]{3,})\b"
                   r"|\b((?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z][A-Z0-9-]{3,})\b")
_FREE = re.compile(
    r"\bbuy[- ]\d+[,]?\s*(?:get[- ]\d+[- ])?free(?:[- ]\d+)?\b"
    r"|\b(?:ships?|shipped|delivered|delivery(?: is| are)?)\s+free\b"
    r"|(?<![-\w])(?<!feel )(?<!you're )(?<!you are )(?<!are )free\b"
    r"(?:\s+(?!to\b|time\b|of\b|and\b|with\b|for\b|on\b|no\b|if\b)([a-z]+(?:-[a-z]+)?))?"
    r"|\b(?:on us|on the house)\b", re.IGNORECASE)
_DELIVERY = re.compile(r"\b(?:deliver(?:y|ies|ed)?|shipping|ships?|postage)\b", re.IGNORECASE)
_BUNDLE = re.compile(r"\bbuy[- ]\d+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")

# words that name a product category; a draft may use one only when the sources do or the
# message's product category belongs to the family
CATEGORY_TERMS: dict[str, tuple[str, ...]] = {
    "food": ("meal", "breakfast", "lunch", "dinner", "brunch", "supper", "burger", "pizza",
             "noodle", "fries", "coffee", "kopi", "latte", "dessert", "snack", "takeaway",
             "menu", "chef", "pastry", "cake", "bread", "sandwich", "sushi", "hungry",
             "craving", "tasty", "delicious", "dish", "bite", "eat", "dine", "drink", "tea"),
    "groceries": ("weekly shop", "grocery", "groceries", "pantry", "fresh produce",
                  "vegetable", "household basics", "basket"),
    "beauty": ("skincare", "skin", "serum", "sunscreen", "moisturiser", "moisturizer",
               "makeup", "lipstick", "beauty", "facial", "cleanser", "glow"),
    "electronics": ("gadget", "phone", "charger", "earbud", "laptop", "tech", "device",
                    "headphone"),
    "home": ("furniture", "sofa", "bedding", "cushion", "decor", "mattress", "home"),
    "fashion": ("outfit", "wardrobe", "dress", "shoe", "sneaker", "fashion", "style"),
    "pets": ("pet", "dog", "cat", "kibble", "puppy", "kitten", "paw"),
    "books": ("book", "novel", "reading", "bookshelf"),
    "flowers": ("bouquet", "flower", "bloom", "florist"),
    "fitness": ("workout", "gym", "fitness", "training", "yoga"),
    "health": ("vitamin", "medicine", "pharmacy", "supplement", "wellness"),
    "toys": ("toy", "lego", "puzzle"),
}
CATEGORY_FAMILIES: dict[str, tuple[str, ...]] = {
    "restaurant": ("food",), "cafe": ("food",), "coffee": ("food",), "bakery": ("food",),
    "burger": ("food",), "food": ("food",), "dessert": ("food",), "pizza": ("food",),
    "grocer": ("groceries", "food"), "supermarket": ("groceries", "food"),
    "beauty": ("beauty",), "skincare": ("beauty",), "cosmetic": ("beauty",),
    "electronic": ("electronics",), "gadget": ("electronics",), "phone": ("electronics",),
    "home": ("home",), "furniture": ("home",), "fashion": ("fashion",),
    "apparel": ("fashion",), "shoe": ("fashion",), "pet": ("pets",), "book": ("books",),
    "flor": ("flowers",), "flower": ("flowers",), "fitness": ("fitness",),
    "sport": ("fitness", "fashion"), "pharmac": ("health",), "health": ("health",),
    "toy": ("toys",),
}

# relationship statements: what a draft says about the reader's history with the merchant
RELATIONSHIPS: dict[str, re.Pattern[str]] = {k: re.compile(p, re.IGNORECASE) for k, p in {
    "new_customer": r"\bfirst[- ]time\b|\b(?:your|a) first (?:order|haul|visit|purchase|basket)\b"
                    r"|\bnew customers?\b|\bnew here\b|\bnew to \w|\bfor the first time\b"
                    r"|\bwelcome (?:gift|offer|treat)\b",
    "lapsed": r"\bmissed you\b|\bmiss you\b|\bwelcome back\b|\bbeen a while\b|\bit'?s been\b"
              r"|\bsince your last\b|\bcome back\b|\bhaven'?t seen you\b|\bold friend\b",
    "returning": r"\bagain\b|\byour usual\b|\bre-?order\b|\byour (?:favourites|favorites|go-to)\b"
                 r"|\byour (?:last|next|second) (?:order|basket|visit)\b|\bcoming back\b"
                 r"|\bback for more\b|\bgood to see you back\b",
    "regular": r"\bregulars?\b|\bloyal\b|\bsticking with\b|\bsince day one\b"
               r"|\border (?:from \S+(?: \S+)? )?(?:so )?often\b|\bevery week\b|\blong-?time\b"
               r"|\bvalued customer\b|\bVIP\b|\bsince the beginning\b|\byou'?ve been with\b"
               r"|\bfor years\b",
    "follower": r"\bfollow(?:ing|ers?|ed)\b",
    "cart": r"\byour (?:cart|basket|bag)\b|\b(?:in|from) (?:your|the) cart\b|\bforgot something"
            r"|\bleft (?:it|them|something|items?) (?:behind|in)\b|\bcheckout\b",
    "unpaid": r"\bpayment\b|\bpay now\b|\btap to pay\b|\bpay (?:by|within|before)\b|\bunpaid\b"
              r"|\bnot (?:yet )?paid\b|\bfinish paying\b",
    "delivered": r"\b(?:was|been|got|has been) delivered\b"
                 r"|\byour (?:[\w-]+ ){0,3}(?:has |have |just )?arrived\b|\bhope you enjoyed\b|\bthanks for (?:your|the) "
                 r"(?:\w+ )?(?:order|purchase)\b|\benjoy(?:ed)? your (?:\w+ )?(?:order|meal|purchase)\b"
                 r"|\bhow was your\b|\brate your\b",
    "viewed": r"\byou (?:viewed|saved|looked at|browsed|liked|wishlisted)\b"
              r"|\bon your wishlist\b",
}.items()}


def normalise(text: str) -> str:
    return " ".join(_WORD.findall((text or "").lower()))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall((text or "").lower())}


def _amounts(text: str) -> list[str]:
    out: list[str] = []
    for m in _AMOUNT.findall(text or ""):
        norm = re.sub(r"\s+", "", m).upper().replace(",", "")
        if norm not in out:
            out.append(norm)
    return out


def deadlines(text: str) -> list[str]:
    """Every deadline or date phrase, adjacent ones merged: "before 11am this week" is one."""
    spans: list[list[int]] = []
    for m in _DEADLINE.finditer(text or ""):
        if spans and not text[spans[-1][1]:m.start()].strip():
            spans[-1][1] = m.end()
        else:
            spans.append([m.start(), m.end()])
    return [text[a:b] for a, b in spans]


_CONNECTIVE = re.compile(rf"^(?:until|till|til|by|before|ends?|ending|expires?|valid (?:until|till)|"
                         rf"within|in the next|for the next|over the next|(?:all|in)(?= {_MONTHS}))"
                         rf"\s+(?:at\s+|on\s+)?", re.IGNORECASE)


def anchor(deadline: str) -> str:
    """The date itself, without its connective: "until 30 September" -> "30 september"."""
    d = _CONNECTIVE.sub("", deadline.strip())
    return normalise(re.sub(r"\s+only$", "", d, flags=re.IGNORECASE))


def codes(text: str) -> list[str]:
    """Promo codes, verbatim: "with code BROSNEW" -> BROSNEW; mixed tokens like GLOW15."""
    out = []
    for m in _CODE.finditer(text or ""):
        c = m.group(1) or m.group(2)
        if c and not (c.isupper() or any(ch.isdigit() for ch in c)):
            continue
        if c and c != "STOP" and not re.fullmatch(r"RM\d+", c) and c not in out:
            out.append(c)
    return out


@dataclass(frozen=True)
class _Perk:
    text: str
    kind: str      # delivery, bundle, item, any
    item: str


def perks(text: str) -> list[_Perk]:
    out = []
    for m in _FREE.finditer(text or ""):
        s = m.group(0)
        around = (text or "")[max(0, m.start() - 25):m.end() + 15]
        if _BUNDLE.search(s):
            out.append(_Perk(s, "bundle", ""))
        elif _DELIVERY.search(s) or (s.lower().startswith("free") and m.group(1) is None
                                     and _DELIVERY.search(around)):
            out.append(_Perk(s, "delivery", ""))
        elif m.group(1):
            item = m.group(1).split("-")[-1].lower()
            out.append(_Perk(s.strip(), "item", _stem(item)))
        else:
            kind = "delivery" if _DELIVERY.search(around) else "any"
            out.append(_Perk(s.strip(), kind, ""))
    return out


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


def relationship_claims(text: str) -> list[tuple[str, str]]:
    """(kind, phrase) for every statement about the reader's history with the merchant."""
    return [(k, m.group(0)) for k, p in RELATIONSHIPS.items() for m in p.finditer(text or "")]


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
    return " ".join(str(msg.get(f) or "") for f in ("title", "preheader", "body")).strip()


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
        return f"{self.voucher} . {self.original} . {self.merchant}"


def _where(needle_in: Sequence[tuple[str, bool]]) -> str:
    names = [n for n, ok in needle_in if ok]
    return "in the " + " and the ".join(names) if names else ""


def _check_deadline(d: str, src: Sources) -> Claim:
    a = anchor(d)
    facts = " " + normalise(src.facts) + " "
    pos = facts.find(f" {a} ")
    if a and pos >= 0:
        nxt = facts[pos + len(a) + 2:].split(" ", 1)[0]
        if a.split()[-1].isdigit() and re.fullmatch(_MONTHS, nxt):
            return Claim("deadline", d, False, f"the date is cut short: the original says "
                         f"'{a} {nxt}'")
        where = _where([("voucher", f" {a} " in f" {normalise(src.voucher)} "),
                        ("original", f" {a} " in f" {normalise(src.original)} ")])
        return Claim("deadline", d, True, where or "in the merchant name")
    return Claim("deadline", d, False, "no deadline like it in the voucher or the original")


def check(draft: Mapping[str, Any] | str, original: Mapping[str, Any],
          segment: str | None = None) -> Grounding:
    """Ground every claim of ``draft`` in ``original`` (a message with its voucher, merchant and
    product category) and ``segment``; list what of the original's offer the draft lost."""
    text = draft if isinstance(draft, str) else _text(draft)
    src = Sources.of(original, segment)
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free_span(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    fact_amounts = set(_amounts(src.facts))
    for m in _AMOUNT.finditer(text):
        a = _amounts(m.group(0))[0]
        taken.append(m.span())
        ok = a in fact_amounts
        claims.append(Claim("amount", m.group(0), ok, _where(
            [("voucher", a in _amounts(src.voucher)), ("original", a in _amounts(src.original))])
            if ok else "no such amount in the voucher or the original"))
    for m in _DEADLINE.finditer(text):
        claims.append(_check_deadline(m.group(0), src))
        taken.append(m.span())
    for m in _URGENCY.finditer(text):
        u = m.group(0)
        stocky = bool(_STOCK.search(u))
        if stocky:
            ok = bool(_STOCK.search(src.original) or _URGENCY.search(src.original))
        else:
            ok = bool(deadlines(src.facts) or _URGENCY.search(src.original))
        claims.append(Claim("deadline", u, ok, (
            "the original has a deadline or a limit" if ok else
            "urgency the original does not have (no deadline, no stock limit)")))
    fact_codes = codes(src.facts)
    for m in _CODE.finditer(text):
        c = m.group(1) or m.group(2)
        if not c or c == "STOP" or re.fullmatch(r"RM\d+", c) or not (
                c.isupper() or any(ch.isdigit() for ch in c)):
            continue
        taken.append(m.span())
        close = [x for x in fact_codes if x.lower() == c.lower() and x != c]
        ok = c in fact_codes
        claims.append(Claim("code", c, ok, "in the original" if ok else (
            f"the code is written differently from '{close[0]}'" if close
            else "no such promo code in the voucher or the original")))
    fact_numbers = set(_NUMBER.findall(src.facts))
    for m in _NUMBER.finditer(text):
        if free_span(*m.span()):
            ok = m.group(0) in fact_numbers
            claims.append(Claim("number", m.group(0), ok, "in the original" if ok
                                else "no such number in the voucher or the original"))
    fact_perks = perks(src.facts)
    fact_words = _words(src.facts)
    for p in perks(text):
        if p.kind == "delivery":
            ok = any(q.kind == "delivery" or (q.kind == "any" and _DELIVERY.search(src.facts))
                     for q in fact_perks)
        elif p.kind == "bundle":
            ok = any(q.kind == "bundle" for q in fact_perks)
        elif p.kind == "item":
            ok = p.item in fact_words and any(q.kind != "delivery" for q in fact_perks)
        else:
            ok = bool(fact_perks)
        claims.append(Claim("free", p.text, ok, "the original offers it" if ok
                            else "nothing like it is free in the voucher or the original"))
    fams = _families(src.category)
    for term, fam in category_terms(text):
        in_facts = (f" {term} " in f" {normalise(src.facts)} " if " " in term
                    else _stem(term) in fact_words)
        ok = in_facts or fam in fams
        claims.append(Claim("category", term, ok, (
            "in the original" if in_facts else f"fits the category '{src.category}'") if ok
            else f"a {fam} word, but this message is for '{src.category or 'no category'}'"))
    allowed = voice(src.segment).may_say if voice(src.segment).known else None
    original_rel = {k for k, _ in relationship_claims(src.original)}
    for kind, phrase in relationship_claims(text):
        ok = kind in allowed if allowed is not None else kind in original_rel
        claims.append(Claim("relationship", phrase, ok, (
            f"fits the segment {src.segment}" if ok else
            f"the segment {src.segment or '(none)'} does not support a '{kind}' statement")))
    return Grounding(tuple(claims), tuple(lost(text, original)))


def lost(text: str, original: Mapping[str, Any]) -> list[str]:
    """The original's offer amounts, promo codes and dates that the draft does not keep
    verbatim."""
    src = Sources.of(original)
    out = []
    have_amounts = set(_amounts(text))
    out += [f"the amount {a}" for a in _amounts(src.voucher + " " + src.original)
            if a not in have_amounts]
    out += [f"the promo code {c}" for c in codes(src.original) if c not in codes(text)]
    norm = " " + normalise(text) + " "
    for d in offer_dates(src.original):
        a = anchor(d)
        if a and f" {a} " not in norm:
            out.append(f"the date '{d}'")
    return out


_NOT_OFFER = re.compile(r"\b(new|arrived|landed|launched|opened|ago|last|since|back)\b",
                        re.IGNORECASE)


def offer_dates(text: str) -> list[str]:
    """The deadlines that date the offer, not the news: "new stock arrived this week" dates the
    stock, "RM5 off until Sunday" or "The reservation ends at midnight" date the offer."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", text or ""):
        offerish = _AMOUNT.search(sentence) or perks(sentence) or codes(sentence)
        if not offerish and _NOT_OFFER.search(sentence):
            continue
        out += deadlines(sentence)
    return out


def offer_facts(msg: Mapping[str, Any]) -> dict[str, list[str]]:
    """The original's amounts, codes and dates: what "kept every number, code and date" means."""
    src = Sources.of(msg)
    return {"amounts": _amounts(src.voucher + " " + src.original),
            "codes": codes(src.original), "dates": offer_dates(src.original)}
