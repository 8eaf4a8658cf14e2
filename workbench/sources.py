"""What the pages can show: the live programme, every simulated run, or an imported file.

The Lift report, the Agent control timeline and the Posteriors page show one *source* at a
time, picked by the person and kept across pages. :func:`list_sources` lists them (the live
programme first, then every simulated run, newest first, then the imported file) as frozen
:class:`Source` rows; the readers here turn a source into what the pages draw, the same shapes
whatever the source:

- :func:`lift_data` — per-user outcomes per phase (:class:`workbench.lift.report.LiftData`);
- :func:`weekly` — lift per week and metric with each week's first calendar day;
- :func:`daily` — sends and events per arm and calendar day, with the management mode;
- :func:`agent_db` — the database holding the source's agent (a run's sandbox copy).

Each source carries a ``marker`` that changes whenever what it shows may have changed (a run's
status and days done; the live programme's files, days, roster imports and mode switches), so
a page caches heavy reads on ``(key, marker)`` and never shows stale numbers.
:func:`status` is the sidebar's line: the management mode and the run in progress, read fresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from store import parquet as columnar
from store import runs as run_store
from workbench.lift import report as lr
from workbench.lift.metrics import week_mode
from workbench.lift.weekly import weekly_table
from workbench.live.logs import outcomes_version
from workbench.sim.runner import progress
from workbench.sim.sandbox import SANDBOX
from workbench.sim.world import METRICS

LIVE, RUN, FILE = "live", "run", "file"
LIVE_KEY, FILE_KEY = "live", "file"
#: What a run's daily chart needs; the live programme's daily table has the same columns.
DAILY_COLUMNS = ("date", "arm", "mode", "users", "sends", *METRICS)


@dataclass(frozen=True)
class Source:
    """One thing a page can show. ``key`` is stable (``live``, ``run:12``, ``file``) and is
    what a session remembers; ``marker`` changes when the source's data may have."""

    key: str
    kind: str
    label: str
    run_id: int | None = None
    status: str = ""
    marker: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RunStatus:
    """A run that is moving (running or pausing): where it is and the phase of its last day."""

    run_id: int
    status: str
    day: int
    days: int
    phase: str
    date: str
    eta_seconds: float | None


@dataclass(frozen=True)
class Status:
    """The sidebar's line, read fresh on every render."""

    mode: str
    run: RunStatus | None

    @property
    def signature(self) -> tuple:
        """What the rest of a page depends on: a change reruns the page (days do not)."""
        return (self.mode, None if self.run is None else (self.run.run_id, self.run.status,
                                                          self.run.phase))


def list_sources(store: Store) -> list[Source]:
    """The live programme, every simulated run (newest first) and the imported file."""
    out = [live_source(store)]
    for run in run_store.all_runs(store):
        prog = progress(run)
        out.append(Source(
            f"{RUN}:{run['id']}", RUN,
            f"Simulated run #{run['id']} · {run['preset'].replace('_', ' ')} · "
            f"{run['users']:,} users · " + (prog["status"] if prog["status"] == "done" else
                                            f"{prog['status']}, day {prog['done']} of "
                                            f"{prog['total']}"),
            run["id"], prog["status"],
            f"{prog['status']}|{run['days_done']}|{run['updated_at']}",
            f"started {str(run['created_at'])[:10]} by {run['started_by']}"))
    out.append(Source(FILE_KEY, FILE, "Imported file", detail="a per-user outcomes CSV"))
    return out


def live_source(store: Store) -> Source:
    prog = live_store.programme(store)
    files, days = live_store.files(store), live_store.days(store)
    imports = live_store.roster_imports(store)
    # The outcomes' version (imports, events files, mode switches) and the days decided.
    marker = f"{outcomes_version(store)}|{len(days)}|{days[-1]['day'] if days else ''}"
    if prog is None:
        detail = "no roster yet: import one with workbench programme roster USERS.csv"
    else:
        detail = (f"{imports[-1]['total_users']:,} users · {len(days)} days decided · "
                  f"{len(files)} events files" if imports else "no roster yet")
    return Source(LIVE_KEY, LIVE, "Live programme", status="" if prog else "empty",
                  marker=marker, detail=detail)


def find(sources: list[Source], key: str | None) -> Source | None:
    return next((s for s in sources if s.key == key), None)


def default_key(sources: list[Source]) -> str:
    """The live programme once it has a roster, else the newest run, else the live one."""
    live = sources[0]
    if live.status != "empty":
        return live.key
    runs = [s for s in sources if s.kind == RUN]
    return runs[0].key if runs else live.key


def _run(store: Store, source: Source) -> dict | None:
    return run_store.get(store, source.run_id) if source.run_id is not None else None


