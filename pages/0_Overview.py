"""Home (overview): the programme at a glance, with a link to every page (the default page of the menu)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

import ui
from workbench.library import programme
from workbench.lift.html import words
from workbench.lift.report import from_run, whole_run
from workbench.sim import trial


def trial_status(store) -> None:
    run = trial.latest_run(store)
    if run is None:
        st.info("No trial has run on this file yet. The demo trial simulates the longitudinal "
                "study: 100,000 users, 90% agent / 10% business as usual, 4 months of active "
                "then 7 months of passive management. It took about 70 s on an idle "
                "two-core machine (longer on a busy one); the Agent control page shows its "
                "progress and an estimate of the time left.")
        if st.button("Run the demo trial", key="demo_trial", type="primary"):
            with ui.reported():  # busy or refused: said here, and no run is left behind
                trial.start_new(store, trial.preset("longitudinal_study"), ui.actor())
                st.switch_page("pages/3_Agent_control.py")
        return
    prog = trial.progress(run)
    c1, c2, c3 = st.columns(3)
    c1.metric("Run", f"#{run['id']} · {prog['status']}")
    c2.metric("Days simulated", f"{prog['done']} / {prog['total']}")
    whole = finished_lift(run["id"], run["folder"]) if prog["status"] == "done" else None
    if whole is not None:  # a finished run: the number with what makes it readable
        c3.metric("Direct-open lift", f"{whole['lift']:+.1%}" if whole["status"] == "ok"
                  else "—", help="Agent vs business as usual, days with direct opens per user "
                                 "over the whole run (unadjusted); per phase, with variance "
                                 "reduction, and the other metrics on the lift report.")
        c3.caption(ui.plain(words(whole)))
        return
    lift = trial.headline_lift(store, run["id"])
    c3.metric("Direct-open lift so far", "—" if lift is None else f"{lift:+.1%}",
              help="Agent vs business as usual, days with direct opens per user; intervals "
                   "and the other metrics on the lift report.")
    if lift is not None:
        c3.caption("A point estimate while the run goes on: its interval comes when the run "
                   "ends (week by week on the lift report).")


@st.cache_data(show_spinner=False, max_entries=4)
def finished_lift(run_id: int, folder: str) -> dict | None:
    """The whole run's direct-open lift with its interval (a finished run never changes)."""
    users = trial.user_outcomes({"folder": folder})
    if users is None:
        return None
    return {"metric": "direct_open", **whole_run(from_run(users), "direct_open").as_dict()}


def main() -> None:
    store = ui.page("CRM workbench", "The agentic CRM programme at a glance.")
    summary = programme.summary(store)

    left, mid, right = st.columns(3)
    with left:
        st.subheader("Use case")
        if uc := summary.use_case:
            st.markdown(f"**{ui.plain(uc['name'])}**  \n{ui.plain(uc['description'])}")
            st.caption(f"Audience: users inactive for at least {uc['inactive_days']} days · "
                       f"goal metric: {uc['goal_metric'].replace('_', ' ')}")
        else:
            st.info("No use case defined yet.")
    with mid:
        st.subheader("Management")
        ui.mode_control(store)
    with right:
        st.subheader("Library")
        st.metric("Active atoms", summary.active_atoms)
        st.metric("Message templates", summary.templates)
        st.caption(f"{summary.archived_atoms} archived atoms · "
                   f"{summary.slot_templates} templates with slots")

    st.subheader("Simulated trial")
    trial_status(store)

    st.subheader("Library size by kind")
    df = pd.DataFrame(summary.atoms_by_kind)
    if not df.empty:
        fig = px.bar(df, x="kind", y="atoms", text="atoms", height=280)
        fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), xaxis_title=None)
        st.plotly_chart(fig, width="stretch")

    st.subheader("Pages")
    ui.page_links()


main()
