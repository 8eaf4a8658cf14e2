"""Many components written in one go: a 5,000-row library import in well under a second.

:meth:`Store.insert_component` and :meth:`Store.update_component` go through sqlite-utils,
which inspects the table on every call (about a millisecond a row); an import writes thousands
of rows while other processes wait for the write lock, so it uses plain prepared statements
here instead. The stored rows and revisions are the same as the one-row methods write: both
build revisions with :func:`component_revision_row`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store import Store

__all__ = ["component_revision_row", "insert_components", "update_components"]

_REVISION_COLUMNS = ("component_id", "version", "action", "old_text", "new_text", "old_fields",
                     "new_fields", "actor", "at")


def component_revision_row(cid: int, version: int, action: str, old: Mapping[str, Any] | None,
                           new: Mapping[str, Any], actor: str, at: str) -> dict[str, Any]:
    """The ``component_revisions`` row that records ``old`` becoming ``new``."""
    from store import COMPONENT_FIELDS

    keep = (*COMPONENT_FIELDS, "status")
    return {
        "component_id": cid, "version": version, "action": action,
        "old_text": None if old is None else old["text"], "new_text": new["text"],
        "old_fields": None if old is None else json.dumps({k: old.get(k) for k in keep},
                                                          ensure_ascii=False),
        "new_fields": json.dumps({k: new.get(k) for k in keep}, ensure_ascii=False),
        "actor": actor, "at": at,
    }


def _insert_revisions(store: Store, revisions: list[dict[str, Any]]) -> None:
    store.db.conn.executemany(
        f"INSERT INTO component_revisions ({', '.join(_REVISION_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_REVISION_COLUMNS))})",
        [[r[c] for c in _REVISION_COLUMNS] for r in revisions])


def insert_components(store: Store, rows: Sequence[Mapping[str, Any]], actor: str, *,
                      action: str = "create", source: str = "marketer") -> list[int]:
    """Add normalized component rows with their first revision; returns their ids in order."""
    from store import COMPONENT_FIELDS, now

    at = now()
    columns = (*COMPONENT_FIELDS, "status", "source", "version", "created_at", "created_by",
               "updated_at", "updated_by")
    sql = (f"INSERT INTO components ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    ids, revisions = [], []
    with store.transaction():
        for fields in rows:
            row = {f: "" if fields.get(f) is None else fields.get(f) for f in COMPONENT_FIELDS}
            row["segment"] = fields.get("segment") or None
            row.update(status=fields.get("status") or "active", source=source, version=1,
                       created_at=at, created_by=actor, updated_at=at, updated_by=actor)
            cid = int(store.db.conn.execute(sql, [row[c] for c in columns]).lastrowid)
            ids.append(cid)
            revisions.append(component_revision_row(cid, 1, action, None, row, actor, at))
        _insert_revisions(store, revisions)
    return ids


def update_components(store: Store,
                      updates: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], str]],
                      actor: str) -> None:
    """Apply ``(current row, changes, action)`` per component, each a new version with its
    revision. ``current`` must have been read in the same write transaction (its ``version``
    is the one replaced)."""
    from store import COMPONENT_FIELDS, now

    at = now()
    allowed = {*COMPONENT_FIELDS, "status"}
    revisions = []
    with store.transaction():
        for old, changes, action in updates:
            if unknown := set(changes) - allowed:
                raise ValueError(f"cannot update {sorted(unknown)} of a component")
            version = old["version"] + 1
            values = dict(changes, version=version, updated_at=at, updated_by=actor)
            store.db.conn.execute(
                f"UPDATE components SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                [*values.values(), old["id"]])
            revisions.append(component_revision_row(old["id"], version, action, old,
                                                    dict(old, **changes), actor, at))
        _insert_revisions(store, revisions)


def plain_insert_seconds(path: Path, rows: Sequence[Sequence[Any]]) -> float:
    """The peer of the import benchmark: seconds to insert ``rows`` (kind, text, segment,
    offer_type, tone, tags) into a new bare table of a new file with one ``executemany``: no
    checks, no history, no indexes."""
    import sqlite3
    import time

    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE c (kind, text, segment, offer_type, tone, tags)")
        t0 = time.perf_counter()
        with conn:
            conn.executemany("INSERT INTO c VALUES (?, ?, ?, ?, ?, ?)", rows)
        return time.perf_counter() - t0
    finally:
        conn.close()
