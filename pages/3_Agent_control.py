"""Agent control: run the simulated trial, watch it, pause and continue, switch management mode."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import ui
from workbench.sim import trial
from workbench import ValidationError


def start_form(store) -> None:
    with st.form("trial_form"):
        c1, c2, c3, c4, c5 = st.columns(5)
        name = c1.selectbox("Preset", list(trial.PRESETS), key="trial_preset")
        base = trial.PRESETS[name]
        users = c2.number_input("Users", 100, 20_000_000, base.users, step=10_000,
                                key="trial_users")
        days = c3.number_input("Days", 7, 730, base.days, step=7, key="trial_days")
        active = c4.number_input("Active days", 0, 730, base.active_days, step=7,
                                 key="trial_active")
        seed = c5.number_input("Seed", 0, 2 ** 31 - 1, base.seed, key="trial_seed")
        if st.form_submit_button("Start a new run", type="primary"):
            try:
                config = trial.preset(name, users=int(users), days=int(days),
                                      active_days=int(active), seed=int(seed))
            except ValidationError as e:
                ui.show_problems(e)
                return
            run_id = trial.create_run(store, config, ui.actor())
            trial.start_background(store, run_id)
            st.rerun()


@st.fragment(run_every=1.0)
def live(store_path: str) -> None:
    """Refreshes every second, so that this tab (and any other) follows the run."""
    from store import Store

    with Store(store_path) as store:
        run = trial.latest_run(store)
        if run is None:
            st.info("No run yet: start one above, or from the home page in one click.")
            return
        prog = trial.progress(run)
        eta = "" if prog["eta_seconds"] is None or prog["status"] != "running" else \
            f" · about {prog['eta_seconds']:.0f} s left"
        st.progress(prog["share"], text=f"Run #{run['id']} ({run['preset']}, "
                    f"{run['users']:,} users): {prog['status']} · day {prog['done']} of "
                    f"{prog['total']}{eta}")
        if run["message"]:
            st.error(run["message"])
        c1, c2, _ = st.columns([1, 1, 4])
        if prog["status"] == "running":
            if c1.button("Pause", key="pause_button"):
                trial.request_pause(store, run["id"])
        elif prog["status"] in ("paused", "interrupted", "failed", "queued"):
            if c1.button("Continue", key="continue_button", type="primary"):
                trial.start_background(store, run["id"])
        timeline(store, run)


def timeline(store, run) -> None:
    df = trial.daily(store, run["id"])
    if df.empty:
        st.caption("The timeline appears after the first simulated day.")
        return
    wide = df.pivot(index="date", columns="arm",
                    values=["users", "sends", "direct_open", "engagement", "conversion"])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Sends per 1,000 users", "Events per 1,000 users"))
    colours = {"agent": "#1f77b4", "holdout": "#ff7f0e"}
    for arm in ("agent", "holdout"):
        per = 1000 / wide[("users", arm)]
        fig.add_trace(go.Scatter(x=wide.index, y=wide[("sends", arm)] * per, name=f"sends · {arm}",
                                 line=dict(color=colours[arm])), row=1, col=1)
        for metric, dash in (("direct_open", "solid"), ("engagement", "dot")):
            fig.add_trace(go.Scatter(x=wide.index, y=wide[(metric, arm)] * per,
                                     name=f"{metric.replace('_', ' ')} · {arm}",
                                     line=dict(color=colours[arm], dash=dash)), row=2, col=1)
    passive = df[df["mode"] == "passive"]["date"]
    if not passive.empty:
        fig.add_vrect(x0=passive.min(), x1=passive.max(), fillcolor="grey", opacity=0.1,
                      line_width=0, annotation_text="passive", annotation_position="top left")
    fig.update_layout(height=460, margin=dict(l=0, r=0, t=30, b=0), legend=dict(orientation="h"))
    st.plotly_chart(fig, width="stretch", key="timeline_chart")
    phases = df.groupby(["mode", "arm"])[["users", "sends", "direct_open", "engagement",
                                          "intent", "conversion"]].sum()
    rows = []
    for mode in phases.index.get_level_values(0).unique():
        a, h = phases.loc[(mode, "agent")], phases.loc[(mode, "holdout")]
        rows.append({"phase": mode, **{m: (a[m] / a["users"]) / (h[m] / h["users"]) - 1
                                       if h[m] else float("nan")
                                       for m in ("direct_open", "engagement", "intent",
                                                 "conversion")}})
    st.caption("Relative lift by phase (point estimates from the daily totals)")
    st.dataframe(pd.DataFrame(rows).style.format({m: "{:+.1%}" for m in (
        "direct_open", "engagement", "intent", "conversion")}), hide_index=True,
        key="phase_table")


def main() -> None:
    store = ui.page("Agent control", "The simulated trial: the agent against a "
                                          "business-as-usual holdout, over management phases.")
    left, right = st.columns([3, 1])
    with left:
        start_form(store)
    with right:
        ui.mode_control(store, key="control_mode")
    live(store.path)


main()
