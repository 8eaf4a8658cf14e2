"""Shared Streamlit helpers: the one call every page starts with, and small widgets.

Pages stay a few lines of layout: ``store = ui.page("Title", "icon")`` sets the page config,
draws the sidebar (who is editing, management mode, database file), shows the title and returns
an open :class:`store.Store` on the file, created, migrated and seeded on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from store import SchemaTooNewError, Store, default_db_path
from workbench import Problem, ValidationError
from workbench.library.seed import seed

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


@st.cache_resource(show_spinner="Preparing the workbench database...")
def _prepare(path: str) -> str:
    """Migrate and seed a file once per server process (cheap to re-check, but not free)."""
    with Store(path) as store:
        store.migrate()
        seed(store)
    return path


def open_page_store() -> Store:
    path = str(default_db_path())
    try:
        _prepare(path)
    except SchemaTooNewError as e:
        st.error(str(e))
        st.stop()
    return Store(path)


def actor() -> str:
    """Who is making changes, for revisions and the audit log."""
    return (st.session_state.get("actor") or "").strip() or os.environ.get(
        "WORKBENCH_USER", "marketer")


def page(title: str, icon: str, caption: str | None = None) -> Store:
    st.set_page_config(page_title=f"{title} · CRM workbench", page_icon=icon, layout="wide")
    store = open_page_store()
    with st.sidebar:
        st.text_input("Your name", key="actor", persist_state="session",
                      placeholder=os.environ.get("WORKBENCH_USER", "marketer"),
                      help="Recorded with every edit in the revision history and audit log.")
        mode = store.current_mode()
        if mode == "active":
            st.success("Active management: marketers curate the library", icon="✍️")
        else:
            st.warning("Passive management: the library is frozen", icon="🧊")
        st.caption(f"Database: `{store.path}`")
    st.title(f"{icon} {title}")
    if caption:
        st.caption(caption)
    return store


def show_problems(error: ValidationError) -> None:
    """An error box listing every problem with its row and field."""
    st.error(error.summary + ":\n\n" + "\n".join(f"- {_md(p)}" for p in error.problems))


def _md(p: Problem) -> str:
    return str(p).replace("*", r"\*").replace("_", r"\_")


def page_files() -> list[Path]:
    """The numbered pages, in menu order."""
    return sorted(PAGES_DIR.glob("[0-9]*_*.py"), key=lambda p: int(p.name.split("_", 1)[0]))


def page_label(path: Path) -> str:
    return path.stem.split("_", 1)[1].replace("_", " ")


def mode_control(store: Store, key: str = "mode") -> None:
    """The active/passive management switch: a recorded event (who, when, why)."""
    mode = store.current_mode()
    events = store.management_events()
    st.metric("Management mode", mode.title(), help="Active: marketers curate the library. "
              "Passive: the library is frozen and the agent runs alone.")
    if events:
        st.caption(f"Since {events[-1]['at']} by {events[-1]['actor']}")
    with st.form(f"{key}_form", border=False):
        new_mode = st.radio("Switch to", ["active", "passive"], horizontal=True,
                            index=0 if mode == "passive" else 1, key=f"{key}_choice")
        note = st.text_input("Note", key=f"{key}_note", placeholder="Why the switch")
        if st.form_submit_button("Record mode change", disabled=new_mode == mode):
            store.record_mode(new_mode, actor(), note)
            st.rerun()


# -- LLM keys: typed on the LLM settings page, kept in this browser session only ---------------

LLM_KEYS = "llm_session_keys"


def remember_llm_key(agent: str) -> None:
    """Copy the key typed in the settings page's ``llm_key_<agent>`` field to the session's
    plain state, which outlives the widget when the user switches pages."""
    keys = st.session_state.setdefault(LLM_KEYS, {})
    value = (st.session_state.get(f"llm_key_{agent}") or "").strip()
    if value:
        keys[agent] = value
    else:
        keys.pop(agent, None)


def llm_keys() -> dict[str, str]:
    """API keys typed on the LLM settings page this session, by agent (for
    ``workbench.studio.llm.load_configs(store, keys=ui.llm_keys())``). Never written anywhere."""
    return dict(st.session_state.get(LLM_KEYS, {}))
