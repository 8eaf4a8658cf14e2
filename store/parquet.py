"""The store for columnar logs: every DuckDB statement over the live programme's Parquet files.

The live programme's bulk data (roster, decision log, user-level events; millions of rows a
day) is Parquet beside the SQLite file, partitioned by day, and aggregated here with DuckDB
(embedded, no server). Like the rest of ``store/``, this module only reads and computes: what
the rows mean and how they are validated lives in :mod:`workbench.live`, which calls these
functions with Arrow tables and file globs and gets Arrow tables back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

__all__ = ["EVENT_CHECK", "connect", "daily_arm_totals", "daily_sends", "decision_outcomes",
           "decision_send_times", "new_or_attributed", "user_phase_totals",
           "user_window_totals", "validate_events", "weekly_arm_moments"]

#: DuckDB's working memory: the benchmarks' 4 GB budget leaves room for Python and Arrow.
MEMORY_LIMIT = "1500MB"

#: Validation of raw event lines (all text) registered as ``src`` with a ``line`` column, the
#: programme's users as ``roster(user_id)``. ``reason`` is NULL for a good line. Timestamps with
#: an offset are converted to UTC; those without one are taken as UTC. A decision id is
#: ``<batch>-<user>``: a line crediting another user's decision is refused (the agent would
#: learn one user's events as another's).
EVENT_CHECK = """
WITH typed AS (
    SELECT line, coalesce(occurred_at, '') AS occurred_text,
           trim(coalesce(user_id, '')) AS user_id,
           lower(trim(coalesce(event, ''))) AS event,
           trim(coalesce(value, '')) AS value_text,
           TRY_CAST(coalesce(nullif(trim(coalesce(value, '')), ''), '1') AS DOUBLE) AS value,
           timezone('UTC', TRY_CAST(trim(coalesce(occurred_at, '')) AS TIMESTAMPTZ)) AS ts,
           nullif(trim(coalesce(decision_id, '')), '') AS decision_id
    FROM src
)
SELECT t.*, CASE
    WHEN t.user_id = '' THEN 'user_id is empty'
    WHEN NOT list_contains($events, t.event)
        THEN 'event ''' || t.event || ''' is not one of ' || array_to_string($events, ', ')
    WHEN t.value_text = '' AND NOT list_contains($binary, t.event)
        THEN t.event || $needs_amount
    WHEN t.value IS NULL OR isnan(t.value) OR isinf(t.value)
        THEN 'value ''' || t.value_text || ''' is not a number'
    WHEN t.value < 0 AND t.event <> 'gmv'
        THEN 'value ''' || t.value_text || ''' is negative (only gmv refunds may be)'
    WHEN list_contains($binary, t.event) AND t.value NOT IN (0, 1)
        THEN 'value ''' || t.value_text || ''' of ' || t.event || ' is not 0 or 1'
    WHEN abs(t.value) > coalesce(list_extract($max_values, list_position($max_events, t.event)),
                                 'infinity'::DOUBLE)
        THEN 'value ''' || t.value_text || ''' of ' || t.event
            || CASE WHEN t.value < 0 THEN ' is a refund beyond the plausible maximum '
                    ELSE ' is over the plausible maximum ' END
            || list_extract($max_values, list_position($max_events, t.event))
    WHEN t.ts IS NULL THEN 'occurred_at is not an ISO date/time'
    WHEN t.ts > $clock THEN 'occurred_at ' || strftime(t.ts, '%Y-%m-%dT%H:%M:%S')
        || ' is in the future'
    WHEN r.user_id IS NULL THEN 'user ''' || t.user_id || ''' is not in the roster'
    WHEN regexp_matches(t.decision_id, '^[0-9]+-')
         AND regexp_replace(t.decision_id, '^[0-9]+-', '') <> t.user_id
        THEN 'decision ' || t.decision_id || ' is user '
            || regexp_replace(t.decision_id, '^[0-9]+-', '') || '''s, not ' || t.user_id || '''s'
    ELSE NULL END AS reason
