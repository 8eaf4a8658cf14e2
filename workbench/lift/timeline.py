"""A source's daily timeline, as Agent control shows it beside a run while it moves: sends and
events per 1,000 users of each arm with the passive phase shaded, and the lift of each phase as
a point estimate from the daily totals (the intervals are the lift report's,
:mod:`workbench.lift.report`)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.lift import html as fmt
from workbench.lift.metrics import metric_name

__all__ = ["point_lift", "figure", "phase_lifts"]

#: The arms' colours, as on the lift report's charts.
COLOURS = {"agent": "#1f77b4", "holdout": "#7f7f7f"}
#: The metrics of the lift-by-phase table.
PHASE_METRICS = ("direct_open", "engagement", "intent", "conversion")


def point_lift(total_t: float, n_t: float, total_c: float, n_c: float) -> float | None:
    """Relative lift of a rate per user (or user-day), agent over holdout: a point estimate,
    None while the holdout has no events."""
    if not (total_c and n_t and n_c):
        return None
    return (total_t / n_t) / (total_c / n_c) - 1


def figure(daily: pd.DataFrame) -> go.Figure:
    """Sends and events per 1,000 users by date and arm (``daily`` is
    :func:`workbench.sources.daily`), the passive phase shaded, one legend group per panel."""
    wide = daily.pivot(index="date", columns="arm",
                       values=["users", "sends", "direct_open", "engagement"])
    wide.index = pd.to_datetime(wide.index)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Sends per 1,000 users", "Events per 1,000 users"))
    for arm in ("agent", "holdout"):
        per = 1000 / wide[("users", arm)].where(wide[("users", arm)] > 0)
        # Grouped in the legend by panel: sends and direct opens share a line style
        fig.add_trace(go.Scatter(x=wide.index, y=wide[("sends", arm)] * per, name=arm,
                                 legendgroup="sends", legendgrouptitle_text="Sends",
                                 line=dict(color=COLOURS[arm])), row=1, col=1)
        for metric, dash in (("direct_open", "solid"), ("engagement", "dot")):
            fig.add_trace(go.Scatter(x=wide.index, y=wide[(metric, arm)] * per,
                                     name=f"{metric_name(metric).lower()} · {arm}",
                                     legendgroup="events", legendgrouptitle_text="Events",
                                     line=dict(color=COLOURS[arm], dash=dash)), row=2, col=1)
    passive = pd.to_datetime(daily[daily["mode"] == "passive"]["date"])
    if not passive.empty:
        fig.add_vrect(x0=passive.min(), x1=passive.max() + pd.Timedelta(days=1),
                      fillcolor="grey", opacity=0.1, line_width=0, annotation_text="passive",
                      annotation_position="top left")
    fig.update_xaxes(tickformat="%d %b %Y")
    fig.update_xaxes(title_text="Date", row=2, col=1)
    fig.update_layout(height=500, margin=dict(l=0, r=0, t=30, b=0),  # legend below "Date"
                      legend=dict(orientation="h", yanchor="top", y=-0.14))
    return fig


def phase_lifts(daily: pd.DataFrame) -> pd.DataFrame:
    """One row per management phase with both arms: its dates and each metric's lift per
    user-day, written for people ("no holdout events yet" where there is none)."""
    totals = daily.groupby(["mode", "arm"])[["users", *PHASE_METRICS]].sum()
    rows = []
    for mode in totals.index.get_level_values(0).unique():
        if (mode, "agent") not in totals.index or (mode, "holdout") not in totals.index:
            continue
        a, h = totals.loc[(mode, "agent")], totals.loc[(mode, "holdout")]
        dates = pd.to_datetime(daily[daily["mode"] == mode]["date"])
        lifts = {m: point_lift(a[m], a["users"], h[m], h["users"]) for m in PHASE_METRICS}
        rows.append({"Phase": f"{fmt.PHASE_LABELS.get(mode, mode)}: {dates.min():%d %b %Y} to "
                              f"{dates.max():%d %b %Y}",
                     **{metric_name(m): "no holdout events yet" if v is None else fmt.pct(v)
                        for m, v in lifts.items()}})
    return pd.DataFrame(rows)
