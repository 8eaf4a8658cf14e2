"""Queries of the rewrite studio's blind-judging queue (the SQL lives here, the logic in
``workbench.studio.judging``)."""

from __future__ import annotations

from typing import Any

_QUEUE = """
SELECT r.id, r.segment, r.created_by, COALESCE(u.started_by, '') AS run_started_by
FROM rewrites r
LEFT JOIN rewrite_runs u ON u.id = r.run_id
WHERE r.status != 'dismissed'
  AND r.created_by != :judge
  AND COALESCE(u.started_by, '') != :judge
  AND r.id NOT IN (SELECT rewrite_id FROM judgments WHERE judge = :judge)
  AND (:segment IS NULL OR r.segment = :segment)
ORDER BY r.id
"""

_OWN = """
SELECT COUNT(*) AS n
FROM rewrites r
LEFT JOIN rewrite_runs u ON u.id = r.run_id
WHERE r.status != 'dismissed'
  AND (r.created_by = :judge OR COALESCE(u.started_by, '') = :judge)
  AND (:segment IS NULL OR r.segment = :segment)
"""


def blind_candidates(store: Any, judge: str, segment: str | None = None) -> list[dict[str, Any]]:
    """Rewrites ``judge`` may judge blind: made by someone else (rewrite and run), not dismissed,
    not yet judged (so not yet revealed) by them."""
    return store.query(_QUEUE, {"judge": judge, "segment": segment})


def own_rewrites(store: Any, judge: str, segment: str | None = None) -> int:
    """How many live rewrites ``judge`` made or started, which only colleagues can judge."""
    return int(store.query(_OWN, {"judge": judge, "segment": segment})[0]["n"])
