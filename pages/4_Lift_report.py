"""Lift report: does the agent earn its keep, and what does marketers' curation add?

What is slow is computed once per thing it depends on, not per rerun: a run's per-user outcomes
by run id (only finished runs are read, and they never change), an uploaded file by the SHA-256
of its bytes, the estimates by that source and the adjustment, segment tables and funnels by
source, metric and phase. The HTML report (plotly.js inlined, megabytes) and the CSV are built
when someone downloads them.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import ui
from workbench.library.service import csv_text
from workbench.lift import report as lr
from workbench.sim import trial

METRIC_NAMES = {"direct_open": "Days with direct opens", "engagement": "Days with engagement",
                "intent": "Days with intent", "conversion": "Days with conversion",
                "conversion_vertical": "Days with conversion in the vertical", "gmv": "GMV"}


@st.cache_resource(show_spinner="Reading the run's per-user outcomes...", max_entries=4)
def run_data(run_id: int, _run: dict) -> lr.LiftData | None:
    """A finished run's outcomes (it never changes once done), shared by every session."""
    users = trial.user_outcomes(_run)
    return None if users is None else lr.from_run(users, f"run #{run_id}")


@st.cache_resource(show_spinner="Reading the file...", max_entries=4)
def upload_data(digest: str, _data: bytes, name: str) -> lr.LiftData:
    """An uploaded file, by the SHA-256 of its bytes: two files with the same name and size but
    different content are two sources."""
    return lr.read_csv(_data, name)


def upload_key(data: bytes) -> str:
    return "file:" + hashlib.sha256(data).hexdigest()


@st.cache_data(show_spinner="Estimating lift (ML-RATE cross-fits a model per metric)...",
               max_entries=16)
def estimates(key: str, _data: lr.LiftData, adjusted: bool) -> pd.DataFrame:
    return lr.phase_table(_data, adjusted=adjusted)


@st.cache_data(max_entries=64, show_spinner=False)
def segments(key: str, _data: lr.LiftData, metric: str, phase: str) -> pd.DataFrame:
    return lr.segment_table(_data, metric, phase)


@st.cache_resource(max_entries=32, show_spinner=False)
def funnel_chart(key: str, phase: str, _data: lr.LiftData) -> go.Figure:
    f = lr.funnel(_data, phase)
    return px.bar(f.melt(id_vars="metric", var_name="arm", value_name="per user"), x="metric",
                  y="per user", color="arm", barmode="group", log_y=True, height=320,
                  title="Funnel per arm (per user)")


def load(store) -> tuple[str, lr.LiftData | None, dict | None]:
    source = st.radio("Data", ["Simulated trial (latest finished run)", "Imported CSV"],
                      horizontal=True, key="lift_source")
    if source.startswith("Imported"):
        upload = st.file_uploader("User-level outcomes (CSV: user_id, arm, phase, segment, "
                                  "metrics, pre_* covariates)", type=["csv"], key="lift_file")
        if upload is None:
            st.info("Upload a file to see its lift.")
            return "", None, None
        data = upload.getvalue()
        key = upload_key(data)
        with ui.reported():
            return key, upload_data(key, data, upload.name), None
        return "", None, None
    run = trial.latest_run(store, status="done")
    data = run_data(run["id"], run) if run else None
    if data is None:
        st.info("No finished simulated run yet: run the demo trial from the home page or the "
                "Agent control page, or import real outcomes.")
        return "", None, None
    return f"run:{run['id']}", data, run


def headline(table: pd.DataFrame, phase: str) -> None:
    rows = table[table["phase"] == phase].to_dict("records")
    cols = st.columns(3)
    for i, row in enumerate(rows):
        with cols[i % 3]:
            st.metric(METRIC_NAMES.get(row["metric"], row["metric"]), f"{row['lift']:+.1%}",
                      delta=f"95% CI {row['ci_low']:+.1%} to {row['ci_high']:+.1%}",
                      delta_color="normal" if row["significant"] else "off",
                      help=lr.words(row))
            st.caption(lr.words(row) + " " + ("Significant" if row["significant"]
                                               else "Not significant")
                       + f" · {row['estimator']}"
                       + (f" · variance −{row['variance_reduction']:.0%}"
                          if row["variance_reduction"] > 0 else ""))


@st.cache_resource(max_entries=16, show_spinner=False)
def phase_chart(key: str, adjusted: bool, _table: pd.DataFrame) -> go.Figure:
    data = _table[_table["phase"].isin(["active", "passive"])]
    fig = go.Figure()
    for phase, g in data.groupby("phase"):
        fig.add_bar(x=g["metric"], y=g["lift"], name=phase, error_y=dict(
            type="data", symmetric=False, array=g["ci_high"] - g["lift"],
            arrayminus=g["lift"] - g["ci_low"]))
    fig.update_layout(barmode="group", height=340, yaxis_tickformat="+.0%",
                      margin=dict(l=0, r=0, t=30, b=0), title="Lift by phase, 95% intervals")
    return fig


