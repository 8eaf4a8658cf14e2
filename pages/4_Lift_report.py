"""Lift report: does the agent earn its keep, and what does marketers' curation add?

The source (the live programme, any simulated run, or an imported file) comes from the picker
shared by every page (``ui.source_picker``). What is slow is computed once per source and its
last-modified marker (``Source.marker``: a run's status and days, the live programme's files,
days and mode switches), so nothing is recomputed on a rerun and nothing shown is stale: the
per-user outcomes, the estimates (per adjustment), weekly lift, segment tables and charts. An
uploaded file is keyed by the SHA-256 of its bytes. The HTML report (plotly.js inlined,
megabytes) and the CSV are built when someone downloads them.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import ui
from store import Store
from workbench import sources
from workbench.library.service import csv_text
from workbench.lift import charts
from workbench.lift import html as fmt
from workbench.lift import report as lr
from workbench.lift.cards import card
from workbench.lift.metrics import metric_name


@st.cache_resource(show_spinner="Reading the per-user outcomes...", max_entries=4)
def source_data(path: str, key: str, marker: str, _source: sources.Source
                ) -> lr.LiftData | None:
    """A source's outcomes, once per (source, marker), shared by every session."""
    with Store(path) as store:
        return sources.lift_data(store, _source)


@st.cache_data(show_spinner=False, max_entries=16)
def source_weekly(path: str, key: str, marker: str, _source: sources.Source
                  ) -> pd.DataFrame:
    """The source's dated weekly lift, once per (source, marker)."""
    with Store(path) as store:
        return sources.weekly(store, _source)


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
    f["metric"] = f["metric"].map(metric_name)
    fig = px.bar(f.melt(id_vars="metric", var_name="arm", value_name="per user"), x="metric",
                 y="per user", color="arm", barmode="group", log_y=True, height=320,
                 title="Funnel per arm (per user, log scale)",
                 color_discrete_map=charts.ARM_COLOURS)
    fig.update_yaxes(dtick=1, title_text="per user (log scale)")  # 0.01, 0.1, 1, 10: no 2s, 5s
    fig.update_xaxes(title_text=None)
    return fig


