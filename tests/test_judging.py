"""Blind judgments by marketers and the Table-1 style results of the rewrite studio."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from workbench.studio.embeddings import LexicalEmbedder
from workbench import ValidationError
from workbench.studio.judging import (
    Wilson,
    blind_order,
    blind_queue,
    blind_pair,
    judgments,
    marketer_table,
    model_table,
    record_judgment,
    waiting_for_colleagues,
)
from workbench.studio.pipeline import Studio


@pytest.fixture
def made(store):
    studio = Studio(store, configs={}, embedder=LexicalEmbedder())
    keys = ("msg-nb-04", "msg-nf-02", "msg-pp-04")
    ids = {t["seed_key"]: t["id"] for t in store.templates() if t["seed_key"] in keys}
    return {k: studio.rewrite_one(ids[k], "t") for k in keys}


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = Wilson(8, 10).bounds
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert Wilson(0, 20).bounds[0] == 0.0 and Wilson(0, 20).bounds[1] == pytest.approx(0.1611,
                                                                                       abs=1e-4)
    assert Wilson(10, 10).bounds[1] == pytest.approx(1.0)


def test_wilson_interval_covers_at_its_nominal_rate():
    # averaged over true rates (the coverage of any interval for a binomial wobbles with p)
    rng = np.random.default_rng(3)
    n, reps = 40, 4000
    p = rng.uniform(0.1, 0.9, reps)
    k = rng.binomial(n, p)
    hits = sum(lo <= pi <= hi for pi, (lo, hi) in zip(p, (Wilson(int(x), n).bounds for x in k)))
    assert 0.935 <= hits / reps <= 0.965


def test_blind_pair_hides_the_rewrite_and_the_judgment_reveals_it(store, made):
    r = made["msg-nb-04"]
    pair = blind_pair(store, r["id"], "B")
    assert pair == {"A": r["original"], "B": r["rewrite"]}
    assert "rewrite" not in json.dumps(pair).lower().replace("rewrite #", "")
    row = record_judgment(store, r["id"], "maria", "B", "B")
    assert (row["preferred"], row["rewrite_position"]) == ("rewrite", "B")
    row = record_judgment(store, r["id"], "ahmad", "A", "B")
    assert row["preferred"] == "original"
    row = record_judgment(store, r["id"], "lee", "A", "none")
    assert row["preferred"] == "none"
    stored = judgments(store, r["id"])
    assert [(j["judge"], j["rewrite_position"], j["choice"], j["preferred"]) for j in stored] == [
        ("maria", "B", "B", "rewrite"), ("ahmad", "A", "B", "original"),
        ("lee", "A", "none", "none")]


def test_blind_order_is_balanced():
    rng = random.Random(1)
    picks = [blind_order(rng) for _ in range(2000)]
    assert 0.45 < picks.count("A") / 2000 < 0.55


def test_a_bad_judgment_names_the_field_and_writes_nothing(store, made):
    r = made["msg-nb-04"]
    with pytest.raises(ValidationError) as e:
        record_judgment(store, r["id"], " ", "C", "maybe")
    assert {p.field for p in e.value.problems} == {"judge", "rewrite_position", "choice"}
    assert judgments(store) == []


def test_model_table_has_the_study_columns_and_an_overall_row(store, made):
    df = model_table(store)
    assert list(df["segment"]) == ["new_buyers", "new_followers", "post_purchase", "Overall"]
    nb = df.set_index("segment").loc["new_buyers"]
    ev = made["msg-nb-04"]["evaluation"]
    assert nb["audience_ori"] == ev["original"]["audience_score"]
    assert nb["audience_gen"] == ev["rewrite"]["audience_score"]
    expected = (ev["rewrite"]["marketing_score"] - ev["original"]["marketing_score"]) / \
        ev["original"]["marketing_score"] * 100
    assert nb["market_change_pct"] == pytest.approx(expected)
    overall = df.set_index("segment").loc["Overall"]
    assert overall["count"] == 3
    verdicts = [m["evaluation"]["verdict"] for m in made.values()]
    gen = verdicts.count("rewrite") / 3
    ori = verdicts.count("original") / 3
    assert overall["preferred_rate_pct"] == pytest.approx(100 * max(gen, ori))
    assert overall["preferred"] == ("Gen" if gen > ori else "Ori" if ori > gen else "Tie")


def test_marketer_table_counts_blind_choices_with_wilson_and_agreement(store, made):
    nb, nf = made["msg-nb-04"], made["msg-nf-02"]
    record_judgment(store, nb["id"], "a", "A", "A")   # rewrite
    record_judgment(store, nb["id"], "b", "B", "B")   # rewrite
    record_judgment(store, nb["id"], "c", "B", "A")   # original
    record_judgment(store, nf["id"], "a", "A", "none")
    df = marketer_table(store).set_index("segment")
    row = df.loc["new_buyers"]
    assert (row["judgments"], row["rewrite_preferred"], row["original_preferred"],
            row["no_preference"]) == (3, 2, 1, 0)
    lo, hi = Wilson(2, 3).bounds
    assert row["ci_low_pct"] == pytest.approx(100 * lo)
    assert row["ci_high_pct"] == pytest.approx(100 * hi)
    model = nb["evaluation"]["verdict"]
    expect = {"rewrite": 2 / 3, "original": 1 / 3}.get(model, 0.0)
    assert row["agreement_pct"] == pytest.approx(100 * expect)
    overall = df.loc["Overall"]
    assert overall["judgments"] == 4 and overall["no_preference"] == 1


def test_blind_queue_leaves_out_ones_own_rewrites_and_runs_and_what_was_revealed(store):
    studio = Studio(store, configs={}, embedder=LexicalEmbedder())
    ids = {t["seed_key"]: t["id"] for t in store.templates()}
    mine = studio.rewrite_one(ids["msg-nb-04"], "ana")
    theirs = studio.rewrite_one(ids["msg-nf-02"], "ben")
    run = studio.run_segment("post_purchase", "ana", template_ids=[ids["msg-pp-04"]])
    in_anas_run = run["rewrites"][0]
    assert {q.rewrite_id for q in blind_queue(store, "ana")} == {theirs["id"]}
    assert {q.rewrite_id for q in blind_queue(store, "ben")} == {mine["id"], in_anas_run["id"]}
    assert waiting_for_colleagues(store, "ana") == 2
    record_judgment(store, theirs["id"], "ana", "A", "A")
    assert blind_queue(store, "ana") == []  # judged, so revealed: never shown again
    assert {q.rewrite_id for q in blind_queue(store, "ben", "new_buyers")} == {mine["id"]}
    with pytest.raises(ValidationError, match="judge"):
        blind_queue(store, " ")


def test_blind_queue_order_and_sides_are_random():
    from store import open_store
    from workbench.library.seed import seed
    with open_store(":memory:") as s:
        seed(s)
        studio = Studio(s, configs={}, embedder=LexicalEmbedder())
        for t in [t for t in s.templates() if t["meta"].get("flaw")][:6]:
            studio.rewrite_one(t["id"], "batch")
        orders = {tuple(q.rewrite_id for q in blind_queue(s, "ana", rng=random.Random(k)))
                  for k in range(20)}
        sides = [q.rewrite_position for k in range(20)
                 for q in blind_queue(s, "ana", rng=random.Random(k))]
    assert len(orders) > 10
    assert 0.3 < sides.count("A") / len(sides) < 0.7


def test_marketer_table_gives_the_agreement_with_the_model_judge_an_interval(store, made):
    r = made["msg-nb-04"]
    verdict = r["evaluation"]["verdict"]
    agree = {"rewrite": "A", "original": "B", "tie": "none"}[verdict]
    record_judgment(store, r["id"], "ana", "A", agree)
    row = marketer_table(store).set_index("segment").loc["Overall"]
    lo, hi = Wilson(1, 1).bounds
    assert (row["agreement_pct"], row["agreement_ci_low_pct"], row["agreement_ci_high_pct"]) == (
        100.0, pytest.approx(100 * lo), pytest.approx(100 * hi))


def _heuristic(store):
    from workbench.studio import judge
    studio = Studio(store, configs={}, embedder=LexicalEmbedder())
    msg = next(t for t in store.templates() if t["seed_key"] == "msg-nb-04")
    ref = judge.Reference.of(studio._band("new_buyers", "strong"), studio.embedder)
    return judge, msg, ref, studio._limits(msg)


def test_heuristic_judge_prefers_the_grounded_draft_to_one_with_an_invented_deadline(store):
    judge, msg, ref, lim = _heuristic(store)
    honest = {"title": "Thanks for your first order!",
              "body": "Your next Bros burger is RM4 off over RM20. Order now."}
    invented = dict(honest, body="Your next Bros burger is RM4 off over RM20, today only. "
                    "Order now.")
    assert judge.compare(honest, invented, msg, "new_buyers", ref, lim)["choice"] == "A"
    assert judge.compare(invented, honest, msg, "new_buyers", ref, lim)["choice"] == "B"
    s = judge.score(invented, msg, "new_buyers", ref, lim)
    assert s["audience_score"] == 1 and s["signals"]["unsupported"] == ["today only"]


def test_heuristic_judge_does_not_read_the_diagnosis_cues(store):
    """A hedge is what the diagnosis flags; the judge only sees its measurable cost."""
    judge, msg, ref, lim = _heuristic(store)
    plain = {"title": "Thanks!", "body": "RM4 off your next order over RM20. Order now."}
    hedged = {"title": "Thanks!", "body": "RM4 off your next order over RM20. Maybe later."}
    s_plain = judge.signals(plain, msg, "new_buyers", ref, lim)
    s_hedged = judge.signals(hedged, msg, "new_buyers", ref, lim)
    assert set(s_plain) == {"similarity", "reading_ease", "length_fit", "unsupported", "lost"}
    assert s_hedged["unsupported"] == [] and s_hedged["lost"] == []
    import inspect
    assert "diagnosis" not in inspect.getsource(judge).split('"""', 2)[2]


def test_offline_evaluation_is_labelled_a_heuristic_judge_and_asks_both_orders(store, made):
    ev = made["msg-nb-04"]["evaluation"]
    assert ev["engine"].startswith("Heuristic judge")
    assert [p["order"] for p in ev["pairwise"]] == ["original as A", "rewrite as A"]
