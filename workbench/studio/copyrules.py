"""The offline rules engine of the rewrite studio: copy features, intent and the rules rewrite.

With no model configured, the studio's writer runs on these rules (its diagnosis is in
``diagnosis``, its judge in ``judge``, deliberately apart). The rewrite encodes the traits the
CRMAgent study found in top performers: a concrete incentive, a direct call to action and a
voice that fits how well the reader knows the merchant. It states only what the voucher, the
original copy, the merchant and the segment support: every part of a rules draft passes the
grounding check (``grounding``), so it never adds a deadline, a perk or a relationship the
marketer did not give. Everything here is deterministic and pure.

A model backend replaces the wording, never the guarantees: whoever wrote a rewrite, its offer
and numbers are checked by :func:`Intent.missing`, its claims by ``grounding.check`` and its
lengths by :func:`fit_check`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.studio import claimwords as cw
from workbench.studio import grounding
from workbench.studio.offerscope import kept, product_phrase, product_terms
from workbench.studio.perkwords import MULTIBUY, perk_spans
from workbench.studio.diagnosis import (
    CASUAL, EMOTIONAL, ERROR_TYPES, FIRST_OFFER, FORMAL, HEDGE, NEW_FRAMING, PARTNER, SAME_ITEM,
    VAGUE, has_cta)
from workbench.studio.voices import (
    FIRST, LOYAL, NEW, RETURNING, TRANSACTION, SegmentVoice, voice)

__all__ = ["ERROR_TYPES", "FIRST", "LOYAL", "NEW", "RETURNING", "TRANSACTION", "SegmentVoice",
           "voice", "Intent", "Draft", "rewrite", "fit_check", "channel_limits"]


# -- copy features -------------------------------------------------------------------------------

_AMOUNT = cw.AMOUNT
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


amounts = cw.amounts


def _latin_share(text: str) -> float:
    """The share of ``text``'s letters written in the Latin alphabet (accents included)."""
    letters = [c for c in text if c.isalpha()]
    return sum("LATIN" in unicodedata.name(c, "") for c in letters) / len(letters) if letters else 1.0


def mentions_free(text: str) -> bool:
    """Does the text promise something free ("free delivery", "complimentary fries", "on
    us", "buy 1 take 1")?"""
    return bool(perk_spans(text, nouns=False) or MULTIBUY.search(cw.key(text)))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split((text or "").strip()) if s.strip()]


def message_text(msg: Mapping[str, Any]) -> str:
    return " ".join(str(msg.get(f) or "") for f in ("title", "preheader", "body")).strip()


# -- intent: what a rewrite must keep --------------------------------------------------------------

@dataclass(frozen=True)
class Intent:
    """The promise of the original message: its amounts, its free perks and its product."""

    amounts: tuple[str, ...]
    free: bool
    product: tuple[str, ...]

    @classmethod
    def of(cls, msg: Mapping[str, Any]) -> Intent:
        voucher = str(msg.get("voucher") or "")
        text = message_text(msg)
        found = amounts(voucher) + [a for a in amounts(text) if a not in amounts(voucher)]
        # the product as the original names it: a voucher's "dry food" the copy calls "kibble"
        # is no word a rewrite must keep
        product = {p for p in product_terms(voucher, grounding.deadlines(voucher))
                   if not text or kept(p, text)}
        return cls(tuple(found), mentions_free(voucher) or mentions_free(text),
                   tuple(sorted(product)))

    def missing(self, rewrite: Mapping[str, Any] | str) -> list[str]:
        """What the rewrite dropped, in words a marketer reads; empty when the intent survives."""
        text = rewrite if isinstance(rewrite, str) else message_text(rewrite)
        have = amounts(text)
        out = [f"the amount {a}" for a in self.amounts if not cw.keeps_amount(a, text, have)]
        if self.free and not mentions_free(text):
            out.append("the free perk")
        if _latin_share(text) >= 0.5:  # a translation into Thai or Chinese cannot keep the words
            out += [f"the product word '{p}'" for p in self.product if not kept(p, text)]
        return out