# -- lift --------------------------------------------------------------------------------------

def lift_data(store: Store, source: Source) -> lr.LiftData | None:
    """Per-user outcomes per phase: a finished run's (None while it runs), the live
    programme's (None before a roster and events); an imported file is read by the page."""
    if source.kind == RUN:
        from workbench.sim.runs import user_outcomes

        run = _run(store, source)
        users = user_outcomes(run) if run else None
        return None if users is None else lr.from_run(users, f"run #{source.run_id}")
    if source.kind == LIVE:
        from workbench.live.logs import user_outcomes, why_no_lift

        users = user_outcomes(store)
        if users is None or why_no_lift(store, users):  # live_missing says why
            return None
        return replace(lr.from_run(users, "live programme"), ongoing=True)
    return None


def live_missing(store: Store) -> str:
    """Why the live programme has no lift yet (what is missing, or an arm too small)."""
    from workbench.live.logs import NO_ROSTER, why_no_lift

    return why_no_lift(store) or NO_ROSTER


def start_date(store: Store, source: Source) -> date | None:
    """The first calendar day of the source: a run's configured start, the live programme's
    first decided day (its first event day before any day is decided)."""
    if source.kind == RUN:
        run = _run(store, source)
        return lr.run_start(run) if run else None
    if source.kind == LIVE:
        span = _live_span(store)
        return span[0] if span else None
    return None


def _live_span(store: Store) -> tuple[date, date] | None:
    """The programme's first decided day (the first event day before any) to its last
    decided or event day: events before the programme are no management phase."""
    from workbench.live.logs import event_days, programme_start

    days = set(event_days(store)) | {d["day"] for d in live_store.days(store)}
    if not days:
        return None
    first = programme_start(store) or date.fromisoformat(min(days))
    return first, date.fromisoformat(max(days))


def weekly(store: Store, source: Source) -> pd.DataFrame:
    """Lift per week and metric (:func:`workbench.lift.weekly.weekly_table`) with each week's
    first calendar day in ``week_start``; empty when the source has no weeks (a file)."""
    if source.kind == RUN:
        from workbench.sim.runs import weekly as run_weekly

        moments = run_weekly(store, source.run_id)
        start = start_date(store, source)
    elif source.kind == LIVE:
        moments, start = _live_weekly_moments(store)
    else:
        return pd.DataFrame()
    if moments.empty:
        return pd.DataFrame()
    return weekly_table(moments, start)


def _live_roster(store: Store):
    from workbench.live.roster import roster_path

    path = roster_path(store)
    return (pq.read_table(path, columns=["user_id", "arm", "joined_on"]) if path.exists()
            else None)


