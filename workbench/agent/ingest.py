"""Outcome events from a sending platform: load them, quarantine bad rows, learn once.

The file is a CSV with one event per line::

    decision_id,event,value,occurred_at
    12-u1001,direct_open,1,2026-11-23T19:04:00
    12-u1001,gmv,42.5,2026-11-23T19:30:00

``decision_id`` comes from the exported batch; ``event`` is one of ``direct_open, engagement,
intent, conversion, gmv``; ``value`` defaults to 1; extra columns are ignored. A bad line is
reported with its line number and kept in the ``quarantine`` table with the reason; good lines
are stored and learnt from. An event is identified by (decision, event, time): loading the same
file twice stores and learns nothing the second time.

Learning waits for a decision's attribution window (``attribution_days`` after its send time)
to close, so that users who did nothing count as zero-reward observations; events that arrive
for a decision already learnt add their reward as a late correction.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from store import Store, now
from store import decisions as decisions_store
from workbench.agent.policy import Agent
from workbench.agent.state import decisions_frame, save_models, snapshot
from workbench import Problem, ValidationError
from workbench.agent.reward import EVENTS, scalarise

REQUIRED = ("decision_id", "event", "occurred_at")
MAX_BYTES = 200 * 1024 * 1024


@dataclass
class IngestReport:
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    learned: int = 0
    late_corrections: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    as_of: str = ""

    def to_dict(self) -> dict:
        return {"rows": self.rows, "inserted": self.inserted, "duplicates": self.duplicates,
                "quarantined": len(self.quarantined),
                "quarantine": [{"line": line, "reason": r} for line, r in self.quarantined],
                "learned_decisions": self.learned, "late_corrections": self.late_corrections,
                "ignored_columns": self.ignored_columns, "as_of": self.as_of}


def _parse_time(value: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=None)


def ingest_events(store: Store, agent: Agent, data: bytes, source: str, actor: str, *,
                  as_of: date | None = None) -> IngestReport:
    """Load an events file, learn from what it completes, and save the agent. One transaction."""
    if len(data) > MAX_BYTES:
        raise ValidationError([Problem(f"the file is over {MAX_BYTES // 2 ** 20} MB")],
                              "The file was rejected")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValidationError([Problem("is not valid UTF-8", row=line)],
                              "The file was rejected") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = _csv_rows(reader)
    header = [h.strip().lower() for h in next(rows, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError([Problem(f"required column '{c}' is missing", field=c)
                               for c in missing], "The file was rejected")
    report = IngestReport(ignored_columns=[h for h in header if h not in (*REQUIRED, "value")])
    col = {h: i for i, h in enumerate(header)}
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
        elif not math.isfinite(value) or value < 0:
            bad.append((line, raw, f"value '{value_text}' is not a number >= 0"))
        elif when is None:
            bad.append((line, raw, "occurred_at is not an ISO date/time"))
        else:
            parsed.append((line, did, event, value, when.isoformat(timespec="seconds")))
    known = _known_decisions(store, {p[1] for p in parsed})
    good = []
    for p in parsed:
        if p[1] not in known:
            bad.append((p[0], _raw(p), f"no decision '{p[1]}' in the decision log"))
        else:
            good.append(p)
    existing = _existing_keys(store, {p[1] for p in good})
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
    times = [datetime.fromisoformat(p[4]) for p in parsed]
    day = as_of or (max(times).date() if times else date.today())
    report.as_of = day.isoformat()
    with store.transaction():
        if bad:
            decisions_store.insert_quarantine(store, source, bad)
        if new:
            decisions_store.insert_events(store, new)
        report.late_corrections = _learn_late(store, agent, new)
        report.learned = learn_due(store, agent, day)
        save_models(store, agent)
        store.audit(actor, "ingest", "outcomes", source, report.to_dict() | {"quarantine": None})
    return report


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


def _known_decisions(store: Store, ids: set[str]) -> set[str]:
    return decisions_store.known_ids(store, ids)


def _existing_keys(store: Store, ids: set[str]) -> set[tuple[str, str, str]]:
    return decisions_store.event_keys(store, ids)


def _outcomes(frame: pd.DataFrame, events: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame({e: [events.get(d, {}).get(e, 0.0) for d in frame["decision_id"]]
                         for e in EVENTS})


def _learn_late(store: Store, agent: Agent, new: list[dict]) -> int:
    """Reward corrections for decisions already learnt that received new events."""
    ids = sorted({e["decision_id"] for e in new})
    learned = decisions_store.learned_ids(store, ids)
    if not learned:
        return 0
    delta: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in new:
        if e["decision_id"] in learned:
            delta[e["decision_id"]][e["event"]] += e["value"]
    frame = decisions_frame(store, agent, ids=sorted(learned))
    outcomes = _outcomes(frame, delta)
    agent.learn(frame, outcomes, late=True)
    r = scalarise(outcomes, agent.config.reward)
    decisions_store.add_rewards(store, zip(r.tolist(), frame["decision_id"]))
    return len(learned)


def learn_due(store: Store, agent: Agent, as_of: date) -> int:
    """Learn every decision whose attribution window has closed by ``as_of``."""
    cutoff = (as_of - timedelta(days=agent.config.attribution_days)).isoformat()
    ids = decisions_store.due_ids(store, cutoff)
    if not ids:
        return 0
    frame = pd.concat([decisions_frame(store, agent, ids=c) for c in _chunks(ids)],
                      ignore_index=True)
    events: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for chunk in _chunks(ids):
        for r in decisions_store.event_totals(store, chunk):
            events[r["decision_id"]][r["event"]] = r["v"]
    outcomes = _outcomes(frame, events)
    agent.learn(frame, outcomes)
    r = agent.rewards(frame, outcomes)
    decisions_store.mark_learned(store, zip(np.asarray(r, float).tolist(),
                                            frame["decision_id"]))
    snapshot(store, agent, as_of, frame)
    return len(ids)


def quarantine(store: Store, limit: int = 500) -> list[dict]:
    return decisions_store.quarantine(store, limit)