# -- channel limits ------------------------------------------------------------------------------

def fit_check(msg: Mapping[str, Any], limits: Mapping[str, int | None]) -> list[str]:
    """Fields over their channel limit, e.g. ``["body is 171 characters, limit 150"]``."""
    out = []
    for f in ("title", "preheader", "body"):
        lim = limits.get(f)
        n = len(str(msg.get(f) or ""))
        if lim and n > lim:
            out.append(f"{f} is {n} characters, limit {lim}")
    return out


def channel_limits(channel: Mapping[str, Any]) -> dict[str, int | None]:
    """Field limits of a channel row (``store.channel(id)``)."""
    return {"title": channel.get("title_max") or None,
            "preheader": channel.get("preheader_max") or None,
            "body": channel.get("body_max") or None}


# -- rewrite -------------------------------------------------------------------------------------

def offer_phrase(voucher: str, segment: str | None = None) -> str:
    """The voucher as a reader-facing phrase: "RM3 off min spend RM15" -> "RM3 off orders over
    RM15". A first-order voucher stays first-order: its terms are the merchant's, and no
    wording makes it fit readers who already order (:func:`unfit_offer`)."""
    v = voucher.strip()
    if not v:
        return ""
    m = re.match(r"price drop (RM[\d.,]+) to (RM[\d.,]+)", v, re.IGNORECASE)
    if m:
        return f"now {m.group(2)}, down from {m.group(1)}"
    v = re.sub(r"\bmin(imum)?( spend)? (RM[\d.,]+)", r"over \3", v, flags=re.IGNORECASE)
    v = re.sub(r"\bup to (RM[\d.,]+)", r"(up to \1)", v, flags=re.IGNORECASE)
    v = re.sub(r"\b(first|next|second) order\b", r"your \1 order", v, flags=re.IGNORECASE)
    v = re.sub(r"\byour your\b", "your", v)
    v = re.sub(r"\bat partner store\b", "at our partner store", v, flags=re.IGNORECASE)
    if re.match(r"^(RM[\d.,]+|\d+%) off (over|min)", v):
        v = v.replace(" off over", " off orders over", 1)
    return v[0].upper() + v[1:] if v[0].isalpha() and v[0].islower() else v


def unfit_offer(msg: Mapping[str, Any]) -> str | None:
    """Why no rewrite can send this message's offer to its segment, or None. A voucher for a
    first order sent to readers who already order (the irrelevant-offer error) cannot be
    fixed in copy: "your next order" would promise terms the voucher does not give, and
    "your first order" is untrue for them. The marketer changes the voucher instead."""
    voucher, segment = str(msg.get("voucher") or ""), msg.get("segment")
    m = FIRST_OFFER.search(voucher)
    v = voice(segment)
    if not m or not v.known or "new_customer" in v.may_say:
        return None
    return (f"the voucher is for a first order ('{m.group(0)}') and {segment} already order: "
            "no wording makes it theirs without changing its terms. Give the message a "
            "voucher that fits them (for example one for a next order) and rewrite it again")


_LOWER_FIRST = re.compile(r"^(Until|Till|By|Before|Ends?|This|Today|Tonight|Tomorrow|Within|In|"
                          r"For|Valid|All|Every|Expires|Over)\b")


def _lost_dates(sentence: str, deadline: str) -> str:
    """The parts of ``deadline`` (as :func:`deadline_phrase` joins them) that ``sentence`` does
    not already say, so that none is said twice ("if paid today, today, ends at midnight")."""
    return ", ".join(d for d in deadline.split(", ") if d and grounding.lost(sentence,
                                                                               {"body": d}))


def deadline_phrase(msg: Mapping[str, Any]) -> str:
    """The original's own deadlines, verbatim and in order ("until 30 September"); "" when it
    has none. The rules engine never adds one: a deadline is part of the offer, not a style."""
    found = [re.sub(r"^til\b", "until", _LOWER_FIRST.sub(lambda m: m.group(1).lower(), d.strip()),
                    flags=re.IGNORECASE) for d in grounding.offer_dates(message_text(msg))]
    out: list[str] = []
    for d in found:
        a = f" {grounding.anchor(d)} "
        if not any(a in f" {grounding.anchor(x)} " for x in found if x != d) and d not in out:
            out.append(d)
    return ", ".join(out)


