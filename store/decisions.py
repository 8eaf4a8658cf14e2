"""The decision log: batches of decisions, the outcome events matched against them, and the
quarantine of event lines that could not be stored.

Lookups by many ids are made in chunks of :data:`CHUNK` ids, below SQLite's limit on the
number of parameters of one statement, so an events file of any size can be matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypedDict

from store import Store, now

__all__ = [
    "CHUNK",
    "BatchRow",
    "DecisionRow",
    "EventRow",
    "EventTotal",
    "QuarantineRow",
    "insert_batch",
    "insert_decisions",
    "DECISION_COLUMNS",
    "insert_decision_rows",
    "next_batch_id",
    "batches",
    "latest_batch_id",
    "decisions",
    "known_ids",
    "send_times",
    "learned_ids",
    "due_ids",
    "add_rewards",
    "mark_learned",
    "mark_partly_learned",
    "open_sent",
    "event_delays",
    "event_keys",
    "event_totals",
    "insert_events",
    "insert_quarantine",
    "quarantine",
]

CHUNK = 500


class BatchRow(TypedDict):
    """One batch of decisions: who made it, from what, and how many users it covered."""

    id: int
    created_at: str
    actor: str
    source: str
    seed: int
    start_day: str
    n_users: int
    n_sent: int


class DecisionRow(TypedDict):
    """One user's logged decision. ``id`` is ``"<batch>-<user>"``; ``atoms``, ``ctx`` and ``p``
    are JSON text; the send fields are ``None`` when nothing was sent; ``learned`` is the share
    of the decision's attribution window already learnt (0: not yet; between 0 and 1: learnt
    from a partly elapsed window, see :mod:`workbench.agent.windows`; 1: done) and ``reward``
    what was learnt so far."""

    id: str
    batch_id: int
    user_id: str
    arm: str
    send: int
    channel: str | None
    weekday: int | None
    hour: int | None
    send_at: str | None
    template_id: int | None
    atoms: str
    policy_send: int | None
    ctx: str
    propensity: float | None
    p: str
    guardrails: int
    learned: float
    reward: float


class EventRow(TypedDict):
    """One outcome event, identified by (decision_id, event, occurred_at)."""

    decision_id: str
    event: str
    value: float
    occurred_at: str
    source: str
    line: int
    ingested_at: str


class EventTotal(TypedDict):
    """The summed value ``v`` of one event type for one decision."""

    decision_id: str
    event: str
    v: float


class QuarantineRow(TypedDict):
    """An event line that was not stored, with the reason, by file (``source``) and line."""

    id: int
    source: str
    line: int
    raw: str
    reason: str
    at: str


def _chunks(items: Sequence, n: int = CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _marks(chunk: Sequence) -> str:
    return ",".join("?" * len(chunk))


# -- batches and decisions -------------------------------------------------------------------

def insert_batch(store: Store, *, actor: str, source: str, seed: int, start_day: str,
                 n_users: int, n_sent: int) -> int:
    """Record a new batch (stamped now) and return its id."""
    return int(store.db["decision_batches"].insert({
        "created_at": now(), "actor": actor, "source": source, "seed": seed,
        "start_day": start_day, "n_users": n_users, "n_sent": n_sent}).last_pk)


def insert_decisions(store: Store, rows: list[DecisionRow]) -> None:
    store.db["decisions"].insert_all(rows, batch_size=2000)


#: The columns :func:`insert_decision_rows` takes, in order (``learned`` and ``reward`` start
#: at their defaults).
DECISION_COLUMNS = ("id", "batch_id", "user_id", "arm", "send", "channel", "weekday", "hour",
                    "send_at", "template_id", "atoms", "policy_send", "ctx", "propensity", "p",
                    "guardrails")


#: Page cache while decisions are inserted (KiB; SQLite allocates it as pages are read).
INSERT_CACHE_KIB = 256 * 1024


def insert_decision_rows(store: Store, rows: Iterable[Sequence]) -> None:
    """Insert decisions given as tuples of :data:`DECISION_COLUMNS`, with one prepared
    statement: what :func:`insert_decisions` stores, without sqlite-utils' dict handling per
    row (12 s for 270k decisions, holding the write lock, against 3 s). Call it inside the
    transaction that inserts their batch. The page cache is widened meanwhile (to
    :data:`INSERT_CACHE_KIB`): the indexes of a log of millions of decisions no longer fit
    the default 2 MB, and each page read again is time the write lock is held."""
    cache = store.db.execute("PRAGMA cache_size").fetchone()[0]
    store.db.execute(f"PRAGMA cache_size = {-INSERT_CACHE_KIB}")
    try:
        store.db.conn.executemany(
            f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(DECISION_COLUMNS))})", rows)
    finally:
        store.db.execute(f"PRAGMA cache_size = {int(cache)}")


def next_batch_id(store: Store) -> int:
    """The id the next :func:`insert_batch` will get unless another batch is inserted first
    (SQLite gives an ``INTEGER PRIMARY KEY`` the largest id plus one): for naming a batch's
    decisions before the write lock is taken; the caller checks the id it got."""
    return int(store.query("SELECT coalesce(max(id), 0) + 1 AS n FROM decision_batches"
                           )[0]["n"])


def batches(store: Store) -> list[BatchRow]:
    """Every batch, newest first."""
    return store.query("SELECT * FROM decision_batches ORDER BY id DESC")


def latest_batch_id(store: Store) -> int | None:
    rows = store.query("SELECT id FROM decision_batches ORDER BY id DESC LIMIT 1")
    return rows[0]["id"] if rows else None


def decisions(store: Store, *, ids: Iterable[str] | None = None, batch_id: int | None = None
              ) -> list[DecisionRow]:
    """Logged decisions ordered by id: those with the given ``ids`` (none for an empty list),
    of one batch, or, with neither, all of them."""
    if ids is not None:
        out: list[DecisionRow] = []
        for chunk in _chunks(sorted(set(ids))):
            out += store.query(
                f"SELECT * FROM decisions WHERE id IN ({_marks(chunk)}) ORDER BY id", chunk)
        return out
    if batch_id is not None:
        return store.query(
            "SELECT * FROM decisions WHERE batch_id = ? ORDER BY id", [batch_id])
    return store.query("SELECT * FROM decisions ORDER BY id")


def known_ids(store: Store, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are in the decision log."""
    out: set[str] = set()
    for chunk in _chunks(sorted(set(ids))):
        out |= {r["id"] for r in store.query(
            f"SELECT id FROM decisions WHERE id IN ({_marks(chunk)})", chunk)}
    return out


