"""The component library: add, edit, archive, restore, import and export atoms.

Every operation validates the whole input first and writes in one transaction afterwards, so a
rejected batch or file leaves the library exactly as it was. Edits and status changes keep the
replaced values as revisions; nothing is ever deleted. In passive management the library is
frozen and every write raises :class:`~workbench.LibraryFrozenError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store import COMPONENT_FIELDS, Store
from workbench import LibraryFrozenError, Problem, ValidationError
from workbench.library.validation import check_component, check_duplicates, normalize_component

#: Columns of an exported library; the first ``IMPORT_COLUMNS`` are read back on import.
IMPORT_COLUMNS = ("id", *COMPONENT_FIELDS, "status")
READ_ONLY_COLUMNS = ("version", "source", "created_at", "created_by", "updated_at", "updated_by")
EXPORT_COLUMNS = (*IMPORT_COLUMNS, *READ_ONLY_COLUMNS)
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000


@dataclass(frozen=True)
class Edit:
    """Changes to one stored component, as a person made them in row ``row`` of a table."""

    component_id: int
    changes: Mapping[str, Any]
    row: int | None = None


@dataclass
class ImportResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0

    def __str__(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{self.unchanged} unchanged")


def ensure_editable(store: Store) -> None:
    if store.current_mode() == "passive":
        raise LibraryFrozenError(
            "The library is frozen: the programme is in passive management, where the agent "
            "runs alone on the library it has. Switch to active management to edit it.")


def _context(store: Store) -> dict[str, Any]:
    return {"kinds": [k["id"] for k in store.kinds()],
            "segments": [s["id"] for s in store.segments(include_archived=True)]}


def _action(old_status: str, new_status: str, default: str) -> str:
    if old_status != new_status:
        return "archive" if new_status == "archived" else "restore"
    return default


def add_component(store: Store, row: Mapping[str, Any], actor: str) -> int:
    """Validate and add one atom; returns its id."""
    ensure_editable(store)
    new = normalize_component(row)
    problems = check_component(new, **_context(store))
    problems += check_duplicates([(None, None, None, new)], store.components())
    if problems:
        raise ValidationError(problems, "The component was not added")
    with store.transaction():
        cid = store.insert_component(new, actor)
        store.audit(actor, "create", "component", cid, {"text": new["text"]})
    return cid


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if old.get(k) != v}


def save_edits(store: Store, edits: Sequence[Edit], actor: str) -> list[int]:
    """Apply a batch of edits whole or not at all; returns the ids that changed.

    Problems name the row the person edited and the component it shows.
    """
    ensure_editable(store)
    ctx = _context(store)
    existing = {c["id"]: c for c in store.components()}
    problems: list[Problem] = []
    planned: list[tuple[int, dict[str, Any]]] = []
    checked = []
    for e in edits:
        ref = f"component #{e.component_id}"
        old = existing.get(e.component_id)
        if old is None:
            problems.append(Problem("no longer exists", row=e.row, ref=ref))
            continue
        unknown = set(e.changes) - set(COMPONENT_FIELDS) - {"status"}
        for f in sorted(unknown):
            problems.append(Problem("cannot be edited", row=e.row, field=f, ref=ref))
        new = normalize_component({**old, **{k: v for k, v in e.changes.items()
                                             if k not in unknown}})
        problems += check_component(new, **ctx, row_no=e.row, ref=ref)
        checked.append((e.row, ref, e.component_id, new))
        if diff := _changed(old, new):
            planned.append((e.component_id, diff))
    problems += check_duplicates(checked, list(existing.values()))
    if problems:
        raise ValidationError(problems, "The edits were rejected")
    with store.transaction():
        for cid, diff in planned:
            action = _action(existing[cid]["status"], diff.get("status", existing[cid]["status"]),
                              "edit")
            store.update_component(cid, diff, actor, action=action)
        if planned:
            store.audit(actor, "edit", "component", None, {"ids": [c for c, _ in planned]})
    return [cid for cid, _ in planned]


def set_status(store: Store, ids: Sequence[int], status: str, actor: str) -> list[int]:
    """Archive or restore components; restoring checks the atom is not a duplicate again."""
    return save_edits(store, [Edit(i, {"status": status}) for i in ids], actor)


# -- import / export ----------------------------------------------------------------------

def export_components(store: Store, fmt: str, **filters: Any) -> bytes:
    """The library (or a filtered part) as CSV or JSON bytes that import reads back."""
    rows = [{c: ("" if r.get(c) is None else r.get(c)) for c in EXPORT_COLUMNS}
            for r in store.components(**filters)]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValidationError([Problem(
            f"byte 0x{data[e.start]:02x} at line {line} is not valid UTF-8; save the file with "
            "UTF-8 encoding", row=line)], "The file could not be read") from None


def _parse_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError([Problem("the file is empty")], "Nothing was imported") from None
    except csv.Error as e:
        raise ValidationError([Problem(str(e), row=1)], "The file could not be read") from None
    header = [h.strip().lower() for h in header]
    _check_columns(header, where="header")
    rows = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise ValidationError([Problem(
                    f"has {len(values)} fields but the header has {len(header)}", row=line)],
                    "The file was rejected")
            rows.append((line, dict(zip(header, values))))
    except csv.Error as e:
        raise ValidationError([Problem(str(e), row=reader.line_num)],
                              "The file could not be read") from None
    return rows


def _parse_json(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError([Problem(f"invalid JSON: {e.msg} (column {e.colno})", row=e.lineno)],
                              "The file could not be read") from None
    if isinstance(data, dict) and isinstance(data.get("components"), list):
        data = data["components"]
    if not isinstance(data, list):
        raise ValidationError([Problem("expected a list of component objects")],
                              "The file was rejected")
    rows = []
    for i, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise ValidationError([Problem("is not an object", row=i)], "The file was rejected")
        obj = {str(k).strip().lower(): v for k, v in obj.items()}
        _check_columns(list(obj), where=f"object {i}", require=False)
        rows.append((i, obj))
    return rows


def _check_columns(columns: list[str], where: str, require: bool = True) -> None:
    known = set(EXPORT_COLUMNS)
    problems = [Problem(f"unknown column '{c}' in the {where} (expected: "
                        f"{', '.join(IMPORT_COLUMNS)})", field=c)
                for c in columns if c not in known]
    dupes = {c for c in columns if columns.count(c) > 1}
    problems += [Problem(f"column '{c}' appears twice in the {where}", field=c) for c in dupes]
    if require:
        problems += [Problem(f"required column '{c}' is missing", field=c)
                     for c in ("kind", "text") if c not in columns]
    if problems:
        raise ValidationError(problems, "The file was rejected")


def read_import(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    """Parse an import file into ``(row number, raw row)``; raises on a bad file."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError([Problem(
            f"the file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_IMPORT_BYTES // 1024 // 1024} MB")], "The file was rejected")
    text = _decode(data)
    name = filename.lower()
    is_json = name.endswith(".json") or (not name.endswith(".csv") and text.lstrip()[:1] in "[{")
    rows = _parse_json(text) if is_json else _parse_csv(text)
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError([Problem(f"the file has {len(rows)} rows; the limit is "
                                       f"{MAX_IMPORT_ROWS}")], "The file was rejected")
    if not rows:
        raise ValidationError([Problem("the file has no rows")], "Nothing was imported")
    return rows