FROM typed t LEFT JOIN (SELECT DISTINCT user_id FROM roster) r ON r.user_id = t.user_id
"""

#: The good lines of ``checked``, one per (user, event, time) (the first line's value; the
#: first ``decision_id`` any of its lines gives, with that line's number), against the events
#: already stored (``{stored}``: user_id, event, occurred_at, decision_id): ``attribution`` is
#: false for a new event and true for a stored event without a ``decision_id`` that this file
#: attributes; an event stored with one is left out (a duplicate). Times compare at whole
#: seconds (the learning log's key).
NEW_OR_ATTRIBUTED = """
WITH stored AS (
    SELECT user_id, event, date_trunc('second', occurred_at) AS ts,
           bool_or(decision_id IS NOT NULL) AS attributed
    FROM ({stored}) GROUP BY ALL
),
first AS (
    SELECT user_id, event, ts, arg_min(value, line) AS value, min(line) AS first_line,
           arg_min(decision_id, line) FILTER (WHERE decision_id IS NOT NULL) AS decision_id,
           min(line) FILTER (WHERE decision_id IS NOT NULL) AS attributed_line
    FROM checked WHERE reason IS NULL GROUP BY user_id, event, ts
)
SELECT c.user_id, c.event, c.value, c.ts AS occurred_at, c.decision_id,
       strftime(c.ts, '%Y-%m-%d') AS day, coalesce(c.attributed_line, c.first_line) AS line,
       s.user_id IS NOT NULL AS attribution
FROM first c LEFT JOIN stored s ON s.user_id = c.user_id AND s.event = c.event AND s.ts = c.ts
WHERE s.user_id IS NULL OR (NOT s.attributed AND c.decision_id IS NOT NULL)
ORDER BY line
"""
STORED_FILES = ("SELECT user_id, event, occurred_at, decision_id "
                "FROM read_parquet($files, union_by_name = true)")
STORED_NONE = ("SELECT '' AS user_id, '' AS event, TIMESTAMP '1970-01-01' AS occurred_at, "
               "'' AS decision_id WHERE false")

#: The send time of each decision of ``wanted(decision_id)`` found in the decision logs
#: ``$logs`` (NULL when it was not sent); a decision in no log is not returned.
DECISION_SEND_TIMES = """
SELECT l.decision_id, CAST(l.send_at AS TIMESTAMP) AS send_at
FROM read_parquet($logs, union_by_name = true) l
WHERE l.decision_id IN (SELECT decision_id FROM wanted)
"""

#: Per user, phase and event: binary events count the days they happened, gmv sums its value,
#: as the simulated trial's ``phase_metrics`` do. ``idx`` is the user's row in the roster file
#: (read here, so the roster's ids never become Python objects).
USER_PHASE_TOTALS = """
WITH daily AS (
    SELECT user_id, CAST(day AS VARCHAR) AS day, event,
           CASE WHEN event = 'gmv' THEN sum(value) ELSE max(value) END AS v
    FROM read_parquet($events, hive_partitioning = true, union_by_name = true)
    GROUP BY user_id, day, event
), roster AS (
    SELECT file_row_number AS idx, user_id
    FROM read_parquet($roster, file_row_number = true)
)
SELECT r.idx, p.phase, d.event, sum(d.v) AS v
FROM daily d JOIN phases p ON p.day = d.day JOIN roster r ON r.user_id = d.user_id
GROUP BY r.idx, p.phase, d.event
"""


#: :data:`USER_PHASE_TOTALS` from each user's own start: the programme's first day ``$first``
#: or the user's ``joined_on`` in the roster file, whichever is later. A user's days before
#: their start are phase ``'pre'`` (pre-treatment: nothing was decided for them yet); days
#: after it count in the phase ``phases`` gives them (days outside ``phases`` do not count).
USER_WINDOW_TOTALS = """
WITH daily AS (
    SELECT user_id, CAST(day AS VARCHAR) AS day, event,
           CASE WHEN event = 'gmv' THEN sum(value) ELSE max(value) END AS v
    FROM read_parquet($events, hive_partitioning = true, union_by_name = true)
    GROUP BY user_id, day, event
), roster AS (
    SELECT file_row_number AS idx, user_id,
           greatest(CAST($first AS VARCHAR), coalesce(CAST(joined_on AS VARCHAR), $first))
           AS start
    FROM read_parquet($roster, file_row_number = true)
)
SELECT r.idx, CASE WHEN d.day < r.start THEN 'pre' ELSE p.phase END AS phase, d.event,
       sum(d.v) AS v