def _grounded(text: str, msg: Mapping[str, Any], segment: str | None) -> bool:
    return not grounding.check(text, msg, segment).unsupported


def _cta_phrase(exemplars: Sequence[Mapping[str, Any]], atoms: Sequence[Mapping[str, Any]],
                msg: Mapping[str, Any], segment: str | None) -> tuple[str, str]:
    """The closing prompt and where it came from: the last imperative of an exemplar of the same
    product category, a CTA atom of the library that fits the segment and category, or the
    segment's category-neutral default. Every candidate must pass the grounding check, so no
    "Start your weekly shop" reaches a burger restaurant."""
    category = str(msg.get("product_category") or "")
    for ex in exemplars:
        if str(ex.get("product_category") or "") != category:
            continue
        body = sentences(str(ex.get("body") or ""))
        last = (body or [""])[-1]
        if last.upper().startswith("STOP") and len(body) > 1:
            last = body[-2]
        last = re.sub(r"^[^:]{2,40}:\s", "", last)
        if has_cta(last) and len(last) <= 40 and _grounded(last, msg, segment):
            return last.rstrip(".!") + ".", f"exemplar #{ex.get('id')}"
    if PARTNER.search(str(msg.get("voucher") or "") + " " + str(msg.get("body") or "")):
        return "Shop the partner offer now.", "partner offer"
    wanted = {"abandoned_cart": "cart", "unpaid_order": "pay", "lapsing_buyers": "reorder",
              "repeat_buyers": "reorder", "frequent_buyers": "order"}.get(segment or "", "order")
    fits = [a for a in atoms if a.get("kind") == "cta" and a.get("status", "active") == "active"
            and (a.get("segment") in (None, "", segment))
            and (a.get("product_category") in ("", "any", None, category))]
    fits.sort(key=lambda a: (wanted not in str(a.get("tags") or ""),
                             a.get("segment") != segment, a.get("id") or 0))
    for atom in fits:
        if not (wanted in str(atom.get("tags") or "") or segment != "unpaid_order"):
            continue
        text = str(atom["text"]).rstrip(".!")
        short = len(text.split()) <= 2 and not text.lower().endswith("now")
        text += " now." if short else "."
        if _grounded(text, msg, segment):
            return text, f"atom #{atom.get('id')}"
    return voice(segment).cta + ".", "segment default"


def _keep_sentence(s: str, msg: Mapping[str, Any], segment: str | None) -> bool:
    """Sentences of the original worth keeping: product hooks, free of every flagged trait and of
    claims the segment does not support."""
    if any(p.search(s) for p in (HEDGE, VAGUE, FORMAL, CASUAL, EMOTIONAL, NEW_FRAMING, PARTNER)):
        return False
    if amounts(s) or mentions_free(s) or has_cta(s) or s.upper().startswith("STOP"):
        return False  # the offer, the prompt and the opt-out are rebuilt
    if grounding.deadlines(s) and not _PRODUCT_HOOK.search(s):
        return False  # a bare deadline sentence; the deadline goes with the offer
    if re.search(r"\b(thanks|thank you|welcome|hello|hi)\b", s, re.IGNORECASE):
        return False  # the segment's opener replaces greetings
    if re.search(r"\b(them|those|these|it|this one)\b", s, re.IGNORECASE):
        return False  # points back at something the rewrite drops
    if not _grounded(s, msg, segment):
        return False  # e.g. "It's been ages" to readers who never ordered
    return len(s) > 12


_PRODUCT_HOOK = re.compile(r"\b(new|fresh|arrived|collection|stock|menu|range)\b", re.IGNORECASE)


