"""The live programme's earlier sends near a day's candidates, for its frequency cap.

A programme day decides sends up to 6 days ahead, and the next day's run decides again: the
7-day cap has to count the sends the programme already decided (sent or still pending), which
are in the Parquet decision logs of the days around it (see :mod:`workbench.live.pacing`). This
module holds the one DuckDB statement that finds them; like :mod:`store.parquet` it only reads
and computes, on a connection from :func:`store.parquet.connect`.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

__all__ = ["NEAR_SENDS", "near_sends"]

#: For each candidate send ``cand(i, user_id, t)`` (``t`` in minutes since 1970-01-01 UTC), every
#: earlier decided send of the same user less than ``$window`` minutes from it, either side,
#: as ``(i, e)`` (``e`` in the same minutes). ``$lo`` and ``$hi`` bound the logs' ``send_at``
#: (UTC) so that DuckDB reads only the rows that can matter.
NEAR_SENDS = """
SELECT c.i, p.e
FROM cand c JOIN (
    SELECT user_id, epoch_ms(CAST(send_at AS TIMESTAMP)) // 60000 AS e
    FROM read_parquet($logs, union_by_name = true)
    WHERE send AND send_at IS NOT NULL
      AND CAST(send_at AS TIMESTAMP) > CAST($lo AS TIMESTAMP)
      AND CAST(send_at AS TIMESTAMP) < CAST($hi AS TIMESTAMP)
) p ON p.user_id = c.user_id
WHERE p.e > c.t - $window AND p.e < c.t + $window
"""


def near_sends(con: duckdb.DuckDBPyConnection, logs: list[str], candidates: pa.Table, *,
               lo: str, hi: str, window: int) -> pa.Table:
    """``(i, e)``: the sends of the decision logs ``logs`` within ``window`` minutes of each
    candidate of ``candidates`` (``i`` int, ``user_id`` text, ``t`` minutes since the epoch,
    UTC); ``lo`` and ``hi`` (``YYYY-MM-DD HH:MM:SS``, UTC) bound the sends read."""
    if not logs or not candidates.num_rows:
        return pa.table({"i": pa.array([], pa.int64()), "e": pa.array([], pa.int64())})
    con.register("cand", candidates)
    try:
        return con.sql(NEAR_SENDS, params={"logs": logs, "lo": lo, "hi": hi,
                                           "window": int(window)}).to_arrow_table()
    finally:
        con.unregister("cand")
