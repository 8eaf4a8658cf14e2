"""Every page action that writes, refused or made while the database is busy, shows an error box
in plain words, never a traceback, and leaves the store as it was.

The failures are real: another connection holds SQLite's write lock (``BEGIN IMMEDIATE`` on the
same file, as a running trial or a CLI import would) while the button is clicked, or the runs
folder beside the database cannot be made. Only the busy timeout is shortened (5 s and two
retries would make each test wait 16 s); the lock and the refusal are SQLite's own.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store import StoreBusyError, open_store
from tests.conftest import ROOT, write_lock_held

BUSY = StoreBusyError.MESSAGE
AGENT_CONTROL = "pages/3_Agent_control.py"


@pytest.fixture(autouse=True)
def quick_busy(monkeypatch):
    """A write gives up on a held lock after 50 ms (and the store's two short retries)."""
    import store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)


def contents(db: Path) -> list[str]:
    """Every table's rows (and the schema), to compare the whole store before and after."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def app(page: str | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def click_while_busy(at: AppTest, db: Path, button) -> list[str]:
    """Click ``button`` (an AppTest button) while another connection holds the write lock;
    returns the store's contents from before the click."""
    before = contents(db)
    with write_lock_held(db):
        button.click().run()
    return before


def errors(at: AppTest) -> list[str]:
    """The error boxes' texts as read on the page (a message is escaped to show as typed)."""
    return [e.value.replace("\\", "") for e in at.error]


def assert_refused_cleanly(at: AppTest, db: Path, before: list[str], said: str = BUSY) -> None:
    assert not at.exception, at.exception
    assert any(said in e for e in errors(at)), errors(at)
    assert contents(db) == before


# -- Home ----------------------------------------------------------------------------------------

def test_home_demo_trial_while_the_database_is_busy_says_so_and_starts_nothing(db_path):
    at = app()
    before = click_while_busy(at, db_path, at.button(key="demo_trial"))
    assert_refused_cleanly(at, db_path, before)
    assert at.title[0].value == "CRM workbench"  # still on Home: it did not go to Agent control
    assert not list(Path(f"{db_path}.runs").glob("run_*"))  # no run's folder either


def test_home_demo_trial_where_the_runs_folder_cannot_be_made_registers_no_run(db_path):
    """A file where the runs folder goes (``<db>.runs``): the run was registered, then its
    process could not start; it raised a traceback and left a queued run behind."""
    Path(f"{db_path}.runs").write_text("not a folder")
    at = app()
    before = contents(db_path)
    at.button(key="demo_trial").click().run()
    assert not at.exception, at.exception
    (said,) = errors(at)
    print(said)
    assert said.startswith(f"The run was not started: the folder for runs "
                                             f"beside the database, {db_path}.runs, cannot be "
                                             "made (File exists); nothing was saved.")
    assert contents(db_path) == before
    with open_store(db_path) as s:
        assert s.query("SELECT count(*) AS n FROM sim_runs")[0]["n"] == 0


@pytest.mark.parametrize("page,key", [(None, "mode"), (AGENT_CONTROL, "control_mode")])
def test_a_mode_change_while_the_database_is_busy_keeps_the_mode_and_the_note(db_path, page,
                                                                               key):
    at = app(page)
    at.radio(key=f"{key}_choice").set_value("passive")
    at.text_input(key=f"{key}_note").set_value("hand over to the agent")
    (record,) = [b for b in at.button if b.label == "Record mode change"]
    before = click_while_busy(at, db_path, record)
    assert_refused_cleanly(at, db_path, before)
    assert errors(at) == [f"The mode was not changed: {BUSY}"]
    with open_store(db_path) as s:
        assert s.current_mode() == "active"
    # what was typed stays, ready to record once the database is free
    assert at.text_input(key=f"{key}_note").value == "hand over to the agent"
    assert at.radio(key=f"{key}_choice").value == "passive"
    [b for b in at.button if b.label == "Record mode change"][0].click().run()
    assert not at.exception and not at.error
    with open_store(db_path) as s:
        assert s.current_mode() == "passive"
        assert s.management_events()[-1]["note"] == "hand over to the agent"


# -- Posteriors ----------------------------------------------------------------------------------

def test_deciding_a_batch_while_the_database_is_busy_logs_nothing(db_path):
    at = app("pages/2_Posteriors.py")
    at.number_input(key="demo_users").set_value(200)
    before = click_while_busy(at, db_path, at.button(key="decide_button"))
    assert_refused_cleanly(at, db_path, before)
    assert not [s.value for s in at.success if "Decided batch" in s.value]


# -- Agent control -------------------------------------------------------------------------------

def test_starting_a_run_where_its_folder_cannot_be_made_leaves_no_run(db_path):
    """``Start a new run`` caught refusals but not the folder that cannot be made: a
    traceback, and a queued run that never started left in the register."""
    Path(f"{db_path}.runs").write_text("not a folder")
    at = app(AGENT_CONTROL)
    at.selectbox(key="trial_preset").set_value("quick_demo").run()
    before = contents(db_path)
    [b for b in at.button if b.label == "Start a new run"][0].click().run()
    assert_refused_cleanly(at, db_path, before, said="cannot be made (File exists)")
    assert any("No run yet" in i.value for i in at.info)


