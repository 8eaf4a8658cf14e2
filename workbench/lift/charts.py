"""The lift report's charts: lift per metric and phase, lift week by week, written so that they
keep their colours and axis titles outside the app.

Why charts went black in the old download: importing Streamlit makes its plotly template the
default, and that template's colour cycle is placeholders (``#000001``, ``#000002``, ...) that
only Streamlit's front end replaces; written to a file, every trace is near-black. Every figure
here names its template (``plotly_white``) and its colours, so it looks the same anywhere.

An interval with no end (a permutation interval whose test never rejects a larger lift, with
one or two holdout buyers) gets no whisker: a whisker needs two ends, and the old one, cut at
the lift, drew an upper limit where there is none. Its bar says "interval: no upper limit"
instead (and its hover gives the interval, as the table does).
"""

from __future__ import annotations

import math
import re
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from workbench.lift.estimators import OK
from workbench.lift.html import PHASE_LABELS, interval
from workbench.lift.metrics import metric_name

TEMPLATE = "plotly_white"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")  # Streamlit's placeholders #000001.. map here
PHASE_COLOURS = {"active": "#1f77b4", "passive": "#ff7f0e", "all": "#1f77b4"}
ARM_COLOURS = {"agent": "#1f77b4", "holdout": "#7f7f7f"}
NO_UPPER_LIMIT = "interval: no upper limit"
NO_LOWER_LIMIT = "interval: no lower limit"
NO_INTERVAL = "no interval"


def style(fig: go.Figure) -> go.Figure:
    """Name the template so the figure does not inherit Streamlit's placeholder colours, and
    replace placeholders already written into traces (plotly express copies the colour cycle
    into each trace when the figure is made inside the app)."""
    palette = PALETTE
    for trace in fig.data:
        marker = getattr(trace, "marker", None)
        colour = getattr(marker, "color", None) if marker is not None else None
        if isinstance(colour, str) and re.fullmatch(r"#0000[0-9a-fA-F]{2}", colour):
            trace.marker.color = palette[(int(colour[1:], 16) - 1) % len(palette)]
        line = getattr(trace, "line", None)
        colour = getattr(line, "color", None) if line is not None else None
        if isinstance(colour, str) and re.fullmatch(r"#0000[0-9a-fA-F]{2}", colour):
            trace.line.color = palette[(int(colour[1:], 16) - 1) % len(palette)]
    fig.update_layout(template=pio.templates[TEMPLATE], font=dict(size=13),
                      paper_bgcolor="white", plot_bgcolor="white")
    return fig


def unbounded_label(low: float, high: float) -> str:
    """What a bar says for its interval's missing end ("" when both ends are finite)."""
    if math.isinf(high) and math.isinf(low):
        return "interval unbounded"
    return NO_UPPER_LIMIT if math.isinf(high) else NO_LOWER_LIMIT if math.isinf(low) else ""


def phase_figure(table: pd.DataFrame) -> go.Figure:
    """Lift per metric, one bar per phase, with 95% intervals. Only the phases' own lifts (the
    change between phases is no lift per user and has its own table). A bar whose interval
    has an infinite end is drawn in a trace of its own in the same slot (``offsetgroup``),
    with no whisker and its text saying which end is missing (plotly draws a whisker's cap
    for any number, and a missing one reads as 0: no value leaves one bar without it)."""
    fig = go.Figure()
    for phase in [p for p in ("all", "active", "passive") if p in set(table["phase"])]:
        g = table[(table["phase"] == phase) & (table["status"] == OK)]
        bounded = np.isfinite(g["ci_low"].to_numpy(float)) & np.isfinite(
            g["ci_high"].to_numpy(float))
        label, legend = PHASE_LABELS.get(phase, phase), True
        for part, whisker in ((g[bounded], True), (g[~bounded], False)):
            if part.empty:
                continue
            lift = part["lift"].to_numpy(float)
            extra = dict(error_y=dict(type="data", symmetric=False, color="#333333",
                                      array=part["ci_high"].to_numpy(float) - lift,
                                      arrayminus=lift - part["ci_low"].to_numpy(float))
                         ) if whisker else dict(
                text=[unbounded_label(lo, hi) for lo, hi in zip(part["ci_low"],
                                                                part["ci_high"])],
                textposition="outside", cliponaxis=False)
            fig.add_bar(x=[metric_name(m) for m in part["metric"]], y=lift, name=label,
                        offsetgroup=phase, legendgroup=phase, showlegend=legend,
                        marker_color=PHASE_COLOURS.get(phase, "#1f77b4"),
                        customdata=[interval(r.lift, r.ci_low, r.ci_high)
                                    for r in part.itertuples()],
                        hovertemplate="%{x}: %{customdata}<extra>" + label + "</extra>",
                        **extra)
            legend = False
    fig.add_hline(y=0, line_color="#333333", line_width=1)
    fig.update_layout(barmode="group", height=420, title="Lift per metric and phase (95% "
                      "intervals)", legend_title_text="Phase", margin=dict(l=70, r=20, t=60,
                                                                              b=80))
    fig.update_yaxes(title_text="Lift vs holdout (per user)", tickformat="+.0%")
    fig.update_xaxes(title_text="Metric")
    return style(fig)


