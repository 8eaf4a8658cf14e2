"""Explaining the agent's beliefs: why one option over the best other, features in words,
why traffic can differ from the favourite, and an axis range for interval charts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError
from workbench.agent.actions import Dimension
from workbench.agent.guardrails import GUARDRAILS
from workbench.agent.models import DimensionPolicy


def explain(d: Dimension, pol: DimensionPolicy, c: int, option: Any, top: int = 8
            ) -> pd.DataFrame:
    """Why ``option`` over the best other option this context may use (an atom of another
    segment, a quiet hour or a channel without consent was never the alternative): each
    feature's contribution to the difference of their posterior mean rewards (the ``top``
    largest, a whole number >= 1)."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValidationError([Problem(f"must be a whole number >= 1, not {top!r}",
                                       field="top")], "Cannot explain")
    mean_w = pol.model.mean
    k = d.index_of(option)
    X = pol.design([c])
    scores = X @ mean_w
    allowed = pol.allowed([c])[0]
    others = [j for j in range(len(d.options)) if j != k and allowed[j]]
    if not others:
        return pd.DataFrame(columns=["feature", "contribution"])
    j = max(others, key=lambda i: scores[i])
    diff = (X[k] - X[j]) * mean_w
    order = np.argsort(-np.abs(diff))[:top]
    return pd.DataFrame({
        "feature": [pol.model.features[i] for i in order if diff[i] != 0],
        "contribution": [float(diff[i]) for i in order if diff[i] != 0],
        "versus": d.options[j].label})


# -- reading the beliefs -------------------------------------------------------------------

#: How a context bucket reads in a sentence, per context variable (``{}`` is the bucket label).
CONTEXT_PHRASES = {
    "segment": "segment: {}", "engagement": "{} past engagement",
    "exposures": "{} sends in 7 days", "daypart": "usually active in the {}",
    "platform": "on {}",
}
PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "web": "the web"}
#: How an option feature reads, per prefix (``{}`` is the value after the colon).
OPTION_PHRASES = {
    "offer": "offer: {}", "tone": "tone: {}", "category": "category: {}",
    "length": "{} text", "tag": "tag: {}", "weekday": "{}", "daypart": "{} send",
    "channel": "channel: {}", "send": "send: {}",
}


def _inactivity(label: str) -> str:
    """``<30d`` -> ``inactive < 30 days``, ``90d+`` -> ``inactive 90+ days``."""
    body = label.replace("d", "")
    if body.startswith("<"):
        body = "< " + body[1:]
    return f"inactive {body} days"


def context_phrase(feature: str) -> str:
    """One context bucket (``variable:label``) in words; unknown variables read ``var label``."""
    var, _, label = feature.partition(":")
    if var == "inactivity":
        return _inactivity(label)
    if var == "platform":
        label = PLATFORM_NAMES.get(label, label)
    if var == "segment":
        label = label.replace("_", " ")
    return CONTEXT_PHRASES.get(var, var + " {}").format(label)


def option_phrase(feature: str, atom_text: Mapping[int, str]) -> str:
    """One option feature in words: atoms by their text, hours as clock times."""
    prefix, _, value = feature.partition(":")
    if feature == "bias":
        return "baseline"
    if prefix == "atom":
        text = atom_text.get(int(value)) if value.isdigit() else None
        return f"atom: {text}" if text is not None else f"atom #{value} (deleted)"
    if prefix == "hour" and value.isdigit():
        return f"{int(value):02d}:00"
    if prefix == "near" and value.isdigit():
        return f"around {int(value):02d}:00"
    if not value:
        return prefix
    return OPTION_PHRASES.get(prefix, prefix + ": {}").format(value)


def feature_name(feature: str, atom_text: Mapping[int, str]) -> str:
    """A model feature as a marketer reads it: ``atom:69|inactivity:<30d`` ->
    ``atom: Morning, neighbour! · inactive < 30 days`` (the part after ``|`` is the context
    the effect applies in)."""
    option, _, context = feature.partition("|")
    if option == "bias" and context:
        return f"baseline · {context_phrase(context)}"
    name = option_phrase(option, atom_text)
    return f"{name} · {context_phrase(context)}" if context else name