def test_a_run_whose_process_cannot_start_is_removed_again(db_path):
    """The register accepts the run, then its own folder cannot be made (a file has its name):
    the run is removed again, nothing of it stays but the audit log's two lines."""
    from workbench.sim import trial

    runs = Path(f"{db_path}.runs")
    runs.mkdir()
    (runs / "run_0001").write_text("not a folder")
    at = app(AGENT_CONTROL)
    at.selectbox(key="trial_preset").set_value("quick_demo").run()
    [b for b in at.button if b.label == "Start a new run"][0].click().run()
    assert not at.exception, at.exception
    (said,) = errors(at)
    print(said)
    assert said.startswith("Run #1 could not start: its folder "
                                             f"{runs / 'run_0001'} cannot be made (File "
                                             "exists). It was removed again")
    with open_store(db_path) as s:
        assert trial.latest_run(s) is None
        assert [e["action"] for e in s.audit_log(2)] == ["cancel", "create"]
    assert any("No run yet" in i.value for i in at.info)


def test_continuing_a_run_whose_folder_cannot_be_made_says_so_and_keeps_the_run(db_path):
    """``Continue`` caught refusals but not a folder that cannot be made (a traceback)."""
    from workbench.sim import trial

    with open_store(db_path) as s:
        run_id = trial.create_run(s, trial.preset("quick_demo", users=1000), "ana")
    runs = Path(f"{db_path}.runs")
    runs.mkdir()
    (runs / f"run_{run_id:04d}").write_text("not a folder")
    at = app(AGENT_CONTROL)
    before = contents(db_path)
    at.button(key="continue_button").click().run()
    assert_refused_cleanly(at, db_path, before, said=(
        f"Run #{run_id} could not continue: its folder {runs / f'run_{run_id:04d}'} cannot be "
        "made (File exists). It stays as it was."))
    with open_store(db_path) as s:
        assert trial.latest_run(s)["status"] == "queued"


@pytest.fixture
def running_run(db_path) -> Iterator[int]:
    """A run marked running by a live process (one that only sleeps: no day is simulated)."""
    from workbench.sim import trial
    from workbench.sim.runner import set_run

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with open_store(db_path) as s:
            run_id = trial.create_run(s, trial.preset("quick_demo", users=1000), "ana")
            set_run(s, run_id, status="running", pid=sleeper.pid)
        yield run_id
    finally:
        sleeper.kill()
        sleeper.wait()


def test_pausing_a_run_while_the_database_is_busy_says_so_and_the_run_goes_on(db_path,
                                                                                running_run):
    at = app(AGENT_CONTROL)
    before = click_while_busy(at, db_path, at.button(key="pause_button"))
    assert_refused_cleanly(at, db_path, before)
    with open_store(db_path) as s:
        assert s.query("SELECT status FROM sim_runs")[0]["status"] == "running"


# -- Rewrite studio ------------------------------------------------------------------------------

def test_a_blind_judgment_while_the_database_is_busy_is_not_stored_and_can_be_given_again(
        db_path):
    from workbench.studio import jobs, judging
    from workbench.studio import pipeline as rw

    at = app("pages/5_Rewrite_studio.py")
    at.selectbox(key="studio_segment").set_value("new_buyers").run()
    at.button(key="rewrite_all").click().run()
    assert jobs.wait("new_buyers", timeout=60)
    at.run()
    with open_store(db_path) as s:
        (r,) = rw.rewrites(s, "new_buyers")
    at.text_input(key="actor").set_value("colleague").run()
    position = at.session_state["studio_orders"][r["id"]]
    at.radio(key=f"choice_{r['id']}").set_value(position)
    submit = next(b for b in at.button if b.label == "Submit blind judgment")
    before = click_while_busy(at, db_path, submit)
    assert_refused_cleanly(at, db_path, before)
    assert not [s.value for s in at.success if s.value.startswith("Revealed")]
    with open_store(db_path) as s:
        assert judging.judgments(s, r["id"]) == []
    # the same pair waits, on the same sides, to be judged once the database is free
    assert at.session_state["studio_orders"][r["id"]] == position
    at.radio(key=f"choice_{r['id']}").set_value(position)
    next(b for b in at.button if b.label == "Submit blind judgment").click().run()
    assert any(s.value.startswith("Revealed") for s in at.success)


# -- LLM settings --------------------------------------------------------------------------------

def test_a_connection_test_while_the_database_is_busy_still_shows_its_outcome(db_path,
                                                                            monkeypatch):
    """The test's call is logged in the database: with the lock held the log cannot be
    written. The page showed a traceback, then only the busy message, losing the outcome of a
    request that had been made; it now shows the outcome and says the log line is missing."""
    import os
    import socket

    from workbench.studio import llm

    for name in list(os.environ):
        if name.startswith("WORKBENCH_LLM_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    with socket.socket() as sock:  # a port nothing listens on: refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open_store(db_path) as s:
        llm.save_settings(s, "diagnosis", base_url=f"http://127.0.0.1:{port}/v1", model="m",
                          temperature=0.2, timeout_s=2.0, max_retries=0, actor="t")
    at = app("pages/6_LLM_settings.py")
    before = click_while_busy(at, db_path, at.button(key="llm_test_diagnosis"))
    assert not at.exception, at.exception
    (said,) = errors(at)
    assert said.startswith(f"The diagnosis model at http://127.0.0.1:{port}/v1 could not be "
                           "reached (connection refused) after 1 attempt.")
    assert said.endswith("The call log could not record this test: the database was busy "
                         "with another task.")
    assert contents(db_path) == before
