"""Posteriors: what the agent believes about each option, how sure it is, and why it chose.

The agent, its latest batch and its beliefs are cached by ``store.versions.agent_version``
(saved posteriors, library, configuration, latest batch), so switching a segment or a dimension
recomputes only what it has not seen for this version. Writes (deciding a batch, learning from
events) load their own agent, so the shared cached one is never changed in place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors as pcolors
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from scipy.stats import norm

import ui
from store import Store
from store.versions import agent_version
from workbench import sources
from workbench.agent import state as agent_state
from workbench.agent.beliefs import feature_name, interval_axis, traffic_note
from workbench.agent.ingest import MAX_BYTES, ingest_events, quarantine
from workbench.agent.users import synthetic_users


@st.cache_resource(show_spinner="Loading the agent's posteriors...", max_entries=2)
def cached_agent(path: str, version: tuple):
    with Store(path) as store:
        return agent_state.load_agent(store)


@st.cache_resource(show_spinner=False, max_entries=2)
def cached_batch(path: str, version: tuple, _agent) -> pd.DataFrame:
    with Store(path) as store:
        return agent_state.latest_batch(store, _agent)


@st.cache_data(show_spinner="Drawing from the posterior...", max_entries=512)
def cached_beliefs(version: tuple, dim_name: str, context: tuple, _agent) -> pd.DataFrame:
    """Deterministic (the agent draws with a fixed seed), so cached per context."""
    return _agent.beliefs(dim_name, dict(context))


def data_panel(store, segments: list[str]) -> None:
    with st.expander("Decide a batch or load outcome events", expanded=False):
        c1, c2 = st.columns(2)
        with c1:
            st.markdown("**Decide** a batch for synthetic demo users (export real batches with "
                        "`workbench decide --users FILE.csv --out batch.csv`).")
            n = st.number_input("Users", 100, 50_000, 2_000, step=500, key="demo_users")
            if st.button("Decide a batch", key="decide_button"):
                with ui.reported():
                    seed = len(agent_state.batches(store))
                    users = synthetic_users(int(n), segments, seed=seed)
                    batch_id, _ = agent_state.decide_batch(
                        store, agent_state.load_agent(store), users, actor=ui.actor(),
                        source="page", seed=seed, start=pd.Timestamp.today().date())
                    st.session_state["flash"] = (f"Decided batch {batch_id} for "
                                                 f"{len(users):,} users.")
                    st.rerun()
        with c2:
            st.markdown("**Load outcome events** (CSV: `decision_id, event, value, occurred_at`). "
                        "Bad lines are quarantined; loading a file twice changes nothing.")
            upload = st.file_uploader("Events file", type=["csv"], key="events_file",
                                      max_upload_size=MAX_BYTES // 2 ** 20)
            as_of = st.date_input("Learn as of", value=None, key="events_as_of",
                                  help="Events after the end of this day are quarantined; "
                                       "decisions whose attribution window has closed by then "
                                       "are learnt (like `workbench ingest --as-of`). Empty: "
                                       "events after now are quarantined and windows close by "
                                       "the latest stored event's day (none when no event is "
                                       "stored).")
            if st.button("Load events", key="ingest_button", disabled=upload is None):
                with ui.reported():
                    report = ingest_events(store, agent_state.load_agent(store),
                                           upload.getvalue(), upload.name, ui.actor(),
                                           as_of=as_of)
                    st.session_state["flash"] = (
                        f"{upload.name}: {report.inserted} new events, {report.duplicates} "
                        f"already loaded, {len(report.quarantined)} quarantined; "
                        f"{report.learned} decisions learnt.")
                    st.rerun()
        bad = quarantine(store, 100)
        if bad:
            st.caption("Quarantined lines")
            st.dataframe(pd.DataFrame(bad)[["source", "line", "reason", "raw"]],
                         hide_index=True, width="stretch")


#: Distinct colours, cycled in option order (74 before the first repeat).
PALETTE = (pcolors.qualitative.Plotly + pcolors.qualitative.Dark24 + pcolors.qualitative.Light24
           + pcolors.qualitative.Alphabet)


@st.cache_resource(show_spinner=False, max_entries=64)
def colour_map(version: tuple, dim_name: str, _agent) -> dict[str, str]:
    """One colour per option label of a dimension, in the dimension's option order, so an
    option keeps its colour in every chart of the page (and across segments). Send times
    are coloured by hour of day, a shade per weekday ("Thu 21:00" a shade of "21:00"): the
    traffic chart counts hours, and 168 options would repeat any palette."""
    options = _agent.space.dimension(dim_name).options
    if dim_name != "timing":
        return {o.label: PALETTE[i % len(PALETTE)] for i, o in enumerate(options)}
    hours = {f"{h:02d}:00": HOURS[h] for h in range(24)}
    return hours | {o.label: _shade(HOURS[o.value % 24], o.value // 24) for o in options}


# 08:00 to 17:00, then 18:00 to 21:00: the hours most sent get the most distinct colours
_DAY = tuple(pcolors.qualitative.Plotly) + ("#8c564b", "#1616A7", "#bcbd22", "#750D86")
_NIGHT = ("#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#EB663B",
          "#511CFB", "#00A08B", "#FC0080")  # 22:00 to 07:00
# One colour per hour of day (a bare string here would be drawn on the page: Streamlit magic)
HOURS = tuple(_DAY[h - 8] if 8 <= h <= 21 else _NIGHT[(h - 22) % 24] for h in range(24))


def _shade(colour: str, weekday: int) -> str:
    """``colour`` lightened (Monday to Wednesday), as it is (Thursday) or darkened (Friday
    to Sunday): the weekday's options of an hour stay recognisably that hour's."""
    mix = (0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3)[weekday]
    target = 255 if mix > 0 else 0
    r, g, b = (round(c + abs(mix) * (target - c)) for c in pcolors.hex_to_rgb(colour))
    return f"#{r:02x}{g:02x}{b:02x}"


def belief_charts(version: tuple, dim_name: str, context: tuple, beliefs: pd.DataFrame,
                  colours: dict[str, str]) -> None:
    mean_fig, density_fig, pbest_fig = belief_figures(version, dim_name, context, beliefs,
                                                      colours)
    st.plotly_chart(mean_fig, width="stretch", key="mean_chart")
    c1, c2 = st.columns(2)
    c1.plotly_chart(density_fig, width="stretch", key="density_chart")
    c2.plotly_chart(pbest_fig, width="stretch", key="pbest_chart")


def mean_figure(show: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Means and 95% intervals on an axis one very wide interval does not flatten: intervals
    reaching beyond it end in a triangle at the edge and their hover gives the full range."""
    lo, hi = interval_axis(show["mean"], show["low"], show["high"])
    low, high = show["low"].clip(lower=lo), show["high"].clip(upper=hi)
    colour = [colours.get(lab, PALETTE[0]) for lab in show["label"]]
    fig = go.Figure(go.Scatter(
        x=show["mean"], y=show["label"], mode="markers", marker=dict(color=colour, size=9),
        showlegend=False,
        error_x=dict(type="data", symmetric=False, array=high - show["mean"],
                     arrayminus=show["mean"] - low, color="#888"),
        customdata=np.c_[show["low"], show["high"]],
        hovertemplate="%{y}: mean %{x:.4f}, 95% interval %{customdata[0]:.4f} to "
                      "%{customdata[1]:.4f}<extra></extra>"))
    for side, mask, edge, symbol in (("below", show["low"] < lo, lo, "triangle-left"),
                                     ("above", show["high"] > hi, hi, "triangle-right")):
        if mask.any():
            fig.add_trace(go.Scatter(
                x=[edge] * int(mask.sum()), y=show["label"][mask], mode="markers",
                marker=dict(symbol=symbol, size=11, color="#d62728"),
                name=f"interval continues {side} the axis", hoverinfo="skip"))
    clipped = int((show["low"] < lo).sum() + (show["high"] > hi).sum())
    fig.update_layout(height=max(260, 24 * len(show)), margin=dict(l=0, r=0, t=30, b=0),
                      title="Expected reward: posterior mean and 95% interval",
                      xaxis=dict(range=[lo, hi], title="expected reward"),
                      yaxis=dict(autorange="reversed"), showlegend=clipped > 0,
                      legend=dict(orientation="h", y=-0.15))
    return fig


