"""Decision-attributed events of the live programme: which lines teach the agent, and why not.

A line with a ``decision_id`` is first an event of its user: it is stored once and counts in
the lift like any other. It also teaches the agent when the agent can credit it to the
decision: the event is one the agent learns from (:data:`workbench.agent.reward.EVENTS`), the
decision is in a decision log, and the event happened at or after the decision's send
(``send_at``; a decision not sent: its day). A line that fails one of these is **not
learnt**, and said so with its line and reason; it is not refused (it was stored and counts
in the lift), so it is not in the ``quarantine`` table. A platform that sends at once instead
of at ``send_at`` sees every early event there ("before the send"), with the count.

Days decided with SQLite's learning log learn the lines now, through the decision events'
own path (:mod:`workbench.agent.ingest`), given the parsed lines with their line numbers in
the team's file (nothing is written back to CSV and read again); days decided without it
are learnt from the Parquet logs when their window closes (:mod:`workbench.live.learning`),
which applies the same rules. A refund (negative ``gmv``) is not learnt on either path (the
agent's rewards are purchases; a refund may undo a purchase of any earlier decision): it
counts in the lift, and the report says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from store import Store, busy
from store import decisions as decisions_store
from store import live as live_store
from store import parquet as columnar
from workbench.agent.ingest import IngestReport, check_incremental, learn_lines
from workbench.agent.reward import EVENTS as DECISION_EVENTS
from workbench.agent.state import current_agent, load_agent

#: How many not-learnt lines a report lists (all are counted, by reason).
LISTED = 50
NOT_A_DECISION_EVENT = "not a decision event"
NO_DECISION = "no such decision"
BEFORE_THE_SEND = "before the send"
REFUND = "refund"


@dataclass
class Credit:
    """The attributed lines sorted: to learn now (SQLite-logged days), at the day's window
    (Parquet-logged days), and not learnt, as ``(line, kind, reason)``."""

    now: pa.Table
    later: int = 0
    not_learnt: list[tuple[int, str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        return {"not_learnt": len(self.not_learnt),
                "not_learnt_by_reason": dict(Counter(k for _, k, _ in self.not_learnt)),
                "not_learnt_lines": [{"line": ln, "reason": r}
                                     for ln, _, r in sorted(self.not_learnt)[:LISTED]]}


def _as_utc(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t.astimezone(timezone.utc) if t.tzinfo else t).replace(tzinfo=None)


def credit(store: Store, con, attributed: pa.Table) -> Credit:
    """Sort ``attributed`` (``line, user_id, event, value, occurred_at, decision_id``, the
    stored lines that carry a ``decision_id``) by what the agent can learn from them."""
    n = attributed.num_rows
    if not n:
        return Credit(attributed)
    line = attributed.column("line").to_numpy()
    did = np.asarray(attributed.column("decision_id").to_pylist(), object)
    event = np.asarray(attributed.column("event").to_pylist(), object)
    at = attributed.column("occurred_at").to_numpy().astype("datetime64[us]")
    reason = np.full(n, None, object)
    kind = np.full(n, None, object)
    learnt = set(DECISION_EVENTS)
    for i in np.flatnonzero([e not in learnt for e in event]):
        kind[i], reason[i] = NOT_A_DECISION_EVENT, (
            f"{event[i]} is not an event the agent learns from ({', '.join(DECISION_EVENTS)}): "
            "it counts in the lift only")
    value = pc.cast(attributed.column("value"), pa.float64()).to_numpy()
    for i in np.flatnonzero((value < 0) & (reason == None)):  # noqa: E711
        kind[i], reason[i] = REFUND, (
            f"a refund ({event[i]} {value[i]:g}) counts in the lift; the agent learns from "
            "purchases, not refunds")
    batch = pc.struct_field(pc.extract_regex(attributed.column("decision_id"),
                                             r"^(?P<b>\d+)-"), "b").to_pylist()
    parquet_days = {b: live_store.day(store, d) for b in {int(x) for x in batch if x}
                    if (d := live_store.day_of_batch(store, b)) is not None
                    and not live_store.sqlite_logged(store, b)}
    later = np.array([b is not None and int(b) in parquet_days for b in batch], bool)
    since = _send_times(store, con, did[~later], did[later], parquet_days)
    for i in np.flatnonzero(reason == None):  # noqa: E711 (element-wise)
        start = since.get(did[i])
        if start is None:
            kind[i], reason[i] = NO_DECISION, (
                f"no decision '{did[i]}' in the decision log: the event counts in the lift, "
                "the agent is not credited with it")
        elif at[i] < np.datetime64(start, "us"):
            kind[i], reason[i] = BEFORE_THE_SEND, (
                f"occurred_at {str(at[i])[:19]} is before the decision's send "
                f"({start.isoformat(timespec='seconds')}): the event counts in the lift, the "
                "agent is not credited with it (does the platform send before send_at?)")
    good = reason == None  # noqa: E711
    return Credit(attributed.filter(pa.array(good & ~later)), int((good & later).sum()),
                  [(int(line[i]), kind[i], reason[i]) for i in np.flatnonzero(~good)])


def _send_times(store: Store, con, sqlite_ids: np.ndarray, parquet_ids: np.ndarray,
                parquet_days: dict) -> dict[str, datetime]:
    """Each known decision's first possible event time: its send, or its day when not sent."""
    since = {d: _as_utc(t) for d, t in decisions_store.send_times(
        store, set(sqlite_ids.tolist())).items()}
    if len(parquet_ids) and parquet_days:
        logs = sorted({row["log_path"] for row in parquet_days.values()})
        got = columnar.decision_send_times(con, pa.table({"decision_id": pa.array(
            sorted(set(parquet_ids.tolist())), pa.string())}), logs)
        start_of = {str(b): datetime.fromisoformat(row["day"])
                    for b, row in parquet_days.items()}
        for d, sent in zip(got.column("decision_id").to_pylist(),
                           got.column("send_at").to_pylist()):
            since[d] = sent if sent is not None else start_of[d.split("-", 1)[0]]
    return since


def teach(store: Store, rows: pa.Table, source: str, actor: str, clock: datetime
          ) -> IngestReport:
    """Learn ``rows`` (credited lines of SQLite-logged days) through the decision events' own
    path, each with its line in ``source``; times at whole seconds (the learning log's key)."""
    parsed = list(zip(rows.column("line").to_pylist(), rows.column("decision_id").to_pylist(),
                      rows.column("event").to_pylist(),
                      pc.cast(rows.column("value"), pa.float64()).to_pylist(),
                      [t.isoformat(timespec="seconds")
                       for t in rows.column("occurred_at").to_pylist()]))
    agent = load_agent(store)
    check_incremental(agent)
    report = IngestReport(rows=len(parsed))
    # As `workbench ingest`: one learning job at a time, computing with no write lock held.
    with busy.exclusive(store, "learn"):
        agent = current_agent(store, agent)
        learn_lines(store, agent, report, parsed, [], source, actor, clock, as_of=None,
                    pre_reward=None, partial_windows=True)
    return report
