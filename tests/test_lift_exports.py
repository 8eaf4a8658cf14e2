"""What leaves the lift report for people who never open the app: the rows of the JSON and CSV
exports, the phase chart's whiskers, and the weekly rows of a heavy-tailed metric."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main
from workbench.library.files import csv_text
from workbench.lift import charts
from workbench.lift import html as fmt
from workbench.lift import report as lr
from workbench.lift.change import phase_change
from workbench.lift.estimators import (PER_USER_FIELDS, UNBOUNDED_CHANGE, from_moments,
                                       heavy_tailed, unadjusted)
from workbench.lift.weekly import NO_INTERVAL, NO_WEEKLY_INTERVAL, heavy_weeks, weekly_table

CHANGE = "passive vs active"


def _two_phase_file() -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """2,000 users (90/10) in two phases: days with intent clearly up in the active phase
    (+100%) and still up in the passive one; conversion with no clear active lift."""
    rng = np.random.default_rng(11)
    treated = np.arange(2000) < 1800
    rates = {"intent": ((0.5, 0.25), (0.45, 0.25)), "conversion": ((0.1, 0.1), (0.1, 0.1))}
    outcomes = {phase: {m: (rng.random(2000) < np.where(treated, r[i][0], r[i][1])).astype(float)
                        for m, r in rates.items()}
                for i, phase in enumerate(("active", "passive"))}
    return treated, outcomes


def _as_csv(treated: np.ndarray, outcomes: dict[str, dict[str, np.ndarray]]) -> bytes:
    lines = ["user_id,arm,phase,intent,conversion"]
    for phase, o in outcomes.items():
        lines += [f"u{i},{'agent' if t else 'holdout'},{phase},{o['intent'][i]:g},"
                  f"{o['conversion'][i]:g}" for i, t in enumerate(treated)]
    return ("\n".join(lines) + "\n").encode()


def _json_value(v):
    """A value as ``DataFrame.to_json`` writes it (NaN: null)."""
    return None if isinstance(v, float) and math.isnan(v) else v


def test_change_rows_of_the_exports_carry_no_per_user_averages(tmp_path, monkeypatch, capsys):
    """The "passive vs active" rows of ``lift --json`` and the page's CSV read
    ``mean_agent = 1 + change`` and ``mean_holdout = 1`` (and ``diff`` = the change): a
    manager forwarding the CSV read per-user averages (a demo run's days with intent: -0.40
    against 1). They are now empty;
    the change, its interval, p-value, status and users per arm stay, and the phases' rows
    keep their averages."""
    treated, outcomes = _two_phase_file()
    f = tmp_path / "outcomes.csv"
    f.write_bytes(_as_csv(treated, outcomes))
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "w.db"))
    assert main(["lift", "--file", str(f), "--json"]) == 0
    rows = {(r["phase"], r["metric"]): r for r in json.loads(capsys.readouterr().out)}

    # the clear change: exactly the change's own fields, nothing per user
    y = {p: outcomes[p]["intent"] for p in ("active", "passive")}
    expected = phase_change({"y": y["active"], "treated": treated},
                            {"y": y["passive"], "treated": treated},
                            active_lift=unadjusted(y["active"][treated], y["active"][~treated]))
    assert expected.status == "ok" and not expected.significant
    got = rows[CHANGE, "intent"]
    want = {"phase": CHANGE, "metric": "intent", **expected.as_dict()}
    assert sorted(got) == sorted(want)
    assert {k for k, v in got.items() if v is None} == set(PER_USER_FIELDS)
    for key, value in want.items():
        value = _json_value(value)
        assert got[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float)
                            else value), key
    assert got["lift"] == pytest.approx(0.1171355499, rel=1e-9)  # the change: +11.7%
    assert (got["n_agent"], got["n_holdout"]) == (1800, 200)

    # a change with no number: no per-user field either (mean_holdout read 1.0)
    none = rows[CHANGE, "conversion"]
    assert none["status"] == "no clear active-phase lift to compare with"
    assert {k: none[k] for k in PER_USER_FIELDS} == dict.fromkeys(PER_USER_FIELDS)

    # a phase's row keeps its averages per user
    active = rows["active", "intent"]
    assert active["mean_agent"] == pytest.approx(float(y["active"][treated].mean()), rel=1e-9)
    assert active["mean_holdout"] == pytest.approx(float(y["active"][~treated].mean()),
                                                   rel=1e-9)

    # the page's CSV: the same rows, blank where a change has no per-user value
    data = lr.read_csv(f.read_bytes(), "outcomes.csv")
    table = lr.phase_table(data)
    exported = list(csv.DictReader(io.StringIO(csv_text(table))))
    for row in exported:
        cells = {k: row[k] for k in PER_USER_FIELDS}
        if row["phase"] == CHANGE:
            assert cells == dict.fromkeys(PER_USER_FIELDS, ""), row["metric"]
        else:
            assert all(cells.values()), (row["phase"], row["metric"])
    intent = next(r for r in exported if (r["phase"], r["metric"]) == (CHANGE, "intent"))
    assert float(intent["lift"]) == pytest.approx(expected.lift, rel=1e-12)
    assert (float(intent["ci_low"]), float(intent["ci_high"])) == pytest.approx(expected.ci,
                                                                               rel=1e-12)
    # what the page shows for it is unchanged: no per-user columns for a change
    people = fmt.people_table(table[table["phase"] == CHANGE])
    assert people[["Agent per user", "Holdout per user"]].to_dict("records") == [
        {"Agent per user": "", "Holdout per user": ""}] * 2


def _gmv_table() -> pd.DataFrame:
    """Phase rows as the phase table has them: GMV's active holdout has one buyer, so its
    permutation interval has no upper end; the other bars are bounded; the change rows have
    no number (one of them unbounded)."""
    rng = np.random.default_rng(1)
    y_t, y_c = np.zeros(4500), np.zeros(500)
    y_t[:30], y_c[:1] = rng.lognormal(3, 1.5, 30), rng.lognormal(3, 1.5, 1)
    treated = np.r_[np.ones(4500, bool), np.zeros(500, bool)]
    passive = np.where(treated, rng.poisson(1.2, 5000), rng.poisson(1.0, 5000)).astype(float)
    data = lr.LiftData(treated, np.array(["s"] * 5000), None,
                       {"active": {"engagement": passive[::-1].copy(), "gmv": np.r_[y_t, y_c]},
                        "passive": {"engagement": passive, "gmv": np.r_[y_t, y_c][::-1].copy()}},
                       "file")
    table = lr.phase_table(data, adjusted=False)
    table.loc[table["phase"] == CHANGE, "status"] = UNBOUNDED_CHANGE
    return table


def test_an_interval_without_an_upper_end_gets_no_whisker_and_says_so():
    """GMV with one holdout buyer: the permutation test never rejects a larger lift, so the
    interval has no upper end (``ci_high`` = inf). The phase chart cut the whisker at the
    lift, drawing an upper limit equal to the estimate. The bar now has no whisker, says
    "interval: no upper limit" and gives its interval on hover; bounded bars keep theirs, in
    the same slot of their phase, with one legend entry per phase."""
    table = _gmv_table()
    gmv = table[(table["phase"] == "active") & (table["metric"] == "gmv")].iloc[0]
    assert gmv["estimator"] == "permutation" and gmv["ci_low"] == -1.0
    assert gmv["ci_high"] == math.inf
    fig = charts.phase_figure(table)
    phases = {fmt.PHASE_LABELS[p]: p for p in ("active", "passive")}
    bars = {(phases[t.name], x): (t, i) for t in fig.data for i, x in enumerate(t.x)}
    # every OK phase row is one bar, the changes none (no lift per user, even unbounded)
    assert sorted(bars) == [("active", "Days with engagement"), ("active", "GMV"),
                            ("passive", "Days with engagement"), ("passive", "GMV")]
    trace, i = bars["active", "GMV"]
    assert trace.error_y.array is None and trace.error_y.arrayminus is None  # was 0 above
    assert trace.text == ("interval: no upper limit",)
    assert trace.customdata == (fmt.interval(gmv["lift"], -1.0, math.inf),)
    assert trace.customdata[0].endswith("(-100.0% to no upper limit)")
    assert trace.y[i] == pytest.approx(gmv["lift"])
    for (phase, metric), (t, j) in bars.items():
        if (phase, metric) == ("active", "GMV"):
            continue
        row = table[(table["phase"] == phase)
                    & (table["metric"].map(lambda m: fmt.metric_name(m)) == metric)].iloc[0]
        assert t.error_y.array[j] == pytest.approx(row["ci_high"] - row["lift"])
        assert t.error_y.arrayminus[j] == pytest.approx(row["lift"] - row["ci_low"])
        assert np.isfinite(t.error_y.array[j]) and t.text is None
    # the unbounded bar sits in its phase's slot, under its phase's one legend entry
    assert [(t.offsetgroup, t.legendgroup, t.showlegend) for t in fig.data] == [
        ("active", "active", True), ("active", "active", False), ("passive", "passive", True)]
    assert [t.name for t in fig.data] == ["Active management"] * 2 + [
        "Passive (agent on its own)"]
    assert charts.unbounded_label(-1.0, math.inf) == "interval: no upper limit"
    assert charts.unbounded_label(-math.inf, math.inf) == "interval unbounded"
    assert charts.unbounded_label(-0.5, 0.5) == ""


def _heavy_trial(rng: np.random.Generator, n: int = 50_000, weeks: int = 4):
    """Four weeks (two active, two passive) of 50,000 users, 90/10: GMV with 0.1% buyers a
    week and lognormal baskets (heavy-tailed in each phase), engagement Poisson (not). The
    phases' per-user outcomes are the sums of their weeks; the weeks keep moments only."""
    treated = rng.random(n) < 0.9
    gmv = np.zeros((weeks, n))
    for w in range(weeks):
        buyers = rng.random(n) < 0.001
        gmv[w, buyers] = rng.lognormal(3.0, 1.5, buyers.sum())
    engagement = rng.poisson(np.where(treated, 1.1, 1.0), (weeks, n)).astype(float)
    modes = ["active", "active", "passive", "passive"]
    rows = []
    for w, mode in enumerate(modes):
        for metric, values in (("gmv", gmv[w]), ("engagement", engagement[w])):
            for arm, members in (("agent", treated), ("holdout", ~treated)):
                v = values[members]
                rows.append({"week": w, "arm": arm, "mode": mode, "metric": metric,
                             "n": int(members.sum()), "sum": float(v.sum()),
                             "sumsq": float((v ** 2).sum())})
    outcomes = {p: {"engagement": engagement[[i, i + 1]].sum(axis=0),
                    "gmv": gmv[[i, i + 1]].sum(axis=0)} for p, i in (("active", 0),
                                                                      ("passive", 2))}
    data = lr.LiftData(treated, np.array(["s"] * n), None, outcomes, "file",
                       {"active": 14, "passive": 14})
    return data, pd.DataFrame(rows)


