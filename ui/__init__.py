"""Shared Streamlit helpers: the app's one entry, the call every page starts with, widgets.

``Home.py`` calls :func:`entry` once per rerun: it sets the page config, draws the sidebar (who
is editing, management mode, database file) and runs the page chosen in ``st.navigation``.
Pages stay files in ``pages/`` with a ``main()`` that starts with ``store = ui.page("Title")``:
it shows the title and returns an open :class:`store.Store` on the file, created, migrated and
seeded on first use. A page run on its own (AppTest on the file) works the same, without sidebar.
Titles carry no emoji: Debian's Chromium has no emoji font and draws empty boxes; the menu's
Material icons come with Streamlit's own font.
"""

from __future__ import annotations

import os
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from store import DatabaseFileError, SchemaTooNewError, Store, StoreBusyError, default_db_path
from workbench import ValidationError, WorkbenchError, sources
from workbench.library.seed import seed

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = ROOT / "pages"
FAVICON = Path(__file__).resolve().parent / "favicon.png"


@dataclass(frozen=True)
class NavPage:
    """One entry of the menu: its file (relative to the app root), label and Material icon."""

    file: str
    title: str
    icon: str


#: The menu, in order; the first is the home page. One list feeds the navigation and the links
#: on the home page.
PAGES: tuple[NavPage, ...] = (
    NavPage("pages/0_Overview.py", "Home", ":material/home:"),
    NavPage("pages/1_Components.py", "Components", ":material/extension:"),
    NavPage("pages/2_Posteriors.py", "Posteriors", ":material/insights:"),
    NavPage("pages/3_Agent_control.py", "Agent control", ":material/tune:"),
    NavPage("pages/4_Lift_report.py", "Lift report", ":material/bar_chart:"),
    NavPage("pages/5_Rewrite_studio.py", "Rewrite studio", ":material/edit_note:"),
    NavPage("pages/6_LLM_settings.py", "LLM settings", ":material/settings_ethernet:"),
)


@st.cache_resource(show_spinner="Preparing the workbench database...")
def _prepare(path: str) -> str:
    """Migrate and seed a file once per server process (cheap to re-check, but not free)."""
    with Store(path) as store:
        store.migrate()
        seed(store)
    return path


def open_page_store() -> Store:
    """The page's store; a file the workbench cannot use (newer than this code, read-only,
    a folder, not SQLite) stops the page with the reason, as the CLI gives it."""
    path = str(default_db_path())
    try:
        _prepare(path)
        return Store(path)
    except (SchemaTooNewError, DatabaseFileError) as e:
        st.error(plain(e))
        st.stop()


def actor() -> str:
    """Who is making changes, for revisions and the audit log."""
    return (st.session_state.get("actor") or "").strip() or os.environ.get(
        "WORKBENCH_USER", "marketer")


# Set while the entry runs a page (script runs are one thread each), so that a page run on its
# own draws the config and sidebar itself and a page run by the entry never draws them twice.
_entry = threading.local()


def entry() -> None:
    """The whole app, once per rerun: config, sidebar, then the page the menu points at."""
    _config()  # before the menu, or the page's Material icon becomes the favicon
    nav = st.navigation([st.Page(p.file, title=p.title, icon=p.icon, default=i == 0)
                         for i, p in enumerate(PAGES)])
    _chrome()
    _entry.active = True
    try:
        nav.run()
    finally:
        _entry.active = False


def _config() -> None:
    """A local favicon: a page's Material icon as the favicon is fetched from
    fonts.gstatic.com, and the app must run with no network."""
    st.set_page_config(page_title="CRM workbench", page_icon=str(FAVICON), layout="wide")


def _chrome() -> None:
    with open_page_store() as store:
        sidebar(store)


def sidebar(store: Store) -> None:
    with st.sidebar:
        st.text_input("Your name", key="actor", persist_state="session",
                      placeholder=os.environ.get("WORKBENCH_USER", "marketer"),
                      help="Recorded with every edit in the revision history and audit log.")
        st.session_state[STATUS_SEEN] = sources.status(store).signature
        moving = st.session_state.get(STATUS_SEEN, (None, None))[1] is not None
        st.fragment(status_panel, run_every=POLL_MOVING if moving else POLL_IDLE)(store.path)
        st.caption(f"Database: `{store.path}`")


