"""The lift report: from a simulated run, from an imported CSV (with bad files refused), the
tables, the self-contained HTML, the CLI and the benchmark."""

from __future__ import annotations

from dataclasses import replace

import json
import re

import numpy as np
import pandas as pd
import pytest

from store import open_store
from workbench.lift import charts
from workbench.lift import html as fmt
from workbench.lift import report as lr
from workbench.lift.estimators import CROSS_FIT_FOLDS
from workbench.lift.weekly import weekly_table
from workbench.bench import bench_lift
from workbench.cli import main
from workbench import ValidationError
from workbench.library.seed import seed
from workbench.sim.trial import create_run, preset, run_trial, user_outcomes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("lift") / "w.db"
    with open_store(path) as s:
        seed(s)
        rid = create_run(s, preset("quick_demo", users=6000, days=28, active_days=14, seed=3),
                         "t")
        run_trial(s, rid)
        yield path, s.query("SELECT * FROM sim_runs WHERE id = ?", [rid])[0]


def test_a_run_gives_per_phase_estimates_and_weekly_lift(run):
    path, row = run
    data = lr.from_run(user_outcomes(row))
    assert data.phases == ["active", "passive"]
    table = lr.phase_table(data)
    assert set(table["phase"]) == {"active", "passive", "passive vs active"}
    direct = table[(table["phase"] == "active") & (table["metric"] == "direct_open")].iloc[0]
    assert direct["estimator"] == "ML-RATE" and direct["lift"] > 0
    assert direct["ci_low"] < direct["lift"] < direct["ci_high"]
    with open_store(path) as s:
        import pandas as pd
        weekly = weekly_table(pd.DataFrame(s.query("SELECT * FROM sim_weekly")))
    # every one of the 4 weeks (the last one too), each in the mode of its days
    modes = weekly.groupby("week")["mode"].agg(set).to_dict()
    assert modes == {0: {"active"}, 1: {"active"}, 2: {"passive"}, 3: {"passive"}}
    assert len(weekly) == 4 * 6
    assert len(lr.segment_table(data, "engagement", "active")) > 0
    assert list(lr.funnel(data, "active")["metric"])[:2] == ["direct_open", "engagement"]


def test_the_change_between_phases_agrees_with_the_active_rows_verdict(report_file):
    """A change of lift has a number exactly when the active row (as reported, ML-RATE or
    permutation) calls the active lift clearly positive, and says why not otherwise; ML-RATE
    rows' changes are computed from the same adjusted means."""
    from workbench.lift.estimators import UNBOUNDED_CHANGE

    table = report_file[2]
    active = table[table["phase"] == "active"].set_index("metric")
    change = table[table["phase"] == "passive vs active"].set_index("metric")
    assert len(change) == 6
    for metric, row in change.iterrows():
        clear_up = bool(active.loc[metric, "significant"]) and active.loc[metric, "lift"] > 0
        clear_down = bool(active.loc[metric, "significant"]) and active.loc[metric, "lift"] < 0
        # a clear active lift gets a change, or (Fieller's interval of the ratio unbounded:
        # clear on the log scale only) says it is too uncertain; never "no clear lift"
        assert (row["status"] in ("ok", UNBOUNDED_CHANGE)) == clear_up, metric
        if clear_down:
            assert row["status"].startswith("the active-phase lift is negative"), metric
        elif not clear_up:
            assert row["status"] == "no clear active-phase lift to compare with", metric
        assert row["estimator"] == ("delta method (ML-RATE)"
                                    if active.loc[metric, "estimator"] == "ML-RATE"
                                    else "delta method"), metric


CSV = (b"user_id,arm,phase,segment,engagement,direct_open,pre_engagement\n"
       + b"".join(f"u{i},{'holdout' if i % 10 == 0 else 'agent'},active,s{i % 3},"
                  f"{(i * 7 + i // 10) % 5},{(i * 3 + i // 10) % 2},{i % 4}\n".encode()
                  for i in range(3000)))


def test_an_imported_csv_is_estimated():
    data = lr.read_csv(CSV, "outcomes.csv")
    assert data.phases == ["active"] and data.metrics == ["direct_open", "engagement"]
    assert data.treated.sum() == 2700 and data.covariates.shape == (3000, 1)
    table = lr.phase_table(data)
    assert list(table["metric"]) == ["direct_open", "engagement"]
    assert (table["estimator"] == "ML-RATE").all()


