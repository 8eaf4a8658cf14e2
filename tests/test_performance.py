"""Message performance: CRMAgent engagement scores, percentiles within segments, bands."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.studio.performance import Thresholds, engagement_score, template_scores


def test_engagement_score_weights_interactions_per_send():
    perf = pd.DataFrame({"sends": [100, 0], "reads": [10, 5], "voucher_clicks": [2, 0],
                         "product_clicks": [1, 0], "button_clicks": [3, 0],
                         "unsubscribes": [1, 0]})
    scores = engagement_score(perf)
    assert scores[0] == pytest.approx((10 + 6 + 4 + 6 - 5) / 100)
    assert pd.isna(scores[1])  # nothing sent: no score rather than a division by zero


def test_flawed_seed_messages_fall_in_the_weak_band_of_their_segment(store):
    df = template_scores(store)
    flawed = {t["id"] for t in store.templates() if t["meta"].get("flaw")}
    weak = set(df.loc[df["band"] == "weak", "template_id"])
    strong = set(df.loc[df["band"] == "strong", "template_id"])
    assert weak and weak <= flawed
    assert not strong & flawed
    assert df.groupby("segment")["percentile"].max().eq(100).all()


def test_thresholds_are_validated_and_move_the_bands(store):
    with pytest.raises(ValueError):
        Thresholds(weak_below=80, strong_above=20)
    loose = template_scores(store, thresholds=Thresholds(weak_below=50, strong_above=90))
    strict = template_scores(store)
    assert (loose["band"] == "weak").sum() > (strict["band"] == "weak").sum()
    by_merchant = template_scores(store, by_merchant=True)
    assert len(by_merchant) == len(strict)


def test_no_performance_history_gives_an_empty_table(empty_store):
    assert template_scores(empty_store).empty