# -- status and source: what is shown, the mode, the run in progress ----------------------------

SOURCE = "source_key"  #: the chosen source's key, kept across pages (not a widget's key)
STATUS_SEEN = "status_seen"  #: the status the page was drawn with (a change reruns the page)
POLL_MOVING, POLL_IDLE = 1.0, 5.0  #: seconds between sidebar refreshes, with and without a run


def status_panel(path: str) -> None:
    """The sidebar's status, read fresh on every run of this fragment (every second while a
    run moves, every few seconds otherwise): the source shown, the management mode, and the
    run in progress with its day and phase. When the mode or the run's status or phase changes,
    the whole page reruns, so nothing on it shows the old one."""
    with Store(path) as store:
        now = sources.status(store)
        shown = sources.find(sources.list_sources(store), chosen_key(store))
    if now.signature != st.session_state.get(STATUS_SEEN):
        st.session_state[STATUS_SEEN] = now.signature
        st.rerun(scope="app")
    st.markdown(f"**Showing:** {plain(shown.label) if shown else 'nothing yet'}")
    if now.mode == "active":
        st.success("Active management: marketers curate the library", icon=":material/edit:")
    else:
        st.warning("Passive management: the library is frozen", icon=":material/lock:")
    if run := now.run:
        eta = "" if run.eta_seconds is None else f" · about {run.eta_seconds:.0f} s left"
        st.info(f"Run #{run.run_id} {run.status}: day {run.day} of {run.days}"
                + (f" ({run.date})" if run.date else "") + f" · {run.phase} phase{eta}",
                icon=":material/play_circle:")
    else:
        st.caption("No simulated run in progress.")


def chosen_key(store: Store) -> str:
    """The source this session shows: its choice, or the default (the live programme once it
    has a roster, else the newest run)."""
    key = st.session_state.get(SOURCE)
    if key:
        return key
    return sources.default_key(sources.list_sources(store))


def _remember_source(widget: str) -> None:
    st.session_state[SOURCE] = st.session_state[widget]


def source_picker(store: Store, kinds: tuple[str, ...] = (sources.LIVE, sources.RUN,
                                                          sources.FILE),
                  key: str = "source_pick") -> sources.Source:
    """The run and source picker: the live programme, every simulated run and the imported
    file (those of ``kinds``). The choice is kept for the session and every page that shows a
    source starts from it; a page that cannot show the chosen kind (posteriors of a file)
    shows its default without forgetting the choice."""
    listed = sources.list_sources(store)
    options = [s for s in listed if s.kind in kinds]
    chosen = sources.find(options, chosen_key(store))
    if chosen is None:
        fallback = sources.find(options, sources.default_key(listed)) or options[0]
        remembered = sources.find(listed, chosen_key(store))
        if remembered is not None:
            st.caption(f"{plain(remembered.label)} cannot be shown here; showing "
                       f"{plain(fallback.label)}.")
        chosen = fallback
    # Always set: pickers on other pages share the key but not the options (so not the
    # widget's identity), and a widget new to this page would otherwise start at its first one.
    st.session_state[key] = chosen.key
    labels = {s.key: s.label for s in options}
    st.selectbox("Showing", list(labels), format_func=lambda k: labels.get(k, k), key=key,
                 on_change=_remember_source, args=(key,),
                 help="The live programme (your users, sends and events), any simulated run "
                      "(each in its own sandbox), or an imported per-user file. The choice "
                      "is kept on every page.")
    if chosen.detail:
        st.caption(plain(chosen.detail))
    return chosen


def page(title: str, caption: str | None = None) -> Store:
    """Title and caption of a page; returns the page's store. Run without the entry (Streamlit
    runs a ``pages/`` file directly on a server's very first run, and AppTest may), it draws
    the config and sidebar itself."""
    if not getattr(_entry, "active", False):
        _config()
        _chrome()
    store = open_page_store()
    st.title(title)
    if caption:
        st.caption(caption)
    return store


def page_links() -> None:
    """A link to every page but the home page; only the entry's menu knows the pages, so a page
    file run on its own shows none."""
    if getattr(_entry, "active", False):
        for p in PAGES[1:]:
            st.page_link(p.file, label=p.title, icon=p.icon)