def _own_offer_sentence(body_sentences: Sequence[str], voucher: str, msg: Mapping[str, Any],
                        segment: str | None) -> str:
    """The original's sentence that states the voucher's every amount, when it shows no flaw
    and fits the segment; "" otherwise (the offer is then rebuilt from the voucher)."""
    need = set(amounts(voucher))
    rel = voice(segment).relationship
    for s in body_sentences:
        if not need or not need <= set(amounts(s)) or len(s) > 120:
            continue
        if any(p.search(s) for p in (HEDGE, VAGUE, FORMAL, CASUAL, EMOTIONAL, NEW_FRAMING,
                                     PARTNER)):
            continue
        if FIRST_OFFER.search(s) and rel in (RETURNING, LOYAL, FIRST):
            continue
        letters = [c for c in s if c.isalpha()]
        if not s[0].isupper() or sum(c.isupper() for c in letters) > len(letters) / 2:
            continue
        if re.search(r"\b(them|those|these|it|this one)\b", s, re.IGNORECASE):
            continue
        if any(not m.startswith("the amount") for m in Intent.of(msg).missing(s)):
            continue  # it must name the voucher's product and perk too
        if _grounded(s, msg, segment):
            return s if s.endswith((".", "!")) else s + "."
    return ""


@dataclass(frozen=True)
class Draft:
    title: str
    preheader: str
    body: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "preheader": self.preheader, "body": self.body}


def _fill(template: str, msg: Mapping[str, Any], offer: str) -> str:
    product = product_phrase(str(msg.get("voucher") or "")) or "your favourites"
    merchant = str(msg.get("merchant") or "us")
    short = re.split(r"\s+(?:on|orders|over|with|for)\b|,", offer)[0] if offer else "A treat"
    return template.format(merchant=merchant, offer_title=short, product=product)


def _title(v: SegmentVoice, msg: Mapping[str, Any], offer: str, segment: str | None,
           limit: int | None) -> str:
    """The segment's title when it is grounded and fits; else the offer at the merchant."""
    for template in (v.title, "{offer_title} at {merchant}", "{merchant}"):
        if not offer and "{offer_title}" in template:
            continue
        t = _fill(template, msg, offer)
        t = t[0].upper() + t[1:] if t else t
        if (not limit or len(t) <= limit) and _grounded(t, msg, segment):
            return t
    t = str(msg.get("merchant") or "")
    return t[: limit - 1].rstrip() + "…" if limit and len(t) > limit else t


