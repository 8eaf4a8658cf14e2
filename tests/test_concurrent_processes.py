"""Commands in real processes on one file: run at the same moment, what one of them did is never
undone by the other and what must happen once happens once; a command that fails (a full disk)
leaves nothing half-written behind; a file it cannot write is named, not a traceback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from store import open_store

ROOT = Path(__file__).resolve().parent.parent


def _cli(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--db", str(db), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def _models(db: Path) -> dict[str, tuple[int, bytes]]:
    from store import agent as agent_store

    with open_store(db) as s:
        n = {r["dimension"]: r["n"] for r in s.query("SELECT dimension, n FROM agent_models")}
        return {k: (n[k], b) for k, b in agent_store.model_states(s).items()}


# -- D2: decide beside ingest ------------------------------------------------------------------

def test_a_decide_whose_agent_was_loaded_before_an_ingest_learnt_keeps_what_it_learnt(db_path,
                                                                                     tmp_path):
    """``workbench decide`` loads the agent, decides for seconds, then saved the posteriors it
    had loaded; a ``workbench ingest`` that learnt in between was undone (n back to 0 for every
    dimension) while its decisions stayed marked learnt, never to be learnt again. Here the
    decide has loaded its agent when the ingest (another process) learns and saves; its batch
    then lands, and the learnt posteriors are still there."""
    import pandas as pd

    from workbench.agent.state import decide_batch, load_agent
    from workbench.agent.users import synthetic_users

    today = dt.datetime.now(dt.timezone.utc).date()
    start = (today - dt.timedelta(days=14)).isoformat()
    batch_csv = tmp_path / "batch.csv"
    done = _cli(db_path, "decide", "--synthetic", "1500", "--start", start, "--seed", "5",
                "--out", str(batch_csv))
    assert (done.returncode, done.stderr) == (0, "")
    batch = pd.read_csv(batch_csv)
    sent = batch[batch["send"].astype(bool)]
    lines = [f"{r.decision_id},direct_open,1,"
             f"{(pd.Timestamp(r.send_at) + pd.Timedelta('1h')).isoformat()}"
             for r in sent.iloc[::2].itertuples()]
    events = tmp_path / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n" + "\n".join(lines) + "\n")
    assert all(n == 0 for n, _ in _models(db_path).values())  # nothing learnt yet

    with open_store(db_path) as s:
        deciding = load_agent(s)  # the decide has loaded its agent ...
        done = _cli(db_path, "ingest", str(events), "--as-of", today.isoformat(), "--json")
        assert (done.returncode, done.stderr) == (0, "")  # ... when the ingest learns
        assert json.loads(done.stdout)["learned_decisions"] == 1500
        learnt = _models(db_path)
        assert sum(n for n, _ in learnt.values()) > 0
        batch_id, _ = decide_batch(s, deciding, synthetic_users(500, deciding.segments, 9),
                                   actor="t", source="test", seed=9, start=today)
        assert batch_id == 2
    assert _models(db_path) == learnt  # what the ingest learnt is still there
    with open_store(db_path) as s:
        assert s.query("SELECT COUNT(*) AS n FROM decisions WHERE learned > 0") == [{"n": 1500}]


# -- D3: one run at a time ---------------------------------------------------------------------

_AT = """
import sys, time
t0 = float(sys.argv[1])
from workbench.cli import main
while time.time() < t0:
    time.sleep(0.0005)
sys.exit(main(sys.argv[2:]))
"""


def _at_once(db: Path, *commands: list[str], timeout: float = 300
             ) -> list[subprocess.CompletedProcess]:
    """Each command (CLI arguments) in its own process, all starting at the same instant
    (after their imports)."""
    t0 = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", _AT, str(t0), "--db", str(db), *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT) for args in commands]
    out = []
    for args, p in zip(commands, procs):
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(args, p.returncode, stdout, stderr))
    return out


def test_two_simulates_started_at_the_same_moment_run_one_trial(db_path):
    """Two ``workbench simulate`` at the same instant both registered a run (the check and the
    insert were not one transaction, and a queued run did not count), and both ran to
    ``done``. One runs; the other is refused, saying why, and registers nothing."""
    from store import runs as run_store

    simulate = ["simulate", "--preset", "quick_demo", "--users", "500", "--days", "7",
                "--active-days", "7", "--quiet"]
    results = _at_once(db_path, simulate, [*simulate, "--seed", "3"])
    assert sorted(r.returncode for r in results) == [0, 1], [r.stderr for r in results]
    refused = next(r for r in results if r.returncode == 1)
    assert "one run at a time" in refused.stderr
    ran = json.loads(next(r for r in results if r.returncode == 0).stdout)
    with open_store(db_path) as s:
        runs = run_store.all_runs(s)
    assert [(r["id"], r["status"]) for r in runs] == [(ran["run_id"], "done")]


_QUEUE = """
import sys
from store import open_store
from workbench.sim.trial import create_run, preset
with open_store(sys.argv[1]) as s:
    run_id = create_run(s, preset("quick_demo", users=500, days=7, active_days=7), "ana")
