"""Diagnosis: which of the CRMAgent study's five error types a weak message shows, and why.

Each error type collects evidence from cues that follow the study's review sheet (indicators of
an audience assumption, a weak call to action, a vague incentive, a misaligned tone, an
irrelevant offer); every cue adds a weight. Types are ranked by their evidence: the top one is
the diagnosis, the others are secondary findings. Relationship cues come from the grounding
check's relationship statements read against the segment's definition, so "what this segment
may be told" has one home (``seed/segment_voices.csv``).

Kept apart from the judge on purpose: the judge must not grade a rewrite with the rules that
chose what to fix. The rules were tuned on the tuning part of ``dataset`` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.studio import claimwords as cw
from workbench.studio import grounding
from workbench.studio.perkwords import perk_spans
from workbench.studio.voices import FIRST, LOYAL, NEW, RETURNING, TRANSACTION, voice

ERROR_TYPES: dict[str, str] = {
    "audience_assumption_error": "Audience assumption error",
    "weak_call_to_action": "Weak call to action",
    "vague_incentive": "Vague incentive",
    "misaligned_tone": "Misaligned tone",
    "irrelevant_offer": "Irrelevant offer",
}
# severity, used only to break exact ties: telling a reader something untrue about their
# relationship or offering what they cannot use is worse than being vague, off-key or dull
_PRIOR = ("audience_assumption_error", "irrelevant_offer", "vague_incentive", "misaligned_tone",
          "weak_call_to_action")
SECONDARY_MIN = 1.5


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts), re.IGNORECASE)


# greeting someone as new (an audience assumption when they are not)
NEW_FRAMING = _rx(r"\bfirst time (?:at|here|with)\b", r"\bnew here\b", r"\bnew to\b",
                  r"\bnice to meet\b", r"\bjust found us\b", r"\bnever (?:tried|ordered)",
                  r"\bintroduce ourselves\b", r"\bsay hello to\b", r"^meet\b", r"\bmeet \w+ for",
                  r"\bdiscover \S+(?: \S+)? for the first time\b", r"\btry us for the first",
                  r"\bwelcome to\b", r"\bfor the first time\b", r"\byou'?ve never\b")
# an offer only first-time customers can use (irrelevant for people who already order)
FIRST_OFFER = _rx(r"\bfirst[- ](?:time |ever )?(?:order|purchase|buy|bake)",
                  r"\bfirst[- ]time (?:buyers?|customers?|order)", r"\bfirst-timers?\b",
                  r"\bfirst-ever\b", r"\bsign[- ]?ups?\b", r"\bwelcome (?:offer|voucher|deal)",
                  r"\bintro(?:ductory)? (?:deal|offer)\b", r"\bnew customer offer\b",
                  r"\bnew (?:account|customer)s? (?:get|are)\b")
PARTNER = _rx(r"\bpartner(?:'s)?\b", r"\bthird[- ]party\b")
SAME_ITEM = _rx(r"\b(?:another|second) (?:pair|identical|one)\b", r"\bthe same\b",
                r"\bidentical\b")
UNRELATED = _rx(r"\binsurance\b", r"\bloans?\b", r"\btyres?\b", r"\bcar wash\b",
                r"\bair fryers?\b", r"\bsmartwatch", r"\bphone cases?\b", r"\bsofas?\b",
                r"\bkitchenware\b", r"\bmeal kits?\b", r"\bcredit card\b")
FORMAL = _rx(r"\bpursuant\b", r"\bhereby\b", r"\bbe advised\b", r"\bkindly\b",
             r"\bplease be informed\b", r"\bnotif(?:y|ication)\b", r"\badvisory\b",
             r"\baccount holders?\b", r"\beligible\b", r"\bentitled\b", r"\bapplicable\b",
             r"\bexceeding\b", r"\bsubsequent\b", r"\bremit\b", r"\bfailure to\b",
             r"\btransaction(?:al)?\b", r"\bdeduction\b", r"\brevis(?:ed|ion)\b",
             r"\bamended\b", r"\brepriced\b", r"\beffective immediately\b",
             r"\bwith immediate effect\b", r"\bterms and conditions\b", r"\bsubject to terms\b",
             r"\bthis communication\b", r"\bformally\b", r"\bvalued (?:customer|account)",
             r"\bstatement of\b", r"\bthreshold\b", r"\bcomplimentary\b", r"\bqualify\b",
             r"\bregistered\b", r"\bhas identified\b", r"\bdetected\b", r"\bnotice\b",
             r"\backnowledgement\b", r"\bprogramme\b", r"\bexhibited\b", r"\bsku\b",
             r"\bunit price\b", r"\bpurchase via\b", r"\bdear\b", r"\bwe wish to\b",
             r"\bplease note\b", r"\bregarding\b", r"\bimportant (?:notice|notification)\b",
             r"\bserves to inform\b", r"\bdormant account\b", r"\binitial\b")
CASUAL = _rx(r"\blol\b", r"\blmao\b", r"\bomg\b", r"\bu\b", r"\bur\b", r"\bsrsly\b",
             r"\byo\b", r"\bsup\b", r"\blah\b", r"\bbestie\b", r"\bbabe\b", r"\bno cap\b",
             r"\bthx\b", r"\b4 the\b", r"\bwhatever\b", r"\bhaha\b", r"\bsooo+\b",
             r"\bliterally\b", r"\bor don'?t\b", r"\bgonna\b", r"\bwanna\b", r"\btil\b",
             r"\bur\b", r"\bdude\b", r"\bfine,")
EMOTIONAL = _rx(r"\bwe love you\b", r"\blove you so\b", r"\byou'?re family\b",
                r"\bso close to you\b", r"\bhurt\b", r"\brude\b", r"\bignoring us\b",
                r"\bghosted\b", r"\bhow dare\b", r"\bdon'?t you dare\b", r"\bmissed u\b",
                r"\byou look great\b", r"\bbest human\b", r"\bfrankly\b", r"\bseriously\?",
                r"\bwhy haven'?t you\b", r"\bare you ignoring\b", r"\bagain\?\?",
                r"\bfinal warning\b", r"\bfeel so close\b", r"\byou again\?")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
VAGUE = _rx(r"\bspecial\b", r"\bsurprise\b", r"\brewards?\b", r"\bbonus\b", r"\bgift\b",
            r"\bperks?\b", r"\bdeals?\b", r"\bsavings?\b", r"\boffers?\b", r"\bdiscount\b",
            r"\bsomething (?:special|nice|good|sooo good)\b", r"\bmystery\b", r"\bexciting\b",
            r"\bamazing\b", r"\bgreat prices\b", r"\bbig savings\b", r"\bextra value\b",
            r"\bsave more\b", r"\bworth your while\b", r"\bcosts? less\b",
            r"\bmore affordable\b", r"\bspecial pricing\b", r"\bless than before\b",
            r"\ba treat\b", r"\ba little something\b", r"\bsomething\b", r"\bgot u something\b")
HEDGE = _rx(r"\bmaybe\b", r"\bsometime\b", r"\bwhenever\b", r"\bif you (?:want|like|ever)\b",
            r"\bif u want\b", r"\bno rush\b", r"\bup to you\b", r"\bjust so you know\b",
            r"\binfo only\b", r"\bwe'?ll be here\b", r"\bperhaps\b", r"\blater\?",
            r"\bone day\b", r"\bthought you might\b", r"\bsomething to think about\b",
            r"\bfeel free\b", r"\btake care\b", r"\bhave a (?:great|lovely|good|green)\b",
            r"\bhope you have\b", r"\blet us know\b", r"\bsee you around\b",
            r"\bwhen you'?re (?:free|ready)\b", r"\bone of these days\b", r"\bhave a look\b",
            r"\bwe'?d love to hear\b")
CTA_VERBS = ("order", "shop", "tap", "buy", "reorder", "pay", "check out", "complete", "claim",
             "grab", "restock", "start", "book", "rate", "finish", "open", "get", "try", "apply",
             "fill", "treat", "see", "purchase", "discover", "enjoy", "remit", "browse", "use",
             "pick", "add", "come")
_BUNDLE = re.compile(r"\bbuy \d|\b\d+ for \d", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split((text or "").strip()) if s.strip()]


def has_cta(body: str) -> bool:
    """Does the copy end on an imperative (one of its last two sentences starts with one)?"""
    tail = [s.lower() for s in _sentences(body)[-2:]]
    return any(re.match(rf"{re.escape(v)}\b(?! you\b)", s) for s in tail for v in CTA_VERBS)


def concrete(text: str) -> bool:
    """States an incentive a reader can check: an amount, a percentage, a free perk, a bundle."""
    return bool(cw.amounts(text) or _BUNDLE.search(text or "")
                or perk_spans(text, nouns=False))


def _text(msg: Mapping[str, Any]) -> str:
    return " ".join(str(msg.get(f) or "") for f in ("title", "preheader", "body")).strip()


@dataclass(frozen=True)
class Finding:
    """One error type with the evidence for it (a sum of cue weights) and a reason."""

    error_type: str
    evidence: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"error_type": self.error_type, "evidence": round(self.evidence, 2),
                "reason": self.reason}


class _Evidence:
    def __init__(self) -> None:
        self.score: dict[str, float] = {t: 0.0 for t in ERROR_TYPES}
        self.why: dict[str, list[str]] = {t: [] for t in ERROR_TYPES}

    def add(self, error_type: str, weight: float, why: str) -> None:
        self.score[error_type] += weight
        if why not in self.why[error_type]:
            self.why[error_type].append(why)


def _hits(pattern: re.Pattern[str], text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).lower() for m in pattern.finditer(text)))


def findings(msg: Mapping[str, Any], segment: str | None) -> list[Finding]:
    """Every error type with any evidence, strongest first."""
    text = _text(msg)
    body = str(msg.get("body") or "")
    voucher = str(msg.get("voucher") or "")
    v = voice(segment)
    name = segment or "this segment"
    ev = _Evidence()
    already_orders = v.relationship in (RETURNING, LOYAL, FIRST)

    # -- audience assumption: a history the reader does not have ------------------------------
    offer_sentences = [s for s in _sentences(text) if FIRST_OFFER.search(s)]
    if v.known:
        for kind, phrase in grounding.relationship_claims(text):
            if kind in v.may_say:
                continue
            if kind == "new_customer" and any(phrase in s for s in offer_sentences):
                continue  # a first-order offer: judged below as an offer
            weight = 3.5 if kind in ("lapsed", "returning", "regular", "new_customer") else 2.5
            ev.add("audience_assumption_error", weight,
                   f"Says '{phrase}' to {name}, whose definition does not support it.")
    if already_orders or v.relationship == TRANSACTION:
        for phrase in _hits(NEW_FRAMING, text):
            if v.known and "new_customer" in v.may_say:
                break
            ev.add("audience_assumption_error", 3.0,
                   f"Greets {name} as newcomers ('{phrase}'), though they know the merchant.")
    if v.relationship == NEW and re.search(r"\b(?:since the beginning|for years|your last "
                                           r"(?:order|haul)|last time)\b", text, re.I):
        ev.add("audience_assumption_error", 3.0,
               f"Refers to a past with the merchant that {name} do not have.")

    # -- irrelevant offer: an offer that does not fit the reader's status or behaviour ---------
    if already_orders:
        for sentence in _sentences(text):  # the copy: a rewrite may reframe the voucher
            m = FIRST_OFFER.search(sentence)
            if m and re.search(r"\boff\b|RM\d|\d%|\bfree\b|\bdeal|\bvoucher|\bdiscount|\bbonus",
                               sentence, re.I):
                ev.add("irrelevant_offer", 3.5, f"Offers a first-order deal ('{m.group(0)}') "
                       f"to {name}, who already order.")
                break
    if PARTNER.search(text + " " + voucher):
        ev.add("irrelevant_offer", 3.5, "Promotes another business's product (a partner "
               "offer) that has nothing to do with the merchant or what the reader did.")
    if UNRELATED.search(voucher) and not grounding.category_terms(voucher) or (
            UNRELATED.search(text) and not UNRELATED.search(str(msg.get("merchant") or ""))):
        ev.add("irrelevant_offer", 1.5, "The offer is for a product outside the merchant's "
               "category.")
    if segment == "post_purchase" and SAME_ITEM.search(text + " " + voucher):
        ev.add("irrelevant_offer", 3.0, "Offers another of the item the reader just bought.")

    # -- misaligned tone -------------------------------------------------------------------
    tone = 0.0
    formal = _hits(FORMAL, text)
    if formal:
        tone += min(3.5, 2.0 + 0.5 * (len(formal) - 1))
        ev.why["misaligned_tone"].append(
            f"Stiff, legal or system wording ({', '.join(formal[:3])}) keeps the reader at a "
            "distance.")
    casual = _hits(CASUAL, text) + (["emoji"] if len(EMOJI.findall(text)) >= 2 else [])
    if casual:
        tone += min(3.5, 2.0 + 0.5 * (len(casual) - 1))
        ev.why["misaligned_tone"].append("Slangy, jokey voice that does not fit the "
                                         "relationship.")
    emotional = _hits(EMOTIONAL, text)
    if emotional:
        tone += min(3.5, 2.5 + 0.5 * (len(emotional) - 1))
        ev.why["misaligned_tone"].append(f"Claims a closeness or a grievance the relationship "
                                         f"does not support ('{emotional[0]}').")
    letters = [c for c in body if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        tone += 3.0
        ev.why["misaligned_tone"].append("Shouts in capitals.")
    if body.count("!!") or body.count("??"):
        tone += 0.5
    # a voice is off or it is not: many slang words do not make tone the main problem
    ev.score["misaligned_tone"] = min(tone, 4.5) if ev.why["misaligned_tone"] else 0.0

    # -- vague incentive -------------------------------------------------------------------
    if not concrete(text):
        vague = _hits(VAGUE, text)
        if concrete(voucher):
            ev.add("vague_incentive", 2.5 + 0.5 * min(len(vague), 3),
                   f"Never says what the incentive is, although the voucher is concrete: "
                   f"{voucher}.")
        elif vague:
            ev.add("vague_incentive", 1.0 * min(len(vague), 3),
                   f"Hints at a deal ('{vague[0]}') without saying what it is.")

    # -- weak call to action ---------------------------------------------------------------
    hedges = _hits(HEDGE, " ".join(_sentences(body)[-2:]))
    if hedges:
        ev.add("weak_call_to_action", 2.0 + 0.5 * min(len(hedges) - 1, 1),
               f"Ends on a hedge ('{hedges[0]}') instead of a clear prompt.")
    if not has_cta(body):
        ev.add("weak_call_to_action", 2.5, "Stops without telling the reader what to do next.")

    ranked = sorted((t for t in ERROR_TYPES if ev.score[t] > 0),
                    key=lambda t: (-ev.score[t], _PRIOR.index(t)))
    return [Finding(t, ev.score[t], " ".join(ev.why[t])) for t in ranked]


@dataclass(frozen=True)
class Contrast:
    """What the segment's strong messages do that its weak ones do not (ContentAgent)."""

    strong: int
    weak: int
    reasons: tuple[str, ...]