@pytest.mark.parametrize("data, message", [
    (b"user_id,arm,engagement\nu1,control,1\n", "row 1 field 'arm': 'control' is not agent"),
    (b"user_id,arm,engagement\nu1,agent,lots\n", "row 1 field 'engagement': 'lots' is not a"),
    (b"user_id,arm,engagement\nu1,agent,1\nu1,agent,2\n", "row 2 field 'user_id': user 'u1'"),
    (b"user,arm,engagement\nu1,agent,1\n", "field 'user_id': required column 'user_id'"),
    (b"user_id,arm,clicks\nu1,agent,1\n", "no metric column"),
    ("user_id,arm,engagement\nü,agent,1\n".encode("latin-1"),
     "row 1: byte 0xfc is not valid UTF-8"),
    (b"user_id,arm,phase,engagement\nu1,agent,active,1\nu1,holdout,passive,1\n",
     "user 'u1' is in both arms"),
])
def test_bad_files_are_refused_naming_row_and_column(data, message):
    with pytest.raises(ValidationError) as e:
        lr.read_csv(data, "bad.csv")
    assert message in str(e.value)


def test_the_html_report_is_self_contained():
    import plotly.express as px

    data = lr.read_csv(CSV)
    table = lr.phase_table(data, adjusted=False)
    html = lr.html_report("Report <test>", [("Estimates", table),
                                            ("Chart", px.bar(x=[1, 2], y=[3, 4]))])
    assert "Report &lt;test&gt;" in html and "<table" in html
    assert "plotly" in html and "<script src=" not in html  # plotly.js is inlined
    assert "Lift (95% interval)" in html and "0.0183" not in html  # formatted, not raw


def test_words_speak_a_managers_language():
    row = {"metric": "direct_open", "lift": 0.42, "ci_low": 0.2, "ci_high": 0.64,
           "significant": True, "status": "ok", "small_sample": False}
    assert lr.words(row) == ("Days with direct opens: +42.0% per user (95% interval +20.0% "
                             "to +64.0%), clearly above business as usual.")
    row.update(lift=-0.031, ci_low=-0.05, ci_high=-0.012)
    assert lr.words(row) == ("Days with direct opens: -3.1% per user (95% interval -5.0% to "
                             "-1.2%), clearly below business as usual.")
    row.update(significant=False, ci_high=0.01, small_sample=True, n_holdout=12)
    assert lr.words(row) == ("Days with direct opens: -3.1% per user (95% interval -5.0% to "
                             "+1.0%), not distinguishable from business as usual. Small sample "
                             "(12 holdout users): a rough indication only.")
    # An interval away from zero on a flagged sample is not "not distinguishable", and the
    # reason is the rule it broke: 100 holdout users is enough, 8 of them with an event is not.
    row.update(lift=1.375, ci_low=0.192, ci_high=3.732, n_holdout=100, events_holdout=8)
    assert lr.words(row) == ("Days with direct opens: +137.5% per user (95% interval +19.2% to "
                             "+373.2%), its interval excludes zero, but the sample is too small "
                             "to call it either way. Small sample (8 holdout users with an "
                             "event): a rough indication only.")
    row.update(status="no events in the holdout yet", lift=float("nan"))
    assert lr.words(row) == ("Days with direct opens: no events in the holdout yet, so there "
                             "is no lift to report.")


def test_numbers_are_formatted_for_people():
    assert [fmt.pct(v) for v in (0.031, -0.0027, 0.0, 12.5, float("nan"))] == [
        "+3.1%", "-0.27%", "+0.0%", "+1,250%", "n/a"]
    assert fmt.interval(0.031, 0.012, 0.05) == "+3.1% (+1.2% to +5.0%)"
    assert fmt.interval(0.5, -0.2, float("inf")) == "+50.0% (-20.0% to no upper limit)"
    assert [fmt.number(v) for v in (7.2183, 0.40421, 1234.5, 0.0)] == ["7.22", "0.404",
                                                                       "1,234", "0"]
    up = {"lift": 0.1, "significant": True, "status": "ok"}
    assert fmt.direction(up) == ("▲", fmt.UP)
    assert fmt.direction({**up, "lift": -0.1}) == ("▼", fmt.DOWN)
    assert fmt.direction({**up, "lift": -0.1, "significant": False}) == ("▼", fmt.FLAT)


def table_rows(**by_metric):
    rows = []
    for metric, (phase, lift, lo, hi, sig) in by_metric.items():
        rows.append({"phase": phase, "metric": metric, "lift": lift, "ci_low": lo,
                     "ci_high": hi, "significant": sig, "status": "ok", "small_sample": False,
                     "n_holdout": 5000})
    return pd.DataFrame(rows)


