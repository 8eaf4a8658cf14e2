"""What the studio asks a model: the prompts of its four agents and the JSON schemas of the answers.

Our own words, after the CRMAgent study's figures 2-6. The judge's prompts (score, compare) are
deliberately different from the writer's, so a model does not grade its own instructions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.studio import copyrules as rules
from workbench.studio.diagnosis import ERROR_TYPES


def message_fields(msg: Mapping[str, Any]) -> dict[str, str]:
    return {f: str(msg.get(f) or "") for f in ("title", "preheader", "body")}


def show(msg: Mapping[str, Any]) -> str:
    parts = [f"{k}: {v}" for k, v in message_fields(msg).items() if v]
    return " / ".join(parts)


# -- JSON schemas of the model answers -----------------------------------------------------------

DIAGNOSIS_SCHEMA = {
    "type": "object",
    "properties": {
        "error_type": {"type": "string", "enum": list(ERROR_TYPES)},
        "reason": {"type": "string", "minLength": 3},
        "insights": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["error_type", "reason"],
}
REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "preheader": {"type": "string"},
                   "body": {"type": "string", "minLength": 3}},
    "required": ["body"],
}
SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "audience_score": {"type": "integer", "enum": [1, 3, 5]},
        "audience_reason": {"type": "string"},
        "marketing_score": {"type": "integer", "enum": [1, 3, 5]},
        "marketing_reason": {"type": "string"},
    },
    "required": ["audience_score", "audience_reason", "marketing_score", "marketing_reason"],
}
COMPARE_SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "string", "enum": ["A", "B", "tie"]},
                   "reason": {"type": "string"}},
    "required": ["choice", "reason"],
}


# -- prompts (our own words, after the study's figures 2-6) --------------------------------------

def _segment_line(segment: Mapping[str, Any]) -> str:
    return f"{segment['name']} ({segment['id']}): {segment.get('description') or ''}"


def diagnosis_prompt(msg: Mapping[str, Any], segment: Mapping[str, Any],
                     strong: Sequence[Mapping[str, Any]], weak: Sequence[Mapping[str, Any]]
                     ) -> tuple[str, str]:
    system = ("You review CRM marketing messages for an e-commerce app. You compare messages that "
              "engaged their audience well with ones that did not, and explain in concrete, "
              "actionable terms why. Ignore personalisation. Answer with JSON only.")
    rows = lambda ms: "\n".join(
        f"- {show(m)} | category: {m.get('product_category') or '-'} | voucher: "
        f"{m.get('voucher') or '-'}" for m in ms) or "- (none)"
    user = (f"Audience segment: {_segment_line(segment)}\n\n"
            f"High-performing messages:\n{rows(strong)}\n\nLow-performing messages:\n{rows(weak)}"
            f"\n\nMessage to diagnose:\n{show(msg)}\nVoucher: {msg.get('voucher') or 'none'}\n\n"
            "Classify its main problem as exactly one error type:\n"
            "- audience_assumption_error: assumes a history the reader does not have (past "
            "orders for new customers, first-time framing for regulars)\n"
            "- weak_call_to_action: no clear or urgent prompt to act\n"
            "- vague_incentive: hints at a promotion without saying what it is\n"
            "- misaligned_tone: too formal or too casual for the relationship\n"
            "- irrelevant_offer: the offer does not fit the reader's status or behaviour\n"
            'Return {"error_type": ..., "reason": one or two sentences, "insights": [short '
            "reasons the high performers did better: tone, structure, targeting, incentive]}.")
    return system, user


def rewrite_prompt(msg: Mapping[str, Any], segment: Mapping[str, Any], diagnosis: Mapping,
                   exemplars: Sequence[Mapping[str, Any]], insights: Sequence[str],
                   limits: Mapping[str, int | None], intent: rules.Intent,
                   feedback: Sequence[str] = ()) -> tuple[str, str]:
    system = ("You are a CRM copywriter for an e-commerce app. You rewrite weak marketing messages "
              "into short, clear, action-driven ones that keep the original promise: the same "
              "product, the same offer and the same numbers. Write in the same language style as "
              "the original. Answer with JSON only.")
    refs = "\n".join(f"- {show(e)}" for e in exemplars)
    lim = ", ".join(f"{k} at most {v} characters" for k, v in limits.items() if v)
    keep = [*intent.amounts, *(["the free perk"] if intent.free else []), *intent.product]
    user = (f"Audience segment: {_segment_line(segment)}\nChannel: {msg.get('channel')} "
            f"({lim})\n\nOriginal message:\n{show(msg)}\nVoucher: {msg.get('voucher') or 'none'}"
            f"\n\nWhat is wrong with it: {diagnosis.get('error_type')}: {diagnosis.get('reason')}\n")
    if refs:
        user += f"\nHigh-performing messages from the same or similar campaigns:\n{refs}\n"
    if insights:
        user += "\nWhat makes high performers work:\n" + "\n".join(f"- {i}" for i in insights)
    else:
        user += ("\nNo reference messages fit; improve clarity, structure and incentive framing, "
                 "with a more engaging tone and a clear incentive.\n")
    user += (f"\nThe rewrite must keep: {', '.join(keep) or 'the original intent'}, with every "
             "promo code and date written exactly as in the original.\nState only what the "
             "original or the voucher says: add no deadline, urgency, free perk, number, code or "
             "product the original does not have, and no statement about the reader's history "
             "that does not fit the segment.\n"
             'Return {"title": ..., "preheader": ..., "body": ...} (empty strings for fields the '
             "channel does not have).")
    if feedback:
        user += "\n\nYour previous draft was rejected: " + "; ".join(feedback) + ". Fix that."
    return system, user


def score_prompt(msg: Mapping[str, Any], segment: Mapping[str, Any]) -> tuple[str, str]:
    system = ("You evaluate CRM marketing messages. Use a three-level scale only: 1 = poor, "
              "3 = average, 5 = excellent. Answer with JSON only.")
    user = (f"Audience segment: {_segment_line(segment)}\nMessage: {show(msg)}\n\n"
            "Score 1) audience match: how well the message suits this segment, and 2) marketing "
            "effectiveness: is it clear, persuasive and motivating? Give a one-sentence reason "
            'for each: {"audience_score": 1|3|5, "audience_reason": ..., "marketing_score": '
            '1|3|5, "marketing_reason": ...}.')
    return system, user


def compare_prompt(a: Mapping[str, Any], b: Mapping[str, Any], segment: Mapping[str, Any]
                   ) -> tuple[str, str]:
    system = ("You compare two CRM marketing messages for the same audience, shop, product and "
              "voucher. Judge only the message content. Answer with JSON only.")
    user = (f"Audience segment: {_segment_line(segment)}\n\nMessage A: {show(a)}\n"
            f"Message B: {show(b)}\n\nWhich is more persuasive and better suited to the "
            'audience? Return {"choice": "A" or "B" or "tie", "reason": one sentence}.')
    return system, user
