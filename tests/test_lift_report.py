"""The lift report: from a simulated run, from an imported CSV (with bad files refused), the
tables, the self-contained HTML, the CLI and the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest

from store import open_store
from workbench.lift import report as lr
from workbench.bench import bench_lift
from workbench.cli import main
from workbench import ValidationError
from workbench.library.seed import seed
from workbench.sim.trial import create_run, preset, run_row, run_trial, user_outcomes


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
        weekly = lr.weekly_table(pd.DataFrame(s.query("SELECT * FROM sim_weekly")))
    assert set(weekly["mode"]) == {"active", "passive"} and len(weekly) == 3 * 6
    assert len(lr.segment_table(data, "engagement", "active")) > 0
    assert list(lr.funnel(data, "active")["metric"])[:2] == ["direct_open", "engagement"]


CSV = (b"user_id,arm,phase,segment,engagement,direct_open,pre_engagement\n"
       + b"".join(f"u{i},{'holdout' if i % 10 == 0 else 'agent'},active,s{i % 3},"
                  f"{(i * 7) % 5},{(i * 3) % 2},{i % 4}\n".encode() for i in range(3000)))


def test_an_imported_csv_is_estimated():
    data = lr.read_csv(CSV, "outcomes.csv")
    assert data.phases == ["active"] and data.metrics == ["direct_open", "engagement"]
    assert data.treated.sum() == 2700 and data.covariates.shape == (3000, 1)
    table = lr.phase_table(data)
    assert list(table["metric"]) == ["direct_open", "engagement"]
    assert (table["estimator"] == "ML-RATE").all()


@pytest.mark.parametrize("data, message", [
    (b"user_id,arm,engagement\nu1,control,1\n", "row 2 field 'arm': 'control' is not agent"),
    (b"user_id,arm,engagement\nu1,agent,lots\n", "row 2 field 'engagement': 'lots' is not a"),
    (b"user_id,arm,engagement\nu1,agent,1\nu1,agent,2\n", "row 3 field 'user_id': user 'u1'"),
    (b"user,arm,engagement\nu1,agent,1\n", "field 'user_id': required column 'user_id'"),
    (b"user_id,arm,clicks\nu1,agent,1\n", "no metric column"),
    ("user_id,arm,engagement\nü,agent,1\n".encode("latin-1"), "row 2: is not valid UTF-8"),
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


def test_words_speak_a_managers_language():
    row = {"metric": "direct_open", "lift": 0.42, "ci_low": 0.2, "ci_high": 0.64}
    assert lr.words(row) == ("direct open: +42.0% per user (95% interval +20.0% to +64.0%), "
                             "clearly above business as usual.")


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
    assert result["users"] == 20_000 and result["seconds"] > 0 and result["folds"] == 5
    assert set(result["results"]) == {"direct_open", "engagement", "intent", "conversion",
                                      "conversion_vertical", "gmv"}
