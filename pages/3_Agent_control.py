"""Agent control: run the simulated trial, watch it, pause and continue, switch management mode."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from workbench import sources
from workbench.lift import timeline as daily_timeline
from workbench.sim import trial

# The numbers of the form that a preset fills in, by widget key.
PRESET_FIELDS = {"trial_users": "users", "trial_days": "days", "trial_active": "active_days",
                 "trial_seed": "seed"}
ACTIVE = ("running", "pausing")  # a run in one of these moves: the page follows it
POLL_SECONDS = 1.0


def preset_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def apply_preset() -> None:
    """Fill the form with the chosen preset's numbers (a form cannot react to its own widgets,
    so the preset picker sits outside it and writes them here)."""
    base = trial.PRESETS[st.session_state["trial_preset"]]
    for key, attr in PRESET_FIELDS.items():
        st.session_state[key] = getattr(base, attr)


def start_form(store) -> None:
    name = st.selectbox("Preset", list(trial.PRESETS), key="trial_preset",
                        format_func=preset_label, on_change=apply_preset,
                        help="Fills in the numbers below; change any of them before starting.")
    if any(key not in st.session_state for key in PRESET_FIELDS):
        apply_preset()
    with st.form("trial_form"):
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        users = c1.number_input("Users", 100, 20_000_000, step=10_000, key="trial_users")
        days = c2.number_input("Days", 7, 730, step=7, key="trial_days")
        active = c3.number_input("Active days", 0, 730, step=7, key="trial_active")
        seed = c4.number_input("Seed", 0, 2 ** 31 - 1, key="trial_seed")
        if st.form_submit_button("Start a new run", type="primary"):
            with ui.reported():
                config = trial.preset(name, users=int(users), days=int(days),
                                      active_days=int(active), seed=int(seed))
                trial.start_new(store, config, ui.actor())  # nothing left behind if it cannot start
                st.rerun()


def live(store_path: str, polling: bool) -> None:
    """The latest run's progress and buttons; while a run moves this fragment reruns every
    ``POLL_SECONDS`` (so this tab, and any other, follows it), and when it stops the whole
    page reruns once (the sidebar's mode may have changed) and polling ends."""
    from store import Store

    with Store(store_path) as store:
        run = trial.latest_run(store)
        if run is None:
            st.info("No run yet: start one above, or from the home page in one click.")
        else:
            run_progress(store, run, polling)


def live_timeline(store_path: str, source_key: str) -> None:
    """The chosen source's timeline, read with the source's current marker (polled with the
    run's progress while a run moves)."""
    from store import Store

    with Store(store_path) as store:
        source = sources.find(sources.list_sources(store), source_key)
        if source is not None:
            timeline(store, source)


def run_progress(store, run: dict, polling: bool) -> None:
    prog = trial.progress(run)
    if polling and prog["status"] not in ACTIVE:
        st.rerun(scope="app")
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
            with ui.reported():
                trial.request_pause(store, run["id"])
    elif prog["status"] in ("paused", "interrupted", "failed", "queued"):
        if c1.button("Continue", key="continue_button", type="primary"):
            with ui.reported():
                trial.start_background(store, run["id"])
                st.rerun(scope="app")
    if prog["status"] != "done" and c2.button("Cancel run", key="cancel_button",
                                              help="Stop the run and remove it"):
        with ui.reported():
            trial.cancel(store, run["id"], ui.actor())
            st.rerun(scope="app")


def timeline(store, source: sources.Source) -> None:
    fig, phases = timeline_parts(store.path, source.key, source.marker, source)
    if fig is None:
        st.caption(f"{ui.plain(source.label)}: the timeline appears after the first day with "
                   "data.")
        return
    st.plotly_chart(fig, width="stretch", key="timeline_chart")
    if source.kind == sources.LIVE:
        st.caption("The holdout gets business as usual from your own tools: its sends are not "
                   "known to the workbench.")
    st.caption("Relative lift by phase (point estimates from the daily totals; intervals on "
               "the Lift report)")
    st.dataframe(phases, hide_index=True, key="phase_table")


@st.cache_resource(max_entries=8, show_spinner=False)
def timeline_parts(path: str, key: str, marker: str, _source: sources.Source
                   ) -> tuple[go.Figure | None, pd.DataFrame | None]:
    """The source's daily chart and lift by phase, rebuilt only when its marker moves (a
    running run is polled every second; a finished one never changes)."""
    from store import Store

    with Store(path) as store:
        df = sources.daily(store, _source)
    if df.empty:
        return None, None
    return daily_timeline.figure(df), daily_timeline.phase_lifts(df)


EVENT_CHECKS_SHOWN = "event_checks_version"  # the stored version the form was filled from
EVENT_CHECKS_SAID = "event_checks_said"  # the last save's outcome, shown once


def event_checks(store) -> None:
    """Event checks: the use case's plausible maximum of each amount event (GMV); lines above
    it are quarantined by every ingest. Typed as text so that a bad value is refused by name.
    The form is refilled from the database whenever the stored version moved (saved from the
    CLI or another tab), and a save based on an older version is refused, never written over
    the newer maxima."""
    from workbench.agent.event_checks import BINARY_EVENTS, load_limits

    st.subheader("Event checks")
    limits = load_limits(store)
    keys = {e: f"event_max_{e}" for e in limits.maxima}
    ss = st.session_state
    if ss.get(EVENT_CHECKS_SHOWN) != limits.version or any(k not in ss for k in keys.values()):
        for e, key in keys.items():
            ss[key] = f"{limits.maxima[e]:g}"
        ss[EVENT_CHECKS_SHOWN] = limits.version
    st.caption(f"Use case {ui.plain(limits.use_case)}: {', '.join(BINARY_EVENTS)} are 0 or 1; "
               "an amount above its plausible maximum is a broken export or an attack, not a "
               "customer, and goes to the quarantine with the reason. "
               + (f"Saved by {ui.plain(limits.saved_by)} at {limits.saved_at}."
                  if limits.saved_by else "Defaults, never changed."))
    with st.form("event_checks_form"):
        for e, key in keys.items():
            st.text_input(f"Plausible maximum of {e}", key=key)
        st.form_submit_button("Save event checks", key="event_checks_save",
                              on_click=save_event_checks, args=(store.path, keys))
    said = ss.pop(EVENT_CHECKS_SAID, None)
    if isinstance(said, str):
        st.success(said)
    elif said is not None:
        ui.show_refusal(said)


def save_event_checks(path: str, keys: dict[str, str]) -> None:
    """The save button's callback (it runs before the page, so the page then shows what is
    stored): saves the typed maxima based on the version the form was filled from."""
    from store import Store
    from workbench.agent.event_checks import describe, save_limits

    ss = st.session_state
    typed = {e: ss.get(key, "") for e, key in keys.items()}
    try:
        with Store(path) as store:
            saved = save_limits(store, typed, ui.actor(), based_on=ss.get(EVENT_CHECKS_SHOWN))
    except ui.REFUSALS as e:  # refused or busy: the page shows why
        ss[EVENT_CHECKS_SAID] = e
        return
    ss[EVENT_CHECKS_SAID] = "Saved: " + describe(saved.maxima)


def main() -> None:
    store = ui.page("Agent control", "The simulated trial: the agent against a "
                                          "business-as-usual holdout, over management phases.")
    left, right = st.columns([3, 1])
    with left:
        start_form(store)
    with right:
        ui.mode_control(store, key="control_mode")
    run = trial.latest_run(store)
    polling = run is not None and trial.progress(run)["status"] in ACTIVE
    every = POLL_SECONDS if polling else None
    st.fragment(live, run_every=every)(store.path, polling)
    st.subheader("Timeline")
    source = ui.source_picker(store, kinds=(sources.LIVE, sources.RUN))
    st.fragment(live_timeline, run_every=every)(store.path, source.key)
    event_checks(store)


main()
