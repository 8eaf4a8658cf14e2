"""Blind judgments of rewrites by marketers, and the studio's results in the form of Table 1.

A marketer sees the original and the rewrite as A and B in random order and picks one or "no
preference"; the order is stored with the choice, so the reveal (which one was the rewrite) and
every later count come from the database, not from the page. Results set the model judge's scores
and blind verdicts beside the marketers' blind choices, with a Wilson interval on the marketers'
preference rate and the agreement between the two.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from store import Store, now
from store import studio as studio_store
from workbench import Problem, ValidationError
from store.studio_queue import blind_candidates, own_rewrites
from workbench.studio.pipeline import rewrite_row, rewrites

CHOICES = ("A", "B", "none")


@dataclass(frozen=True)
class Wilson:
    """Wilson score interval of a binomial proportion: honest near 0 and 1 and for small n."""

    successes: int
    n: int
    confidence: float = 0.95

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")

    @property
    def bounds(self) -> tuple[float, float]:
        if not self.n:
            return (float("nan"), float("nan"))
        ci = stats.binomtest(self.successes, self.n).proportion_ci(
            confidence_level=self.confidence, method="wilson")
        return (float(ci.low), float(ci.high))


def blind_order(rng: random.Random | None = None) -> str:
    """Where the rewrite goes in a blind pair: ``A`` or ``B`` with equal chance."""
    return (rng or random.SystemRandom()).choice(("A", "B"))


@dataclass(frozen=True)
class BlindItem:
    """One pair waiting for a marketer: which rewrite, and where the rewrite is shown."""

    rewrite_id: int
    segment: str
    rewrite_position: str


def blind_queue(store: Store, judge: str, segment: str | None = None,
                rng: random.Random | None = None) -> list[BlindItem]:
    """The pairs ``judge`` can judge blind, in random order, each with a random side.

    Blind means the judge has not seen the rewrite being made: rewrites they made, or made in a
    run they started, are left out (a colleague or a batch judges those), and so is any pair
    they already judged, because the reveal came after that choice.
    """
    if not (judge or "").strip():
        raise ValidationError([Problem("who is judging must be named", field="judge")])
    rng = rng or random.SystemRandom()
    rows = blind_candidates(store, judge.strip(), segment)
    rng.shuffle(rows)
    return [BlindItem(int(r["id"]), r["segment"], blind_order(rng)) for r in rows]


def waiting_for_colleagues(store: Store, judge: str, segment: str | None = None) -> int:
    """How many of ``judge``'s own rewrites only a colleague can judge."""
    return own_rewrites(store, judge.strip(), segment)


def blind_pair(store: Store, rewrite_id: int, rewrite_position: str) -> dict[str, dict]:
    """The two versions as A and B, without saying which is which."""
    r = rewrite_row(store, rewrite_id)
    if rewrite_position not in ("A", "B"):
        raise ValidationError([Problem("must be A or B", field="rewrite_position")])
    a, b = (r["rewrite"], r["original"]) if rewrite_position == "A" else (r["original"],
                                                                          r["rewrite"])
    return {"A": a, "B": b}


def record_judgment(store: Store, rewrite_id: int, judge: str, rewrite_position: str,
                    choice: str) -> dict:
    """Store one blind choice; returns it with the reveal (which side was the rewrite)."""
    problems = []
    if rewrite_position not in ("A", "B"):
        problems.append(Problem("must be A or B", field="rewrite_position"))
    if choice not in CHOICES:
        problems.append(Problem(f"must be one of {', '.join(CHOICES)}", field="choice"))
    if not (judge or "").strip():
        problems.append(Problem("who is judging must be named", field="judge"))
    if problems:
        raise ValidationError(problems, "The judgment was not saved")
    rewrite_row(store, rewrite_id)  # exists
    preferred = "none" if choice == "none" else (
        "rewrite" if choice == rewrite_position else "original")
    row = {"rewrite_id": rewrite_id, "judge": judge.strip(),
           "rewrite_position": rewrite_position, "choice": choice, "preferred": preferred,
           "at": now()}
    with store.transaction():
        row["id"] = studio_store.insert_judgment(store, row)
        store.audit(judge.strip(), "judge", "rewrite", rewrite_id,
                    {"choice": choice, "preferred": preferred})
    return row