def send_times(store: Store, ids: Iterable[str]) -> dict[str, str]:
    """Those of ``ids`` that are in the decision log, each with its send time or, when nothing
    was sent (holdout, skipped), its batch's start day: no event of it can be earlier."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        out |= {r["id"]: r["since"] for r in store.query(
            "SELECT d.id, coalesce(d.send_at, b.start_day) AS since FROM decisions d "
            "JOIN decision_batches b ON b.id = d.batch_id "
            f"WHERE d.id IN ({_marks(chunk)})", chunk)}
    return out


def learned_ids(store: Store, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` whose decisions were already learnt from (in part or whole).

    Looked up by primary key: the unary ``+`` keeps SQLite off the ``decisions_open`` index,
    which for ``learned > 0`` walks every learnt decision of the log once per chunk (12 minutes
    for a 447k-line file, holding the write lock)."""
    out: set[str] = set()
    for chunk in _chunks(sorted(set(ids))):
        out |= {r["id"] for r in store.query(
            f"SELECT id FROM decisions WHERE +learned > 0 AND id IN ({_marks(chunk)})", chunk)}
    return out


def due_ids(store: Store, cutoff: str) -> list[str]:
    """Decisions not learnt yet that were sent (or, when not sent, batched) on or before
    ``cutoff`` (an ISO date): their attribution window has closed."""
    return [r["id"] for r in store.query(
        "SELECT d.id FROM decisions d JOIN decision_batches b ON b.id = d.batch_id "
        "WHERE d.learned = 0 AND substr(coalesce(d.send_at, b.start_day), 1, 10) <= ?",
        [cutoff])]