FROM daily d JOIN roster r ON r.user_id = d.user_id LEFT JOIN phases p ON p.day = d.day
WHERE d.day < r.start OR p.phase IS NOT NULL
GROUP BY ALL
"""

#: Per row of a day's decision log (its row number in the file): the total of each decision
#: event attributed to it in the given events files, counting only events at or after its send
#: (a decision not sent: at or after its batch's start day), as the decision events' own path
#: does. A refund (a negative value) is not learnt (an agent's outcomes are not negative).
DECISION_OUTCOMES = """
SELECT l.file_row_number AS row, e.event, sum(e.value) AS v
FROM read_parquet($log, file_row_number = true) l
JOIN read_parquet($events, union_by_name = true) e ON e.decision_id = l.decision_id
WHERE list_contains($names, e.event) AND e.value >= 0
  AND e.occurred_at >= coalesce(CAST(l.send_at AS TIMESTAMP), CAST($start AS TIMESTAMP))
GROUP BY 1, 2
"""


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that computes in UTC within the memory budget."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    return con


def validate_events(con: duckdb.DuckDBPyConnection, src: pa.Table, roster: pa.Table, *,
                    events: Sequence[str], binary: Sequence[str], clock: str,
                    maxima: Mapping[str, float] | None = None,
                    needs_amount: str = " needs a value") -> pa.Table:
    """Each line of ``src`` typed, with the ``reason`` it is rejected (NULL when good);
    ``maxima`` bounds the size of an event's value (a refund's too); an amount event (not
    ``binary``) with no value is rejected with the event's name and ``needs_amount``."""
    con.register("src", src)
    con.register("roster", roster)
    maxima = dict(maxima or {})
    try:
        return con.sql(EVENT_CHECK, params={
            "events": list(events), "binary": list(binary), "clock": clock,
            "needs_amount": needs_amount,
            "max_events": list(maxima) or [""], "max_values": list(maxima.values()) or [math.inf],
        }).to_arrow_table()
    finally:
        con.unregister("src")
        con.unregister("roster")


def new_or_attributed(con: duckdb.DuckDBPyConnection, checked: pa.Table,
                      stored_files: list[str]) -> pa.Table:
    """The good lines of ``checked`` that are new events or attribute a stored event that had
    no ``decision_id`` (``attribution``), with the line each comes from (see
    :data:`NEW_OR_ATTRIBUTED`)."""
    con.register("checked", checked)
    try:
        if stored_files:
            return con.sql(NEW_OR_ATTRIBUTED.format(stored=STORED_FILES),
                           params={"files": stored_files}).to_arrow_table()
        return con.sql(NEW_OR_ATTRIBUTED.format(stored=STORED_NONE)).to_arrow_table()
    finally:
        con.unregister("checked")


def decision_send_times(con: duckdb.DuckDBPyConnection, decision_ids: pa.Table,
                        log_files: list[str]) -> pa.Table:
    """``(decision_id, send_at)`` of the ``decision_ids`` (a table with that column) found in
    the decision logs ``log_files``; ``send_at`` is NULL for a decision not sent."""
    if not log_files:
        return pa.table({"decision_id": pa.array([], pa.string()),
                         "send_at": pa.array([], pa.timestamp("us"))})
    con.register("wanted", decision_ids)
    try:
        return con.sql(DECISION_SEND_TIMES, params={"logs": log_files}).to_arrow_table()
    finally:
        con.unregister("wanted")

def user_phase_totals(con: duckdb.DuckDBPyConnection, events_glob: str, roster_file: str,
                      phases: pa.Table) -> pa.Table:
    """``(idx, phase, event, v)``: each roster user's total of each event in each phase;
    ``idx`` is the user's row in ``roster_file`` (Parquet with ``user_id``), ``phases`` has
    ``(day, phase)`` with ISO day text."""
    con.register("phases", phases)
    try:
        return con.sql(USER_PHASE_TOTALS, params={"events": events_glob,
                                                  "roster": roster_file}).to_arrow_table()
    finally:
        con.unregister("phases")


def user_window_totals(con: duckdb.DuckDBPyConnection, events_glob: str, roster_file: str,
                       phases: pa.Table, first: str) -> pa.Table:
    """``(idx, phase, event, v)`` as :func:`user_phase_totals`, each user counted from the
    ISO day ``first`` or their ``joined_on`` (whichever is later); their earlier days are
    phase ``'pre'`` (see :data:`USER_WINDOW_TOTALS`)."""
    con.register("phases", phases)
    try:
        return con.sql(USER_WINDOW_TOTALS, params={
            "events": events_glob, "roster": roster_file, "first": first}).to_arrow_table()
    finally:
        con.unregister("phases")


