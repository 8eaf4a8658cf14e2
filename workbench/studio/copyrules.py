"""The offline rules engine of the rewrite studio: copy features, intent, diagnosis, rewrite, judge.

With no model configured, all four studio agents run on these rules. They encode the review sheet
of the CRMAgent study (five error types, each with its indicators) and the traits the study found
in top performers: a concrete incentive, a reason to act now, a direct call to action, and a
voice that fits how well the reader knows the merchant. Everything here is deterministic and
pure: the same message, segment and library give the same diagnosis and the same rewrite.

A model backend replaces the wording, never the guarantees: whoever wrote a rewrite, its offer
and numbers are checked by :func:`Intent.missing` and its lengths by :func:`fit_check`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ERROR_TYPES: dict[str, str] = {
    "audience_assumption_error": "Audience assumption error",
    "weak_call_to_action": "Weak call to action",
    "vague_incentive": "Vague incentive",
    "misaligned_tone": "Misaligned tone",
    "irrelevant_offer": "Irrelevant offer",
}

# -- what each audience segment knows of the merchant ------------------------------------------

NEW, FIRST, RETURNING, LOYAL, TRANSACTION = "new", "first", "returning", "loyal", "transaction"


@dataclass(frozen=True)
class SegmentVoice:
    """How to speak to a segment: its relationship with the merchant, an opener, a prompt."""

    relationship: str
    title: str          # {merchant}, {offer}, {product} are filled in
    opener: str         # first sentence of the body; "" for none
    cta: str            # imperative fallback when the library has no fitting CTA atom
    urgency: str = "this week only"
    nudge: str = ""     # closing reason to act when there is no voucher to state


VOICES: dict[str, SegmentVoice] = {
    "potential_new_customers": SegmentVoice(
        NEW, "{offer_title} at {merchant}", "New to {merchant}? Here's a welcome treat.",
        "Order now"),
    "new_buyers": SegmentVoice(
        FIRST, "Thanks for your first order!", "Glad you tried {merchant}.", "Order again now"),
    "lapsing_buyers": SegmentVoice(
        RETURNING, "Your {merchant} favourites are waiting", "", "Reorder now"),
    "abandoned_cart": SegmentVoice(
        TRANSACTION, "Your cart is still waiting", "The items you picked are saved in your cart.",
        "Complete your order now", "today"),
    "unpaid_order": SegmentVoice(
        TRANSACTION, "Your order is waiting for payment",
        "Your order is reserved, but payment has not gone through yet.", "Pay now", "today",
        "It stays reserved until the end of today."),
    "post_purchase": SegmentVoice(
        TRANSACTION, "Thanks for your order!", "We hope you enjoyed your order.", "Order again now"),
    "price_drop": SegmentVoice(
        TRANSACTION, "Price drop on {product}", "Something you looked at is now cheaper.",
        "Buy now", "while stocks last"),
    "active_old_followers": SegmentVoice(
        LOYAL, "Thanks for following {merchant}", "Thanks for sticking with {merchant}.",
        "Order now", "this weekend"),
    "frequent_buyers": SegmentVoice(
        LOYAL, "A thank-you for our regulars", "You order from {merchant} often, so this is for you.",
        "Order now"),
    "new_followers": SegmentVoice(
        NEW, "Thanks for following {merchant}!", "Welcome to {merchant}.", "Order now"),
    "repeat_buyers": SegmentVoice(
        RETURNING, "Good to see you again at {merchant}", "Thanks for coming back to {merchant}.",
        "Reorder now"),
    "lapsed_14_30d": SegmentVoice(RETURNING, "It's been a couple of weeks", "", "Order now"),
    "lapsed_31_90d": SegmentVoice(RETURNING, "A lot is new at {merchant}", "", "Order now"),
    "dormant_90d_plus": SegmentVoice(
        RETURNING, "Come back to {merchant}", "A lot has changed since your last visit.",
        "Order now"),
}
DEFAULT_VOICE = SegmentVoice(RETURNING, "{offer_title} at {merchant}", "", "Order now")


def voice(segment: str | None) -> SegmentVoice:
    return VOICES.get(segment or "", DEFAULT_VOICE)


# -- copy features -------------------------------------------------------------------------------

_AMOUNT = re.compile(r"RM\s?\d[\d,]*(?:\.\d+)?|\d+(?:\.\d+)?\s?%", re.IGNORECASE)
_PAST = re.compile(r"\b(missed you|miss you|welcome back|again|your usual|last (order|basket|visit)"
                   r"|since your last|it's been|old friend|come back)\b", re.IGNORECASE)
_FIRST_FRAMING = re.compile(r"\b(for the first time|first time at|first haul|new customers?( get)?"
                            r"|new to|welcome!)", re.IGNORECASE)
_FIRST_OFFER = re.compile(r"\bfirst[- ](time )?order\b|\bfirst-time\b", re.IGNORECASE)
_FORMAL = re.compile(r"\b(pursuant|hereby|entitled|be advised|notification|notice of|sku"
                     r"|with immediate effect|subject to terms|revised|subsequent)\b", re.IGNORECASE)
_CASUAL = re.compile(r"\b(lol|whatever|literally|or don't|if you want|lmao)\b|😂|🤣", re.IGNORECASE)
_VAGUE = re.compile(r"\b(great deals?|special rewards?|nice surprise|amazing savings|something "
                    r"special|exclusive perks|special offers?|a deal|surprise)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(if you feel like it|maybe|when you're free|sometime|one of these days"
                    r"|we hope you have|have a look|hope to see you)\b", re.IGNORECASE)
_DEADLINE = re.compile(r"\b(today|tonight|this week(end)?|until|ends?|only|before|by \d|within"
                       r"|hours?|midnight|sunday|saturday|friday|limited|while stocks last|expires"
                       r"|this month|all month|in the next|days|limit|per order|left)\b", re.IGNORECASE)
_CTA_VERBS = ("order", "shop", "tap", "buy", "reorder", "pay", "check out", "complete", "claim",
              "grab", "restock", "start", "book", "rate", "finish", "open", "get", "try",
              "fill", "treat", "see", "purchase", "discover", "enjoy")
_FREE = re.compile(r"(?<!you're )(?<!you are )(?<!feel )\bfree\b|on the house|on us\b",
                   re.IGNORECASE)
_PARTNER = re.compile(r"\bpartner\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"off", "min", "spend", "order", "orders", "first", "next", "second", "on", "up", "to",
         "rm", "with", "any", "at", "the", "a", "of", "for", "all", "month", "if", "paid",
         "today", "now", "was", "over", "your", "free", "delivery", "store", "partner", "price",
         "drop", "in", "and", "get", "buy"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def amounts(text: str) -> list[str]:
    """Money amounts and percentages, normalised: ``RM 3`` and ``rm3`` are both ``RM3``."""
    out = []
    for m in _AMOUNT.findall(text or ""):
        norm = re.sub(r"\s+", "", m).upper().replace(",", "")
        if norm not in out:
            out.append(norm)
    return out


def mentions_free(text: str) -> bool:
    """Does the text promise something free ("free delivery", "on the house", "on us")?"""
    return bool(_FREE.search(text or ""))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split((text or "").strip()) if s.strip()]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall((text or "").lower())}


def has_cta(text: str) -> bool:
    """Does the copy end on an imperative (in its last two sentences)?"""
    tail = " ".join(sentences(text)[-2:]).lower()
    return any(re.search(rf"(^|[.!?]\s*){re.escape(v)}\b", tail) for v in _CTA_VERBS)


def message_text(msg: Mapping[str, Any]) -> str:
    return " ".join(str(msg.get(f) or "") for f in ("title", "preheader", "body")).strip()


@dataclass(frozen=True)
class Features:
    """What a reader notices in a message; the diagnosis and the rules judge read these."""

    amounts: tuple[str, ...]
    concrete_incentive: bool
    deadline: bool
    cta: bool
    hedge: bool
    vague: bool
    formal: bool
    casual: bool
    past_reference: bool
    first_framing: bool
    first_offer: bool
    partner_offer: bool
    product_named: bool
    length: int

    @classmethod
    def of(cls, msg: Mapping[str, Any]) -> Features:
        text = message_text(msg)
        found = amounts(text)
        product = product_terms(str(msg.get("voucher") or ""))
        return cls(
            amounts=tuple(found),
            concrete_incentive=bool(found) or bool(_FREE.search(text)),
            deadline=bool(_DEADLINE.search(text)),
            cta=has_cta(str(msg.get("body") or "")),
            hedge=bool(_HEDGE.search(text)),
            vague=bool(_VAGUE.search(text)),
            formal=bool(_FORMAL.search(text)),
            casual=bool(_CASUAL.search(text)),
            past_reference=bool(_PAST.search(text)),
            first_framing=bool(_FIRST_FRAMING.search(text)),
            first_offer=bool(_FIRST_OFFER.search(text)),
            partner_offer=bool(_PARTNER.search(text + " " + str(msg.get("voucher") or ""))),
            product_named=bool(product) and product <= words(text),
            length=len(text),
        )


# -- intent: what a rewrite must keep --------------------------------------------------------------

def product_terms(voucher: str) -> set[str]:
    """The product words of a voucher ("25% off Australian grapes" -> {australian, grape})."""
    return {w for w in words(re.sub(_AMOUNT, " ", voucher)) if w not in _STOP and not w.isdigit()
            and len(w) > 2}


def product_phrase(voucher: str) -> str:
    """The product of a voucher in its own words: "25% off Australian grapes" -> "Australian
    grapes"; "" when the voucher names no product."""
    keep = [w for w in re.sub(_AMOUNT, " ", voucher).split()
            if _stem(re.sub(r"[^a-z0-9]", "", w.lower())) not in _STOP and not w.isdigit()
            and len(re.sub(r"[^A-Za-z]", "", w)) > 2]
    return " ".join(keep)


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
        product = product_terms(voucher) & (words(text) | product_terms(voucher))
        return cls(tuple(found), bool(_FREE.search(voucher)) or bool(_FREE.search(text)),
                   tuple(sorted(product)))

    def missing(self, rewrite: Mapping[str, Any] | str) -> list[str]:
        """What the rewrite dropped, in words a marketer reads; empty when the intent survives."""
        text = rewrite if isinstance(rewrite, str) else message_text(rewrite)
        kept = amounts(text)
        out = [f"the amount {a}" for a in self.amounts if a not in kept]
        if self.free and not _FREE.search(text):
            out.append("the free perk")
        have = words(text)
        out += [f"the product word '{p}'" for p in self.product if p not in have]
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