def weekly_figure(weekly: pd.DataFrame, metric: str, passive_from: date | None = None
                  ) -> go.Figure:
    """Weekly lift of one metric on calendar dates, with its interval and the passive phase
    (from ``passive_from``, else from the weeks' ``mode``) shaded. ``weekly`` is
    :func:`workbench.lift.weekly.weekly_table` with ``week_start``. A week without an
    interval (:func:`workbench.lift.weekly.heavy_weeks`) keeps its point, outside the band,
    and says so on hover and under the title."""
    w = weekly[(weekly["metric"] == metric) & (weekly["status"] == OK)].sort_values("week")
    x = pd.to_datetime(w["week_start"]) if "week_start" in w else w["week"]
    bounded = np.isfinite(w["ci_low"].to_numpy(float)) & np.isfinite(
        w["ci_high"].to_numpy(float))
    band = w["ci_low"].where(bounded), w["ci_high"].where(bounded)
    fig = go.Figure([
        # mode "lines": under 20 points plotly's default adds markers, in the colourway's
        # colours, to the interval's bounds
        go.Scatter(x=x, y=band[1], mode="lines", line=dict(width=0), showlegend=False,
                   hoverinfo="skip"),
        go.Scatter(x=x, y=band[0], mode="lines", fill="tonexty", line=dict(width=0),
                   fillcolor="rgba(31,119,180,0.2)", name="95% interval", hoverinfo="skip",
                   showlegend=bool(bounded.any())),
        go.Scatter(x=x, y=w["lift"], name="Weekly lift", mode="lines+markers",
                   line=dict(color="#1f77b4", width=2), marker=dict(color="#1f77b4"),
                   customdata=np.where(bounded, "", f" ({NO_INTERVAL})"),
                   hovertemplate="week of %{x|%d %b %Y}: %{y:+.1%}%{customdata}"
                                 "<extra></extra>")])
    passive = w[w["mode"] == "passive"]
    if (passive_from or len(passive)) and "week_start" in w and len(w):
        start = pd.Timestamp(passive_from) if passive_from else \
            pd.to_datetime(passive["week_start"]).min()
        end = pd.to_datetime(w["week_start"]).max() + pd.Timedelta(days=7)
        fig.add_vrect(x0=start, x1=end, fillcolor="#ff7f0e", opacity=0.08, line_width=0,
                      annotation_text="passive", annotation_position="top left")
    fig.add_hline(y=0, line_color="#333333", line_width=1)
    title = dict(text=f"{metric_name(metric)}: lift week by week")
    if not bounded.all():
        title["subtitle"] = dict(text=f"{NO_INTERVAL} for {int((~bounded).sum())} of {len(w)} "
                                      "weeks: a few large values carry the average")
    fig.update_layout(height=320, title=title, margin=dict(l=70, r=20, t=60, b=50))
    fig.update_yaxes(title_text="Lift vs holdout", tickformat="+.0%")
    if "week_start" in w and len(w):
        every = max(1, math.ceil(len(w) / 10))  # ticks on week starts, at most ~10
        fig.update_xaxes(title_text="Week starting", tickformat="%d %b %Y",
                         tick0=pd.to_datetime(w["week_start"]).min(),
                         dtick=every * 7 * 86_400_000)
    else:
        fig.update_xaxes(title_text="Week")
    return style(fig)


def figure_html(fig: go.Figure, first: bool) -> str:
    """A figure as a fragment; plotly.js is inlined with the first one only."""
    return style(fig).to_html(full_html=False, include_plotlyjs="inline" if first else False,
                              config={"displaylogo": False, "responsive": True})