# -- the pages' read side: weekly and daily aggregates per arm --------------------------------

#: A user's value of an event on a day: binary events count once per day, gmv sums.
_USER_DAYS = """
    SELECT user_id, CAST(CAST(day AS VARCHAR) AS DATE) AS day, event,
           CASE WHEN event = 'gmv' THEN sum(value) ELSE max(value) END AS v
    FROM read_parquet($events, hive_partitioning = true, union_by_name = true)
    GROUP BY user_id, day, event
"""

#: Per week (counted from ``$first``), arm and event: the sum and sum of squares over users of
#: each user's weekly total; users without the event add zero to both (their count is the arm's).
WEEKLY_ARM_MOMENTS = f"""
WITH daily AS ({_USER_DAYS}),
weekly AS (
    SELECT user_id, CAST(floor(date_diff('day', CAST($first AS DATE), day) / 7) AS INTEGER)
           AS week, event, sum(v) AS v
    FROM daily GROUP BY ALL
)
SELECT w.week, r.arm, w.event AS metric, sum(w.v) AS sum, sum(w.v * w.v) AS sumsq
FROM weekly w JOIN roster r ON r.user_id = w.user_id
GROUP BY ALL ORDER BY ALL
"""

#: Per day, arm and event: the users with the event that day (gmv: its sum).
DAILY_ARM_TOTALS = f"""
WITH daily AS ({_USER_DAYS})
SELECT strftime(d.day, '%Y-%m-%d') AS day, r.arm, d.event AS metric, sum(d.v) AS total
FROM daily d JOIN roster r ON r.user_id = d.user_id
GROUP BY ALL ORDER BY ALL
"""

#: Per day and arm: the decisions logged and the messages sent.
DAILY_SENDS = """
SELECT CAST(day AS VARCHAR) AS day, CAST(arm AS VARCHAR) AS arm, count(*) AS decided,
       count(*) FILTER (WHERE send) AS sends
FROM read_parquet($decisions, hive_partitioning = true, union_by_name = true)
GROUP BY ALL ORDER BY ALL
"""


def weekly_arm_moments(con: duckdb.DuckDBPyConnection, events_glob: str, roster: pa.Table,
                       first: str) -> pa.Table:
    """``(week, arm, metric, sum, sumsq)`` of the events under ``events_glob``; ``roster`` has
    ``(user_id, arm)``; weeks count from the ISO day ``first``."""
    con.register("roster", roster)
    try:
        return con.sql(WEEKLY_ARM_MOMENTS, params={"events": events_glob, "first": first}
                       ).to_arrow_table()
    finally:
        con.unregister("roster")


def daily_arm_totals(con: duckdb.DuckDBPyConnection, events_glob: str, roster: pa.Table
                     ) -> pa.Table:
    """``(day, arm, metric, total)``: users with each event per day and arm (gmv summed)."""
    con.register("roster", roster)
    try:
        return con.sql(DAILY_ARM_TOTALS, params={"events": events_glob}).to_arrow_table()
    finally:
        con.unregister("roster")


def daily_sends(con: duckdb.DuckDBPyConnection, decisions_glob: str) -> pa.Table:
    """``(day, arm, decided, sends)`` of the decision log under ``decisions_glob``."""
    return con.sql(DAILY_SENDS, params={"decisions": decisions_glob}).to_arrow_table()


def decision_outcomes(con: duckdb.DuckDBPyConnection, log_file: str, event_files: list[str],
                      events: Sequence[str], start: str) -> pa.Table:
    """``(row, event, v)``: per row of the decision log ``log_file``, the sum of each of
    ``events`` attributed to it in ``event_files``; ``start`` is the batch's first day."""
    if not event_files:
        return pa.table({"row": pa.array([], pa.int64()), "event": pa.array([], pa.string()),
                         "v": pa.array([], pa.float64())})
    return con.sql(DECISION_OUTCOMES, params={
        "log": log_file, "events": event_files, "names": list(events), "start": start}
    ).to_arrow_table()