def add_rewards(store: Store, rewards: Iterable[tuple[float, str]]) -> None:
    """Add each ``(reward, decision_id)``'s reward to what the decision has (late events)."""
    store.db.conn.executemany("UPDATE decisions SET reward = reward + ? WHERE id = ?",
                              list(rewards))


class OpenDecision(TypedDict):
    id: str
    send_at: str
    learned: float


def open_sent(store: Store, cutoff: str, until: str) -> list[OpenDecision]:
    """Sent decisions not wholly learnt, sent by ``until`` (ISO time), whose window is open
    (sent after ``cutoff``, an ISO date) or was learnt in part: the candidates of learning
    from partly elapsed windows."""
    return store.query(
        "SELECT id, send_at, learned FROM decisions WHERE learned < 1 AND send_at IS NOT NULL "
        "AND send_at <= ? AND (substr(send_at, 1, 10) > ? OR learned > 0)", [until, cutoff])


def event_delays(store: Store, limit: int = 20_000) -> list[dict[str, float]]:
    """Hours from send to event, with the event and its value, of the latest events of wholly
    learnt decisions: how a window's reward arrives over time."""
    return store.query(
        "SELECT e.event, e.value, (julianday(e.occurred_at) - julianday(d.send_at)) * 24 AS "
        "hours FROM outcome_events e JOIN decisions d ON d.id = e.decision_id WHERE "
        "d.learned = 1 AND d.send_at IS NOT NULL ORDER BY e.ingested_at DESC LIMIT ?", [limit])


def mark_partly_learned(store: Store, rows: Iterable[tuple[float, float, str]],
                        grown: Iterable[tuple[float, str]] = ()) -> None:
    """Set each first-learnt ``(share learnt, reward, decision_id)``, and the new share of
    each ``grown`` ``(share learnt, decision_id)`` (its reward grows by late events)."""
    store.db.conn.executemany("UPDATE decisions SET learned = ?, reward = ? WHERE id = ?",
                              list(rows))
    store.db.conn.executemany("UPDATE decisions SET learned = ? WHERE id = ?", list(grown))


def mark_learned(store: Store, rewards: Iterable[tuple[float, str]]) -> None:
    """Mark each ``(reward, decision_id)`` learnt, with that reward."""
    store.db.conn.executemany("UPDATE decisions SET learned = 1, reward = ? WHERE id = ?",
                              list(rewards))


# -- outcome events and quarantine -----------------------------------------------------------

def event_keys(store: Store, decision_ids: Iterable[str]) -> set[tuple[str, str, str]]:
    """The (decision_id, event, occurred_at) of every stored event of these decisions."""
    out: set[tuple[str, str, str]] = set()
    for chunk in _chunks(sorted(set(decision_ids))):
        out |= {(r["decision_id"], r["event"], r["occurred_at"]) for r in store.query(
            "SELECT decision_id, event, occurred_at FROM outcome_events "
            f"WHERE decision_id IN ({_marks(chunk)})", chunk)}
    return out


def event_totals(store: Store, decision_ids: Iterable[str]) -> list[EventTotal]:
    """Per decision and event type, the summed value of the stored events."""
    out: list[EventTotal] = []
    for chunk in _chunks(sorted(set(decision_ids))):
        out += store.query(
            "SELECT decision_id, event, SUM(value) AS v FROM outcome_events WHERE "
            f"decision_id IN ({_marks(chunk)}) GROUP BY decision_id, event", chunk)
    return out


def insert_events(store: Store, rows: list[EventRow]) -> None:
    store.db["outcome_events"].insert_all(rows, batch_size=5000)


def insert_quarantine(store: Store, source: str, bad: Iterable[tuple[int, str, str]]) -> None:
    """Keep each ``(line, raw, reason)`` of ``source`` (a line already kept is not repeated)."""
    store.db["quarantine"].insert_all(
        [{"source": source, "line": line, "raw": raw, "reason": reason, "at": now()}
         for line, raw, reason in bad], ignore=True)


def quarantine(store: Store, limit: int = 500) -> list[QuarantineRow]:
    """The latest quarantined lines, newest first."""
    return store.query(
        "SELECT * FROM quarantine ORDER BY id DESC LIMIT ?", [limit])