def test_the_summary_says_what_went_up_down_and_unclear():
    table = table_rows(direct_open=("active", 0.653, 0.5, 0.8, True),
                       engagement=("active", 0.028, 0.01, 0.046, True),
                       intent=("active", 0.003, -0.01, 0.016, False),
                       gmv=("active", -0.05, -0.09, -0.01, True))
    table.loc[len(table)] = {"phase": "active", "metric": "conversion", "lift": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "significant": False, "status": "no events in the holdout yet",
                             "small_sample": True, "n_holdout": 40}
    assert fmt.summary(table) == [
        "Active management: the agent's users did clearly better than the holdout on 2 of 5 "
        "metrics (days with direct opens +65.3% (+50.0% to +80.0%); days with engagement +2.8% "
        "(+1.0% to +4.6%)). Worse on GMV -5.0% (-9.0% to -1.0%). Not distinguishable from "
        "business as usual: days with intent. No lift yet for days with conversion (no events "
        "in the holdout yet).",
        "This report holds 4 intervals, each 95% on its own and not adjusted for the "
        "others: with no real difference anywhere, 1 in 20 would still exclude zero by chance "
        "(about 0.2 of 4), so one clear result among many is weak evidence alone."]
    none = table_rows(intent=("passive", 0.003, -0.01, 0.016, False),
                      gmv=("passive", 0.01, -0.02, 0.04, False))
    assert fmt.summary(none)[0] == (
        "Passive (agent on its own): the agent's users did clearly better than the holdout on "
        "none of the 2 metrics. Not distinguishable from business as usual: days with intent, "
        "GMV.")
    assert fmt.summary(none[:1])[0] == (
        "Passive (agent on its own): the agent's users did not do clearly better than the "
        "holdout. Not distinguishable from business as usual: days with intent.")


def test_the_summary_never_calls_an_interval_away_from_zero_indistinguishable():
    """QA case: conversion 5% in a 100-user holdout (8 with an event) against 20% with the
    agent. The interval (+19% to +373%) excludes zero but the sample is flagged, so it is not
    called clear; it was listed as "not distinguishable from business as usual"."""
    table = table_rows(direct_open=("active", 0.02, -0.01, 0.05, False),
                       conversion=("active", 1.375, 0.192, 3.732, False))
    table["small_sample"] = [False, True]
    table["events_holdout"] = [900, 8]
    table.loc[1, "n_holdout"] = 100
    assert fmt.summary(table) == [
        "Active management: the agent's users did clearly better than the holdout on none of "
        "the 2 metrics. Not distinguishable from business as usual: days with direct opens. "
        "Away from zero but on samples too small to call: days with conversion (8 holdout "
        "users with an event).",
        "This report holds 2 intervals, each 95% on its own and not adjusted for the "
        "others: with no real difference anywhere, 1 in 20 would still exclude zero by chance "
        "(about 0.1 of 2), so one clear result among many is weak evidence alone."]


def test_the_summary_says_why_a_metric_has_no_phase_comparison():
    from workbench.lift.estimators import HEAVY_TAILED_CHANGE, NEGATIVE_ACTIVE_LIFT, NO_ACTIVE_LIFT

    table = table_rows(direct_open=("passive vs active", -0.2, -0.3, -0.1, True),
                       engagement=("passive vs active", 0.1, -0.2, 0.4, False))
    for metric, status in (("intent", NO_ACTIVE_LIFT), ("conversion", NEGATIVE_ACTIVE_LIFT),
                           ("conversion_vertical", NEGATIVE_ACTIVE_LIFT),
                           ("gmv", HEAVY_TAILED_CHANGE)):
        table.loc[len(table)] = {"phase": "passive vs active", "metric": metric,
                                 "lift": float("nan"), "ci_low": float("nan"),
                                 "ci_high": float("nan"), "significant": False,
                                 "status": status, "small_sample": False, "n_holdout": 5000}
    assert fmt.summary(table) == [
        "From active to passive management the lift changed clearly for days with direct opens "
        "by -20.0% (-30.0% to -10.0%) (relative to the active phase's lift).",
        "The passive phase's lift is not distinguishable from the active phase's for days "
        "with engagement.",
        "No phase comparison for days with intent: without a clear lift in the active phase, "
        "the change between phases cannot be measured.",
        "No phase comparison for days with conversion, days with conversion in the vertical: "
        "the active phase's lift is negative, so a change relative to it would read backwards; "
        "the lift of each phase is given above.",
        "No phase comparison for GMV: a few large values carry the average, so a change "
        "between phases has no reliable interval; the lift of each phase is given above.",
        "This report holds 2 intervals, each 95% on its own and not adjusted for the "
        "others: with no real difference anywhere, 1 in 20 would still exclude zero by chance "
        "(about 0.1 of 2), so one clear result among many is weak evidence alone."]