def _live_weekly_moments(store: Store) -> tuple[pd.DataFrame, date | None]:
    """The live programme's weekly per-user moments per arm, as a run stores them."""
    from workbench.live.logs import day_phases, event_files, events_dir

    span, roster = _live_span(store), _live_roster(store)
    if span is None or roster is None or not event_files(store):
        return pd.DataFrame(), None
    first, last = span
    got = columnar.weekly_arm_moments(columnar.connect(), str(events_dir(store) / "day=*" /
                                                              "*.parquet"),
                                      roster, first.isoformat()).to_pandas()
    modes = dict(day_phases(store, first, last))
    weeks = range((last - first).days // 7 + 1)
    grid = pd.MultiIndex.from_product([weeks, ["agent", "holdout"], METRICS],
                                      names=["week", "arm", "metric"])
    out = got.set_index(["week", "arm", "metric"]).reindex(grid, fill_value=0.0).reset_index()
    # A week counts the users who had joined by its last day (a later roster import adds users
    # from its day on; they can have no event before it).
    agent = np.asarray(roster.column("arm").to_numpy(zero_copy_only=False)) == "agent"
    joined = np.asarray(roster.column("joined_on").fill_null(first.isoformat())
                        .to_numpy(zero_copy_only=False)).astype("datetime64[D]")
    n = {}
    for w in weeks:
        inside = joined <= np.datetime64(first + timedelta(days=7 * w + 6))
        n[(w, "agent")] = int((inside & agent).sum())
        n[(w, "holdout")] = int((inside & ~agent).sum())
    out["n"] = [n[(int(w), a)] for w, a in zip(out["week"], out["arm"])]
    by_week = {w: week_mode([m for d, m in modes.items()
                             if 7 * w <= (date.fromisoformat(d) - first).days < 7 * w + 7])
               for w in weeks}
    out["mode"] = [by_week[int(w)] for w in out["week"]]
    return out, first


# -- daily timeline ------------------------------------------------------------------------------

def daily(store: Store, source: Source) -> pd.DataFrame:
    """Per calendar day and arm: users, messages sent and users with each event (gmv summed),
    and the management mode of the day (:data:`DAILY_COLUMNS`). The live programme's holdout
    gets business as usual from the team's own tools, so its sends are unknown (NaN)."""
    if source.kind == RUN:
        from workbench.sim.runs import daily as run_daily

        df = run_daily(store, source.run_id)
        return df[list(DAILY_COLUMNS)] if not df.empty else pd.DataFrame(columns=DAILY_COLUMNS)
    if source.kind == LIVE:
        return _live_daily(store)
    return pd.DataFrame(columns=DAILY_COLUMNS)


def _live_daily(store: Store) -> pd.DataFrame:
    from workbench.live.logs import day_phases, decisions_dir, event_files, events_dir

    span, roster = _live_span(store), _live_roster(store)
    if span is None or roster is None:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    con = columnar.connect()
    days = [d for d, _ in day_phases(store, *span)]
    grid = pd.MultiIndex.from_product([days, ["agent", "holdout"]], names=["date", "arm"])
    out = pd.DataFrame(index=grid)
    arms = pd.Series(roster.column("arm").to_pylist()).value_counts()
    out["users"] = [int(arms.get(a, 0)) for _, a in grid]
    if event_files(store):
        totals = columnar.daily_arm_totals(con, str(events_dir(store) / "day=*" / "*.parquet"),
                                           roster).to_pandas()
        wide = totals.pivot_table(index=["day", "arm"], columns="metric", values="total",
                                  aggfunc="sum")
        wide.index.names = ["date", "arm"]
        out = out.join(wide.reindex(grid))
    for m in METRICS:
        out[m] = out[m].fillna(0.0) if m in out else 0.0
    if list(decisions_dir(store).glob("day=*/*.parquet")):
        sends = columnar.daily_sends(con, str(decisions_dir(store) / "day=*" / "*.parquet")
                                     ).to_pandas().rename(columns={"day": "date"})
        out = out.join(sends.set_index(["date", "arm"])["sends"])
        out.loc[(slice(None), "agent"), "sends"] = out.loc[
            (slice(None), "agent"), "sends"].fillna(0)
    else:
        out["sends"] = np.where(out.index.get_level_values("arm") == "agent", 0.0, np.nan)
    out = out.reset_index()
    out["mode"] = out["date"].map(dict(day_phases(store, *span)))
    return out[list(DAILY_COLUMNS)]


# -- posteriors ----------------------------------------------------------------------------------

def agent_db(store: Store, source: Source) -> str | None:
    """The database file whose agent the source shows: the workbench's own for the live
    programme, the run's sandbox copy for a run (None before it started); an imported file
    has no agent (None)."""
    if source.kind == LIVE:
        return store.path
    if source.kind == RUN:
        run = _run(store, source)
        if run is None:
            return None
        path = Path(run["folder"]) / SANDBOX
        return str(path) if path.exists() else None
    return None


# -- the sidebar's status ------------------------------------------------------------------------

def status(store: Store) -> Status:
    """The management mode and the newest run if it is moving, with its day and phase."""
    run = run_store.latest(store)
    moving = None
    if run is not None:
        prog = progress(run)
        if prog["status"] in ("running", "pausing", "queued"):
            last = run_store.last_daily(store, run["id"])
            phase = last["mode"] if last else _configured_phase(run, prog["done"])
            # Daily rows land every day; the register's count at checkpoints only.
            day = max(prog["done"], last["day"] + 1 if last else 0)
            moving = RunStatus(run["id"], prog["status"], day, prog["total"], phase,
                               last["date"] if last else "", prog["eta_seconds"])
    return Status(store.current_mode(), moving)


def _configured_phase(run: dict, day: int) -> str:
    try:
        active = int(json.loads(run["config"])["active_days"])
    except (KeyError, TypeError, ValueError):
        return "active"
    return "active" if day < active else "passive"


def phase_periods(store: Store, source: Source, phase_days: dict[str, int]
                  ) -> list[tuple[str, date, date]]:
    """``(phase, first day, last day)`` of each stretch of one management mode, in order: the
    live programme's from its mode switches (a team may go back to active management), a run's
    from its days per phase (a run is active, then passive)."""
    if source.kind == LIVE:
        from workbench.live.logs import day_phases

        span = _live_span(store)
        if span is None:
            return []
        out: list[tuple[str, date, date]] = []
        for day, mode in day_phases(store, *span):
            d = date.fromisoformat(day)
            if out and out[-1][0] == mode:
                out[-1] = (mode, out[-1][1], d)
            else:
                out.append((mode, d, d))
        return out
    return lr.phase_spans(phase_days, start_date(store, source))
