"""The library's tables as methods of :class:`store.Store`: reference data (kinds, channels,
segments, use cases), components and templates with their revisions, performance rows and the
management mode. A mixin, so that ``store.components(...)`` reads as before while the
connection and transaction code stays in :mod:`store` itself."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from store import COMPONENT_FIELDS, TEMPLATE_FIELDS, NotFoundError, StoreError, now

if TYPE_CHECKING:
    import sqlite_utils


class LibraryQueries:
    """Reads and writes of the library; every method runs on the store's connection."""

    db: sqlite_utils.Database

    # -- reference data --------------------------------------------------------------------

    def kinds(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM kinds ORDER BY position, id")

    def channels(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM channels ORDER BY rowid")

    def channel(self, channel_id: str) -> dict[str, Any]:
        rows = self.query("SELECT * FROM channels WHERE id = ?", [channel_id])
        if not rows:
            raise NotFoundError(f"no channel {channel_id!r}")
        return rows[0]

    def segments(self, include_archived: bool = False) -> list[dict[str, Any]]:
        where = "" if include_archived else "WHERE status = 'active'"
        return self.query(f"SELECT * FROM segments {where} ORDER BY position, id")

    def use_cases(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM use_cases WHERE status = 'active' ORDER BY created_at, id")
        for row in rows:
            row["verticals"] = json.loads(row["verticals"])
        return rows

    def use_case_ids(self) -> set[str]:
        """Ids of every use case, archived ones included."""
        return {r["id"] for r in self.query("SELECT id FROM use_cases")}

    def has_reference_data(self) -> bool:
        """Whether the library was seeded (it has at least one kind of atom)."""
        return bool(self.query("SELECT 1 FROM kinds LIMIT 1"))

    def upsert_reference(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert or update rows of a reference table (kinds, channels, segments, use cases)."""
        if table not in {"kinds", "channels", "segments", "use_cases"}:
            raise StoreError(f"{table} is not a reference table")
        if rows:
            self.db[table].upsert_all(rows, pk="id")

    # -- components ------------------------------------------------------------------------

    def components(self, *, kind: str | Iterable[str] | None = None, segment: str | None = None,
                   status: str | None = None, search: str | None = None,
                   for_segment: str | None = None) -> list[dict[str, Any]]:
        """Components filtered by exact ``segment`` ("" for all-segment atoms), or usable for
        ``for_segment`` (its own atoms plus those scoped to every segment)."""
        where, params = [], []
        if kind:
            kinds = [kind] if isinstance(kind, str) else list(kind)
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        if segment is not None:
            if segment == "":
                where.append("segment IS NULL")
            else:
                where.append("segment = ?")
                params.append(segment)
        if for_segment is not None:
            where.append("(segment IS NULL OR segment = ?)")
            params.append(for_segment)
        if status:
            where.append("status = ?")
            params.append(status)
        if search:
            where.append("(text LIKE ? OR tags LIKE ?)")
            params += [f"%{search}%", f"%{search}%"]
        sql = "SELECT c.* FROM components c JOIN kinds k ON k.id = c.kind"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.query(sql + " ORDER BY k.position, c.id", params)

    def atoms_by_kind(self) -> list[dict[str, Any]]:
        """``{"kind": name, "atoms": active components}`` for every kind, in kind order."""
        return self.query(
            "SELECT k.name AS kind, COUNT(c.id) AS atoms FROM kinds k "
            "LEFT JOIN components c ON c.kind = k.id AND c.status = 'active' "
            "GROUP BY k.id ORDER BY k.position")

    def archived_atoms(self) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM components WHERE status = 'archived'")
                   [0]["n"])

    def component(self, component_id: int) -> dict[str, Any]:
        rows = self.query("SELECT * FROM components WHERE id = ?", [component_id])
        if not rows:
            raise NotFoundError(f"no component #{component_id}")
        return rows[0]

    def insert_component(self, fields: dict[str, Any], actor: str, *, action: str = "create",
                         source: str = "marketer", seed_key: str | None = None) -> int:
        at = now()
        row = {f: "" if fields.get(f) is None else fields.get(f) for f in COMPONENT_FIELDS}
        row["segment"] = fields.get("segment") or None
        row.update(status=fields.get("status") or "active", source=source, seed_key=seed_key,
                   version=1, created_at=at, created_by=actor, updated_at=at, updated_by=actor)
        with self.transaction():
            cid = self.db["components"].insert(row).last_pk
            self._component_revision(cid, 1, action, None, row, actor, at)
        return int(cid)

    def update_component(self, component_id: int, changes: dict[str, Any], actor: str, *,
                         action: str = "edit") -> dict[str, Any]:
        """Apply ``changes`` and keep the replaced values as a revision; returns the new row."""
        with self.transaction():
            old = self.component(component_id)
            at = now()
            version = old["version"] + 1
            update = dict(changes, version=version, updated_at=at, updated_by=actor)
            self.db["components"].update(component_id, update)
            self._component_revision(component_id, version, action, old, dict(old, **changes),
                                     actor, at)
            return self.component(component_id)

    def _component_revision(self, cid: int, version: int, action: str, old: dict | None,
                            new: dict, actor: str, at: str) -> None:
        from store.bulk import component_revision_row

        self.db["component_revisions"].insert(
            component_revision_row(cid, version, action, old, new, actor, at))

    def component_revisions(self, component_id: int) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM component_revisions WHERE component_id = ? ORDER BY version DESC, id DESC",
            [component_id],
        )

    def seed_keys(self, table: str) -> set[str]:
        if table not in {"components", "templates"}:
            raise StoreError(f"{table} has no seed keys")
        return {r["seed_key"] for r in self.query(
            f"SELECT seed_key FROM {table} WHERE seed_key IS NOT NULL")}

    def select_where(self, table: str, clauses: Iterable[tuple[str, Any]],
                     order: str = "id") -> list[dict[str, Any]]:
        """Rows of ``table`` matching the ``(condition, value)`` clauses, ordered by ``order``:
        the one home of optional filters. A condition with a ``?`` applies only when its value
        is not ``None``; one without (e.g. ``segment IS NULL``) always applies."""
        where, params = [], []
        for cond, value in clauses:
            if "?" not in cond:
                where.append(cond)
            elif value is not None:
                where.append(cond)
                params.append(value)
        sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        return self.query(f"{sql} ORDER BY {order}", params)

    # -- templates -------------------------------------------------------------------------

    def templates(self, *, segment: str | None = None, channel: str | None = None,
                  status: str | None = "active", for_segment: str | None = None
                  ) -> list[dict[str, Any]]:
        rows = self.select_where("templates", [
            ("segment IS NULL", None) if segment == "" else ("segment = ?", segment),
            ("(segment IS NULL OR segment = ?)", for_segment), ("channel = ?", channel or None),
            ("status = ?", status or None)])
        for row in rows:
            row["meta"] = json.loads(row["meta"])
        return rows

    def template(self, template_id: int) -> dict[str, Any]:
        rows = self.query("SELECT * FROM templates WHERE id = ?", [template_id])
        if not rows:
            raise NotFoundError(f"no template #{template_id}")
        rows[0]["meta"] = json.loads(rows[0]["meta"])
        return rows[0]

    def insert_template(self, fields: dict[str, Any], actor: str, *, action: str = "create",
                        source: str = "marketer", seed_key: str | None = None,
                        parent_id: int | None = None, meta: dict[str, Any] | None = None) -> int:
        at = now()
        row = {f: fields.get(f) if fields.get(f) is not None else "" for f in TEMPLATE_FIELDS}
        row["segment"] = fields.get("segment") or None
        row.update(meta=json.dumps(meta or {}, ensure_ascii=False, sort_keys=True),
                   status=fields.get("status") or "active", source=source, seed_key=seed_key,
                   parent_id=parent_id, version=1, created_at=at, created_by=actor,
                   updated_at=at, updated_by=actor)
        with self.transaction():
            tid = self.db["templates"].insert(row).last_pk
            self.db["template_revisions"].insert({
                "template_id": tid, "version": 1, "action": action, "old_fields": None,
                "new_fields": json.dumps({k: row[k] for k in TEMPLATE_FIELDS}, ensure_ascii=False),
                "actor": actor, "at": at,
            })
        return int(tid)

    def update_template(self, template_id: int, changes: dict[str, Any], actor: str, *,
                        action: str = "edit") -> dict[str, Any]:
        with self.transaction():
            old = self.template(template_id)
            at = now()
            version = old["version"] + 1
            self.db["templates"].update(
                template_id, dict(changes, version=version, updated_at=at, updated_by=actor))
            keep = (*TEMPLATE_FIELDS, "status")
            self.db["template_revisions"].insert({
                "template_id": template_id, "version": version, "action": action,
                "old_fields": json.dumps({k: old[k] for k in keep}, ensure_ascii=False),
                "new_fields": json.dumps({k: dict(old, **changes)[k] for k in keep},
                                         ensure_ascii=False),
                "actor": actor, "at": at,
            })
            return self.template(template_id)

    def template_revisions(self, template_id: int) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM template_revisions WHERE template_id = ? ORDER BY version DESC, id DESC",
            [template_id],
        )

    def insert_performance(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.db["template_performance"].upsert_all(rows, pk=("template_id", "week_start"))

    def template_performance(self, template_id: int | None = None) -> list[dict[str, Any]]:
        if template_id is None:
            return self.query("SELECT * FROM template_performance ORDER BY template_id, week_start")
        return self.query(
            "SELECT * FROM template_performance WHERE template_id = ? ORDER BY week_start",
            [template_id],
        )

    # -- management mode -------------------------------------------------------------------

    def management_events(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM management_events ORDER BY id")

    def record_mode(self, mode: str, actor: str, note: str = "") -> int:
        with self.transaction():
            eid = self.db["management_events"].insert(
                {"mode": mode, "actor": actor, "at": now(), "note": note}).last_pk
            self.audit(actor, f"mode:{mode}", "management", eid, {"note": note})
        return int(eid)

    def current_mode(self) -> str:
        """The mode of the latest management event; a programme starts in active management."""
        rows = self.query("SELECT mode FROM management_events ORDER BY id DESC LIMIT 1")
        return rows[0]["mode"] if rows else "active"

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for the home page and ``workbench db path``."""
        tables = ("components", "templates", "segments", "channels", "kinds", "use_cases")
        return {t: self.db[t].count for t in tables}
