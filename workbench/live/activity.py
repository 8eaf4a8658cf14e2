"""User-level activity: the funnel events of every user of both arms, keyed by user and time.

An events file (CSV or Parquet) has one event per line::

    user_id,event,value,occurred_at,decision_id
    u1001,direct_open,1,2026-11-23T19:04:00+01:00,
    u1001,gmv,42.5,2026-11-23T19:30:00Z,12-u1001

``event`` is one of the study's metrics (``direct_open, engagement, intent, conversion,
conversion_vertical, gmv``); ``value`` defaults to 1 (``gmv`` needs its amount), is 0 or 1 for every event but ``gmv``
(which may be negative: a refund); ``occurred_at`` is ISO, converted to UTC when it has an
offset and taken as UTC when not, and may not be later than the wall clock; ``decision_id``
is optional. A bad line is kept in the ``quarantine`` table with its line number and reason;
a user not in the roster is a bad line, and so is a ``decision_id`` of another user (a decision
id is ``<batch>-<user>``: the agent would learn one user's events as another's). An event is
identified by (user, event, time): a line already stored, or repeated in the file, is counted
as a duplicate; and a file already loaded (same bytes, by sha256) is skipped whole.

Lines with a ``decision_id`` (those the agent can be credited for) also go through
:func:`workbench.agent.ingest.ingest_events`, the decision events' own path, so they keep
teaching the agent exactly as ``workbench ingest`` does.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from store import Store
from store import decisions as decisions_store
from store import live as live_store
from store import parquet as columnar
from workbench import Problem, ValidationError
from workbench.agent.event_checks import NEEDS_AMOUNT, load_limits
from workbench.agent.ingest import ingest_events
from workbench.agent.reward import EVENTS as DECISION_EVENTS
from workbench.agent.state import load_agent
from workbench.delimited import delimiter, refuse_repeated_columns
from workbench.live import programme_lock
from workbench.live.logs import (
    BINARY_EVENTS,
    event_files,
    events_dir,
    write_partitioned,
)
from workbench.live.roster import roster_path
from workbench.sim.world import METRICS

REQUIRED = ("user_id", "event", "occurred_at")
OPTIONAL = ("value", "decision_id")


@dataclass
class ActivityReport:
    name: str
    sha256: str
    skipped: bool = False  # the same file was loaded before
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    attributed: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"file": self.name, "sha256": self.sha256, "skipped": self.skipped,
                "rows": self.rows, "inserted": self.inserted, "duplicates": self.duplicates,
                "quarantined": len(self.quarantined),
                "quarantine": [{"line": ln, "reason": r} for ln, r in self.quarantined[:50]],
                "days": self.days, "attributed": self.attributed}


def _read(data: bytes, name: str) -> pa.Table:
    """The file as text columns (CSV or Parquet by its first bytes), lowercase headers."""
    try:
        if data[:4] == b"PAR1":
            t = pq.read_table(io.BytesIO(data))
            t = t.cast(pa.schema([pa.field(f.name, pa.string()) for f in t.schema]))
        else:
            sep = delimiter(data)
            if not data.endswith(b"\n"):  # a last line without its newline, or a bare header
                data += b"\n"
            head = next(csv.reader([data[:data.find(b"\n")].decode("utf-8-sig").strip()],
                                   delimiter=sep))
            t = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(delimiter=sep),
                               convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in head}, strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as e:
        raise ValidationError([Problem(f"cannot be read as CSV or Parquet ({e})")],
                              f"{name} was rejected") from None
    t = t.rename_columns([c.strip().lower().lstrip("\ufeff") for c in t.column_names])
    refuse_repeated_columns(t.column_names, f"{name} was rejected")
    missing = [c for c in REQUIRED if c not in t.column_names]
    if missing:
        raise ValidationError([Problem(f"required column '{c}' is missing", field=c)
                               for c in missing], f"{name} was rejected")
    cols = {c: t.column(c) for c in (*REQUIRED, *OPTIONAL) if c in t.column_names}
    n = t.num_rows
    for c in OPTIONAL:
        cols.setdefault(c, pa.nulls(n, pa.string()))
    return pa.table({**cols, "line": pa.array(np.arange(2, n + 2, dtype=np.int64))})


def ingest_activity(store: Store, data: bytes, *, name: str, actor: str,
                    clock: datetime | None = None) -> ActivityReport:
    """Load one events file once: validate, quarantine, append new events, teach the agent.

    One programme command at a time (:func:`workbench.live.programme_lock`), from the check
    that the file is new to its ledger row: two ingests at once each compared their events
    with the files stored before either wrote, and stored the same events twice."""
    with programme_lock(store, f"programme ingest of {name}"):
        return _ingest(store, data, name=name, actor=actor, clock=clock)


def _ingest(store: Store, data: bytes, *, name: str, actor: str,
            clock: datetime | None) -> ActivityReport:
    sha = hashlib.sha256(data).hexdigest()
    report = ActivityReport(name, sha)
    if live_store.file_loaded(store, sha) is not None:
        report.skipped = True
        return report
    if not roster_path(store).exists():
        raise ValidationError([Problem("no roster: import the programme's users first")],
                              f"{name} was rejected")
    src = _read(data, name)
    report.rows = src.num_rows
    con = columnar.connect()
    roster = pq.read_table(roster_path(store), columns=["user_id"])
    now = (clock or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    maxima = load_limits(store).maxima
    checked = columnar.validate_events(con, src, roster, events=METRICS, binary=BINARY_EVENTS,
                                       clock=now.isoformat(sep=" "), maxima=maxima,
                                       needs_amount=NEEDS_AMOUNT)
    del src  # millions of lines: keep one copy at a time
    bad = checked.filter(pc.is_valid(checked.column("reason"))).sort_by("line")
    report.quarantined = list(zip(bad.column("line").to_pylist(),
                                  bad.column("reason").to_pylist()))
    days = sorted(set(pc.unique(pc.strftime(
        checked.filter(pc.is_null(checked.column("reason"))).column("ts"),
        format="%Y-%m-%d")).to_pylist()))
    # This file's own partitions (left by a crash before its ledger row) are not "existing".
    existing = [f for f in event_files(store, days) if not f.endswith(f"/{sha[:16]}-0.parquet")]
    new = columnar.new_events(con, checked, existing)
    report.inserted = new.num_rows
    report.duplicates = (report.rows - bad.num_rows) - new.num_rows
    del checked
    attributed = new.filter(pc.and_(pc.is_valid(new.column("decision_id")), pc.is_in(
        new.column("event"), value_set=pa.array(list(DECISION_EVENTS)))))
    attributed = _sqlite_logged(store, attributed)
    # Nothing is computed while the write lock is held (a person's edit would wait for it):
    # the partitions are named after the file, so a crash before the ledger row leaves files a
    # rerun rewrites; the attributed events go through `workbench ingest`'s path, which learns
    # with no write lock and is idempotent per event.
    report.days = write_partitioned(new, events_dir(store), sha[:16])
    if attributed.num_rows:
        report.attributed = ingest_events(
            store, load_agent(store), _decision_csv(attributed), name, actor,
            clock=now, max_value=maxima).to_dict()
    raw = pc.binary_join_element_wise(*[pc.fill_null(bad.column(c), "") for c in (
        "user_id", "event", "value_text", "occurred_text", "decision_id")], ",") \
        if bad.num_rows else None
    with store.transaction():
        if bad.num_rows:
            decisions_store.insert_quarantine(store, name, zip(
                bad.column("line").to_pylist(), raw.to_pylist(),
                bad.column("reason").to_pylist()))
        live_store.record_file(
            store, sha256=sha, name=name, rows=report.rows, inserted=report.inserted,
            duplicates=report.duplicates, quarantined=len(report.quarantined),
            attributed=attributed.num_rows, actor=actor)
        store.audit(actor, "ingest", "activity", name, report.to_dict() | {"quarantine": None})
    return report


def _sqlite_logged(store: Store, attributed: pa.Table) -> pa.Table:
    """The attributed events of batches in SQLite's decision log (a day decided without it is
    learnt from the Parquet logs, see :mod:`workbench.live.learning`); an id of no batch at
    all stays, for the decision events' path to quarantine."""
    if not attributed.num_rows:
        return attributed
    batch = pc.extract_regex(attributed.column("decision_id"), r"^(?P<b>\d+)-")
    prefixes = pc.struct_field(batch, "b")
    parquet_only = [b for b in pc.unique(prefixes.drop_null()).to_pylist()
                    if live_store.day_of_batch(store, int(b)) is not None
                    and not live_store.sqlite_logged(store, int(b))]
    if not parquet_only:
        return attributed
    return attributed.filter(pc.invert(pc.fill_null(
        pc.is_in(prefixes, value_set=pa.array(parquet_only, pa.string())), False)))


def _decision_csv(events: pa.Table) -> bytes:
    """The decision-attributed events in the file format of :mod:`workbench.agent.ingest`."""
    at = pc.strftime(events.column("occurred_at"), format="%Y-%m-%dT%H:%M:%S")
    out = io.BytesIO()
    pacsv.write_csv(pa.table({"decision_id": events.column("decision_id"),
                              "event": events.column("event"),
                              "value": events.column("value"), "occurred_at": at}), out)
    return out.getvalue().replace(b'"', b"")
