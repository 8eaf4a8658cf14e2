"""Crash safety of simulated runs: processes killed (SIGKILL) at random moments, and while a
checkpoint is being written, lose nothing; a resumed run ends exactly where an uninterrupted
run ends. Also: the run process's log file is not left open in the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from store import open_store
from workbench.library.seed import seed
from workbench.sim.checkpoint import CHECKPOINT, State
from workbench.sim.trial import (
    TrialError, create_run, daily, preset, run_row, run_trial, start_background, user_outcomes,
    weekly,
)
from workbench.sim.world import METRICS

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT))

# A writer that checkpoints a large state again and again, every array filled with its day, and
# prints each day once its checkpoint is saved. Each day is saved twice, as a run paused right
# after a week boundary does (the second write replaces the checkpoint the first one made).
WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from workbench.sim.checkpoint import State
    folder = Path(sys.argv[1])
    old = State.load(folder)
    st = State(200_000, 4)
    day = 1 if old is None else old.day + 1
    while True:
        st.day = day
        for k in State.ARRAYS:
            getattr(st, k)[...] = day % 100
        st.models = {"m": bytes([day % 251]) * 2_000_000}
        st.save(folder)
        st.save(folder)
        print(day, flush=True)
        day += 1
""")


def test_a_checkpoint_killed_mid_write_leaves_the_last_whole_one(tmp_path):
    folder = tmp_path / "run"
    rng = np.random.default_rng(2024)
    torn = 0  # kills that left a temporary file behind: they hit a write in progress
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], env=ENV,
                                stdout=subprocess.PIPE, text=True)
        last = int(proc.stdout.readline())  # one whole checkpoint of this process is saved
        if attempt % 2:  # at a random moment
            time.sleep(rng.uniform(0, 0.4))
        else:  # as soon as the next write has begun
            deadline = time.monotonic() + 30
            while not list(folder.glob(f"{CHECKPOINT}.*.tmp")) and time.monotonic() < deadline:
                time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        printed = [int(x) for x in proc.stdout.read().split()]
        proc.stdout.close()
        last = printed[-1] if printed else last
        torn += bool(list(folder.glob(f"{CHECKPOINT}.*.tmp")))
        st = State.load(folder)
        # The last saved day, or the one whose rename landed just before the kill.
        assert st.day in (last, last + 1)
        for k in State.ARRAYS:
            arr = getattr(st, k)
            assert (arr == np.asarray(st.day % 100).astype(arr.dtype)).all(), k
        assert st.models == {"m": bytes([st.day % 251]) * 2_000_000}
    assert torn >= 1


RUNNER = "import sys; from store import open_store; from workbench.sim.trial import run_trial; " \
         "run_trial(open_store(sys.argv[1]), int(sys.argv[2]))"


def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_result(tmp_path):
    config = preset("quick_demo", users=3000, days=35, active_days=21, seed=13)
    a_store = open_store(tmp_path / "a.db")
    seed(a_store)
    a = create_run(a_store, config, "t")
    assert run_trial(a_store, a) == "done"

    b_path = tmp_path / "b.db"
    b_store = open_store(b_path)
    seed(b_store)
    b = create_run(b_store, config, "t")
    folder = Path(run_row(b_store, b)["folder"])
    rng = np.random.default_rng(7)
    kills, done_before, in_checkpoint = 0, -1, 0
    while kills < 5:
        proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(b_path), str(b)], env=ENV)
        deadline = time.monotonic() + 120
        # Wait until this process has simulated a day further than the last one got.
        while proc.poll() is None and time.monotonic() < deadline:
            if run_row(b_store, b)["days_done"] > done_before:
                break
            time.sleep(0.01)
        if kills % 2 == 0:  # while it writes a checkpoint
            while proc.poll() is None and time.monotonic() < deadline \
                    and not list(folder.glob(f"{CHECKPOINT}.*.tmp")):
                time.sleep(0.0005)
        else:
            time.sleep(rng.uniform(0, 0.5))
        if proc.poll() is not None:
            break  # it finished before it could be killed
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        in_checkpoint += bool(list(folder.glob(f"{CHECKPOINT}.*.tmp")))
        done_before = run_row(b_store, b)["days_done"]
    assert kills >= 3 and in_checkpoint >= 1
    assert run_trial(b_store, b) == "done"

    cols = ["day", "arm", "mode", "sends", *METRICS, *[f"e_{m}" for m in METRICS]]
    pd.testing.assert_frame_equal(daily(a_store, a)[cols], daily(b_store, b)[cols])
    wcols = ["week", "arm", "mode", "metric", "n", "sum", "sumsq"]
    pd.testing.assert_frame_equal(weekly(a_store, a)[wcols], weekly(b_store, b)[wcols])
    ua, ub = user_outcomes(run_row(a_store, a)), user_outcomes(run_row(b_store, b))
    assert np.array_equal(ua["phase_metrics"], ub["phase_metrics"])
    assert ua["phase_days"].tolist() == ub["phase_days"].tolist() == [21, 14]
    assert not list(folder.glob("checkpoint*"))  # a finished run keeps no checkpoint
    a_store.close()
    b_store.close()


def test_an_unreadable_checkpoint_is_a_clear_error_not_a_traceback(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / CHECKPOINT).write_bytes(b"")  # what an in-place write killed early left
    with pytest.raises(TrialError, match="cannot be read.*cannot be resumed"):
        State.load(folder)


def test_starting_a_run_leaves_no_log_file_open_here(tmp_path):
    store = open_store(tmp_path / "w.db")
    seed(store)
    run_id = create_run(store, preset("quick_demo", users=500, days=7, active_days=7), "t")
    pid = start_background(store, run_id)
    try:
        log = Path(run_row(store, run_id)["folder"]) / "process.log"
        open_here = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                     if os.path.exists(f"/proc/self/fd/{fd}")]
        assert str(log) not in open_here
        assert log.exists()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        store.close()