# -- diagnosis -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    error_type: str
    reason: str


def findings(msg: Mapping[str, Any], segment: str | None) -> list[Finding]:
    """Every error-type indicator the message shows, strongest first."""
    f = Features.of(msg)
    rel = voice(segment).relationship
    name = segment or "this segment"
    out: list[Finding] = []
    if rel in (NEW,) and f.past_reference:
        out.append(Finding("audience_assumption_error",
                           f"Speaks to {name} as if they had ordered before ('missed you', "
                           "'your usual', 'welcome back'), but they have no history with the "
                           "merchant."))
    if rel in (RETURNING, LOYAL) and f.first_framing:
        out.append(Finding("audience_assumption_error",
                           f"Greets {name} as first-time visitors, although most of them have "
                           "ordered before."))
    if rel in (RETURNING, LOYAL) and f.first_offer and not f.first_framing:
        out.append(Finding("irrelevant_offer",
                           f"Offers a first-order deal to {name}, who already order and "
                           "cannot use it."))
    if f.partner_offer:
        out.append(Finding("irrelevant_offer",
                           "Promotes a partner store's product that does not fit the merchant "
                           "or what the reader just did."))
    if f.formal:
        out.append(Finding("misaligned_tone",
                           "Reads like a legal or system notice; the stiff voice keeps the "
                           "reader at a distance."))
    if f.casual:
        out.append(Finding("misaligned_tone",
                           "Jokey, dismissive voice that does not fit the moment or the "
                           "relationship."))
    if f.vague and not f.amounts and not _FREE.search(message_text(msg)):
        out.append(Finding("vague_incentive",
                           "Hints at a deal ('special', 'great deals', 'surprise') without "
                           f"saying what it is, although the voucher is concrete: "
                           f"{msg.get('voucher') or 'see the voucher'}."))
    elif not f.concrete_incentive and msg.get("voucher"):
        out.append(Finding("vague_incentive",
                           f"Never states the incentive ({msg.get('voucher')})."))
    if f.hedge:
        out.append(Finding("weak_call_to_action",
                           "Ends on a hedge ('maybe', 'sometime', 'if you feel like it') "
                           "instead of a clear prompt."))
    elif not f.cta:
        out.append(Finding("weak_call_to_action",
                           "Stops without telling the reader what to do next."))
    if f.cta and not f.deadline and not any(x.error_type == "weak_call_to_action" for x in out):
        out.append(Finding("weak_call_to_action",
                           "Has a prompt but no reason to act now (no deadline or limit)."))
    return out