@st.cache_data(max_entries=8, show_spinner=False)
def weekly_table(run_id: int, _weekly: pd.DataFrame) -> pd.DataFrame:
    """A finished run's lift per week (its weekly moments never change once it is done)."""
    return lr.weekly_table(_weekly)


@st.cache_resource(max_entries=32, show_spinner=False)
def weekly_chart(run_id: int, metric: str, _weekly: pd.DataFrame) -> go.Figure:
    weekly = _weekly
    w = weekly[weekly["metric"] == metric].sort_values("week")
    fig = go.Figure([
        go.Scatter(x=w["week"], y=w["ci_high"], line=dict(width=0), showlegend=False),
        go.Scatter(x=w["week"], y=w["ci_low"], fill="tonexty", line=dict(width=0),
                   fillcolor="rgba(31,119,180,0.2)", name="95% interval"),
        go.Scatter(x=w["week"], y=w["lift"], name="lift", line=dict(color="#1f77b4"))])
    passive = w[w["mode"] == "passive"]["week"]
    if not passive.empty:
        fig.add_vrect(x0=passive.min() - 0.5, x1=passive.max() + 0.5, fillcolor="grey",
                      opacity=0.12, line_width=0, annotation_text="passive")
    fig.update_layout(height=320, yaxis_tickformat="+.0%", xaxis_title="week",
                      margin=dict(l=0, r=0, t=30, b=0),
                      title=f"{METRIC_NAMES.get(metric, metric)}: lift over time")
    return fig


def main() -> None:
    store = ui.page("Lift report", "Agent vs business-as-usual holdout, per funnel metric, "
                                       "phase, week and segment.")
    key, data, run = load(store)
    if data is None:
        return
    adjusted = st.toggle("Variance reduction (ML-RATE)", value=True, key="lift_adjusted",
                         help="Regression adjustment on pre-treatment covariates with "
                              "cross-fitted gradient boosting; unbiased, narrower intervals.")
    table = estimates(key, data, adjusted)
    phases = [p for p in data.phases]
    st.subheader("Headline")
    phase = st.segmented_control("Phase", phases, default=phases[0], key="lift_phase") or phases[0]
    headline(table, phase)
    figures: list[tuple[str, object]] = []
    if {"active", "passive"} <= set(phases):
        st.subheader("Active vs passive management")
        fig = phase_chart(key, adjusted, table)
        st.plotly_chart(fig, width="stretch", key="phase_chart")
        change = table[table["phase"] == "passive vs active"][
            ["metric", "lift", "ci_low", "ci_high", "p_value"]].rename(
            columns={"lift": "change of lift"})
        st.dataframe(change, hide_index=True, width="stretch", key="change_table")
        figures.append(("Lift by phase", fig))
    metric = st.selectbox("Metric", data.metrics, format_func=lambda m: METRIC_NAMES.get(m, m),
                          key="lift_metric")
    if run is not None:
        weekly = weekly_table(run["id"], trial.weekly(store, run["id"]))
        if not weekly.empty:
            fig = weekly_chart(run["id"], metric, weekly)
            st.plotly_chart(fig, width="stretch", key="weekly_chart")
            figures.append(("Lift over time", fig))
    c1, c2 = st.columns(2)
    with c1:
        fig = funnel_chart(key, phase, data)
        st.plotly_chart(fig, width="stretch", key="funnel_chart")
        figures.append(("Funnel per arm", fig))
    with c2:
        seg = segments(key, data, metric, phase)
        st.caption(f"{METRIC_NAMES.get(metric, metric)} by segment ({phase}, unadjusted)")
        if not seg.empty:
            st.dataframe(seg[["segment", "n_agent", "n_holdout", "lift", "ci_low", "ci_high"]],
                         hide_index=True, width="stretch", key="segment_table")
    st.subheader("Estimates")
    st.dataframe(table, hide_index=True, width="stretch", key="estimates_table")

    def html() -> str:  # the forwardable report: every phase, dated weeks, method note
        start = lr.run_start(run) if run is not None else None
        weekly_rows = lr.weekly_table(trial.weekly(store, run["id"]), start) \
            if run is not None else None
        return lr.manager_report(data, table, weekly=weekly_rows, start=start)

    d1, d2 = st.columns(2)
    d1.download_button("Download report (HTML)", html, "lift_report.html", "text/html",
                       key="download_html", on_click="ignore")
    d2.download_button("Download numbers (CSV)", lambda: csv_text(table), "lift.csv",
                       "text/csv", key="download_csv", on_click="ignore")


main()