def test_a_constant_or_empty_metric_does_not_stop_the_report():
    rows = [f"u{i},{'holdout' if i % 10 == 0 else 'agent'},{(i * 7 + i // 10) % 5},0,3,"
            f"{'-12.5' if i == 5 else (i % 50) * 1.5 if i % 3 == 0 else 0},{i % 4}"
            for i in range(3000)]
    data = lr.read_csv(("user_id,arm,engagement,intent,conversion,gmv,pre_engagement\n"
                        + "\n".join(rows)).encode(), "mixed.csv")
    assert data.outcomes["all"]["gmv"].min() == -12.5  # a refund is a real value
    table = lr.phase_table(data)
    by = table.set_index("metric")
    assert by.loc["intent", "status"] == "no events in the holdout yet"
    assert by.loc["conversion", "status"] == "no variation" and by.loc["conversion", "lift"] == 0
    assert by.loc["engagement", "estimator"] == "ML-RATE" and by.loc["engagement", "status"] == "ok"
    assert not by.loc["intent", "significant"] and np.isnan(by.loc["intent", "lift"])
    html = lr.manager_report(data, table, title="Mixed", generated="today")
    assert "Days with intent: no events in the holdout yet" not in html  # summary, not words
    assert "No lift yet for days with intent (no events in the holdout yet)." in html
    visible = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r"\bnan\b", visible, flags=re.I)


def test_negative_values_are_refused_where_they_mean_nothing():
    with pytest.raises(ValidationError) as e:
        lr.read_csv(b"user_id,arm,engagement\nu1,agent,-1\n", "bad.csv")
    assert "row 1 field 'engagement': '-1' is not a number >= 0" in str(e.value)


@pytest.fixture(scope="module")
def report_file(run, tmp_path_factory):
    """The manager's report of the module's run, written as Streamlit would leave plotly's
    default template (its placeholder colours are what made the old download black)."""
    import plotly.io as pio
    import streamlit.elements.plotly_chart  # noqa: F401  (sets the "streamlit" template)

    assert pio.templates.default == "streamlit"
    path, row = run
    data = lr.from_run(user_outcomes(row), f"run #{row['id']}")
    table = lr.phase_table(data)
    with open_store(path) as s:
        weekly = weekly_table(pd.DataFrame(s.query("SELECT * FROM sim_weekly")),
                                 lr.run_start(row))
    html = lr.manager_report(data, table, weekly=weekly, start=lr.run_start(row))
    out = tmp_path_factory.mktemp("report") / "lift_report.html"
    out.write_text(html, encoding="utf-8")
    return out, html, table


def test_the_managers_report_has_summary_dates_sizes_and_method(report_file):
    _, html, table = report_file
    assert "<h2>Summary</h2>" in html and "Active management: the agent" in html
    assert "Passive (agent on its own)" in html and "Change, passive vs active" in html
    meta = re.search(r"<p class='meta'>(.*?)</p>", html).group(1)
    assert "05 Jan 2026 to 01 Feb 2026" in meta, meta  # 28 days from the run's start
    assert re.search(r"6,000 users: [\d,]+ with the agent, [\d,]+ in the holdout \(1\d%\)", html)
    assert "ML-RATE (variance -" in html and "How this was measured" in html
    assert "<script src=" not in html and html.count("Plotly.newPlot") == 7
    # A change with no number is explained once, in the summary, not again as a warning.
    assert "No phase comparison for days with conversion" in html
    assert "⚠ no clear active-phase lift" not in html


def test_the_reports_warnings_keep_what_the_summary_does_not_say():
    table = table_rows(engagement=("active", 0.1, -0.2, 0.5, False))
    table["warning"] = "small sample: 40 holdout users, 6 with an event; the interval is rough"
    table.loc[len(table)] = {"phase": "active", "metric": "intent", "lift": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "significant": False, "status": "no events in the holdout yet",
                             "small_sample": True, "n_holdout": 40,
                             "warning": "no events in the holdout yet"}
    for col, value in (("n_agent", 400), ("mean_agent", 1.0), ("mean_holdout", 1.0),
                       ("estimator", "unadjusted"), ("variance_reduction", 0.0)):
        table[col] = value
    data = lr.LiftData(np.r_[np.ones(400, bool), np.zeros(40, bool)], np.array(["s"] * 440),
                       None, {"active": {"engagement": np.ones(440), "intent": np.zeros(440)}},
                       "tiny", {"active": 7})
    html = lr.manager_report(data, table, generated="now")
    warn = re.search(r"<p class='warn'>(.*?)</p>", html).group(1)
    assert warn == ("⚠ Active management, days with engagement: small sample: 40 holdout "
                    "users, 6 with an event; the interval is rough")
    assert "No lift yet for days with intent (no events in the holdout yet)." in html