def import_components(store: Store, data: bytes, filename: str, actor: str) -> ImportResult:
    """Import a CSV or JSON library file: rows with an ``id`` update that component, rows
    without one add a new atom. The whole file is checked first; one bad row rejects it all."""
    ensure_editable(store)
    rows = read_import(data, filename)
    ctx = _context(store)
    existing = {c["id"]: c for c in store.components()}
    problems: list[Problem] = []
    checked = []
    plan: list[tuple[int | None, dict[str, Any]]] = []
    seen_ids: dict[int, int] = {}
    for row_no, raw in rows:
        cid = None
        raw_id = "" if raw.get("id") is None else str(raw.get("id")).strip()
        if raw_id:
            try:
                cid = int(float(raw_id)) if float(raw_id).is_integer() else None
            except ValueError:
                cid = None
            if cid is None:
                problems.append(Problem(f"'{raw_id}' is not a component id", row=row_no,
                                        field="id"))
                continue
            if cid not in existing:
                problems.append(Problem(f"no component #{cid} in the library; leave id empty "
                                        "to add a new one", row=row_no, field="id"))
                continue
            if cid in seen_ids:
                problems.append(Problem(f"component #{cid} also appears in row {seen_ids[cid]}",
                                        row=row_no, field="id"))
                continue
            seen_ids[cid] = row_no
        base = existing[cid] if cid is not None else {"status": "active"}
        given = {k: v for k, v in raw.items() if k in IMPORT_COLUMNS and k != "id"}
        new = normalize_component({**base, **given})
        problems += check_component(new, **ctx, row_no=row_no)
        checked.append((row_no, None, cid, new))
        plan.append((cid, new))
    problems += check_duplicates(checked, list(existing.values()))
    if problems:
        raise ValidationError(problems, f"The file was rejected ({len(problems)} problem(s)); "
                                        "nothing was imported")
    result = ImportResult()
    with store.transaction():
        for cid, new in plan:
            if cid is None:
                result.created.append(store.insert_component(new, actor, action="import",
                                                             source="import"))
            elif diff := _changed(existing[cid], new):
                action = _action(existing[cid]["status"], new["status"], "import")
                store.update_component(cid, diff, actor, action=action)
                result.updated.append(cid)
            else:
                result.unchanged += 1
        store.audit(actor, "import", "component", None,
                    {"file": filename, "created": len(result.created),
                     "updated": len(result.updated), "unchanged": result.unchanged})
    return result
