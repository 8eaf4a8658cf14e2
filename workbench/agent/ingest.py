"""Outcome events from a sending platform: load them, quarantine bad rows, learn once.

The file is a CSV with one event per line::

    decision_id,event,value,occurred_at
    12-u1001,direct_open,1,2026-11-23T19:04:00
    12-u1001,gmv,42.5,2026-11-23T19:30:00

``decision_id`` comes from the exported batch; ``event`` is one of ``direct_open, engagement,
intent, conversion, gmv``; ``value`` defaults to 1 (``gmv`` needs its amount); extra columns are ignored. A bad line is
reported with its line number and kept in the ``quarantine`` table with the reason; good lines
are stored and learnt from. An event is identified by (decision, event, time): loading the same
file twice stores and learns nothing the second time.

**Sanity rules** (a hostile or broken export must not poison the models or learn early): the
binary events are 0 or 1 and the others may not exceed their plausible maximum, the use
case's setting (:mod:`~workbench.agent.event_checks`; ``max_value=`` overrides it per call),
so that one ``gmv,1e300`` line cannot drag every model mean to 1e299; a time with an offset
(``+02:00``, ``Z``) is converted to UTC before the duplicate key (a time without one is UTC); an
event later than the wall clock (or the end of the explicit ``as_of`` day) is "in the future",
and one before its decision's send time (or, for a decision with no send, its batch's start
day) is "before the send". Each goes to the quarantine with its reason, and ``as_of`` (the day
up to which attribution windows close) comes only from the stored lines, never later than the
wall clock: one line dated 2099 closes no window, and a file with no stored line (only
quarantined lines, or only a header) closes none (``as_of`` is ``None`` and nothing is learnt).

Learning waits for a decision's attribution window (``attribution_days`` after its send time)
to close, so that users who did nothing count as zero-reward observations; events that arrive
for a decision already learnt add their reward as a late correction.

**Incremental rewards** (``AgentConfig(incremental=True)``): a decision's reward is its events'
value minus the baseline of the holdout users of the same segment and the same batch (the
period), so a batch is learnt once the window of its *last possible* send has closed
(``SEND_DAYS`` after its start day plus ``attribution_days``): holdout and skipped decisions,
which have no send time, wait for the sent decisions of their batch instead of falling due
first and leaving the later ones without a baseline. A batch that has no holdout user (a very
small one) is measured against the holdout users of the other batches learnt in the same
ingest, per segment; with none at all its decisions wait (``waiting`` in the report). An agent
with ``holdout_share=0`` cannot be incremental and is refused before anything is written.

**Pre-period rewards** make the incremental reward a difference in differences (each user's
change over their own pre-period, minus the holdout users' mean change): a CSV of
``user_id,pre_reward`` (the user's reward, with the same weights, over a period of the same
length before the agent acted), read by :func:`load_pre_reward` and passed to
:func:`ingest_events`. It applies to the decisions learnt in that ingest; users missing from it
count as 0 (and are counted in the report).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd

from store import Store, busy, now
from store import agent as agent_store
from store import decisions as decisions_store
from workbench import Problem, ValidationError
from workbench.agent.baselines import in_closed_batches, learn_incremental
from workbench.agent.event_checks import load_limits, value_problem
from workbench.agent.policy import Agent
from workbench.agent.reward import EVENTS, MAX_VALUE, beyond, scalarise
from workbench.agent.state import (
    current_agent,
    decisions_frame,
    logged_mixes,
    save_models,
    snapshot_rows,
    stored_outcomes,
)
from workbench.agent.windows import learn_partial
from workbench.delimited import (blank_columns, delimiter, not_utf8, refuse_repeated_columns,
                                 unnamed_values)

REQUIRED = ("decision_id", "event", "occurred_at")
MAX_BYTES = 200 * 1024 * 1024
#: A batch's send times fall in the 7 days from its start day (see ``Agent.decide``): its last
#: possible send is on start day + SEND_DAYS.
SEND_DAYS = 6
@dataclass
class IngestReport:
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    learned: int = 0
    late_corrections: int = 0
    waiting: int = 0  # incremental: due, but their batch has no holdout baseline yet
    partly_learned: int = 0  # sent decisions learnt or grown from a partly elapsed window
    pre_reward_missing: int = 0  # learnt decisions whose user had no pre-period reward
    ignored_columns: list[str] = field(default_factory=list)
    as_of: str | None = None  # None: no line stored, so no window was closed

    def to_dict(self) -> dict:
        return {"rows": self.rows, "inserted": self.inserted, "duplicates": self.duplicates,
                "quarantined": len(self.quarantined),
                "quarantine": [{"line": line, "reason": r} for line, r in self.quarantined],
                "learned_decisions": self.learned, "late_corrections": self.late_corrections,
                "waiting_for_holdout": self.waiting, "partly_learned": self.partly_learned,
                "pre_reward_missing": self.pre_reward_missing,
                "ignored_columns": self.ignored_columns, "as_of": self.as_of}


def _parse_time(value: str) -> datetime | None:
    """The time in naive UTC (an offset is applied, not dropped: ``10:00+02:00`` and
    ``10:00Z`` are different instants and must not collide as duplicates)."""
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.replace(tzinfo=None)


def check_incremental(agent: Agent, pre_reward: Mapping[str, float] | None = None) -> None:
    """Refuse an agent that cannot learn its configured reward: incremental rewards need
    holdout users, and pre-period rewards are only used by incremental rewards."""
    problems = []
    if agent.config.incremental and agent.config.holdout_share <= 0:
        problems.append(Problem(
            "incremental rewards are measured against holdout users, and holdout_share is 0: "
            "set holdout_share above 0 (e.g. 0.1) or turn incremental off",
            field="holdout_share"))
    if pre_reward is not None and not agent.config.incremental:
        problems.append(Problem("pre-period rewards are only used by incremental rewards "
                                "(AgentConfig(incremental=True))", field="pre_reward"))
    if problems:
        raise ValidationError(problems, "Cannot learn with this agent configuration")


def load_pre_reward(data: bytes) -> dict[str, float]:
    """Pre-period rewards from a CSV with the columns ``user_id`` and ``pre_reward`` (other
    columns are ignored). The file is rejected whole, naming the data row (row 1 is the line
    under the header) and column of every bad value: an empty or repeated user, a missing,
    non-numeric, NaN or infinite reward, or one beyond +-:data:`.reward.MAX_VALUE`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError([not_utf8(data, e)],
                              "The pre-period rewards were rejected") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    header = [h.strip().lower() for h in next(reader, [])]
    refuse_repeated_columns(header, "The pre-period rewards were rejected")
    problems = [Problem(f"required column '{c}' is missing", field=c)
                for c in ("user_id", "pre_reward") if c not in header]
    if problems:
        raise ValidationError(problems, "The pre-period rewards were rejected")
    ui, ri = header.index("user_id"), header.index("pre_reward")
    out: dict[str, float] = {}
    line = 0  # the data row: an empty line is no row
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line += 1
        if len(values) != len(header):
            problems.append(Problem(f"has {len(values)} fields, the header has {len(header)}",
                                    row=line))
            continue
        user, raw = values[ui].strip(), values[ri].strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not user:
            problems.append(Problem("is empty", row=line, field="user_id"))
        elif user in out:
            problems.append(Problem(f"user '{user}' appears twice", row=line, field="user_id"))
        if not math.isfinite(value):
            problems.append(Problem(f"'{raw}' is not a finite number", row=line,
                                    field="pre_reward"))
        elif abs(value) > MAX_VALUE:
            problems.append(Problem(beyond(value), row=line, field="pre_reward"))
        elif user:
            out[user] = value
    if problems:
        raise ValidationError(problems, "The pre-period rewards were rejected")
    return out


