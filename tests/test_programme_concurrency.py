"""The live programme's commands run at once (two cron jobs that overlap, a cron job beside a
person or a trial), against one database file: threads meet at a barrier where the races were,
and real processes run the CLI.

Each command holds the programme's lock from its first read to its last write, so the second
waits for the first; the barrier times out when the second cannot come (it waits for the lock),
and the first goes on alone.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from store import decisions as decisions_store
from store import live as live_store
from store import open_store
from workbench.agent.state import segments_of
from workbench.agent.users import synthetic_users
from workbench.cli import main
from workbench.library.seed import seed
from workbench.live import activity as activity_module
from workbench.live import day as day_module
from workbench.live import roster as roster_module
from workbench.live.activity import ingest_activity
from workbench.live.day import programme_day
from workbench.live.logs import event_files
from workbench.live.roster import import_roster, load_roster

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 20)


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


@pytest.fixture
def db(tmp_path) -> Path:
    """A seeded file with a roster of 600 users who joined on 2026-11-01."""
    path = tmp_path / "wb.db"
    with open_store(path) as s:
        seed(s)
        users = synthetic_users(600, segments_of(s), 1)
        import_roster(s, csv_bytes(users), name="r.csv", actor="t", joined_on="2026-11-01")
    return path


def meet_at(monkeypatch, module, name: str, timeout: float = 3.0) -> None:
    """Two callers of ``module.name`` wait for each other there (for ``timeout`` at most)."""
    barrier = threading.Barrier(2, timeout=timeout)
    real = getattr(module, name)

    def meeting(*args, **kwargs):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:  # the other one is waiting for the lock
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, meeting)


def in_threads(*jobs):
    """Run each job in its own thread with its own connection; results and errors by job."""
    results, errors = [None] * len(jobs), [None] * len(jobs)

    def run(i, job):
        try:
            results[i] = job()
        except Exception as e:  # reported by the test, not hidden
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results, errors


def decided(db: Path, outbox: Path, **kw):
    def job():
        with open_store(db) as s:
            return programme_day(s, DAY, outbox, **kw)
    return job


def log_batches(path: str) -> set[str]:
    ids = pq.read_table(path, columns=["decision_id"]).column("decision_id")
    return set(pc.unique(pc.struct_field(pc.extract_regex(ids, r"^(?P<b>\d+)-"), "b"))
               .to_pylist())


# -- D12: the day's log is found from any working directory ----------------------------------

def test_a_day_decided_from_the_files_folder_is_found_from_anywhere(db, tmp_path, monkeypatch,
                                                                  capsys):
    """``cd data; workbench --db wb.db programme day`` recorded the log's path relative to
    that directory; the same command from elsewhere (cron) failed to open it."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(db.parent)
    args = ["programme", "day", "--date", DAY.isoformat(), "--outbox", "out"]
    assert main(["--db", db.name, *args]) == 0
    monkeypatch.chdir(other)
    assert main(["--db", str(db), *args]) == 0
    assert '"rerun": true' in capsys.readouterr().out
    with open_store(db) as s:
        assert Path(live_store.day(s, DAY.isoformat())["log_path"]).is_file()


def test_a_log_path_recorded_relative_to_another_directory_is_still_found(db, tmp_path,
                                                                          monkeypatch):
    """Days recorded before the fix (a path relative to the caller's directory) are read
    where the log is, beside the database file."""
    with open_store(db) as s:
        programme_day(s, DAY, tmp_path / "out")
        s.db.execute("UPDATE live_days SET log_path = ?",
                     [f"wb.db.live/decisions/day={DAY.isoformat()}/batch.parquet"])
        s.db.conn.commit()
    monkeypatch.chdir(tmp_path.parent)
    with open_store(db) as s:
        assert programme_day(s, DAY, tmp_path / "again")["rerun"] is True
        assert all(Path(d["log_path"]).is_file() for d in live_store.days(s))