def load(store, source: sources.Source) -> tuple[str, lr.LiftData | None]:
    """The cache key and the outcomes of the chosen source (None, with what to do, when it
    has none yet)."""
    if source.kind == sources.FILE:
        upload = st.file_uploader("User-level outcomes (CSV: user_id, arm, phase, segment, "
                                  "metrics, pre_* covariates)", type=["csv"], key="lift_file",
                                  max_upload_size=lr.MAX_IMPORT_BYTES // 2 ** 20)
        if upload is None:
            st.info("Upload a file to see its lift.")
            return "", None
        data = upload.getvalue()
        key = upload_key(data)
        with ui.reported():
            return key, upload_data(key, data, upload.name)
        return "", None
    data = source_data(store.path, source.key, source.marker, source)
    if data is None:
        if source.kind == sources.LIVE:
            st.info(sources.live_missing(store) + " Or pick a simulated run or a file above.")
        elif source.status == "done":
            st.info(f"{ui.plain(source.label)}: its per-user outcomes are missing.")
        else:
            st.info(f"{ui.plain(source.label)}: the per-user lift appears when the run "
                    "finishes; the weekly lift so far is below. No finished simulated run yet? Run the demo "
                    "trial from the home page or the Agent control page.")
    return f"{source.key}|{source.marker}", data


def headline(table: pd.DataFrame, phase: str) -> None:
    rows = table[table["phase"] == phase].to_dict("records")
    cols = st.columns(3)
    for i, row in enumerate(rows):
        c = card(row)
        with cols[i % 3]:
            st.metric(c.label, c.value, delta=c.delta, delta_arrow=c.arrow,
                      delta_color=c.colour, help=c.sentence)
            st.caption(f"{c.sentence} {c.verdict + ' · ' if c.verdict else ''}"
                       f"{row['estimator']}"
                       + (f" · variance −{row['variance_reduction']:.0%}"
                          if row["variance_reduction"] >= fmt.SHOWN_REDUCTION else ""))
            if c.warning:
                st.warning(c.warning, icon=":material/warning:")


def phase_dates(data: lr.LiftData, spans: list) -> None:
    n_t, n_c = int(data.treated.sum()), int((~data.treated).sum())
    text = [f"{n_t:,} users with the agent, {n_c:,} in the holdout"]
    text += [f"{fmt.PHASE_LABELS.get(p, p)}: {a:%d %b %Y} to {b:%d %b %Y}" for p, a, b in spans]
    st.caption(" · ".join(text))


@st.cache_resource(max_entries=16, show_spinner=False)
def phase_chart(key: str, adjusted: bool, _table: pd.DataFrame) -> go.Figure:
    return charts.phase_figure(_table)


@st.cache_resource(max_entries=32, show_spinner=False)
def weekly_chart(key: str, metric: str, _weekly: pd.DataFrame) -> go.Figure:
    return charts.weekly_figure(_weekly, metric)


def weekly_section(key: str, weekly: pd.DataFrame, metric: str, checked: bool = True) -> None:
    """``checked``: whether the weeks were checked for heavy tails (:func:`lr.heavy_weeks`),
    which needs the per-user outcomes a simulated run has once it finishes."""
    if weekly.empty or "week_start" not in weekly or metric not in set(weekly["metric"]):
        return
    if none := fmt.no_weekly_lift(weekly, metric):
        st.caption(none)
        return
    st.plotly_chart(weekly_chart(key, metric, weekly), width="stretch", key="weekly_chart")
    if not checked:
        st.caption("Weekly intervals are the delta method's, from weekly sums. Whether a few "
                   "large values carry a metric (GMV with few buyers, whose weeks then get no "
                   "interval) is checked on the per-user outcomes when the run finishes: until "
                   "then read such a metric's weekly interval as rough.")
    small = weekly[(weekly["metric"] == metric) & weekly["small_sample"]]
    if len(small):
        st.warning(f"{len(small)} of {int((weekly['metric'] == metric).sum())} weeks have too "
                   "few holdout users or events for their interval to mean much (fewer than "
                   "100 holdout users or 10 with an event); read their points as rough.",
                   icon=":material/warning:")


def main() -> None:
    store = ui.page("Lift report", "Agent vs business-as-usual holdout, per funnel metric, "
                                   "phase, week and segment.")
    source = ui.source_picker(store)
    key, data = load(store, source)
    weekly = (source_weekly(store.path, source.key, source.marker, source)
              if source.kind != sources.FILE else pd.DataFrame())
    if data is None:
        if not weekly.empty:
            metric = st.selectbox("Metric", sorted(set(weekly["metric"])),
                                  format_func=metric_name, key="lift_metric")
            weekly_section(key, weekly, metric, checked=False)
        return
    adjusted = st.toggle("Variance reduction (ML-RATE)", value=True, key="lift_adjusted",
                         help="Regression adjustment on pre-treatment covariates with "
                              "cross-fitted gradient boosting; unbiased, narrower intervals.")
    table = estimates(key, data, adjusted)
    weekly = lr.heavy_weeks(weekly, table)  # a heavy-tailed metric's weeks: no interval
    phases = list(data.phases)
    st.subheader("Headline")
    if data.ongoing:
        st.info(lr.INTERIM_NOTE, icon=":material/schedule:")
    periods = sources.phase_periods(store, source, data.phase_days)
    phase_dates(data, periods)
    phase = st.segmented_control("Phase", phases, default=phases[0], key="lift_phase",
                                 format_func=lambda p: fmt.PHASE_LABELS.get(p, p)) or phases[0]
    headline(table, phase)
    if {"active", "passive"} <= set(phases):
        st.subheader("Active vs passive management")
        st.plotly_chart(phase_chart(key, adjusted, table), width="stretch", key="phase_chart")
        change = fmt.people_table(table[table["phase"] == "passive vs active"])
        st.caption("Relative change of the lift from the active to the passive phase")
        st.dataframe(change[["Metric", "Lift (95% interval)", "Clear?", "Method",
                             "Warning"]].rename(
            columns={"Lift (95% interval)": "Change of lift (95% interval)"}),
            hide_index=True, width="stretch", key="change_table")
    st.subheader("Week by week")
    metric = st.selectbox("Metric", data.metrics, format_func=metric_name, key="lift_metric")
    if weekly.empty:
        st.caption("No weekly lift for this source (an imported file has one row per user "
                   "and phase, not per week).")
    weekly_section(key, weekly, metric)
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(funnel_chart(key, phase, data), width="stretch", key="funnel_chart")
    with c2:
        seg = segments(key, data, metric, phase)
        st.caption(f"{metric_name(metric)} by segment ({fmt.PHASE_LABELS.get(phase, phase)}, "
                   f"unadjusted; segments with at least {lr.SEGMENT_MIN_USERS} users per arm)"
                   + fmt.chance_note(len(seg)))
        if seg.empty:
            st.caption(fmt.no_segment_lift(metric))
        else:
            st.dataframe(pd.DataFrame({
                "Segment": seg["segment"], "Agent users": seg["n_agent"],
                "Holdout users": seg["n_holdout"],
                "Lift (95% interval)": [fmt.interval(r.lift, r.ci_low, r.ci_high)
                                        for r in seg.itertuples()],
                "Warning": seg["warning"]}), hide_index=True, width="stretch",
                key="segment_table")
    st.subheader("Estimates")
    st.dataframe(fmt.people_table(table), hide_index=True, width="stretch",
                 key="estimates_table")

    def html() -> str:  # the forwardable report: every phase, dated weeks, method note
        return lr.manager_report(data, table, weekly=weekly if not weekly.empty else None,
                                 periods=periods)

    d1, d2 = st.columns(2)
    d1.download_button("Download report (HTML)", html, "lift_report.html", "text/html",
                       key="download_html", on_click="ignore")
    d2.download_button("Download numbers (CSV)", lambda: csv_text(table), "lift.csv",
                       "text/csv", key="download_csv", on_click="ignore")


main()