def judgments(store: Store, rewrite_id: int | None = None) -> list[dict]:
    return studio_store.judgments(store, rewrite_id)


def _pct_change(before: float, after: float) -> float:
    return (after - before) / before * 100 if before else float("nan")


def model_table(store: Store) -> pd.DataFrame:
    """Table 1 for the model judge: per segment, mean original and generated audience and
    marketing scores, their change in %, and which version the blind pairwise verdict favours
    with its rate (ties count against both)."""
    rows = []
    for r in rewrites(store):
        ev = r["evaluation"]
        if not ev:
            continue
        rows.append({"segment": r["segment"],
                     "aud_ori": ev["original"]["audience_score"],
                     "aud_gen": ev["rewrite"]["audience_score"],
                     "mkt_ori": ev["original"]["marketing_score"],
                     "mkt_gen": ev["rewrite"]["marketing_score"],
                     "gen": ev["verdict"] == "rewrite", "ori": ev["verdict"] == "original",
                     "flip": bool(ev.get("position_flip"))})
    cols = ["segment", "count", "audience_ori", "audience_gen", "audience_change_pct",
            "market_ori", "market_gen", "market_change_pct", "preferred", "preferred_rate_pct",
            "position_flips"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)

    def summarise(g: pd.DataFrame, name: str) -> dict:
        gen, ori = g["gen"].mean(), g["ori"].mean()
        return {"segment": name, "count": len(g),
                "audience_ori": g["aud_ori"].mean(), "audience_gen": g["aud_gen"].mean(),
                "audience_change_pct": _pct_change(g["aud_ori"].mean(), g["aud_gen"].mean()),
                "market_ori": g["mkt_ori"].mean(), "market_gen": g["mkt_gen"].mean(),
                "market_change_pct": _pct_change(g["mkt_ori"].mean(), g["mkt_gen"].mean()),
                "preferred": "Gen" if gen > ori else "Ori" if ori > gen else "Tie",
                "preferred_rate_pct": 100 * max(gen, ori), "position_flips": int(g["flip"].sum())}
    out = [summarise(g, seg) for seg, g in df.groupby("segment", sort=True)]
    out.append(summarise(df, "Overall"))
    return pd.DataFrame(out, columns=cols)


def marketer_table(store: Store, confidence: float = 0.95) -> pd.DataFrame:
    """Table 1 for marketers' blind judgments: per segment, how often the rewrite was preferred,
    with a Wilson interval (no-preference answers count in n, not as wins), and agreement with the
    model judge's verdict on the same rewrites (share of judgments that match it, with its own
    Wilson interval)."""
    rows = studio_store.judgments_with_rewrites(store)
    cols = ["segment", "judgments", "rewrite_preferred", "original_preferred", "no_preference",
            "rewrite_rate_pct", "ci_low_pct", "ci_high_pct", "agreement_pct",
            "agreement_ci_low_pct", "agreement_ci_high_pct"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    df["model"] = [json.loads(e).get("verdict", "") if e else "" for e in df["evaluation"]]
    df["model"] = df["model"].replace({"tie": "none"})
    df["agree"] = df["model"] == df["preferred"]

    def summarise(g: pd.DataFrame, name: str) -> dict:
        k = int((g["preferred"] == "rewrite").sum())
        w = Wilson(k, len(g), confidence)
        lo, hi = w.bounds
        agree = Wilson(int(g["agree"].sum()), len(g), confidence)
        alo, ahi = agree.bounds
        return {"segment": name, "judgments": len(g), "rewrite_preferred": k,
                "original_preferred": int((g["preferred"] == "original").sum()),
                "no_preference": int((g["preferred"] == "none").sum()),
                "rewrite_rate_pct": 100 * w.rate, "ci_low_pct": 100 * lo, "ci_high_pct": 100 * hi,
                "agreement_pct": 100 * agree.rate, "agreement_ci_low_pct": 100 * alo,
                "agreement_ci_high_pct": 100 * ahi}
    out = [summarise(g, seg) for seg, g in df.groupby("segment", sort=True)]
    out.append(summarise(df, "Overall"))
    return pd.DataFrame(out, columns=cols)