def rewrite(msg: Mapping[str, Any], segment: str | None, diagnosis: Mapping[str, Any],
            exemplars: Sequence[Mapping[str, Any]] = (), atoms: Sequence[Mapping[str, Any]] = (),
            limits: Mapping[str, int | None] | None = None) -> Draft:
    """A rules rewrite that fixes every finding without promising anything new: the segment's
    opener replaces wrong-relationship framing and stiff or jokey voices, the voucher is stated
    in full with the original's own deadline and promo code (verbatim), and a direct prompt that
    fits the product category closes the message. Each part passes the grounding check; a part
    that would not (an opener claiming a history, a borrowed CTA) is left out."""
    v = voice(segment)
    limits = limits or {}
    voucher = str(msg.get("voucher") or "")
    offer = offer_phrase(voucher, segment)
    original_body = str(msg.get("body") or "")
    is_sms = msg.get("channel") == "sms"
    prefix = ""
    if is_sms:
        m = re.match(r"^([^:!?.]{2,40}):\s", original_body)
        name = m.group(1) if m else str(msg.get("merchant") or "")
        # "Pak Ali now delivers!" names the sender already: no "Pak Ali: Pak Ali now ..."
        prefix = "" if not m and name and original_body.startswith(name) else name + ": "
    notes = []
    body_sentences = sentences(original_body)
    if prefix:
        body_sentences = [s.removeprefix(prefix) for s in body_sentences]
    kept = [s for s in body_sentences if _keep_sentence(s, msg, segment)]
    # every amount of the original must survive: offers without a voucher row keep their sentence
    carry = [s for s in body_sentences
             if amounts(s) and not set(amounts(s)) <= set(amounts(offer))
             and not s.upper().startswith("STOP") and _grounded(s, msg, segment)]
    deadline = deadline_phrase(msg)
    cta, cta_from = _cta_phrase(exemplars, atoms, msg, segment)
    notes.append(f"closing prompt from {cta_from}")
    opener = _fill(v.opener, msg, offer) if v.opener and not kept else ""
    if opener and not _grounded(opener, msg, segment):
        opener = ""
    offer_sentence = ""
    own = _own_offer_sentence(body_sentences, voucher, msg, segment)
    if own:  # the merchant's own words for the offer keep its product detail
        offer_sentence = own
        if _lost_dates(own, deadline):
            offer_sentence = own.rstrip(".!") + ", " + _lost_dates(own, deadline) + "."
        kept = [k for k in kept if k != own]
        carry = [c for c in carry if c != own]
    elif offer:
        offer_sentence = offer
        if _lost_dates(offer, deadline):
            offer_sentence += ", " + _lost_dates(offer, deadline)
        offer_sentence = offer_sentence[0].upper() + offer_sentence[1:] + "."
    if PARTNER.search(voucher + " " + original_body):
        notes.append("partner offer kept as the original intends; consider an offer from the "
                     "merchant itself")
    elif segment == "post_purchase" and SAME_ITEM.search(voucher + " " + original_body):
        notes.append("offer on the item the reader just bought kept as the original intends; "
                     "consider one on something that goes with it")
    parts = [p for p in [opener, *kept, *carry, offer_sentence] if p]
    if not offer_sentence and not carry:
        # no voucher: keep the original's concrete sentences (amounts, deadlines) as they are
        parts += [s for s in body_sentences
                  if (amounts(s) or grounding.deadlines(s)) and not has_cta(s)
                  and not HEDGE.search(s) and not CASUAL.search(s) and not FORMAL.search(s)
                  and s not in parts
                  and _grounded(s, msg, segment)]
    # the original's codes and dates survive verbatim, whatever sentence carried them
    have = " ".join(parts)
    missing_dates = [d for d in grounding.offer_dates(message_text(msg))
                     if f" {grounding.anchor(d)} " not in f" {grounding.normalise(have)} "]
    if missing_dates:
        parts.append("Valid " + ", ".join(dict.fromkeys(
            _LOWER_FIRST.sub(lambda m: m.group(1).lower(), d) for d in missing_dates)) + ".")
    missing_codes = [c for c in grounding.codes(message_text(msg))
                     if c not in grounding.codes(" ".join(parts))]
    if missing_codes:
        parts.append("Use code " + " or ".join(missing_codes) + ".")
    body_parts = parts + [cta]
    suffix = " STOP to opt out" if is_sms and "STOP" in original_body else ""
    title = _title(v, msg, offer, segment, limits.get("title")) \
        if msg.get("channel") in ("push", "email", "in_app") else ""
    preheader = ""
    if msg.get("channel") == "email":
        preheader = (f"{offer}{', ' + deadline if deadline else ''}." if offer
                     else str(msg.get("preheader") or ""))
        if offer:
            preheader = preheader[0].upper() + preheader[1:]
        if not _grounded(preheader, msg, segment):
            preheader = offer + "." if offer else ""

    def assemble(ps: list[str]) -> str:
        return prefix + " ".join(ps) + suffix

    body = assemble(body_parts)
    lim = limits.get("body")
    # over the limit: drop kept hook sentences first, then the opener, never the offer or prompt
    droppable = [p for p in body_parts if p in kept] + ([opener] if opener else [])
    while lim and len(body) > lim and droppable:
        body_parts.remove(droppable.pop(0))
        body = assemble(body_parts)
    if lim and len(body) > lim:
        notes.append(f"body still {len(body)} characters over a limit of {lim}")
    pl = limits.get("preheader")
    if pl and len(preheader) > pl:
        preheader = offer if len(offer) <= pl else ""
    return Draft(title, preheader, body, tuple(notes))
