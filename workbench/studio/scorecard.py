"""The studio's scorecard on its labelled set: diagnosis accuracy, truthfulness, judge preference.

Runs the whole pipeline (diagnosis, retrieval, rewrite, evaluation) on the offline engines over
one part of ``dataset`` in a fresh in-memory store seeded with the demo library, and reports:

- diagnosis accuracy overall, per error type, and the confusion table (true type -> diagnosed);
- the share of rewrites with any unsupported claim (``grounding.check``);
- the share keeping every offer amount, promo code and date of the original;
- the heuristic judge's preference rate for the rewrite (both orders; a flip is a tie);
- the share of rewrites in which the diagnosed flaw no longer shows;
- the messages skipped because their offer fits no wording for the segment (a first-order
  voucher sent to readers who already order): diagnosed, never rewritten.

``workbench bench studio`` prints it; the held-out part is the honest figure.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from workbench.studio import dataset, grounding
from workbench.studio import diagnosis as diag
from workbench.studio.diagnosis import ERROR_TYPES


def _rate(k: int, n: int) -> float:
    return round(k / n, 4) if n else float("nan")


def run(part: str = "held_out", embedder: Any = None) -> dict[str, Any]:
    """The scorecard of one part of the labelled set (``held_out`` by default)."""
    from store import open_store
    from workbench.library.seed import seed
    from workbench.studio.embeddings import LexicalEmbedder
    from workbench.studio.pipeline import OfferUnfit, Studio

    rows = dataset.load(part)
    store = open_store(":memory:")
    try:
        seed(store)
        studio = Studio(store, configs={}, embedder=embedder or LexicalEmbedder())
        confusion: Counter[tuple[str, str]] = Counter()
        cases, skipped = [], []
        for r in rows:
            tid = store.insert_template(
                {k: r[k] for k in ("segment", "channel", "title", "body", "merchant",
                                   "product_category", "voucher")} | {"name": r["id"]},
                "scorecard")
            msg = store.template(tid)
            try:
                out = studio.rewrite_one(tid, "scorecard")
            except OfferUnfit as e:  # diagnosed, but no wording can fit the offer: no rewrite
                diagnosed = studio.diagnose(msg)["error_type"]
                confusion[(r["error_type"], diagnosed)] += 1
                skipped.append({"id": r["id"], "truth": r["error_type"],
                                "diagnosed": diagnosed, "reason": e.reason})
                continue
            g = grounding.check(out["rewrite"], msg)
            left = {f.error_type for f in diag.findings(
                {**out["rewrite"], "voucher": msg["voucher"]}, msg["segment"])}
            confusion[(r["error_type"], out["error_type"])] += 1
            cases.append({"id": r["id"], "truth": r["error_type"],
                          "diagnosed": out["error_type"],
                          "unsupported": [c.text for c in g.unsupported], "lost": list(g.lost),
                          "verdict": out["evaluation"]["verdict"],
                          "flaw_left": out["error_type"] in left})
    finally:
        store.close()
    n = len(cases)
    diagnosed = cases + skipped
    per_type = {}
    for t in ERROR_TYPES:
        k = sum(1 for c in diagnosed if c["truth"] == t)
        per_type[t] = {"n": k, "accuracy": _rate(confusion[(t, t)], k)}
    verdicts = Counter(c["verdict"] for c in cases)
    return {
        "part": part, "messages": len(diagnosed), "rewritten": n,
        "skipped_offer_unfit": skipped, "engine": "offline rules engine",
        "judge": "heuristic judge (embedding similarity to strong messages, readability, "
                 "length fit, grounding)",
        "diagnosis": {
            "accuracy": _rate(sum(confusion[(t, t)] for t in ERROR_TYPES), len(diagnosed)),
            "per_type": per_type,
            "confusion": {t: {u: confusion[(t, u)] for u in ERROR_TYPES} for t in ERROR_TYPES},
        },
        "unsupported_claim_share": _rate(sum(1 for c in cases if c["unsupported"]), n),
        "keeps_every_number_code_date_share": _rate(sum(1 for c in cases if not c["lost"]), n),
        "judge_preference": {"rewrite": _rate(verdicts["rewrite"], n),
                             "original": _rate(verdicts["original"], n),
                             "tie": _rate(verdicts["tie"], n)},
        "flaw_removed_share": _rate(sum(1 for c in cases if not c["flaw_left"]), n),
        "flaw_left": [{"id": c["id"], "diagnosed": c["diagnosed"]} for c in cases
                      if c["flaw_left"]],
        "failures": [c for c in cases if c["unsupported"] or c["lost"]],
    }