print(run_id, flush=True)
sys.stdin.readline()  # holds the queued run until told to go
"""


def test_a_queued_run_counts_while_its_process_lives_and_not_after(db_path):
    """A run registered by a process that has not started it yet counts (it will start it);
    once that process is gone, the run no longer keeps others from starting."""
    import pytest

    from workbench.sim.trial import TrialError, create_run, preset, run_row

    proc = subprocess.Popen([sys.executable, "-c", _QUEUE, str(db_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    queued = int(proc.stdout.readline())
    config = preset("quick_demo", users=500, days=7, active_days=7)
    with open_store(db_path) as s:
        try:
            assert run_row(s, queued)["status"] == "queued"
            with pytest.raises(TrialError, match=f"run #{queued} is about to start \\(started "
                                                 "by ana\\); one run at a time"):
                create_run(s, config, "ben")
        finally:
            proc.communicate("go\n", timeout=60)
        assert create_run(s, config, "ben") == queued + 1  # its process has gone


# -- D7: two processes opening a new or outdated file ------------------------------------------

_OPENER = """
import sys, time
from store import open_store
db, t0 = sys.argv[1], float(sys.argv[2])
print("ready", flush=True)
while time.time() < t0:
    time.sleep(0.0005)
try:
    with open_store(db) as s:
        print("ok", s.schema_version, flush=True)
except Exception as e:
    print("FAIL", type(e).__name__, e, flush=True)
"""

_HOLDER = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
c.execute("COMMIT")
"""


def _open_at_once(db: Path, processes: int, *, behind_a_writer: bool = False) -> list[str]:
    """What ``processes`` processes opening ``db`` at the same instant say. ``behind_a_writer``:
    another connection holds the write lock while they start opening, so that every one of
    them reads the file's schema version before any of them can migrate (the race, every
    time)."""
    holder = None
    if behind_a_writer:
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"
    t0 = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", _OPENER, str(db), str(t0)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=ROOT) for _ in range(processes)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    if holder is not None:
        time.sleep(max(0.0, t0 - time.time()) + 1.0)  # all of them are waiting for the lock
        holder.communicate("go\n", timeout=60)
    said = [p.stdout.read().strip() for p in procs]  # read() after readline(): its buffer
    for p in procs:
        p.wait(timeout=120)
    return said


def test_processes_opening_a_new_or_outdated_file_at_once_all_open_it(tmp_path, monkeypatch):
    """Processes opening a file that does not exist yet, or one some migrations behind, at the
    same instant: one migrates, the others wait for it and find it done. Before, each read the
    version before taking the write lock and did not read it again: two or three of four
    crashed with 'table use_cases already exists'."""
    import sqlite3

    import store as store_module
    from store.migrations import LATEST_VERSION, MIGRATIONS

    def applied(db: Path) -> list[int]:
        with open_store(db, migrate=False) as s:
            return [r["version"] for r in s.applied_migrations()]

    everything = [v for v, _, _ in MIGRATIONS]
    for round_ in range(2):  # nothing there yet
        db = tmp_path / f"new{round_}.db"
        assert _open_at_once(db, 4) == [f"ok {LATEST_VERSION}"] * 4
        assert applied(db) == everything
    empty = tmp_path / "empty.db"  # an empty database file (WAL, version 0)
    sqlite3.connect(empty).execute("PRAGMA journal_mode = wal").fetchall()
    assert _open_at_once(empty, 3, behind_a_writer=True) == [f"ok {LATEST_VERSION}"] * 3
    assert applied(empty) == everything
    older = tmp_path / "older.db"  # written by a workbench two migrations older
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:-2])
    open_store(older).close()
    monkeypatch.undo()
    assert applied(older) == everything[:-2]
    assert _open_at_once(older, 3, behind_a_writer=True) == [f"ok {LATEST_VERSION}"] * 3
    assert applied(older) == everything


# -- D8: lift while a newer run runs -----------------------------------------------------------

