"""The rewrite studio's rows: runs over a segment, the rewrites they propose, and marketers'
blind judgments of them.

A rewrite's structured columns (``diagnosis``, ``exemplars``, ``original``, ``rewrite``,
``rejected``, ``evaluation``) are JSON text here; the studio encodes and decodes them.
"""

from __future__ import annotations

from typing import Any, TypedDict

from store import Store, now

__all__ = [
    "RunRow",
    "RewriteRow",
    "JudgmentRow",
    "start_run",
    "update_run",
    "runs",
    "insert_rewrite",
    "rewrite",
    "rewrites",
    "decide",
    "insert_judgment",
    "judgments",
    "judgments_with_rewrites",
]


class RunRow(TypedDict):
    """One "rewrite the weak messages of a segment" run and its progress (``done`` of
    ``total``); ``status`` is running, done or failed (with ``message``)."""

    id: int
    segment: str
    engine: str
    config: str
    status: str
    total: int
    done: int
    message: str
    started_by: str
    created_at: str
    updated_at: str


class RewriteRow(TypedDict):
    """One proposed rewrite of a template; ``status`` is proposed, accepted or dismissed."""

    id: int
    run_id: int | None
    template_id: int
    segment: str
    engine: str
    path: str
    error_type: str
    diagnosis: str
    exemplars: str
    original: str
    rewrite: str
    attempts: int
    rejected: str
    evaluation: str
    chrf: float | None
    cosine: float | None
    status: str
    accepted_template_id: int | None
    created_at: str
    created_by: str
    decided_at: str | None
    decided_by: str | None


class JudgmentRow(TypedDict):
    """One blind choice between a rewrite and its original shown as A and B."""

    id: int
    rewrite_id: int
    judge: str
    rewrite_position: str
    choice: str
    preferred: str
    at: str


# -- runs ------------------------------------------------------------------------------------

def start_run(store: Store, *, segment: str, engine: str, config: str, total: int,
              actor: str) -> int:
    """Record a running run of ``total`` rewrites and return its id."""
    at = now()
    return int(store.db["rewrite_runs"].insert({
        "segment": segment, "engine": engine, "config": config, "status": "running",
        "total": total, "done": 0, "started_by": actor, "created_at": at,
        "updated_at": at}).last_pk)


def update_run(store: Store, run_id: int, **changes: Any) -> None:
    """Change a run's progress or status (``done=``, ``status=``, ``message=``), stamped now."""
    store.db["rewrite_runs"].update(run_id, {**changes, "updated_at": now()})


def runs(store: Store, segment: str | None = None) -> list[RunRow]:
    """Runs (of one segment when given), newest first."""
    if segment:
        return store.query(
            "SELECT * FROM rewrite_runs WHERE segment = ? ORDER BY id DESC", [segment])
    return store.query("SELECT * FROM rewrite_runs ORDER BY id DESC")


# -- rewrites --------------------------------------------------------------------------------

def insert_rewrite(store: Store, row: dict[str, Any]) -> int:
    """Store a proposed rewrite (a :class:`RewriteRow` without ``id``) and return its id."""
    return int(store.db["rewrites"].insert(row).last_pk)


def rewrite(store: Store, rewrite_id: int) -> RewriteRow | None:
    rows = store.query("SELECT * FROM rewrites WHERE id = ?", [rewrite_id])
    return rows[0] if rows else None


def rewrites(store: Store, segment: str | None = None, status: str | None = None
             ) -> list[RewriteRow]:
    """Rewrites, oldest first, of one segment and/or with one status when given."""
    return store.select_where("rewrites", [("segment = ?", segment or None),
                                           ("status = ?", status or None)])


def decide(store: Store, rewrite_id: int, status: str, actor: str, **fields: Any) -> None:
    """Set a rewrite's decision (``accepted`` or ``dismissed``) with who decided and when;
    ``fields`` adds e.g. ``accepted_template_id``."""
    store.db["rewrites"].update(
        rewrite_id, {"status": status, "decided_at": now(), "decided_by": actor, **fields})


# -- judgments -------------------------------------------------------------------------------

def insert_judgment(store: Store, row: dict[str, Any]) -> int:
    """Store one judgment (a :class:`JudgmentRow` without ``id``) and return its id."""
    return int(store.db["judgments"].insert(row).last_pk)


def judgments(store: Store, rewrite_id: int | None = None) -> list[JudgmentRow]:
    """Judgments (of one rewrite when given), oldest first."""
    if rewrite_id is None:
        return store.query("SELECT * FROM judgments ORDER BY id")
    return store.query(
        "SELECT * FROM judgments WHERE rewrite_id = ? ORDER BY id", [rewrite_id])


def judgments_with_rewrites(store: Store) -> list[dict[str, Any]]:
    """Every judgment (a :class:`JudgmentRow`) with its rewrite's ``segment`` and
    ``evaluation`` (JSON text), oldest first."""
    return store.query("SELECT j.*, r.segment, r.evaluation FROM judgments j "
                       "JOIN rewrites r ON r.id = j.rewrite_id ORDER BY j.id")
