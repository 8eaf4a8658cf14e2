"""Home: the programme at a glance, with a link to every page."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

import ui
from workbench import programme


def main() -> None:
    store = ui.page("CRM workbench", "🧭", "The agentic CRM programme at a glance.")
    summary = programme.summary(store)

    left, mid, right = st.columns(3)
    with left:
        st.subheader("Use case")
        if uc := summary.use_case:
            st.markdown(f"**{uc['name']}**  \n{uc['description']}")
            st.caption(f"Audience: users inactive for at least {uc['inactive_days']} days · "
                       f"goal metric: {uc['goal_metric'].replace('_', ' ')}")
        else:
            st.info("No use case defined yet.")
    with mid:
        st.subheader("Management mode")
        st.metric("Mode", summary.mode.title(), help="Active: marketers curate the library. "
                  "Passive: the library is frozen and the agent runs alone.")
        if summary.mode_since:
            st.caption(f"Since {summary.mode_since['at']} by {summary.mode_since['actor']}")
        with st.form("mode_form", border=False):
            new_mode = st.radio("Switch to", ["active", "passive"], horizontal=True,
                                index=0 if summary.mode == "passive" else 1, key="mode_choice")
            note = st.text_input("Note", key="mode_note", placeholder="Why the switch")
            if st.form_submit_button("Record mode change", disabled=new_mode == summary.mode):
                store.record_mode(new_mode, ui.actor(), note)
                st.rerun()
    with right:
        st.subheader("Library")
        st.metric("Active atoms", summary.active_atoms)
        st.metric("Message templates", summary.templates)
        st.caption(f"{summary.archived_atoms} archived atoms · "
                   f"{summary.slot_templates} templates with slots")

    st.subheader("Library size by kind")
    df = pd.DataFrame(summary.atoms_by_kind)
    if not df.empty:
        fig = px.bar(df, x="kind", y="atoms", text="atoms", height=280)
        fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), xaxis_title=None)
        st.plotly_chart(fig, width="stretch")

    st.subheader("Pages")
    for path in ui.page_files():
        st.page_link(str(path.relative_to(ui.PAGES_DIR.parent)), label=ui.page_label(path))


main()