@contextmanager
def reported(prefix: str = "", *, stop: bool = False) -> Iterator[None]:
    """Show a refused action as an error box instead of a traceback: a ValidationError lists
    its problems by row and field, any other WorkbenchError shows its message (after
    ``prefix``). The rest of the ``with`` block is skipped, so a page writes its success message
    and reruns only when nothing was refused; with ``stop`` the page ends there (for what the
    rest of the page cannot do without)."""
    try:
        yield
    except REFUSALS as e:
        show_refusal(e, prefix)
        if stop:
            st.stop()


#: What a page action may refuse with: bad input (ValidationError), a refusal of the core
#: (any WorkbenchError), or the database kept busy by another writer (nothing was saved).
REFUSALS = (WorkbenchError, StoreBusyError)


def show_refusal(error: Exception, prefix: str = "") -> None:
    """The error box of a refused action, as :func:`reported` draws it: for a callback (it
    runs before the page, so it keeps the refusal in the session state and the page shows it
    here, where the action's widgets are)."""
    if isinstance(error, ValidationError):
        show_problems(error)
    else:
        st.error(f"{prefix}{plain(error)}")  # messages quote what was typed


def show_problems(error: ValidationError) -> None:
    """An error box listing every problem with its row and field, as typed (a problem quotes
    the value it refuses: "$5 and $10" is not a formula)."""
    st.error(error.summary + ":\n\n" + "\n".join(f"- {plain(p)}" for p in error.problems))


_MARKDOWN_SPECIAL = frozenset(string.punctuation)  # CommonMark escapes any of them


def plain(text: object) -> str:
    """``text`` escaped so that ``st.markdown``/``st.caption`` show it as typed: user text shown
    as data (an atom's wording, a reason) must not render as Markdown or HTML, nor fetch an
    image from a URL written in it. Every ASCII punctuation character gets a backslash, which
    CommonMark (and Streamlit's ``:color[...]``, ``$...$`` directives) reads as the character."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in str(text))


def mode_control(store: Store, key: str = "mode") -> None:
    """The active/passive management switch: a recorded event (who, when, why).

    The switch is recorded by the submit button's callback, which then points the radio at the
    other mode and empties the note, so the form is ready for the next switch; its button is
    never disabled (a form's own widgets cannot re-enable it before a submit). The radio is
    pointed at the other mode again whenever the mode in force is not the one it was set up
    against (switched in another tab or from the command line), and when a click asks for the
    mode already in force."""
    mode = store.current_mode()
    events = store.management_events()
    st.metric("Management mode", mode.title(), help="Active: marketers curate the library. "
              "Passive: the library is frozen and the agent runs alone.")
    if events:
        st.caption(f"Since {events[-1]['at']} by {plain(events[-1]['actor'])}")
    if st.session_state.get(f"{key}_against") != mode or f"{key}_choice" not in st.session_state:
        _point_at_other(key, mode)
    with st.form(f"{key}_form", border=False):
        st.radio("Switch to", ["active", "passive"], horizontal=True, key=f"{key}_choice")
        st.text_input("Note", key=f"{key}_note", placeholder="Why the switch")
        st.form_submit_button("Record mode change", on_click=_record_mode,
                              args=(store.path, key))
    if said := st.session_state.pop(f"{key}_said", None):
        st.info(said)
    if (refused := st.session_state.pop(f"{key}_refused", None)) is not None:
        show_refusal(refused, "The mode was not changed: ")


def _other(mode: str) -> str:
    return "passive" if mode == "active" else "active"


def _point_at_other(key: str, mode: str) -> None:
    """Point the radio at the mode a click would switch to, remembering the mode in force."""
    st.session_state[f"{key}_choice"] = _other(mode)
    st.session_state[f"{key}_against"] = mode


def _record_mode(path: str, key: str) -> None:
    """The submit button's callback. A refused switch (the database busy) is kept for
    :func:`mode_control` to show, with the choice and the note left as typed."""
    new_mode = st.session_state[f"{key}_choice"]
    try:
        with Store(path) as store:
            if new_mode == store.current_mode():
                st.session_state[f"{key}_said"] = f"Management is already {new_mode}."
                _point_at_other(key, new_mode)
                return
            store.record_mode(new_mode, actor(), st.session_state.get(f"{key}_note", ""))
    except REFUSALS as e:
        st.session_state[f"{key}_refused"] = e
        return
    _point_at_other(key, new_mode)
    st.session_state[f"{key}_note"] = ""


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