@dataclass(frozen=True)
class Contrast:
    """What the segment's strong messages do that its weak ones do not (ContentAgent)."""

    strong: int
    weak: int
    reasons: tuple[str, ...]


_TRAITS = {
    "concrete_incentive": "state the incentive in numbers or as a named free perk",
    "deadline": "give a deadline or limit that makes acting now worth it",
    "cta": "end on a direct call to action",
    "product_named": "name the product or item the offer is on",
}


def contrast(strong: Sequence[Mapping[str, Any]], weak: Sequence[Mapping[str, Any]]
             ) -> Contrast:
    """Actionable differences between strong and weak messages of one segment."""
    reasons = []
    fs = [Features.of(m) for m in strong]
    fw = [Features.of(m) for m in weak]
    if fs and fw:
        for trait, words_ in _TRAITS.items():
            s = sum(getattr(f, trait) for f in fs)
            w = sum(getattr(f, trait) for f in fw)
            if s / len(fs) - w / len(fw) >= 0.25:
                reasons.append(f"{s} of {len(fs)} strong messages {words_}; only {w} of "
                               f"{len(fw)} weak ones do.")
        bad = {"hedge": "hedge their ending", "vague": "hint at a deal without stating it",
               "formal": "use a stiff, formal voice", "casual": "use a jokey or dismissive voice",
               "past_reference": "assume a past the reader may not have",
               "first_framing": "treat returning readers as first-timers"}
        for trait, words_ in bad.items():
            w = sum(getattr(f, trait) for f in fw)
            s = sum(getattr(f, trait) for f in fs)
            if w and w / len(fw) > s / len(fs):
                reasons.append(f"{w} of {len(fw)} weak messages {words_}; "
                               f"{s} of {len(fs)} strong ones do.")
        ls = sum(f.length for f in fs) / len(fs)
        lw = sum(f.length for f in fw) / len(fw)
        if lw > 1.3 * ls:
            reasons.append(f"Weak messages run longer ({lw:.0f} vs {ls:.0f} characters).")
    return Contrast(len(fs), len(fw), tuple(reasons))