def ingest_events(store: Store, agent: Agent, data: bytes, source: str, actor: str, *,
                  as_of: date | None = None, pre_reward: Mapping[str, float] | None = None,
                  max_value: Mapping[str, float] | None = None,
                  clock: datetime | None = None, partial_windows: bool = True,
                  as_of_needs_lines: bool = False) -> IngestReport:
    """Load an events file, learn from what it completes, and save the agent. One transaction.

    ``pre_reward`` (user id -> pre-period reward, see :func:`load_pre_reward`) makes an
    incremental reward a difference in differences for the decisions learnt now.
    ``max_value`` gives the plausible maximum per event (default: the use case's, see
    :mod:`~workbench.agent.event_checks`); ``clock`` is the wall clock (now, UTC, by default)
    beyond which an event is in the future. ``as_of_needs_lines`` (the CLI's rule, as the
    README states it) makes an explicit ``as_of`` close nothing either when the file has no
    stored line; by default an explicit ``as_of`` closes windows whatever the file holds."""
    check_incremental(agent, pre_reward)
    maxima = load_limits(store).maxima if max_value is None else max_value
    wall = (clock or datetime.now(timezone.utc))
    wall = (wall.astimezone(timezone.utc) if wall.tzinfo else wall).replace(tzinfo=None)
    horizon = datetime.combine(as_of, time.max) if as_of is not None else wall
    if len(data) > MAX_BYTES:
        raise ValidationError([Problem(f"the file is over {MAX_BYTES // 2 ** 20} MB")],
                              "The file was rejected")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValidationError([Problem("is not valid UTF-8", row=line)],
                              "The file was rejected") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    rows = _csv_rows(reader)
    header = [h.strip().lower() for h in next(rows, [])]
    refuse_repeated_columns(header, "The file was rejected")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError([Problem(f"required column '{c}' is missing", field=c)
                               for c in missing], "The file was rejected")
    report = IngestReport(ignored_columns=[h for h in header
                                           if h and h not in (*REQUIRED, "value")])
    col = {h: i for i, h in enumerate(header)}
    blank = blank_columns(header)  # a spreadsheet's empty trailing columns (",,")
    parsed: list[tuple[int, str, str, float, str]] = []
    bad: list[tuple[int, str, str]] = []
    for values in rows:
        line = reader.line_num
        raw = ",".join(values)
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if len(values) != len(header):
            bad.append((line, raw, f"has {len(values)} fields, the header has {len(header)}"))
            continue
        if blank and (problems := unnamed_values(header, lambda i: [values[i]], line - 1)):
            raise ValidationError(problems, "The file was rejected")  # misaligned columns
        did = values[col["decision_id"]].strip()
        event = values[col["event"]].strip().lower()
        when = _parse_time(values[col["occurred_at"]])
        value_text = values[col["value"]].strip() if "value" in col else ""
        try:
            value = float(value_text) if value_text else 1.0
        except ValueError:
            value = math.nan
        if not did:
            bad.append((line, raw, "decision_id is empty"))
        elif event not in EVENTS:
            bad.append((line, raw, f"event '{event}' is not one of {', '.join(EVENTS)}"))
        elif (why := value_problem(event, value, value_text, maxima)) is not None:
            bad.append((line, raw, why))
        elif when is None:
            bad.append((line, raw, "occurred_at is not an ISO date/time"))
        elif when > horizon:
            bad.append((line, raw, f"occurred_at {when.isoformat(timespec='seconds')} is in the "
                                   f"future (after {horizon.isoformat(timespec='seconds')})"))
        else:
            parsed.append((line, did, event, value, when.isoformat(timespec="seconds")))
    # Learning reads, computes for seconds, then writes: the computing happens with no write
    # lock (a person's edit or a running trial would wait for it), one ingest at a time, and
    # everything is written in one short transaction at the end.
    with busy.exclusive(store, "learn"):
        agent = current_agent(store, agent)  # another ingest may have learnt meanwhile
        learn_lines(store, agent, report, parsed, bad, source, actor, wall,
                    as_of=as_of, pre_reward=pre_reward, partial_windows=partial_windows,
                    as_of_needs_lines=as_of_needs_lines)
    return report


