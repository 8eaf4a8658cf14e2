"""Segment voices of the rules engine, read from ``seed/segment_voices.csv``.

A voice says how to speak to a segment (title, opener, a category-neutral call to action) and
which relationship statements its definition supports (``may_say``). It lives beside the
segments in the seed folder so a marketer changes wording without touching code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from workbench import Problem, ValidationError

NEW, FIRST, RETURNING, LOYAL, TRANSACTION = "new", "first", "returning", "loyal", "transaction"
RELATIONSHIPS = (NEW, FIRST, RETURNING, LOYAL, TRANSACTION)
STATEMENTS = ("new_customer", "lapsed", "returning", "regular", "follower", "cart", "unpaid",
              "delivered", "viewed", "member")
VOICES_FILE = Path(__file__).resolve().parents[2] / "seed" / "segment_voices.csv"


@dataclass(frozen=True)
class SegmentVoice:
    """How to speak to a segment: its relationship with the merchant, an opener, a prompt."""

    relationship: str
    title: str          # {merchant}, {offer_title}, {product} are filled in
    opener: str         # first sentence of the body; "" for none
    cta: str            # category-neutral imperative when the library has no fitting CTA
    may_say: frozenset[str] = field(default_factory=frozenset)
    known: bool = True


DEFAULT_VOICE = SegmentVoice(RETURNING, "{offer_title} at {merchant}", "", "Order now",
                             frozenset(), known=False)


@lru_cache(maxsize=4)
def load_voices(path: Path = VOICES_FILE) -> dict[str, SegmentVoice]:
    """Every segment's voice; a bad row is named with its line and field."""
    out: dict[str, SegmentVoice] = {}
    problems: list[Problem] = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row.get("relationship") not in RELATIONSHIPS:
                problems.append(Problem(f"must be one of {', '.join(RELATIONSHIPS)}",
                                        field="relationship", row=line))
            says = frozenset(s for s in (row.get("may_say") or "").split(";") if s)
            if bad := says - set(STATEMENTS):
                problems.append(Problem(f"unknown statement(s) {', '.join(sorted(bad))}",
                                        field="may_say", row=line))
            if not (row.get("cta") or "").strip():
                problems.append(Problem("must not be empty", field="cta", row=line))
            out[row["segment"]] = SegmentVoice(row["relationship"], row["title"], row["opener"],
                                               row["cta"], says)
    if problems:
        raise ValidationError(problems, f"{path.name} has bad rows")
    return out


def voice(segment: str | None) -> SegmentVoice:
    return load_voices().get(segment or "", DEFAULT_VOICE)
