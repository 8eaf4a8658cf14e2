"""The offline heuristic judge: scores a message with signals the rules writer did not optimise.

Why a separate judge: when the judge and the diagnosis are the same pattern rules, a rewrite that
removes the flagged phrases gets 5/5 even when the flaw survives. This judge never looks at the
diagnosis's cues. It measures

- **fit with the segment**: embedding similarity to the segment's strong messages (their
  centroid), relative to how close the strong messages are to each other;
- **readability**: a Flesch reading-ease estimate (short sentences, short words);
- **length fit**: the body uses a sensible share of the channel's limit, not a stub, not a wall;
- **grounding**: claims that the voucher, the original and the segment do not support, and offer
  amounts, codes or dates that were lost (``grounding.check``).

It is a heuristic and says so in its label; with a model configured the studio asks the model,
with prompts that differ from the writer's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.studio import grounding

LABEL = "Heuristic judge (offline: similarity, readability, length, grounding)"
TIE_MARGIN = 0.03


def _text(msg: Mapping[str, Any]) -> str:
    return " ".join(str(msg.get(f) or "") for f in ("title", "preheader", "body")).strip()


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    n = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, n)


def reading_ease(text: str) -> float:
    """Flesch reading ease (higher is easier; 60-80 is plain English)."""
    sentences = [s for s in re.split(r"[.!?]+", text or "") if s.strip()] or [text or ""]
    words = re.findall(r"[A-Za-z]+", text or "")
    if not words:
        return 0.0
    syl = sum(_syllables(w) for w in words)
    return 206.835 - 1.015 * len(words) / len(sentences) - 84.6 * syl / len(words)


def length_fit(msg: Mapping[str, Any], limits: Mapping[str, int | None]) -> float:
    """1.0 when the body uses 35-95% of the channel limit, falling off linearly outside."""
    lim = limits.get("body") or 300
    share = len(str(msg.get("body") or "")) / lim
    if share > 1:
        return 0.0
    if share >= 0.35:
        return 1.0 if share <= 0.95 else 0.8
    return share / 0.35


@dataclass(frozen=True)
class Reference:
    """The segment's strong messages as embeddings: what "fits this audience" looks like."""

    centroid: np.ndarray | None
    typical: float        # mean similarity of a strong message to the others' centroid
    embedder: Any

    @classmethod
    def of(cls, strong: Sequence[Mapping[str, Any]], embedder: Any) -> Reference:
        texts = [_text(m) for m in strong if _text(m)]
        if len(texts) < 2:
            return cls(None, 1.0, embedder)
        m = embedder.encode(texts)
        sims = [float(m[i] @ _unit(np.delete(m, i, axis=0).mean(axis=0)))
                for i in range(len(texts))]
        return cls(_unit(m.mean(axis=0)), max(float(np.mean(sims)), 1e-6), embedder)

    def similarity(self, msg: Mapping[str, Any]) -> float:
        """Similarity to the strong centroid relative to the typical strong message (1 = as
        close as they are), or 0.5 when the segment has too few strong messages."""
        if self.centroid is None:
            return 0.5
        v = self.embedder.encode([_text(msg)])[0]
        return float(min(2.0, max(0.0, float(v @ self.centroid) / self.typical)))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n else v


def signals(msg: Mapping[str, Any], original: Mapping[str, Any], segment: str | None,
            ref: Reference, limits: Mapping[str, int | None]) -> dict[str, Any]:
    """The judge's raw measurements of one message (the original is judged the same way)."""
    g = grounding.check(msg, original, segment)
    ease = reading_ease(_text(msg))
    return {"similarity": round(ref.similarity(msg), 4), "reading_ease": round(ease, 1),
            "length_fit": round(length_fit(msg, limits), 3),
            "unsupported": [c.text for c in g.unsupported], "lost": list(g.lost)}


def composite(s: Mapping[str, Any]) -> float:
    """One number for a pairwise choice: similarity, readability and length fit, minus a full
    point per unsupported claim and half a point per lost offer fact."""
    ease = min(1.2, max(0.0, s["reading_ease"] / 80))
    return (0.45 * s["similarity"] + 0.3 * ease + 0.25 * s["length_fit"]
            - 1.0 * len(s["unsupported"]) - 0.5 * len(s["lost"]))


def score(msg: Mapping[str, Any], original: Mapping[str, Any], segment: str | None,
          ref: Reference, limits: Mapping[str, int | None]) -> dict[str, Any]:
    """Audience match and marketing effectiveness on the study's 1/3/5 scale, from the signals."""
    s = signals(msg, original, segment, ref, limits)
    if s["unsupported"]:
        aud, aud_why = 1, "Makes claims the offer and audience do not support: " + ", ".join(
            s["unsupported"]) + "."
    elif s["similarity"] >= 0.8:
        aud, aud_why = 5, "Reads like the segment's strong messages."
    elif s["similarity"] >= 0.5:
        aud, aud_why = 3, "Partly like the segment's strong messages."
    else:
        aud, aud_why = 1, "Unlike anything that works for this segment."
    good = [s["reading_ease"] >= 50, s["length_fit"] >= 0.8, not s["lost"] and not
            s["unsupported"]]
    mkt = 5 if all(good) else 3 if sum(good) == 2 else 1
    lacks = [w for w, ok in zip(("easy reading", "a length that fits the channel",
                                 "a grounded, complete offer"), good) if not ok]
    return {"audience_score": aud, "audience_reason": aud_why, "marketing_score": mkt,
            "marketing_reason": "Easy to read, fits the channel, offer intact." if not lacks
            else "Lacks " + ", ".join(lacks) + ".", "signals": s}


def compare(a: Mapping[str, Any], b: Mapping[str, Any], original: Mapping[str, Any],
            segment: str | None, ref: Reference, limits: Mapping[str, int | None]
            ) -> dict[str, str]:
    """Blind pairwise choice on the composite signal; closer than ``TIE_MARGIN`` is a tie."""
    ca = composite(signals(a, original, segment, ref, limits))
    cb = composite(signals(b, original, segment, ref, limits))
    if abs(ca - cb) < TIE_MARGIN:
        return {"choice": "tie", "reason": f"Too close to call ({ca:.2f} vs {cb:.2f})."}
    win = "A" if ca > cb else "B"
    return {"choice": win, "reason": f"Message {win} scores {max(ca, cb):.2f} against "
            f"{min(ca, cb):.2f} on similarity to strong messages, readability, length and "
            "grounding."}
