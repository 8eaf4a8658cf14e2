"""Columnar logs of the live programme: Parquet partitioned by day, aggregated with DuckDB.

Decision batches and user-level events are appended as Parquet files under ``<db>.live/``
(see :mod:`workbench.live`), one folder per day (``day=YYYY-MM-DD``), each written in one go
from Arrow (no per-row Python) under a deterministic name, so a rerun after a crash replaces a
file instead of adding a second copy. Every DuckDB statement lives in :mod:`store.parquet`
(the store for columnar logs); this module is its only caller, so one module owns how the logs
are read.

:func:`user_outcomes` aggregates the events into per-user outcomes per phase in the shape the
simulated trial saves (``users.npz``): binary events count the days they happened on, ``gmv``
sums; the phase of a day is the management mode in force at its start (00:00 UTC), from the
recorded management events. :func:`workbench.lift.report.from_run` reads either.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from store import parquet as columnar
from workbench.agent.state import segments_of
from workbench.agent.users import PLATFORMS
from workbench.live import live_dir
from workbench.live.roster import roster_path
from workbench.sim.trial import PHASES
from workbench.sim.world import METRICS

BINARY_EVENTS = tuple(m for m in METRICS if m != "gmv")
OUTCOME_COLUMNS = ["user_id", "segment", "arm", "platform", "habitual_hour", "pre_engagement",
                   "start_inactive"]


#: Schema metadata of a day's decision log: the slots each channel's template showed that day.
SHOWN_SLOTS = b"workbench.shown_slots"


def shown_slots(space) -> dict[str, list[str]]:
    """The slots each channel's template shows (an SMS has no visual)."""
    return {c: list(space.template_for(c).slots) for c in space.templates}


def events_dir(store: Store) -> Path:
    return live_dir(store) / "events"


def decisions_dir(store: Store) -> Path:
    return live_dir(store) / "decisions"


def write_partitioned(table: pa.Table, root: Path, basename: str) -> list[str]:
    """Write ``table`` under ``root/day=D/<basename>-0.parquet`` per value of its ``day``
    column; returns the days written. A file of the same name is replaced whole."""
    if table.num_rows == 0:
        return []
    root.mkdir(parents=True, exist_ok=True)
    pq.write_to_dataset(table, root, partition_cols=["day"],
                        basename_template=f"{basename}-{{i}}.parquet",
                        existing_data_behavior="overwrite_or_ignore")
    return sorted(set(table.column("day").to_pylist()))


def attributions_dir(store: Store) -> Path:
    """Attributions: a ``decision_id`` that a later line gave an event stored without one
    (the event itself stays in the events log once, so the lift counts it once; learning
    reads both)."""
    return live_dir(store) / "attributions"


def event_files(store: Store, days: list[str] | None = None, *,
                root: Path | None = None) -> list[str]:
    """Parquet files of the events log (or of ``root``: :func:`attributions_dir`), of
    ``days`` only when given."""
    root = root or events_dir(store)
    if days is None:
        return sorted(str(p) for p in root.glob("day=*/*.parquet"))
    return sorted(str(p) for d in days for p in (root / f"day={d}").glob("*.parquet"))


def attributed_files(store: Store, days: list[str] | None = None) -> list[str]:
    """What decision-attributed events are read from: the events log and the attributions."""
    return sorted(event_files(store, days) + event_files(store, days,
                                                         root=attributions_dir(store)))


def day_phases(store: Store, first: date, last: date) -> list[tuple[str, str]]:
    """``(day, phase)`` for each day from ``first`` to ``last``: the mode in force at the start
    of the day (a switch during a day takes effect the next day); active before any switch."""
    events = sorted(store.management_events(), key=lambda e: (e["at"], e["id"]))
    out, k, mode = [], 0, "active"
    d = first
    while d <= last:
        start = d.isoformat() + "T00:00:00Z"
        while k < len(events) and events[k]["at"] <= start:
            mode = events[k]["mode"]
            k += 1
        out.append((d.isoformat(), mode))
        d += timedelta(days=1)
    return out


