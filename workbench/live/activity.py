"""User-level activity: the funnel events of every user of both arms, keyed by user and time.

An events file (CSV or Parquet) has one event per line::

    user_id,event,value,occurred_at,decision_id
    u1001,direct_open,1,2026-11-23T19:04:00+01:00,
    u1001,gmv,42.5,2026-11-23T19:30:00Z,12-u1001

``event`` is one of the study's metrics (``direct_open, engagement, intent, conversion,
conversion_vertical, gmv``); ``value`` defaults to 1 (``gmv`` needs its amount), is 0 or 1 for
every event but ``gmv`` (which may be negative: a refund); ``occurred_at`` is ISO, converted to
UTC when it has an offset and taken as UTC when not, and may not be later than the wall clock;
``decision_id`` is optional. A header is read whatever its case, spaces, underscores or dashes
(``Decision ID`` and ``decisionId`` are ``decision_id``: the report's ``read_as`` says so); any
other column is listed under ``ignored_columns``. Line numbers are those of the file (a
header on line 1). A bad line is **refused**: it is kept in the ``quarantine`` table with its
line number and reason, and neither stored nor counted; a user not in the roster is a bad
line, and so is a ``decision_id`` of another user (a decision id is ``<batch>-<user>``: the
agent would learn one user's events as another's). An event is identified by (user, event,
time), the time at whole seconds (as the learning log keys it): a line already stored, or
repeated in the file, is counted as a duplicate; a line that gives a ``decision_id`` to an
event stored without one attributes it (``attributions``: learnt, not counted twice); and a
file already loaded (same bytes, by sha256) is skipped whole.

Lines with a ``decision_id`` also teach the agent when it can be credited with them (see
:mod:`workbench.live.attribution`); the others are listed as ``not_learnt`` with the reason,
and still count in the lift.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
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
from workbench.delimited import delimiter, refuse_repeated_columns, unnamed_values
from workbench.live import attribution, programme_lock
from workbench.live.logs import (
    BINARY_EVENTS,
    attributions_dir,
    event_files,
    events_dir,
    write_partitioned,
)
from workbench.live.roster import roster_path
from workbench.sim.world import METRICS

REQUIRED = ("user_id", "event", "occurred_at")
OPTIONAL = ("value", "decision_id")


def _spelling(name: str) -> str:
    """A column name without case, spaces, underscores or dashes: ``Decision ID``,
    ``decisionId`` and ``decision-id`` are all ``decisionid``, as is ``decision_id``."""
    return re.sub(r"[\s_\-]", "", name.strip().lstrip("\ufeff")).lower()


#: The columns read, by their spelling-free name.
KNOWN = {_spelling(c): c for c in (*REQUIRED, *OPTIONAL)}


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
    #: stored events without a decision_id that this file's lines attributed
    attributions: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    read_as: dict[str, str] = field(default_factory=dict)  # a header as written -> column
    credit: dict = field(default_factory=dict)  # lines stored but not learnt, and why

    def to_dict(self) -> dict:
        return {"file": self.name, "sha256": self.sha256, "skipped": self.skipped,
                "rows": self.rows, "inserted": self.inserted, "duplicates": self.duplicates,
                "attributions": self.attributions,
                "quarantined": len(self.quarantined),
                "quarantine": [{"line": ln, "reason": r} for ln, r in self.quarantined[:50]],
                "ignored_columns": self.ignored_columns, "read_as": self.read_as,
                "days": self.days, "attributed": self.attributed,
                **({"not_learnt": 0} | self.credit)}


def _columns(names: list[str], name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """The header read: each column's name (``None``: ignored), the ignored ones as written,
    and the known columns written another way (``Decision ID`` is read as ``decision_id``:
    ignoring it stored every event without its attribution, for good). Two headers read as
    one column refuse the file, naming both."""
    read = [KNOWN.get(_spelling(c)) for c in names]
    problems = []
    for column in dict.fromkeys(c for c in read if c):
        spelt = [n for n, c in zip(names, read) if c == column]
        if len(spelt) > 1:
            problems.append(Problem(
                f"columns {' and '.join(repr(n.strip()) for n in spelt)} are both read as "
                f"'{column}'; keep one", field=column))
    if problems:
        raise ValidationError(problems, f"{name} was rejected")
    ignored = [n.strip() for n, c in zip(names, read) if c is None and n.strip()]
    read_as = {n.strip(): c for n, c in zip(names, read) if c and n.strip().lower() != c}
    return read, ignored, read_as


def _read(data: bytes, name: str) -> tuple[pa.Table, list[str], dict[str, str]]:
    """The file as text columns (CSV or Parquet by its first bytes) with each line's number in
    the file (``line``; a blank line is skipped and counted), its ignored columns and the
    columns read under another spelling."""
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
            t = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(
                delimiter=sep, ignore_empty_lines=False), convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in head}, strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as e:
        raise ValidationError([Problem(f"cannot be read as CSV or Parquet ({e})")],
                              f"{name} was rejected") from None
    names = [c.lstrip("\ufeff") for c in t.column_names]
    refuse_repeated_columns([c.strip().lower() for c in names], f"{name} was rejected")
    read, ignored, read_as = _columns(names, name)
    if problems := unnamed_values(names, t.column):  # values under no header: misaligned
        raise ValidationError(problems, f"{name} was rejected")
    missing = [c for c in REQUIRED if c not in read]
    if missing:
        raise ValidationError([Problem(f"required column '{c}' is missing", field=c)
                               for c in missing], f"{name} was rejected")
    n = t.num_rows
    cols = {c: t.column(i) for i, c in enumerate(read) if c}
    for c in OPTIONAL:
        cols.setdefault(c, pa.nulls(n, pa.string()))
    out = pa.table({**cols, "line": pa.array(np.arange(2, n + 2, dtype=np.int64))})
    blank = None  # a blank line is a row of empty (or null) fields: not an event
    for c in range(t.num_columns):
        empty = pc.equal(pc.utf8_trim_whitespace(pc.fill_null(t.column(c), "")), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is not None and pc.any(blank).as_py():
        out = out.filter(pc.invert(blank))
    return out, ignored, read_as


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
    src, report.ignored_columns, report.read_as = _read(data, name)
    report.rows = src.num_rows
    con = columnar.connect()
    roster = pq.read_table(roster_path(store), columns=["user_id"])
    now = (clock or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    maxima = load_limits(store).maxima
    checked = columnar.validate_events(con, src, roster, events=METRICS, binary=BINARY_EVENTS,
                                       clock=now.isoformat(sep=" "), maxima=maxima,
                                       needs_amount=NEEDS_AMOUNT)
    del src  # millions of lines: keep one copy at a time
    # One rule for both stores: an event's time is kept, and compared, at whole seconds, as
    # the learning log keys it (10:00:00.250Z and 10:00:00Z are one purchase in both).
    checked = checked.set_column(checked.column_names.index("ts"), "ts", pc.floor_temporal(
        checked.column("ts"), unit="second"))
    bad = checked.filter(pc.is_valid(checked.column("reason"))).sort_by("line")
    report.quarantined = list(zip(bad.column("line").to_pylist(),
                                  bad.column("reason").to_pylist()))
    days = sorted(set(pc.unique(pc.strftime(
        checked.filter(pc.is_null(checked.column("reason"))).column("ts"),
        format="%Y-%m-%d")).to_pylist()))
    # This file's own partitions (left by a crash before its ledger row) are not "existing".
    stored = event_files(store, days) + event_files(store, days, root=attributions_dir(store))
    existing = [f for f in stored if not f.endswith(f"/{sha[:16]}-0.parquet")]
    got = columnar.new_or_attributed(con, checked, existing)
    del checked
    attaching = got.column("attribution")
    new = got.filter(pc.invert(attaching))
    attached = got.filter(attaching)
    report.inserted, report.attributions = new.num_rows, attached.num_rows
    report.duplicates = (report.rows - bad.num_rows) - got.num_rows
    credit = attribution.credit(store, con, got.filter(pc.is_valid(got.column("decision_id"))))
    report.credit = credit.summary() | {"learnt_at_window_close": credit.later}
    columns = ["user_id", "event", "value", "occurred_at", "decision_id", "day"]
    # Nothing is computed while the write lock is held (a person's edit would wait for it):
    # the partitions are named after the file, so a crash before the ledger row leaves files a
    # rerun rewrites; the attributed events go through `workbench ingest`'s path, which learns
    # with no write lock and is idempotent per event.
    report.days = write_partitioned(new.select(columns), events_dir(store), sha[:16])
    write_partitioned(attached.select(columns), attributions_dir(store), sha[:16])
    if credit.now.num_rows:
        report.attributed = attribution.teach(store, credit.now, name, actor, now).to_dict()
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
            attributed=credit.now.num_rows + credit.later, actor=actor)
        store.audit(actor, "ingest", "activity", name, report.to_dict() | {
            "quarantine": None, "not_learnt_lines": None})
    return report


def ingest_totals(reports: list[dict], learned: dict) -> dict:
    """What the files of one ``programme ingest`` add up to, for the top of its summary:
    ``reports`` are :meth:`ActivityReport.to_dict` of each file, ``learned`` what
    :func:`workbench.live.learning.learn_days` learnt after them. ``learned_decisions``
    counts both learning paths (the SQLite log's, per file under ``attributed``, and the
    Parquet logs' days); ``quarantined`` counts the refused lines only (not stored, not
    counted); ``not_learnt`` the stored lines with a decision_id the agent was not credited
    with, by reason; ``ignored_columns`` the columns no file's header was read as, by file."""
    loaded = [r for r in reports if not r.get("skipped")]

    def total(key: str, within: str | None = None) -> int:
        return int(sum((r.get(within, {}) if within else r).get(key, 0) for r in loaded))

    reasons: Counter = Counter()
    for r in loaded:
        reasons.update(r.get("not_learnt_by_reason", {}))
    return {"inserted": total("inserted"), "attributions": total("attributions"),
            "duplicates": total("duplicates"), "quarantined": total("quarantined"),
            "not_learnt": total("not_learnt"), "not_learnt_by_reason": dict(reasons),
            "learned_decisions": total("learned_decisions", "attributed")
            + int(learned.get("decisions", 0)),
            "late_corrections": total("late_corrections", "attributed")
            + int(learned.get("late_decisions", 0)),
            "ignored_columns": {r["file"]: r["ignored_columns"] for r in loaded
                                if r.get("ignored_columns")}}