@st.cache_resource(show_spinner=False, max_entries=256)
def belief_figures(version: tuple, dim_name: str, context: tuple, _beliefs: pd.DataFrame,
                   _colours: dict[str, str]) -> tuple[go.Figure, go.Figure, go.Figure]:
    """The three belief charts of one dimension in one context, built once per agent version
    (plotly validates every property it is given: building them costs more than drawing)."""
    show = _beliefs[_beliefs["allowed"]].sort_values("mean", ascending=False)
    if dim_name == "timing":
        show = show.head(24)
    mean_fig = mean_figure(show, _colours)
    top = show.head(6)
    lo = (top["mean"] - 4 * top["sd"]).min()
    hi = (top["mean"] + 4 * top["sd"]).max()
    grid = np.linspace(lo, hi, 200)
    density_fig = go.Figure([go.Scatter(x=grid, y=norm.pdf(grid, r.mean, max(r.sd, 1e-9)),
                                        name=r.label, mode="lines",
                                        line=dict(color=_colours.get(r.label, PALETTE[0])))
                             for r in top.itertuples()])
    density_fig.update_layout(height=340, margin=dict(l=0, r=0, t=30, b=0), showlegend=True,
                              legend=dict(orientation="h", y=-0.25, font=dict(size=10)),
                              title="Posterior densities (top 6)", xaxis_title="reward",
                              yaxis_title="density")
    best = show.head(12)
    pbest_fig = go.Figure(go.Bar(x=best["p_best"], y=best["label"], orientation="h",
                                 marker_color=[_colours.get(lab, PALETTE[0])
                                               for lab in best["label"]]))
    pbest_fig.update_layout(height=340, margin=dict(l=0, r=0, t=30, b=0),
                            title="Probability of being best", xaxis_title="p_best",
                            yaxis=dict(autorange="reversed"))
    return mean_fig, density_fig, pbest_fig