def outcomes_version(store: Store) -> str:
    """What :func:`user_outcomes` depends on (roster imports, events files loaded, mode
    switches), as a key: a page caches the aggregation under it, so that a warm lift report
    takes no second at 8.8M users and a new import or events file is never served stale."""
    imports = live_store.roster_imports(store)
    files = live_store.files(store)
    modes = store.management_events()
    return "|".join(str(x) for x in (
        len(imports), imports[-1]["id"] if imports else 0, len(files),
        max((f["at"] for f in files), default=""), len(modes),
        max((m["id"] for m in modes), default=0)))


def programme_start(store: Store) -> date | None:
    """The programme's first decided day (``None`` before any): outcomes count from it."""
    decided = live_store.days(store)
    return date.fromisoformat(decided[0]["day"]) if decided else None


def event_days(store: Store) -> list[str]:
    """The ISO days that have events, in order."""
    return sorted({Path(f).parent.name[4:] for f in event_files(store)})


def user_outcomes(store: Store, first: date | None = None, last: date | None = None,
                  con=None, *, ids: bool = False) -> dict[str, np.ndarray] | None:
    """Per-user outcomes per phase of the roster (both arms), as ``users.npz`` holds them;
    ``None`` before a roster and events exist, or when no event falls on or after ``first``.

    The outcome window starts at ``first`` (default: the programme's first decided day, the
    first event day before any day is decided) and ends at ``last`` (default: the last event
    day). Each user counts from ``first`` or the day they joined (``joined_on``), whichever
    is later: before it nothing was decided for them, so those events are pre-treatment and
    go to ``pre_metrics`` (per user and metric, as ``phase_metrics``; present when there are
    such events), which :func:`workbench.lift.report.from_run` takes as covariates. Users who
    joined after ``last`` have no outcome day and are left out. Counting the days before the
    programme as outcomes drew the lift toward zero (a pre-programme week took a true +20% to
    +14.5%, its interval excluding +20%).

    At 8.8M users memory is the constraint: the roster is read as Arrow with its labels
    dictionary-encoded (no Python string per user), DuckDB joins the events to the roster file
    itself, and ``phase_metrics`` is float64 so that :func:`workbench.lift.report.from_run`
    takes views of it instead of copies. ``ids=True`` adds the users' ids (``user_id``, as
    Python strings: 60 bytes a user)."""
    path = roster_path(store)
    days = event_days(store)
    if not path.exists() or not days:
        return None
    roster = pq.read_table(path, columns=[c for c in OUTCOME_COLUMNS if c != "user_id"]
                           + ["joined_on"], read_dictionary=["segment", "arm", "platform"])
    n = roster.num_rows
    first = first or programme_start(store) or date.fromisoformat(days[0])
    last = last or date.fromisoformat(days[-1])
    if not n or last < first:
        return None
    phases = day_phases(store, first, last)
    con = con or columnar.connect()
    totals = columnar.user_window_totals(
        con, str(events_dir(store) / "day=*" / "*.parquet"), str(path),
        pa.table({"day": [d for d, _ in phases], "phase": [p for _, p in phases]}),
        first.isoformat())
    pm = np.zeros((n, len(PHASES), len(METRICS)), np.float64)
    idx = totals.column("idx").to_numpy()
    ph = _codes(totals.column("phase"), PHASES)
    ev = _codes(totals.column("event"), METRICS)
    inside = ph >= 0
    pm[idx[inside], ph[inside], ev[inside]] = totals.column("v").to_numpy()[inside]
    pre = None
    if not inside.all():  # events before a user's start: pre-treatment covariates
        pre = np.zeros((n, len(METRICS)), np.float64)
        pre[idx[~inside], ev[~inside]] = totals.column("v").to_numpy()[~inside]
    del totals, idx, ph, ev, inside
    phase_days = np.array([sum(1 for _, p in phases if p == name) for name in PHASES], np.int32)
    segments = segments_of(store)

    def column(name: str, dtype) -> np.ndarray:
        return roster.column(name).to_numpy().astype(dtype, copy=False)

    out = {
        "holdout": _codes(roster.column("arm"), ("agent", "holdout")) == 1,
        "segment": _codes(roster.column("segment"), tuple(segments)),
        "platform": _codes(roster.column("platform"), PLATFORMS),
        "habitual_hour": column("habitual_hour", np.int64),
        "pre_engagement": column("pre_engagement", np.float64),
        "pre_opens": np.zeros(n),  # a team's roster has no pre-period opens
        "start_inactive": column("start_inactive", np.float64),
        "phase_metrics": pm, "phase_days": phase_days, "metrics": np.array(METRICS),
        "phases": np.array(PHASES), "segments": np.array(segments),
    }
    if pre is not None:
        out["pre_metrics"] = pre
    if ids:
        out["user_id"] = pq.read_table(path, columns=["user_id"]).column("user_id").to_numpy(
            zero_copy_only=False).astype(object)
    joined = pc.less_equal(pc.fill_null(roster.column("joined_on"), first.isoformat()),
                           last.isoformat())
    if not pc.all(joined).as_py():  # joined after the data: no outcome day to count
        keep = joined.to_numpy(zero_copy_only=False)
        for name in ("holdout", "segment", "platform", "habitual_hour", "pre_engagement",
                     "pre_opens", "start_inactive", "phase_metrics", "pre_metrics", "user_id"):
            if name in out:
                out[name] = out[name][keep]
    return out