def learn_lines(store: Store, agent: Agent, report: IngestReport, parsed: list[tuple],
                bad: list[tuple[int, str, str]], source: str, actor: str, wall: datetime,
                *, as_of: date | None, pre_reward: Mapping[str, float] | None,
                partial_windows: bool, as_of_needs_lines: bool = False) -> None:
    """Store the lines ``parsed`` (``(line, decision_id, event, value, occurred_at)``, read
    by :func:`ingest_events` or by the live programme's attribution) that name a logged
    decision at or after its send, quarantine the others with ``bad``, and learn what fell
    due; fills ``report``. The caller holds the learning lock (``busy.exclusive``)."""
    known = decisions_store.send_times(store, {p[1] for p in parsed})
    good = []
    for p in parsed:
        if p[1] not in known:
            bad.append((p[0], _raw(p), f"no decision '{p[1]}' in the decision log"))
        elif (sent := _as_utc(known[p[1]])) is not None and datetime.fromisoformat(p[4]) < sent:
            bad.append((p[0], _raw(p), f"occurred_at {p[4]} is before the send "
                                       f"({sent.isoformat(timespec='seconds')})"))
        else:
            good.append(p)
    existing = decisions_store.event_keys(store, {p[1] for p in good})
    new, seen = [], set()
    for line, did, event, value, when in good:
        key = (did, event, when)
        if key in existing or key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        new.append({"decision_id": did, "event": event, "value": value, "occurred_at": when,
                    "source": source, "line": line, "ingested_at": now()})
    report.inserted = len(new)
    report.quarantined = sorted((line, reason) for line, _, reason in bad)
    times = [datetime.fromisoformat(p[4]) for p in good]
    # No stored line, no day the data shows: the wall clock would close every open window
    # and learn its decisions as zero rewards. Nothing new closes then.
    if times:
        day = as_of or min(max(times), wall).date()
    else:
        day = None if as_of_needs_lines else as_of
    report.as_of = day.isoformat() if day is not None else None
    late = _late_rewards(store, agent, new)
    report.late_corrections = len(late)
    due = (_due_learning(store, agent, day, pre_reward=pre_reward, report=report, new=new)
           if day is not None else _DueLearning())
    partial = learn_partial(store, agent, day, wall, new) \
        if partial_windows and day is not None else None
    report.partly_learned = partial.count if partial else 0
    with store.transaction():
        if bad:
            decisions_store.insert_quarantine(store, source, bad)
        if new:
            decisions_store.insert_events(store, new)
        decisions_store.add_rewards(store, late)
        due.write(store)
        if partial:
            partial.write(store)
        save_models(store, agent)
        store.audit(actor, "ingest", "outcomes", source, report.to_dict() | {"quarantine": None})


