"""The live programme: a team's own users, sends and events, at the study's scale.

Front door (plain functions; the CLI ``workbench programme ...`` calls them):

- :func:`workbench.live.roster.import_roster` — the programme's users (CSV or Parquet) with a
  stable arm from a keyed hash of the user id and the programme's salt; re-imports keep every
  user's arm, users joining later are assigned on arrival.
- :func:`workbench.live.day.programme_day` — decide for the day's agent-arm users and write the
  batch to an outbox folder for the sending platform; idempotent per date.
- :func:`workbench.live.day.programme_ingest` — load every new events file of an inbox once.
- :func:`workbench.live.activity.ingest_activity` — one user-level events file: quarantine,
  sanity, idempotence per file and per (user, event, time); decision-attributed lines also
  teach the agent (:mod:`workbench.live.attribution`: which, and why the others are not).
- :func:`workbench.live.learning.learn_days` — a day decided without the SQLite learning log
  is learnt from the Parquet logs once its attribution window has closed (one vectorised
  update for millions of decisions); later files as late corrections.
- :func:`workbench.live.outbox.render_messages` — the outbox's texts, once per distinct
  message.
- :func:`workbench.live.logs.user_outcomes` — per-user outcomes per phase, in the shape the
  simulated trial writes, so :func:`workbench.lift.report.from_run` reads the live programme.

Where things are: SQLite (``store.live``) keeps the programme's salt and split, the roster
imports, the ledger of files loaded and the days decided; the bulk is Parquet in the folder
``<db>.live/`` beside the database (:func:`live_dir`)::

    roster/roster.parquet                    one row per user, with arm and joined_on
    decisions/day=YYYY-MM-DD/batch.parquet   every decision of the day (both arms' agent users)
    decisions/day=YYYY-MM-DD/messages.parquet  the day's distinct messages (the outbox's texts)
    events/day=YYYY-MM-DD/<sha>-0.parquet    user-level events, one file per file loaded
    attributions/day=YYYY-MM-DD/<sha>-0.parquet  decision ids a later file gave stored events

and is aggregated with DuckDB (:mod:`store.parquet` holds every DuckDB statement).

One programme command at a time: ``programme day``, ``programme ingest`` (each events file)
and ``programme roster`` each hold :func:`programme_lock` from their first read to their last
write, so two cron jobs that overlap (or a cron job and a person) run one after the other
instead of deciding, deduplicating or merging against what the other is about to replace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from store import Store, busy
from store.live import live_root


def live_dir(store: Store) -> Path:
    """The programme's Parquet folder: ``<db>.live`` beside the database file (a temporary
    folder per in-memory store, for tests)."""
    if store.path == ":memory:":
        folder = getattr(store, "_live_dir", None)
        if folder is None:
            import tempfile
            folder = Path(tempfile.mkdtemp(prefix="workbench-live-"))
            store._live_dir = folder  # type: ignore[attr-defined]
        return folder
    return live_root(store.path)


#: How long a programme command waits for the one running before it gives up.
PROGRAMME_WAIT_S = 600.0


@contextlib.contextmanager
def programme_lock(store: Store, what: str, *, wait_s: float = PROGRAMME_WAIT_S
                   ) -> Iterator[None]:
    """Hold the programme's lock (``<db file>.programme.lock``, see :func:`store.busy.
    exclusive`) while running ``what`` (``"programme day 2026-11-23"``): another programme
    command waits for it, and after ``wait_s`` gives up naming it, having done nothing. The
    SQLite write lock is not held meanwhile (a person's edit or a trial goes on). The lock is
    the operating system's: a process that dies releases it."""
    with busy.exclusive(store, "programme", wait_s=wait_s, holder=what):
        yield