#: Said when the live programme has no roster (the pages add where to go instead).
NO_ROSTER = ("The live programme has no roster and events yet: import its users with "
             "`workbench programme roster`, decide days with `workbench programme day` and "
             "load events with `workbench programme ingest` (see the README's 'Running a real "
             "programme').")


def why_no_lift(store: Store, users: dict[str, np.ndarray] | None = None) -> str | None:
    """Why the live programme has no lift yet, naming what is missing (``None``: it has
    one). ``users`` are its :func:`user_outcomes` when already read (their arms are counted
    from the roster otherwise): a lift needs at least two users in each arm."""
    path = roster_path(store)
    if not path.exists():
        return NO_ROSTER
    decided = live_store.days(store)
    days = event_days(store)
    n = pq.read_metadata(path).num_rows
    if not days:
        if not decided:
            return (f"The live programme has a roster of {n:,} users but no decided day and no "
                    "events yet: decide days with `workbench programme day` and load the "
                    "platform's events with `workbench programme ingest`.")
        return (f"The live programme has a roster of {n:,} users and {len(decided)} decided "
                f"day(s) from {decided[0]['day']} but no events yet: load the platform's "
                "events with `workbench programme ingest`.")
    if decided and days[-1] < decided[0]["day"]:
        return (f"The live programme has no event on or after its first decided day "
                f"({decided[0]['day']}) yet (the last event is of {days[-1]}): outcomes count "
                "from that day; load the platform's newer events with `workbench programme "
                "ingest`.")
    if users is not None:
        holdout = int(np.count_nonzero(users["holdout"]))
        agent = len(users["holdout"]) - holdout
    else:
        arms = pq.read_table(path, columns=["arm"]).column("arm")
        holdout = int(pc.sum(pc.equal(arms, "holdout")).as_py() or 0)
        agent = arms.length() - holdout
    if min(holdout, agent) < 2:
        share = (live_store.programme(store) or {}).get("holdout_share")
        said = f" (its holdout share is {share:g})" if share is not None else ""
        return (f"No lift: the holdout has {holdout:,} user{'s' * (holdout != 1)} and the "
                f"agent arm {agent:,}{said}; a lift needs at least 2 users in each arm.")
    return None


def _codes(column: pa.ChunkedArray, labels: tuple[str, ...]) -> np.ndarray:
    """Index of each value in ``labels`` (-1 when absent); a dictionary-encoded column is
    looked up once per distinct value."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(column.type):
        lookup = np.append(_codes(column.dictionary, labels), -1)  # the last one for nulls
        return lookup[column.indices.fill_null(len(lookup) - 1).to_numpy()]
    return pc.fill_null(pc.index_in(column, value_set=pa.array(list(labels))), -1).to_numpy(
        zero_copy_only=False).astype(np.int64)