@st.cache_resource(show_spinner=False, max_entries=256)
def share_figure(path: str, version: tuple, dim_name: str, segment: str,
                 _colours: dict[str, str]) -> go.Figure | None:
    """Traffic share over time of one dimension in one segment (None before any traffic)."""
    with Store(path) as store:
        snaps = agent_state.snapshots(store, dim_name, segment)
    if snaps.empty or snaps["share"].isna().all():
        return None
    snaps = snaps.dropna(subset=["share"]).assign(day=lambda d: pd.to_datetime(d["day"]))
    fig = px.line(snaps, x="day", y="share", color="label", markers=True, height=300,
                  color_discrete_map=_colours)
    fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), legend_title_text=(
        "hour (all weekdays)" if dim_name == "timing" else "option"))
    fig.update_xaxes(title_text="Date", tickformat="%d %b %Y")
    fig.update_yaxes(title_text="Share of traffic", tickformat=".0%")
    return fig


@st.cache_data(show_spinner=False, max_entries=2)
def atom_texts(path: str, version: tuple) -> dict[int, str]:
    """Text of every atom (archived ones too: old features still name them)."""
    with Store(path) as store:
        return {int(a["id"]): str(a["text"]) for a in store.components()}


def served_options(batch: pd.DataFrame, segment_index: int, dim_name: str
                   ) -> tuple[pd.Series, pd.Series]:
    """The option of ``dim_name`` each of a segment's users got in the batch (send-or-skip:
    every user; the others: the messages sent) and their guardrail flags."""
    rows = batch[batch["ctx_segment"] == segment_index]
    if dim_name != "send":
        rows = rows[rows["send"]]
    if dim_name == "send":
        values = rows["send"].astype(bool)
    elif dim_name == "channel":
        values = rows["channel"]
    elif dim_name == "timing":
        values = rows["weekday"].astype(int) * 24 + rows["hour"].astype(int)
    else:
        values = rows[f"atom_{dim_name.split(':', 1)[1]}"].astype(int)
    return values, rows["guardrails"]


@st.cache_data(show_spinner=False, max_entries=256)
def traffic_text(version: tuple, segment_index: int, dim_name: str, context: tuple,
                 _batch: pd.DataFrame, _beliefs: pd.DataFrame) -> str | None:
    """The traffic note of one segment and dimension, once per agent version (the batch and
    the beliefs are fixed by the version, the segment, the dimension and the context)."""
    if _batch.empty:
        return None
    served, flags = served_options(_batch, segment_index, dim_name)
    note = traffic_note(_beliefs, served, flags)
    return None if note is None else note.text(ui.plain)