def test_lift_reports_the_latest_finished_run_while_a_newer_one_runs_or_has_died(db_path):
    """Run #1 has finished, run #2 runs in its own process: ``workbench lift`` failed with 'no
    finished simulated run' (it looked at the newest run only), and again once #2 was killed.
    It reports run #1 and says why not #2."""
    import os
    import signal

    from workbench.sim.trial import create_run, preset, run_row, run_trial, start_background

    with open_store(db_path) as s:
        first = create_run(s, preset("quick_demo", users=2000, days=14, active_days=7), "t")
        assert run_trial(s, first) == "done"
        second = create_run(s, preset("quick_demo", users=20000, days=336, active_days=119),
                            "t")
        pid = start_background(s, second)
    try:
        done = _cli(db_path, "lift", "--unadjusted")
        with open_store(db_path) as s:
            assert run_row(s, second)["status"] == "running"  # all along
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done.returncode == 0, done.stderr
    assert f"Lift of the agent over business as usual (run #{first})" in done.stdout
    assert done.stderr == (f"Reporting run #{first}, the latest finished run: run #{second} is "
                           "running.\n")
    done = _cli(db_path, "lift", "--unadjusted", "--json")  # run #2 has died
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    assert done.stderr == (f"Reporting run #{first}, the latest finished run: run #{second} is "
                           "interrupted.\n")
    done = _cli(db_path, "lift", "--run", str(second))
    assert (done.returncode, done.stderr) == (
        1, f"error: run #{second} has no per-user outcomes (interrupted); give a finished run "
           "or --file\n")


# -- D9: a backup that fails leaves nothing behind ---------------------------------------------

_SMALL_DISK = """
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # no file over 100 kB: "full"
sys.argv = sys.argv[1:]
if sys.argv[0] == "-c":
    sys.argv = sys.argv[1:]
    exec(sys.argv[0])
else:
    runpy.run_module("workbench", run_name="__main__")
"""


def test_a_backup_or_sandbox_copy_that_fails_for_space_leaves_no_file_and_can_be_retried(
        db_path, tmp_path):
    """``db backup`` on a full disk left a 0-byte file at the destination: the retry said it
    already existed, and opening it silently seeded a fresh database; a run's sandbox copy left
    ``library.db.<pid>.tmp``. Now both leave nothing, and the retry makes a whole copy."""
    out = tmp_path / "backups"
    out.mkdir()
    dest = out / "bk.db"
    full = subprocess.run([sys.executable, "-c", _SMALL_DISK, "workbench", "--db", str(db_path),
                           "db", "backup", str(dest)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert full.returncode == 1 and full.stderr.startswith("error: "), full.stderr
    assert list(out.iterdir()) == []  # no empty "backup", no temporary file
    done = _cli(db_path, "db", "backup", str(dest))
    assert (done.returncode, done.stderr) == (0, "")
    with open_store(db_path) as s, open_store(dest, migrate=False) as copy:
        assert copy.query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]
        assert copy.counts() == s.counts() and copy.counts()["components"] > 0
    assert [p.name for p in out.iterdir()] == ["bk.db"]

    folder = tmp_path / "run_0001"
    sandbox = f"""
from pathlib import Path
from store import open_store
from workbench.sim.sandbox import open_sandbox
with open_store({str(db_path)!r}, migrate=False) as s:
    try:
        open_sandbox(s, Path({str(folder)!r}), fresh=True)
    except Exception as e:
        print("failed:", type(e).__name__)
"""
    full = subprocess.run([sys.executable, "-c", _SMALL_DISK, "-c", sandbox],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert full.stdout.startswith("failed:"), (full.stdout, full.stderr)
    assert list(folder.iterdir()) == []  # no library.db.<pid>.tmp


def test_db_backup_to_an_empty_name_is_a_usage_error(db_path):
    """``db backup ""`` took the empty name for the current folder: '. already exists'."""
    done = _cli(db_path, "db", "backup", "")
    assert done.returncode == 2
    assert "Invalid value for 'PATH': give the path of a new file for the backup" in done.stderr


# -- D10: the app on a file it cannot write ------------------------------------------------------

def test_the_app_on_a_read_only_file_says_so_instead_of_a_traceback(db_path, monkeypatch):
    """``WORKBENCH_DB`` naming a read-only file (``chmod 444``; a read-only mount the same)
    showed a raw traceback on every page, where the CLI names the file and says what to do.
    The page says what the CLI says. The file is refused by its mode before SQLite writes, not
    by a write that fails, so this holds when the tests run as root too."""
    import os
    import stat

    from streamlit.testing.v1 import AppTest

    import ui

    os.chmod(db_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        cli = _cli(db_path, "decide", "--synthetic", "5")
        message = (f"{db_path} is read-only; the workbench writes to its database file (make "
                   "it writable, or back it up to a new file).")
        assert cli.returncode == 2 and message in " ".join(cli.stderr.split())
        for page in ("Home.py", "pages/2_Posteriors.py"):
            at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
            assert not at.exception, at.exception
            assert [e.value for e in at.error] == [ui.plain(message)]
    finally:
        os.chmod(db_path, stat.S_IRUSR | stat.S_IWUSR)