@pytest.mark.browser
def test_the_downloaded_report_opened_alone_has_titled_axes_and_coloured_charts(
        report_file, browser):
    path, _, _ = report_file
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 7")
    charts = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
        x: gd._fullLayout.xaxis.title.text, y: gd._fullLayout.yaxis.title.text,
        fills: [...gd.querySelectorAll('.point path, .trace.scatter .js-line')].map(
            p => getComputedStyle(p).fill !== 'none' ? getComputedStyle(p).fill
                                                      : getComputedStyle(p).stroke)}))""")
    assert not errors
    assert len(charts) == 7
    for chart in charts:
        assert chart["x"] and chart["y"]
        assert chart["fills"] and all(c not in ("rgb(0, 0, 0)", "rgb(0, 0, 1)", "rgb(0, 0, 2)")
                                      for c in chart["fills"]), chart
    assert charts[0]["x"] == "Metric" and charts[0]["y"] == "Lift vs holdout (per user)"
    assert {"rgb(31, 119, 180)", "rgb(255, 127, 14)"} <= set(charts[0]["fills"])
    assert charts[1]["x"] == "Week starting"
    ticks = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')[1]"
                          ".querySelectorAll('.xtick text')].map(t => t.textContent)")
    assert ticks[0] == "05 Jan 2026"  # calendar dates of week starts, not week numbers
    page.close()


def test_cli_lift_prints_the_table_of_the_latest_run(run, monkeypatch, capsys, tmp_path):
    path, _ = run
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    assert main(["lift", "--json", "--unadjusted"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["phase"] for r in rows} == {"active", "passive", "passive vs active"}
    f = tmp_path / "o.csv"
    f.write_bytes(CSV)
    assert main(["lift", "--file", str(f)]) == 0
    assert "outcomes" not in capsys.readouterr().err
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "empty.db"))
    assert main(["lift"]) == 1
    assert "no finished simulated run" in capsys.readouterr().err


def test_bench_lift_reports_seconds_and_memory():
    result = bench_lift(20_000)
    assert result["users"] == 20_000 and result["seconds"] > 0 and result["folds"] == CROSS_FIT_FOLDS
    assert set(result["results"]) == {"direct_open", "engagement", "intent", "conversion",
                                      "conversion_vertical", "gmv"}


def test_figures_made_inside_the_app_keep_real_colours_in_the_download():
    import plotly.express as px
    import plotly.io as pio
    import streamlit.elements.plotly_chart  # noqa: F401  (sets the "streamlit" template)

    assert pio.templates.default == "streamlit"
    fig = px.bar(x=["a", "b", "a", "b"], y=[1, 2, 3, 4], color=["x", "x", "y", "y"])
    assert fig.data[0].marker.color == "#000001"  # Streamlit's placeholder, near-black
    charts.style(fig)
    assert [t.marker.color for t in fig.data] == ["#1f77b4", "#ff7f0e"]
    assert fig.layout.template.layout.colorway[0] != "#000001"


def test_the_whole_runs_lift_sums_the_phases_per_user():
    rng = np.random.default_rng(4)
    n = 4000
    treated = rng.random(n) < 0.9
    active = rng.poisson(np.where(treated, 1.3, 1.0))
    passive = rng.poisson(np.where(treated, 1.1, 1.0))
    data = lr.LiftData(treated, np.array(["s"] * n), np.zeros((n, 1)),
                       {"active": {"engagement": active.astype(float)},
                        "passive": {"engagement": passive.astype(float)}}, "test",
                       {"active": 7, "passive": 7})
    est = lr.whole_run(data, "engagement")
    y = active + passive
    assert est.lift == pytest.approx(y[treated].mean() / y[~treated].mean() - 1)
    assert est.ci[0] < est.lift < est.ci[1] and est.significant


@pytest.mark.parametrize("days, mode", [
    (["active"] * 7, "active"), (["active"] * 3 + ["passive"] * 4, "passive"),
    (["active"] * 4 + ["passive"] * 3, "active"), (["active", "passive"], "active"),
    (["passive"] * 2, "passive")])
def test_a_week_is_shown_in_the_mode_of_most_of_its_days(days, mode):
    from workbench.lift.metrics import week_mode

    assert week_mode(days) == mode


def test_the_uploader_takes_files_as_large_as_the_lift_import_does():
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2 ** 20 == lr.MAX_IMPORT_BYTES


def test_the_method_note_sums_up_the_estimators_by_kind():
    table = pd.DataFrame({"estimator": ["ML-RATE", "ML-RATE", "ML-RATE", "delta method"],
                          "variance_reduction": [0.34, 0.02, -0.01, float("nan")],
                          "status": ["ok"] * 4})
    assert fmt.estimators_used(table) == (
        "Estimators used here: ML-RATE for 3 estimate(s), variance 0% to 34% lower by metric "
        "and phase; the delta method (change between phases) for 1 estimate(s). Each "
        "estimate's is in the table.")


def test_the_method_note_names_the_adjusted_change_and_counts_only_its_numbers():
    """A change with no number (no clear active lift) is no estimate and has no variance
    reduction to report."""
    table = pd.DataFrame({"estimator": ["ML-RATE"] * 2 + ["delta method (ML-RATE)"] * 2,
                          "variance_reduction": [0.30, 0.10, 0.55, 0.0],
                          "status": ["ok", "ok", "ok", "no clear active-phase lift to compare "
                                                       "with"]})
    assert fmt.estimators_used(table) == (
        "Estimators used here: ML-RATE for 2 estimate(s), variance 10% to 30% lower by metric "
        "and phase; the delta method on ML-RATE's adjusted means (change between phases) for "
        "1 estimate(s), variance 55% lower by metric. Each estimate's is in the table.")
    none = table[table["status"] != "ok"]
    assert fmt.estimators_used(none) == (
        "No estimate could be made yet: the table says why for each metric.")


def test_the_people_table_says_a_missing_numbers_reason_once():
    """A row with no number shows its reason in the estimate's cell; the warning column kept
    repeating it word for word. Nor does it call an interval it does not have rough (a small
    sample's warning belongs to rows with a number)."""
    from workbench.lift.estimators import LiftEstimate

    no_lift = LiftEstimate(float("nan"), 1.0, float("nan"), float("nan"), 900, 50,
                           estimator="delta method",
                           status="no clear active-phase lift to compare with", events_c=8)
    clear = LiftEstimate(1.2, 1.0, 0.01, 0.01, 9000, 1000, events_c=400)
    rows = [{"phase": "passive vs active", "metric": "intent", **no_lift.as_dict()},
            {"phase": "active", "metric": "intent", **clear.as_dict()}]
    got = fmt.people_table(pd.DataFrame(rows))
    assert got["Lift (95% interval)"].tolist()[0] == "no clear active-phase lift to compare with"
    assert got["Warning"].tolist() == ["", ""]
    assert got["Method"].tolist() == ["delta method", "unadjusted"]


def test_a_row_with_no_number_names_its_method_without_a_variance_reduction():
    rows = table_rows(engagement=("passive vs active", 0.2, 0.1, 0.3, True),
                      intent=("passive vs active", float("nan"), float("nan"), float("nan"),
                              False))
    rows["estimator"] = "delta method (ML-RATE)"
    rows["variance_reduction"] = [0.25, 0.0]
    rows.loc[1, "status"] = "no clear active-phase lift to compare with"
    for col, value in (("n_agent", 900), ("mean_agent", 1.0), ("mean_holdout", 1.0)):
        rows[col] = value
    assert fmt.people_table(rows)["Method"].tolist() == [
        "delta method on ML-RATE means (variance -25%: interval 13% narrower, worth 1.3x the "
        "users)", "delta method on ML-RATE means"]
    # a reduction that rounds to 0% is none ("variance -0%: interval 0% narrower" before)
    rows["variance_reduction"] = [0.004, 0.0]
    assert fmt.people_table(rows)["Method"].tolist() == [
        "delta method on ML-RATE means (no variance reduction)", "delta method on ML-RATE means"]


def test_the_weekly_interval_is_a_band_without_markers_however_few_the_weeks():
    """Under 20 points plotly drew the bounds' default markers, in the colourway's red and
    blue, above and below the band."""
    weekly = pd.DataFrame({"metric": "engagement", "status": "ok", "week": range(4),
                           "week_start": pd.date_range("2026-01-05", periods=4, freq="7D"),
                           "lift": 0.1, "ci_low": 0.0, "ci_high": 0.2, "mode": "active"})
    fig = charts.weekly_figure(weekly, "engagement")
    assert [t.mode for t in fig.data] == ["lines", "lines", "lines+markers"]


def test_the_timelines_lift_by_phase_is_the_rate_ratio_of_its_daily_totals():
    from workbench.lift.timeline import phase_lifts, point_lift

    assert point_lift(30, 100, 10, 50) == pytest.approx(0.5)  # 0.3 against 0.2 per user
    assert point_lift(30, 100, 0, 50) is None  # no holdout events yet
    daily = pd.DataFrame([
        {"date": "2026-01-05", "mode": "active", "arm": "agent", "users": 90, "sends": 80,
         "direct_open": 9, "engagement": 45, "intent": 9, "conversion": 2},
        {"date": "2026-01-05", "mode": "active", "arm": "holdout", "users": 10, "sends": 1,
         "direct_open": 0.5, "engagement": 4, "intent": 1, "conversion": 0},
        {"date": "2026-01-06", "mode": "active", "arm": "agent", "users": 90, "sends": 80,
         "direct_open": 9, "engagement": 45, "intent": 9, "conversion": 2},
        {"date": "2026-01-06", "mode": "active", "arm": "holdout", "users": 10, "sends": 1,
         "direct_open": 0.5, "engagement": 4, "intent": 1, "conversion": 0}])
    assert phase_lifts(daily).to_dict("records") == [{
        "Phase": "Active management: 05 Jan 2026 to 06 Jan 2026",
        "Days with direct opens": "+100.0%", "Days with engagement": "+25.0%",
        "Days with intent": "+0.0%", "Days with conversion": "no holdout events yet"}]


def huge_gmv_csv(value: str = "1e308", n: int = 400) -> bytes:
    """The QA file: 400 users, one in ten in the holdout, each with the same GMV."""
    return ("user_id,arm,gmv\n" + "".join(
        f"u{i},{'holdout' if i % 10 == 0 else 'agent'},{value}\n" for i in range(n))).encode()


def test_a_value_too_large_to_sum_is_refused_naming_row_and_field():
    """A GMV of 1e308 per user made the arm sums infinite: the report crashed (OverflowError in
    the per-user averages) and the CLI said 'ok' with no lift."""
    limit = lr.value_limit(400, 1)
    assert f"{limit:.1e}" == "1.3e+76"
    why = ("'1e+308' is too large: with 400 rows the lift's sums of squares and fourth powers "
           "overflow above 1.3e+76")
    with pytest.raises(ValidationError) as e:
        lr.read_csv(huge_gmv_csv(), "huge.csv")
    assert e.value.summary == "huge.csv was rejected; nothing was imported"
    assert [str(p) for p in e.value.problems] == [f"row {r} field 'gmv': {why}"
                                                  for r in range(1, 21)]  # the first 20
    # just below the limit the lift is the one of the same file in units 2e75 times smaller
    rows = [(f"u{i}", "holdout" if i % 10 == 0 else "agent", i % 7) for i in range(400)]
    small, big = (lr.read_csv(("user_id,arm,gmv\n" + "".join(
        f"{u},{arm},{v * scale!r}\n" for u, arm, v in rows)).encode()) for scale in (1, 2e75))
    assert big.outcomes["all"]["gmv"].max() == 1.2e76
    cols = ["lift", "ci_low", "ci_high", "status"]
    a, b = (lr.phase_table(d, adjusted=False).iloc[0][cols].tolist() for d in (small, big))
    assert b[:3] == pytest.approx(a[:3], rel=1e-12) and a[3] == b[3] == "ok"


def test_a_huge_value_is_refused_by_the_cli_and_the_page(tmp_path, monkeypatch, capsys,
                                                         db_path):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    f = tmp_path / "huge.csv"
    f.write_bytes(huge_gmv_csv())
    assert main(["lift", "--file", str(f), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[:3] == [
        "error: huge.csv was rejected; nothing was imported:",
        "- row 1 field 'gmv': '1e+308' is too large: with 400 rows the lift's sums of squares "
        "and fourth powers overflow above 1.3e+76",
        "- row 2 field 'gmv': '1e+308' is too large: with 400 rows the lift's sums of squares "
        "and fourth powers overflow above 1.3e+76"]
    assert "Warning" not in captured.err
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    at.switch_page("pages/4_Lift_report.py").run()
    at.selectbox(key="source_pick").set_value("file").run()
    at.file_uploader(key="lift_file").set_value(("huge.csv", huge_gmv_csv(), "text/csv"))
    at.run()
    assert not at.exception
    assert [e.value.split("\n")[:3] for e in at.error] == [[
        "huge.csv was rejected; nothing was imported:", "",
        "- " + ui_plain("row 1 field 'gmv': '1e+308' is too large: with 400 rows the lift's "
                        "sums of squares and fourth powers overflow above 1.3e+76")]]


def ui_plain(text: str) -> str:
    import ui

    return ui.plain(text)


def test_a_per_user_average_that_is_not_finite_reads_n_a():
    assert [fmt.number(v) for v in (float("inf"), float("-inf"), float("nan"), None)] == [
        "n/a", "n/a", "n/a", "n/a"]
    row = {"phase": "all", "metric": "gmv", "estimator": "unadjusted", "n_agent": 360,
           "n_holdout": 40, "mean_agent": float("inf"), "mean_holdout": float("inf"),
           "lift": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
           "significant": False, "status": "ok", "small_sample": True, "variance_reduction": 0.0}
    people = fmt.people_table(pd.DataFrame([row]))
    assert (people["Agent per user"].tolist(), people["Holdout per user"].tolist()) == (
        ["n/a"], ["n/a"])


def test_the_segment_tables_chance_note_counts_without_rounding_away():
    assert [fmt.chance_note(n) for n in (1, 3, 6, 20)] == [
        "",
        ". Each interval is 95% on its own: of 3 segments with no real difference, about 0.15 "
        "would still exclude 0 by chance.",
        ". Each interval is 95% on its own: of 6 segments with no real difference, about 0.3 "
        "would still exclude 0 by chance.",
        ". Each interval is 95% on its own: of 20 segments with no real difference, about 1 "
        "would still exclude 0 by chance."]


def test_cli_lift_text_says_why_a_number_is_missing_and_flags_small_samples(tmp_path, capsys):
    """The text table printed NaN for a metric without holdout events and left out the
    small-sample warning the page and --json give; it prints the report's table now."""
    rows = ["user_id,arm,engagement,gmv"] + [
        f"u{i},{'holdout' if i % 10 == 0 else 'agent'},{i % 3},"
        f"{0 if i % 10 == 0 else 12.5 * (i % 4 == 1)}" for i in range(300)]
    f = tmp_path / "tiny.csv"
    f.write_text("\n".join(rows) + "\n")
    assert main(["lift", "--file", str(f), "--unadjusted"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Lift of the agent over business as usual (tiny.csv)"
    assert [line.split() for line in out[1:]][1:] == [
        "Whole trial Days with engagement ● +0.0% (-27.7% to +38.2%) no 1.00 1.00 270 / 30 "
        "unadjusted small sample: 30 holdout users, 20 with an event; the interval is "
        "rough".split(),
        "Whole trial GMV no events in the holdout yet no 3.47 0 270 / 30 unadjusted".split()]


def test_only_a_running_programmes_report_says_its_numbers_are_interim():
    """The live programme's report is read again and again while it runs; its intervals are
    for one look each, and the report says so before any number (a finished run's does not)."""
    table = table_rows(engagement=("all", 0.1, 0.02, 0.2, True))
    for col, value in (("n_agent", 400), ("mean_agent", 1.1), ("mean_holdout", 1.0),
                       ("estimator", "unadjusted"), ("variance_reduction", 0.0),
                       ("warning", "")):
        table[col] = value
    data = lr.LiftData(np.r_[np.ones(400, bool), np.zeros(40, bool)], np.array(["s"] * 440),
                       None, {"all": {"engagement": np.ones(440)}}, "live programme")
    finished = lr.manager_report(data, table, generated="now")
    running = lr.manager_report(replace(data, ongoing=True), table, generated="now")
    first = re.search(r"<div class='summary'><p>(.*?)</p>", running).group(1)
    assert first == fmt.escape(lr.INTERIM_NOTE) and lr.INTERIM_NOTE.startswith(
        "Interim results: the programme is still running")
    assert "Interim results" not in finished


def test_a_metric_with_no_weekly_number_gets_a_sentence_not_an_empty_chart():
    """Live programme, holdout without direct opens: the weekly chart was empty, on an axis
    numbered -1 to 6 instead of dates, and the segment table an empty caption."""
    weekly = pd.DataFrame([
        {"week": w, "metric": m, "status": s, "lift": lift, "ci_low": lift - 0.1,
         "ci_high": lift + 0.1, "mode": "active", "week_start": f"2026-11-{9 + 7 * w:02d}",
         "small_sample": True}
        for w in (0, 1) for m, s, lift in (
            ("direct_open", "no events in the holdout yet", float("nan")),
            ("engagement", "ok", 0.05))])
    assert fmt.no_weekly_lift(weekly, "direct_open") == (
        "No week has a lift of days with direct opens yet (no events in the holdout yet, "
        "2 weeks).")
    assert fmt.no_weekly_lift(weekly, "engagement") is None
    assert fmt.no_segment_lift("direct_open") == (
        "No segment has at least 20 users in each arm and days with direct opens in its "
        "holdout yet, so there is no lift by segment.")
    table = table_rows(direct_open=("active", float("nan"), float("nan"), float("nan"), False),
                       engagement=("active", 0.05, -0.05, 0.15, False))
    for col, value in (("n_agent", 400), ("mean_agent", 1.0), ("mean_holdout", 1.0),
                       ("estimator", "unadjusted"), ("variance_reduction", 0.0),
                       ("warning", "")):
        table[col] = value
    table.loc[0, "status"] = "no events in the holdout yet"
    data = lr.LiftData(np.r_[np.ones(400, bool), np.zeros(40, bool)], np.array(["s"] * 440),
                       None, {"active": {"direct_open": np.r_[np.ones(400), np.zeros(40)],
                                         "engagement": np.ones(440)}}, "live programme")
    html = lr.manager_report(data, table, weekly=weekly, generated="now")
    assert ("<p>No week has a lift of days with direct opens yet (no events in the holdout "
            "yet, 2 weeks).</p>") in html
    assert html.count("Plotly.newPlot") == 2  # the phase chart and engagement's weeks only