def why_panel(agent, version: tuple, batch: pd.DataFrame, segment_index: int,
              dim_name: str, atoms: dict[int, str]) -> None:
    st.subheader("Why this message")
    users = batch[(batch["ctx_segment"] == segment_index) & batch["send"]]
    if users.empty:
        st.info("No message was sent to this segment in the latest batch.")
        return
    pick = st.session_state.get("why_pick", 0) % len(users)
    if st.button("Sample another user", key="why_button"):
        pick = st.session_state["why_pick"] = pick + 1
    row = users.iloc[pick % len(users)]
    context = {v: int(row[f"ctx_{v}"]) for v in agent_state.CTX_VARS}
    labels = {v: agent.policies["channel"].ctx.labels[v] for v in agent_state.CTX_VARS
              if v != "consent"}
    st.markdown(f"User **{ui.plain(row['user_id'])}** · " + " · ".join(
        f"{v}: {ui.plain(labels[v][context[v]])}" for v in labels))
    choice = {"channel": row["channel"], "timing": int(row["weekday"]) * 24 + int(row["hour"])}
    for s in agent.space.slot_names:
        choice[f"slot:{s}"] = int(row[f"atom_{s}"])
    rendered = agent.render(pd.DataFrame([{**row.to_dict(), "send_at": pd.NaT,
                                           "guardrails": int(row["guardrails"])}]))
    when = agent.space.dimension("timing").options[choice["timing"]].label
    text = f"{rendered['title'].iloc[0]} {rendered['body'].iloc[0]}".replace("  ", " ")
    st.markdown(f"Sent by **{ui.plain(row['channel'])}** at **{ui.plain(when)}**: "
                f"“{ui.plain(text.strip())}”")
    dim = dim_name if dim_name in choice else "channel"
    if dim == "send":
        dim = "channel"
    value = choice[dim]
    if value not in {o.value for o in agent.space.dimension(dim).options}:
        st.info("That option is no longer in the library.")
        return
    versus, fig = why_figure(version, dim, tuple(sorted(context.items())), value, agent, atoms)
    if fig is None:
        st.info("Only one option: nothing to compare." if len(agent.space.dimension(dim).options) < 2
                else "No learnt difference yet between this option and the others: the agent "
                     "has learnt no outcome that tells them apart.")
        return
    st.caption(f"{ui.plain(dim)}: chosen option versus the best other option "
               f"({ui.plain(versus)}); positive bars pushed the choice.")
    st.plotly_chart(fig, width="stretch", key="why_chart")


@st.cache_resource(show_spinner=False, max_entries=256)
def why_figure(version: tuple, dim: str, context: tuple, value, _agent, _atoms: dict[int, str]
               ) -> tuple[str, go.Figure | None]:
    """Each feature's push for ``value`` over the best other option, once per agent version;
    features named in words (atom text, context buckets)."""
    why = _agent.explain(dim, dict(context), value)
    if why.empty:
        return "", None
    names = [feature_name(f, _atoms) for f in why["feature"]]
    fig = go.Figure(go.Bar(x=why["contribution"], y=names, orientation="h",
                           customdata=why["feature"],
                           hovertemplate="%{y}<br>%{customdata}: %{x:.4f}<extra></extra>"))
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0), xaxis_title="contribution",
                      yaxis=dict(autorange="reversed"))
    return str(why["versus"].iloc[0]), fig


def main() -> None:
    store = ui.page("Posteriors", "The agent's beliefs per segment and dimension, learnt "
                                  "from the outcomes of its decisions.")
    if msg := st.session_state.pop("flash", None):
        st.success(ui.plain(msg))
    source = ui.source_picker(store, kinds=(sources.LIVE, sources.RUN))
    path = sources.agent_db(store, source)
    if path is None:
        st.info(f"{ui.plain(source.label)} has no posteriors yet: its sandbox is made when it "
                "starts." if source.status == "queued" else
                f"{ui.plain(source.label)}: its folder (with the agent's sandbox) is missing "
                "beside the database; it was moved or deleted.")
        return
    with Store(path) as db:
        version = agent_version(db)
    with ui.reported("The agent cannot run on this library: ", stop=True):
        agent = cached_agent(path, version)
    if source.kind == sources.LIVE:
        data_panel(store, agent.segments)
    else:
        st.caption("The simulated agent of this run, read from the run's own copy of the "
                   "programme (its library, decisions and posteriors); nothing here changes it.")
    batch = cached_batch(path, version, agent)
    c1, c2 = st.columns(2)
    segment = c1.selectbox("Segment", agent.segments, key="post_segment")
    dims = [d.name for d in agent.space.dimensions]
    dim_name = c2.selectbox("Dimension", dims, key="post_dimension")
    seg_index = agent.segments.index(segment)
    context = agent_state.typical_context(batch, seg_index)
    learned = agent.models[dim_name].n
    st.caption(f"{learned:,} observations learnt for {ui.plain(dim_name)}; beliefs shown for "
               "the segment's most common context in the latest batch.")
    ctx = tuple(sorted(context.items()))
    colours = colour_map(version, dim_name, agent)
    beliefs = cached_beliefs(version, dim_name, ctx, agent)
    belief_charts(version, dim_name, ctx, beliefs, colours)
    if note := traffic_text(version, seg_index, dim_name, ctx, batch, beliefs):
        st.info(note, icon=":material/info:")  # Markdown: its labels are escaped
    st.subheader("Traffic share over time")
    fig = share_figure(path, version, dim_name, segment, colours)
    if fig is None:
        st.info("No snapshot with traffic yet: decide a batch first.")
    else:
        st.plotly_chart(fig, width="stretch", key="share_chart")
    why_panel(agent, version, batch, seg_index, dim_name, atom_texts(path, version))


main()