def _csv_rows(reader):
    """The reader's rows; a line the csv module cannot read (e.g. a field over its 128 KiB
    limit) rejects the file with its line number instead of escaping as ``_csv.Error``."""
    try:
        yield from reader
    except csv.Error as e:
        limit = csv.field_size_limit()
        why = (f"has a field longer than {limit // 1024} KiB" if "field larger" in str(e)
               else f"is not valid CSV ({e})")
        raise ValidationError([Problem(why, row=reader.line_num)],
                              "The file was rejected") from None


def _raw(p: tuple) -> str:
    return ",".join(str(x) for x in p[1:])


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _as_utc(text: str | None) -> datetime | None:
    """A stored send time (or batch start day), naive UTC like the events' times."""
    if not text:
        return None
    t = datetime.fromisoformat(text)
    return (t.astimezone(timezone.utc) if t.tzinfo else t).replace(tzinfo=None)


def _outcomes(frame: pd.DataFrame, events: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame({e: [events.get(d, {}).get(e, 0.0) for d in frame["decision_id"]]
                         for e in EVENTS})


def _late_rewards(store: Store, agent: Agent, new: list[dict]) -> list[tuple[float, str]]:
    """Learn the reward corrections of decisions already learnt that received new events;
    returns the ``(reward, decision_id)`` to add (writes nothing)."""
    ids = sorted({e["decision_id"] for e in new})
    learned = decisions_store.learned_ids(store, ids)
    if not learned:
        return []
    delta: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in new:
        if e["decision_id"] in learned:
            delta[e["decision_id"]][e["event"]] += e["value"]
    frame = decisions_frame(store, agent, ids=sorted(learned))
    outcomes = _outcomes(frame, delta)
    agent.learn(frame, outcomes, late=True, mixes=logged_mixes(store, agent, frame))
    r = scalarise(outcomes, agent.config.reward)
    return list(zip(r.tolist(), frame["decision_id"]))


@dataclass(frozen=True)
class _DueLearning:
    """What learning the due decisions produced, to be written in one short transaction."""

    rewards: list[tuple[float, str]] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)

    def write(self, store: Store) -> None:
        if self.rewards:
            decisions_store.mark_learned(store, self.rewards)
        if self.snapshots:
            agent_store.save_snapshots(store, self.snapshots)


def _due_learning(store: Store, agent: Agent, as_of: date, *,
                  pre_reward: Mapping[str, float] | None = None,
                  report: IngestReport | None = None, new: list[dict] = ()) -> _DueLearning:
    """Learn every decision whose attribution window has closed by ``as_of`` (incremental
    rewards: every decision of a batch whose last send's window has closed), from its stored
    events plus the ``new`` ones not stored yet; returns what to write, and writes nothing."""
    check_incremental(agent, pre_reward)
    closed = as_of - timedelta(days=agent.config.attribution_days)
    cutoff = closed.isoformat()
    ids = decisions_store.due_ids(store, cutoff)
    if report is not None:
        report.learned = 0
    if not ids:
        return _DueLearning()
    if agent.config.incremental:
        ids = in_closed_batches(store, ids, closed, SEND_DAYS)
        if not ids:
            return _DueLearning()
    frame = pd.concat([decisions_frame(store, agent, ids=c)
                       for c in _chunks(ids)], ignore_index=True)
    outcomes = stored_outcomes(store, frame, new)
    if agent.config.incremental:
        if pre_reward is not None:
            users = frame["user_id"].astype(str)
            known = users.isin(pre_reward.keys()).to_numpy()
            outcomes["pre_reward"] = users.map(dict(pre_reward)).fillna(0.0).to_numpy(float)
            if report is not None:
                report.pre_reward_missing = int((~known).sum())
        r = learn_incremental(agent, frame, outcomes, logged_mixes(store, agent, frame))
    else:
        agent.learn(frame, outcomes, mixes=logged_mixes(store, agent, frame))
        r = np.asarray(agent.rewards(frame, outcomes), float)
    done = ~np.isnan(r)
    if report is not None:
        report.waiting = int((~done).sum())
        report.learned = int(done.sum())
    if not done.any():
        return _DueLearning()
    return _DueLearning(list(zip(r[done].tolist(), frame["decision_id"][done])),
                        snapshot_rows(agent, as_of, frame[done]))


def quarantine(store: Store, limit: int = 500) -> list[dict]:
    return decisions_store.quarantine(store, limit)


