"""Message performance: engagement scores and percentiles within each audience segment.

The engagement score follows the CRMAgent study's weighting of what users did with a message:
one point per read, three per click on the store or voucher, four per product-card click, two
per CRM button interaction, minus five per unsubscribe. Scores are compared within a segment
(and within a merchant where asked), since some audiences answer far more than others: the top
quarter of a segment are its strong messages, the bottom quarter its weak ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from store import Store

WEIGHTS = {"reads": 1.0, "voucher_clicks": 3.0, "product_clicks": 4.0, "button_clicks": 2.0,
           "unsubscribes": -5.0}


@dataclass(frozen=True)
class Thresholds:
    """Percentile cut-offs (0-100) within a group; validated at the edge."""

    weak_below: float = 25.0
    strong_above: float = 75.0

    def __post_init__(self) -> None:
        if not 0 < self.weak_below < self.strong_above < 100:
            raise ValueError("need 0 < weak_below < strong_above < 100")


def engagement_score(perf: pd.DataFrame) -> pd.Series:
    """Score per send: the weighted interactions divided by the messages sent."""
    total = sum(perf[col] * w for col, w in WEIGHTS.items())
    return total / perf["sends"].where(perf["sends"] > 0)


def template_scores(store: Store, by_merchant: bool = False,
                    thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Every active message template with its score, its percentile within its segment (or
    segment and merchant) and its band: ``weak``, ``middle`` or ``strong``."""
    th = thresholds or Thresholds()
    perf = pd.DataFrame(store.template_performance())
    if perf.empty:
        return pd.DataFrame(columns=["template_id", "segment", "merchant", "score",
                                     "percentile", "band"])
    sums = perf.groupby("template_id")[["sends", *WEIGHTS]].sum().reset_index()
    sums["score"] = engagement_score(sums)
    meta = pd.DataFrame(store.templates())[["id", "name", "segment", "merchant", "channel"]]
    df = sums.merge(meta, left_on="template_id", right_on="id").drop(columns="id")
    keys = ["segment", "merchant"] if by_merchant else ["segment"]
    df["percentile"] = df.groupby(keys)["score"].rank(pct=True, method="average") * 100
    df["band"] = np.select([df["percentile"] <= th.weak_below,
                            df["percentile"] > th.strong_above], ["weak", "strong"], "middle")
    return df.sort_values(["segment", "score"]).reset_index(drop=True)
