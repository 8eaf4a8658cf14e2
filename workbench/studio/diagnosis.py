"""Diagnosis: which of the CRMAgent study's five error types a weak message shows, and why.

Kept apart from the judge on purpose: the judge must not grade a rewrite with the rules that
chose what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.studio.copyrules import (
    _FREE, Features, LOYAL, NEW, RETURNING, message_text, voice)

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