def test_a_heavy_tailed_metrics_weeks_get_no_delta_method_interval():
    """The phase table, the whole-run headline and the segment table give heavy-tailed GMV
    the permutation interval; its weekly rows still had the delta method's (weekly sums
    only), the interval that excluded 0 in 13% of A/A trials. A week whose phase the rule
    (``heavy_tailed``, read from the phase table's estimator) finds heavy-tailed now keeps
    its lift and has no interval, is never called clear and says why; other metrics' weeks
    are untouched. The manager's report says it in words and draws no band."""
    data, moments = _heavy_trial(np.random.default_rng(8))
    table = lr.phase_table(data, adjusted=False)
    weekly = weekly_table(moments, date(2026, 1, 5))
    out = heavy_weeks(weekly, table)
    for phase in ("active", "passive"):
        for metric in ("gmv", "engagement"):
            y = data.outcomes[phase][metric]
            heavy = heavy_tailed(y[data.treated], y[~data.treated])
            row = table[(table["phase"] == phase) & (table["metric"] == metric)].iloc[0]
            assert (row["estimator"] == "permutation") == heavy == (metric == "gmv")
    gmv = out[out["metric"] == "gmv"]
    assert gmv[["week", "mode", "estimator", "significant", "note"]].to_dict("records") == [
        {"week": w, "mode": m, "estimator": NO_INTERVAL, "significant": False,
         "note": NO_WEEKLY_INTERVAL}
        for w, m in enumerate(["active", "active", "passive", "passive"])]
    assert gmv[["ci_low", "ci_high", "p_value", "lift_se", "diff_se", "df"]].isna().all().all()
    assert all(w.startswith(NO_WEEKLY_INTERVAL) for w in gmv["warning"])
    for r in gmv.to_dict("records"):  # the week's lift and averages stay, from its sums
        a, h = (moments[(moments["week"] == r["week"]) & (moments["metric"] == "gmv")
                        & (moments["arm"] == arm)].iloc[0] for arm in ("agent", "holdout"))
        est = from_moments(a["n"], a["sum"], a["sumsq"], h["n"], h["sum"], h["sumsq"])
        assert (r["lift"], r["mean_agent"], r["mean_holdout"]) == (
            est.lift, est.mean_t, est.mean_c)
    # engagement's weeks: exactly as the weekly table made them
    pd.testing.assert_frame_equal(out[out["metric"] == "engagement"],
                                  weekly[weekly["metric"] == "engagement"])
    assert weekly.loc[weekly["metric"] == "gmv", "ci_low"].notna().all()  # what it was
    # no table to decide by (a run still going): unchanged
    assert heavy_weeks(weekly, None) is weekly

    fig = charts.weekly_figure(out, "gmv")
    band_high, band_low, line = fig.data
    assert all(v is None or math.isnan(v) for v in (*band_high.y, *band_low.y))
    assert band_low.showlegend is False  # no "95% interval" in the legend with none drawn
    assert list(line.y) == list(gmv["lift"])
    assert list(line.customdata) == [" (no interval)"] * 4
    assert fig.layout.title.subtitle.text == (
        "no interval for 4 of 4 weeks: a few large values carry the average")
    assert charts.weekly_figure(out, "engagement").layout.title.subtitle.text is None

    html = lr.manager_report(data, table, weekly=weekly, generated="now")
    assert ("the shaded span is the passive phase. No interval for the weeks of GMV: a few "
            "large values carry the average, and weekly sums cannot give the permutation "
            "interval of the table above.</p>") in html
