"""The diagnosis on the studio's own labelled set, its fixed split, and the studio bench."""

from __future__ import annotations

from collections import Counter

import pytest

from workbench import ValidationError
from workbench.studio import dataset
from workbench.studio import diagnosis as diag
from workbench.studio.diagnosis import ERROR_TYPES


def test_the_labelled_set_covers_every_segment_and_error_type_with_multi_flaw_messages():
    rows = dataset.load()
    assert len(rows) == 110
    assert len({r["segment"] for r in rows}) == 11
    assert min(Counter(r["error_type"] for r in rows).values()) >= 20
    assert sum(1 for r in rows if r["secondary"]) >= 15
    seed_brands = {"Burger Bros KL", "FreshMart Bangsar", "Glow Beauty Bar", "Dim Sum Dynasty"}
    assert not {r["merchant"] for r in rows} & seed_brands
    assert not {r["product_category"] for r in rows} & {"restaurants", "groceries", "retail"}


def test_the_split_is_fixed_disjoint_and_held_out_has_at_least_40():
    tuning, held = dataset.load("tuning"), dataset.load("held_out")
    assert len(held) == 44 and len(tuning) == 66
    assert not {r["id"] for r in tuning} & {r["id"] for r in held}
    assert dataset.held_out_ids([r["id"] for r in dataset.load()]) == {r["id"] for r in held}
    with pytest.raises(ValidationError, match="part"):
        dataset.load("everything")


def test_a_bad_label_is_named_with_its_line(tmp_path):
    bad = tmp_path / "set.csv"
    bad.write_text("id,segment,channel,title,body,merchant,product_category,voucher,error_type,"
                   "secondary\nx,new_buyers,push,T,Body.,M,c,,rude_tone,\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        dataset.load(path=bad)
    assert [(p.row, p.field) for p in e.value.problems] == [(2, "error_type")]


def _accuracy(rows):
    right = Counter()
    for r in rows:
        right[r["error_type"], diag.diagnose(r, r["segment"])["error_type"] == r["error_type"]] += 1
    per = {t: right[t, True] / (right[t, True] + right[t, False]) for t in ERROR_TYPES}
    return sum(right[t, True] for t in ERROR_TYPES) / len(rows), per


def test_diagnosis_reaches_the_targets_on_the_held_out_part():
    overall, per_type = _accuracy(dataset.load("held_out"))
    assert overall >= 0.80
    assert min(per_type.values()) >= 0.60, per_type


def test_findings_are_ranked_by_evidence_with_the_others_secondary():
    msg = {"title": "Hello stranger!!", "voucher": "10% off min spend RM40",
           "body": "OMG you've never ordered from us?? lol fix that now. 10% off beans over "
                   "RM40. Maybe later."}
    d = diag.diagnose(msg, "active_old_followers")
    evidence = [f["evidence"] for f in d["findings"]]
    assert evidence == sorted(evidence, reverse=True)
    assert d["error_type"] == d["findings"][0]["error_type"]
    assert set(d["secondary"]) == {f["error_type"] for f in d["findings"][1:]
                                   if f["evidence"] >= diag.SECONDARY_MIN}
    assert {"audience_assumption_error", "misaligned_tone", "weak_call_to_action"} <= {
        f["error_type"] for f in d["findings"]}


@pytest.mark.parametrize("segment, title, body, voucher, expected", [
    ("potential_new_customers", "We missed you", "It's been ages! RM5 off over RM30. Order now.",
     "RM5 off first order min RM30", "audience_assumption_error"),
    ("frequent_buyers", "Deal", "RM5 off your first order over RM30. Order now.",
     "RM5 off first order min RM30", "irrelevant_offer"),
    ("lapsing_buyers", "Deal", "Something special is waiting for you. Order now.",
     "RM5 off min spend RM30", "vague_incentive"),
    ("repeat_buyers", "Notice", "Pursuant to your history you are entitled to RM5 off orders "
     "exceeding RM30. Order now.", "RM5 off min spend RM30", "misaligned_tone"),
    ("new_buyers", "Thanks", "Your second order is RM5 off over RM30. No rush.",
     "RM5 off second order min RM30", "weak_call_to_action"),
])
def test_each_error_type_is_found_on_a_clear_case(segment, title, body, voucher, expected):
    msg = {"title": title, "body": body, "voucher": voucher}
    assert diag.diagnose(msg, segment)["error_type"] == expected


def test_a_first_order_greeting_for_new_buyers_is_not_an_irrelevant_offer():
    msg = {"title": "Thanks for your first order!", "voucher": "RM5 off next order min RM30",
           "body": "Glad you tried us. RM5 off your next order over RM30. Order now."}
    assert diag.findings(msg, "new_buyers") == []


def test_bench_studio_reports_the_held_out_scorecard():
    from workbench.bench import bench_studio
    out = bench_studio()
    assert out["part"] == "held_out" and out["messages"] == 44
    assert out["unsupported_claim_share"] == 0.0
    assert out["keeps_every_number_code_date_share"] == 1.0
    assert out["diagnosis"]["accuracy"] >= 0.80
    confusion = out["diagnosis"]["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == 44
    assert out["diagnosis"]["accuracy"] == pytest.approx(
        sum(confusion[t][t] for t in ERROR_TYPES) / 44, abs=1e-4)
    pref = out["judge_preference"]
    assert pref["rewrite"] + pref["original"] + pref["tie"] == pytest.approx(1.0, abs=1e-3)
    assert out["judge"].startswith("heuristic judge")