def diagnose(msg: Mapping[str, Any], segment: str | None,
             strong: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One error type with a short reason, plus every other indicator found.

    When no indicator fires the message is weak only relative to its segment; the error type is
    then the trait the strong messages have and this one lacks, falling back to a weak call to
    action, the most common error in the study.
    """
    found = findings(msg, segment)
    if found:
        primary = found[0]
    else:
        f = Features.of(msg)
        fs = [Features.of(m) for m in strong]
        share = {t: (sum(getattr(x, t) for x in fs) / len(fs) if fs else 0.0) for t in _TRAITS}
        if not f.concrete_incentive and share["concrete_incentive"] >= 0.5:
            primary = Finding("vague_incentive", "Strong messages here state the incentive; "
                              "this one does not.")
        else:
            primary = Finding("weak_call_to_action",
                              "No single flaw stands out, but it lacks the urgency and direct "
                              "prompt of the segment's strong messages.")
        found = [primary]
    return {"error_type": primary.error_type, "reason": primary.reason,
            "findings": [{"error_type": x.error_type, "reason": x.reason} for x in found]}


# -- rewrite -------------------------------------------------------------------------------------

def offer_phrase(voucher: str, segment: str | None = None) -> str:
    """The voucher as a reader-facing phrase: "RM3 off min spend RM15" -> "RM3 off orders over
    RM15". First-order vouchers stay first-order for new readers and become "your next order"
    for readers who already order (the irrelevant-offer fix; the amounts never change)."""
    v = voucher.strip()
    if not v:
        return ""
    m = re.match(r"price drop (RM[\d.,]+) to (RM[\d.,]+)", v, re.IGNORECASE)
    if m:
        return f"now {m.group(2)}, down from {m.group(1)}"
    rel = voice(segment).relationship
    v = re.sub(r"\bmin(imum)?( spend)? (RM[\d.,]+)", r"over \3", v, flags=re.IGNORECASE)
    v = re.sub(r"\bup to (RM[\d.,]+)", r"(up to \1)", v, flags=re.IGNORECASE)
    if rel in (RETURNING, LOYAL):
        v = re.sub(r"\b(a )?first[- ](time )?order\b", "your next order", v, flags=re.IGNORECASE)
    v = re.sub(r"\b(first|next|second) order\b", r"your \1 order", v, flags=re.IGNORECASE)
    v = re.sub(r"\byour your\b", "your", v)
    v = re.sub(r"\bat partner store\b", "at our partner store", v, flags=re.IGNORECASE)
    if re.match(r"^(RM[\d.,]+|\d+%) off (over|min)", v):
        v = v.replace(" off over", " off orders over", 1)
    return v[0].upper() + v[1:] if v[0].isalpha() and v[0].islower() else v


def _deadline_phrase(msg: Mapping[str, Any], exemplars: Sequence[Mapping[str, Any]],
                     fallback: str) -> str:
    """The original's own deadline first (it is part of the offer), then an exemplar's."""
    m = _STRONG_DEADLINE.search(message_text(msg))
    if m:
        return m.group(1).lower()
    for s in sentences(message_text(msg)):  # "this week" counts only where it dates the offer
        m = _SOFT_DEADLINE.search(s)
        if m and (amounts(s) or _FREE.search(s) or has_cta(s)):
            d = m.group(1).lower()
            return d if d.endswith("only") or d == "this weekend" else d + " only"
    for ex in exemplars:
        m = re.search(r"\b(this week only|this weekend|until \w+|today|tonight|this week)\b",
                      message_text(ex), re.IGNORECASE)
        if m:
            return m.group(1).lower()
    return fallback


def _cta_phrase(exemplars: Sequence[Mapping[str, Any]], atoms: Sequence[Mapping[str, Any]],
                msg: Mapping[str, Any], segment: str | None) -> tuple[str, str]:
    """The closing prompt and where it came from: an exemplar's last imperative, a CTA atom of
    the library that fits the segment and category, or the segment's default."""
    for ex in exemplars:
        last = (sentences(str(ex.get("body") or "")) or [""])[-1]
        if last.upper().startswith("STOP"):
            last = (sentences(str(ex.get("body") or "")) or ["", ""])[-2]
        if has_cta(last) and len(last) <= 40:
            return last.rstrip(".!") + ".", f"exemplar #{ex.get('id')}"
    category = str(msg.get("product_category") or "")
    wanted = {"abandoned_cart": "cart", "unpaid_order": "pay", "lapsing_buyers": "reorder",
              "repeat_buyers": "reorder", "frequent_buyers": "order"}.get(segment or "", "order")
    fits = [a for a in atoms if a.get("kind") == "cta" and a.get("status", "active") == "active"
            and (a.get("segment") in (None, "", segment))
            and (a.get("product_category") in ("", "any", category))]
    fits.sort(key=lambda a: (wanted not in str(a.get("tags") or ""),
                             a.get("segment") != segment, a.get("id") or 0))
    if _PARTNER.search(str(msg.get("voucher") or "") + " " + str(msg.get("body") or "")):
        return "Shop the partner offer now.", "partner offer"
    if fits and (wanted in str(fits[0].get("tags") or "") or segment != "unpaid_order"):
        text = str(fits[0]["text"]).rstrip(".!")
        short = len(text.split()) <= 2 and not text.lower().endswith("now")
        return text + (" now." if short else "."), f"atom #{fits[0].get('id')}"
    return voice(segment).cta + ".", "segment default"


def _keep_sentence(s: str, segment: str | None) -> bool:
    """Sentences of the original worth keeping: product hooks, free of every flagged trait."""
    rel = voice(segment).relationship
    if _HEDGE.search(s) or _VAGUE.search(s) or _FORMAL.search(s) or _CASUAL.search(s):
        return False
    if rel == NEW and _PAST.search(s):
        return False
    if rel in (RETURNING, LOYAL) and (_FIRST_FRAMING.search(s) or _FIRST_OFFER.search(s)):
        return False
    if amounts(s) or _FREE.search(s) or has_cta(s) or s.upper().startswith("STOP"):
        return False  # the offer, the prompt and the opt-out are rebuilt
    if re.search(r"\b(thanks|thank you|welcome|hello|hi)\b", s, re.IGNORECASE):
        return False  # the segment's opener replaces greetings
    if re.search(r"\b(them|those|these)\b", s, re.IGNORECASE):
        return False  # points back at something the rewrite drops
    return len(s) > 12


_STRONG_DEADLINE = re.compile(
    r"\b(until (?:midnight tonight|midnight|\w+)|tonight|within \d+ hours?|in the next \d+ hours?"
    r"|by \d{1,2}(?:am|pm)(?: tonight| today)?|before \d{1,2}(?:am|pm)|for the next \d+ days)\b",
    re.IGNORECASE)
_SOFT_DEADLINE = re.compile(r"\b(this week(?:end)?(?: only)?|today)\b", re.IGNORECASE)


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
    short = re.split(r"\s+(?:on|orders|over)\b", offer)[0] if offer else "A treat"
    return template.format(merchant=merchant, offer_title=short, product=product)


def rewrite(msg: Mapping[str, Any], segment: str | None, diagnosis: Mapping[str, Any],
            exemplars: Sequence[Mapping[str, Any]] = (), atoms: Sequence[Mapping[str, Any]] = (),
            limits: Mapping[str, int | None] | None = None) -> Draft:
    """A rules rewrite that fixes every finding: the segment's opener replaces wrong-relationship
    framing and stiff or jokey voices, the voucher is stated in full, a deadline and a direct
    prompt close the message. Exemplars (in-group or retrieved) lend their deadline and closing
    prompt; without them the library's CTA atoms and the segment's defaults do."""
    v = voice(segment)
    limits = limits or {}
    voucher = str(msg.get("voucher") or "")
    offer = offer_phrase(voucher, segment)
    original_body = str(msg.get("body") or "")
    is_sms = msg.get("channel") == "sms"
    prefix = ""
    if is_sms:
        m = re.match(r"^([^:!?.]{2,40}):\s", original_body)
        prefix = (m.group(1) if m else str(msg.get("merchant") or "")) + ": "
    notes = []
    kept = [s for s in sentences(original_body) if _keep_sentence(s, segment)]
    if prefix:
        kept = [s.removeprefix(prefix) for s in kept]
    # every amount of the original must survive: offers without a voucher row keep their sentence
    carry = [s for s in sentences(original_body)
             if amounts(s) and not set(amounts(s)) <= set(amounts(offer))
             and not s.upper().startswith("STOP")]
    deadline = _deadline_phrase(msg, exemplars, v.urgency)
    cta, cta_from = _cta_phrase(exemplars, atoms, msg, segment)
    notes.append(f"closing prompt from {cta_from}")
    # the merchant's own specific hooks beat the segment's generic opener
    opener = _fill(v.opener, msg, offer) if v.opener and not kept else ""
    offer_sentence = ""
    if offer:
        has_time = bool(_DEADLINE.search(offer))
        has_time = has_time or deadline.split()[0] in cta.lower()
        offer_sentence = f"{offer}{'' if has_time else ', ' + deadline}."
        offer_sentence = offer_sentence[0].upper() + offer_sentence[1:]
    if any(_FIRST_OFFER.search(voucher) for _ in [0]) and v.relationship in (RETURNING, LOYAL):
        notes.append("first-order voucher reframed for readers who already order: check the "
                     "voucher's terms allow it")
    if _PARTNER.search(voucher + " " + original_body):
        notes.append("partner offer kept as the original intends; consider an offer from the "
                     "merchant itself")
    parts = [p for p in [opener, *kept, *carry, offer_sentence] if p]
    if not offer_sentence and not carry:
        # no voucher: keep the original's concrete sentences (amounts, deadlines) as they are
        parts += [s for s in sentences(original_body)
                  if (amounts(s) or _DEADLINE.search(s)) and not has_cta(s)
                  and not _HEDGE.search(s) and not _CASUAL.search(s) and s not in parts]
    if not offer_sentence and v.nudge and not any(_DEADLINE.search(p) for p in parts):
        parts.append(v.nudge)
    body_parts = parts + [cta]
    suffix = " STOP to opt out" if is_sms and "STOP" in original_body else ""
    title = _fill(v.title, msg, offer) if msg.get("channel") in ("push", "email", "in_app") \
        else ""
    preheader = ""
    if msg.get("channel") == "email":
        preheader = (f"{offer} {deadline}." if offer else str(msg.get("preheader") or ""))
        if offer:
            preheader = preheader[0].upper() + preheader[1:]

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
    tl = limits.get("title")
    if tl and len(title) > tl:
        title = _fill("{offer_title} at {merchant}", msg, offer)
        if len(title) > tl:
            title = title[: tl - 1].rstrip() + "…"
    pl = limits.get("preheader")
    if pl and len(preheader) > pl:
        preheader = preheader[: pl - 1].rstrip() + "…"
    return Draft(title, preheader, body, tuple(notes))


# -- judge ---------------------------------------------------------------------------------------

def score(msg: Mapping[str, Any], segment: str | None) -> dict[str, Any]:
    """Audience match and marketing effectiveness on the study's 1/3/5 scale, with reasons."""
    f = Features.of(msg)
    found = {x.error_type for x in findings(msg, segment)}
    if found & {"audience_assumption_error", "irrelevant_offer"}:
        aud, aud_why = 1, "Assumes a relationship or offers something this audience cannot use."
    elif "misaligned_tone" in found:
        aud, aud_why = 3, "Right audience, but the voice does not fit the relationship."
    else:
        aud, aud_why = 5, "Speaks to the audience as they are, with an offer they can use."
    no_voucher = "voucher" in msg and not msg.get("voucher")
    traits = [f.concrete_incentive or (no_voucher and f.deadline), f.deadline, f.cta and not f.hedge, not f.vague or bool(
        f.amounts)]
    n = sum(traits)
    mkt = 5 if n == 4 else 3 if n >= 2 else 1
    if "misaligned_tone" in found:
        mkt = min(mkt, 3)
    missing = [w for w, ok in zip(("a concrete incentive", "a reason to act now",
                                   "a direct prompt", "specific wording"), traits) if not ok]
    mkt_why = ("Clear incentive, urgency and prompt." if not missing
               else "Lacks " + ", ".join(missing) + ".")
    return {"audience_score": aud, "audience_reason": aud_why,
            "marketing_score": mkt, "marketing_reason": mkt_why}


def compare(a: Mapping[str, Any], b: Mapping[str, Any], segment: str | None) -> dict[str, str]:
    """Blind pairwise choice: the higher total score wins, equal totals are a tie."""
    sa, sb = score(a, segment), score(b, segment)
    ta = sa["audience_score"] + sa["marketing_score"]
    tb = sb["audience_score"] + sb["marketing_score"]
    if ta == tb:
        return {"choice": "tie", "reason": "Both messages score the same on audience and "
                "marketing."}
    win, lose = ("A", sb) if ta > tb else ("B", sa)
    return {"choice": win, "reason": f"Message {win} scores higher; the other: "
            f"{lose['audience_reason']} {lose['marketing_reason']}"}