@dataclass(frozen=True)
class TrafficNote:
    """Why the latest batch's most-served option is not the posterior mean's favourite."""

    served: str  # label of the most-served option
    served_share: float  # its share of the segment's messages in the latest batch
    served_p_best: float  # its probability of being best in the typical context
    favourite: str  # label of the option with the highest posterior mean
    favourite_share: float
    favourite_p_best: float
    guardrail_shares: Mapping[str, float]  # share of the segment's messages per guardrail flag

    def text(self, quote: Callable[[str], str] = str) -> str:
        """The explanation in words, with the numbers, in Markdown (the two options in bold);
        ``quote`` escapes the option labels (atom texts typed by people) so that they show
        as typed."""
        served, favourite = quote(self.served), quote(self.favourite)
        parts = [
            f"Most traffic went to **{served}** ({self.served_share:.0%} of messages) while "
            f"the highest posterior mean is **{favourite}** ({self.favourite_share:.0%}). "
            f"Thompson Sampling serves each option in proportion to its probability of being "
            f"best, not to its mean: P(best) is {self.served_p_best:.0%} for {served} and "
            f"{self.favourite_p_best:.0%} for {favourite}, so a close or uncertain race "
            "splits traffic, and an uncertain option keeps being explored."]
        flags = {k: v for k, v in self.guardrail_shares.items() if v > 0}
        if flags:
            parts.append("Guardrails also changed choices: " + ", ".join(
                f"{GUARDRAIL_WORDS.get(k, k)} {v:.0%}" for k, v in flags.items()) + ".")
        parts.append("Options can also be out of reach for some users: quiet hours, channel "
                     "consent and frequency caps forbid them, and capacity caps limit an "
                     "option's share of a batch; beliefs are shown for the segment's most common "
                     "context, traffic is over all its users.")
        return " ".join(parts)


#: Guardrail flags that change what a sent message is, in words.
GUARDRAIL_WORDS = {
    "traffic_cap": "capacity cap on an atom's share", "exploration": "exploration floor",
    "must_send": "message forced by marketers", "frequency_cap": "frequency cap",
    "no_consent": "no consent", "quiet_hours": "quiet hours",
}


def traffic_note(beliefs: pd.DataFrame, served: pd.Series, flags: pd.Series | None = None
                 ) -> TrafficNote | None:
    """A :class:`TrafficNote` when the most-served option of ``served`` (the option values of
    one segment's sent messages) is not the allowed option with the highest posterior mean;
    ``None`` when they agree or nothing was served. ``flags`` are the messages' guardrail
    bitmasks (``GUARDRAILS``)."""
    served = pd.Series(served).dropna()
    allowed = beliefs[beliefs["allowed"]] if "allowed" in beliefs else beliefs
    if served.empty or allowed.empty:
        return None
    shares = served.value_counts(normalize=True)
    top = shares.index[0]
    fav = allowed.loc[allowed["mean"].idxmax()]
    if top == fav["option"]:
        return None
    by_option = beliefs.set_index("option")
    if top not in by_option.index:
        return None
    g_shares: dict[str, float] = {}
    if flags is not None and len(flags):
        f = np.asarray(flags, dtype=np.int64)
        g_shares = {name: float(((f & bit) > 0).mean()) for name, bit in GUARDRAILS.items()
                    if name in GUARDRAIL_WORDS}
    return TrafficNote(
        served=str(by_option.at[top, "label"]), served_share=float(shares.iloc[0]),
        served_p_best=float(by_option.at[top, "p_best"]), favourite=str(fav["label"]),
        favourite_share=float(shares.get(fav["option"], 0.0)),
        favourite_p_best=float(fav["p_best"]), guardrail_shares=g_shares)


def interval_axis(mean: Sequence[float], low: Sequence[float], high: Sequence[float],
                  wide: float = 4.0) -> tuple[float, float]:
    """An axis range for a chart of means and intervals that one very wide interval does not
    flatten: it spans every mean and every interval at most ``wide`` times as wide as the
    median interval, plus a 5% margin. Wider intervals (options barely tried, next to ones
    the agent knows well) are drawn clipped at its edge. A percentile of the interval ends
    would not do: with a handful of options the 98th percentile is the widest interval."""
    m = np.asarray(mean, float)
    lo_e, hi_e = np.asarray(low, float), np.asarray(high, float)
    if not len(m):
        return 0.0, 1.0
    width = hi_e - lo_e
    keep = width <= wide * float(np.median(width)) + 1e-12
    lo = min(float(lo_e[keep].min()), float(m.min()))
    hi = max(float(hi_e[keep].max()), float(m.max()))
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1e-9) * 0.05
    return lo - pad, hi + pad