_TRAITS = {
    "concrete": "state the incentive in numbers or as a named free perk",
    "cta": "end on a direct call to action",
    "hedge": "hedge their ending",
    "formal": "use a stiff, formal voice",
    "casual": "use a jokey or slangy voice",
}


def _traits(msg: Mapping[str, Any]) -> dict[str, bool]:
    text, body = _text(msg), str(msg.get("body") or "")
    return {"concrete": concrete(text), "cta": has_cta(body),
            "hedge": bool(HEDGE.search(body)), "formal": bool(FORMAL.search(text)),
            "casual": bool(CASUAL.search(text))}


def contrast(strong: Sequence[Mapping[str, Any]], weak: Sequence[Mapping[str, Any]]
             ) -> Contrast:
    """Actionable differences between strong and weak messages of one segment."""
    reasons = []
    fs = [_traits(m) for m in strong]
    fw = [_traits(m) for m in weak]
    if fs and fw:
        for trait, words in _TRAITS.items():
            s = sum(f[trait] for f in fs)
            w = sum(f[trait] for f in fw)
            good = trait in ("concrete", "cta")
            gap = (s / len(fs) - w / len(fw)) if good else (w / len(fw) - s / len(fs))
            if gap >= 0.25:
                reasons.append(f"{s} of {len(fs)} strong messages {words}; {w} of {len(fw)} "
                               "weak ones do.")
        ls = sum(len(_text(m)) for m in strong) / len(fs)
        lw = sum(len(_text(m)) for m in weak) / len(fw)
        if lw > 1.3 * ls:
            reasons.append(f"Weak messages run longer ({lw:.0f} vs {ls:.0f} characters).")
    return Contrast(len(fs), len(fw), tuple(reasons))


def diagnose(msg: Mapping[str, Any], segment: str | None,
             strong: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The top error type by evidence with its reason; the others with enough evidence are
    secondary. With no evidence at all the message is weak only relative to its segment: the
    error type is then the trait the strong messages have and this one lacks, falling back to
    a weak call to action, the most common error in the study."""
    found = findings(msg, segment)
    if not found:
        lacks_incentive = not concrete(_text(msg)) and strong and sum(
            concrete(_text(s)) for s in strong) / len(strong) >= 0.5
        found = [Finding("vague_incentive", 0.0, "Strong messages here state the incentive; "
                         "this one does not.") if lacks_incentive else
                 Finding("weak_call_to_action", 0.0, "No single flaw stands out, but it lacks "
                         "the direct prompt of the segment's strong messages.")]
    primary = found[0]
    return {"error_type": primary.error_type, "reason": primary.reason,
            "secondary": [f.error_type for f in found[1:] if f.evidence >= SECONDARY_MIN],
            "findings": [f.as_dict() for f in found]}
