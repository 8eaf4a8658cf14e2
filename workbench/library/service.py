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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store import COMPONENT_FIELDS, Store
from store.bulk import insert_components, update_components
from workbench import (
    Conflict,
    LibraryFrozenError,
    Problem,
    StaleEditError,
    ValidationError,
)
from workbench.delimited import (blank_columns, delimiter, not_utf8, repeated_columns,
                                  unnamed_values)
from workbench.library.files import (  # noqa: F401  (the library's file API, one import)
    EXPORT_COLUMNS,
    IMPORT_COLUMNS,
    READ_ONLY_COLUMNS,
    csv_text,
    escape_formula,
    export_components,
    unescape_formula,
)
from workbench.library.fit import Change, template_problems
from workbench.library.validation import (
    check_component,
    check_duplicates,
    normalize_component,
)

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000


@dataclass(frozen=True)
class Edit:
    """Changes to one stored component, as a person made them in row ``row`` of a table.

    ``based_on`` is the component's ``version`` when the person opened it: given, a save of
    a component someone else changed since is refused (:class:`~workbench.StaleEditError`)
    instead of silently overwriting their change. ``None`` skips the check (scripts).
    """

    component_id: int
    changes: Mapping[str, Any]
    row: int | None = None
    based_on: int | None = None


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
    new = normalize_component(row)
    with store.transaction():  # checked under the write lock: nobody adds the same atom between
        ensure_editable(store)
        problems = check_component(new, **_context(store))
        existing = {c["id"]: c for c in store.components()}
        problems += check_duplicates([(None, None, None, new)], list(existing.values()))
        if not problems:
            problems += _fit(store, [(None, None, None, new)], existing)
        if problems:
            raise ValidationError(problems, "The component was not added")
        cid = store.insert_component(new, actor)
        store.audit(actor, "create", "component", cid, {"text": new["text"]})
    return cid


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if old.get(k) != v}


def _fit(store: Store, changes: Sequence[Change], existing: Mapping[int, Mapping[str, Any]]
         ) -> list[Problem]:
    """What the changes would break in the active templates (see :mod:`.fit`)."""
    if not changes:
        return []
    return template_problems(changes, existing, store.templates(),
                             {c["id"]: c for c in store.channels()})


def save_edits(store: Store, edits: Sequence[Edit], actor: str) -> list[int]:
    """Apply a batch of edits whole or not at all; returns the ids that changed.

    Problems name the row the person edited and the component it shows. Reading, checking and
    writing happen in one write transaction, so an edit is checked against the library as it
    is when it lands; an edit based on an older version raises
    :class:`~workbench.StaleEditError` (nothing saved) when it would change the component.
    """
    with store.transaction():
        ensure_editable(store)
        ctx = _context(store)
        existing = {c["id"]: c for c in store.components()}
        problems: list[Problem] = []
        conflicts: list[Conflict] = []
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
                if e.based_on is not None and e.based_on != old["version"]:
                    conflicts.append(_conflict(old, e.based_on, new["text"], e.row))
        if conflicts:
            raise StaleEditError(conflicts)
        problems += check_duplicates(checked, list(existing.values()))
        if not problems:
            changed = {cid for cid, _ in planned}
            problems += _fit(store, [c for c in checked if c[2] in changed], existing)
        if problems:
            raise ValidationError(problems, "The edits were rejected")
        update_components(store, [
            (existing[cid], diff, _action(existing[cid]["status"],
                                          diff.get("status", existing[cid]["status"]), "edit"))
            for cid, diff in planned], actor)
        if planned:
            store.audit(actor, "edit", "component", None, {"ids": [c for c, _ in planned]})
    return [cid for cid, _ in planned]


def _conflict(current: Mapping[str, Any], based_on: int, your_text: str,
              row: int | None) -> Conflict:
    return Conflict(component_id=current["id"], based_on=based_on, version=current["version"],
                    changed_by=current["updated_by"], changed_at=current["updated_at"],
                    your_text=your_text, their_text=current["text"], row=row)


def set_status(store: Store, ids: Sequence[int], status: str, actor: str,
               based_on: Mapping[int, int] | None = None) -> list[int]:
    """Archive or restore components; restoring checks the atom is not a duplicate again.

    ``based_on`` maps an id to the version the person saw (see :class:`Edit`)."""
    based_on = based_on or {}
    return save_edits(store, [Edit(i, {"status": status}, based_on=based_on.get(i))
                              for i in ids], actor)


# -- import -------------------------------------------------------------------------------

def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError([not_utf8(data, e)], "The file could not be read") from None


def _parse_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError([Problem("the file is empty")], "Nothing was imported") from None
    except csv.Error as e:
        raise ValidationError([Problem(f"the header line: {e}")],
                              "The file could not be read") from None
    header = [h.strip().lower() for h in header]
    blank = blank_columns(header)  # a spreadsheet's empty trailing columns (",,")
    _check_columns([h for h in header if h], where="header")
    rows = []
    line = 0  # the data row (1: the first under the header), as every reader numbers rows
    try:
        for values in reader:
            if not values:
                continue  # an empty line is no row (as the pandas and Arrow readers count)
            line += 1  # a quoted cell may span lines: a row is one record
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise ValidationError([Problem(
                    f"has {len(values)} fields but the header has {len(header)}", row=line)],
                    "The file was rejected")
            if blank and (problems := unnamed_values(header, lambda i: [values[i]], line)):
                raise ValidationError(problems, "The file was rejected")
            rows.append((line, {h: unescape_formula(v) for h, v in zip(header, values) if h}))
    except csv.Error as e:
        raise ValidationError([Problem(str(e), row=line + 1)],
                              "The file could not be read") from None
    return rows


class _Pairs(dict):
    """A JSON object that remembers every key as written (a dict keeps one of two)."""

    written: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(pairs)
    obj.written = [k for k, _ in pairs]
    return obj


def _json_value_problem(value: Any) -> str | None:
    """Why a JSON value cannot be a cell of the library (texts and numbers only)."""
    if isinstance(value, (list, dict)):
        return f"must be a text or a number, not a JSON {'list' if isinstance(value, list) else 'object'}"
    if isinstance(value, bool):
        return f"must be a text or a number, not JSON {str(value).lower()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a text or a finite number, not {value}"
    return None


def _parse_json(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as e:
        raise ValidationError([Problem(f"invalid JSON: {e.msg} (column {e.colno})", row=e.lineno)],
                              "The file could not be read") from None
    except RecursionError:
        raise ValidationError([Problem(
            "the JSON is nested too deeply to be a library file (expected a list of component "
            "objects whose values are texts or numbers)")],
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
        # "text" and "TEXT" (or "text" twice) name one column: refused, not one of them kept
        _check_columns([str(k).strip().lower() for k in getattr(obj, "written", obj)],
                       where=f"object {i}", require=False)
        obj = {str(k).strip().lower(): v for k, v in obj.items()}
        bad = [Problem(why, row=i, field=k) for k, v in obj.items()
               if (why := _json_value_problem(v))]
        if bad:
            raise ValidationError(bad, "The file was rejected")
        rows.append((i, obj))
    return rows


def _check_columns(columns: list[str], where: str, require: bool = True) -> None:
    known = set(EXPORT_COLUMNS)
    problems = [Problem(f"unknown column '{c}' in the {where} (expected: "
                        f"{', '.join(IMPORT_COLUMNS)})", field=c)
                for c in columns if c not in known]
    problems += repeated_columns(columns, where)
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
    without one add a new atom. The whole file is checked first; one bad row rejects it all.

    A row with a ``version`` (every export has one) other than the library's that would change
    the component is stale: someone changed it after the export, and importing would undo
    that (e.g. un-archive what was archived since). It is reported like any other problem.
    Checking and writing happen in one write transaction, so the check holds when it lands.
    """
    rows = read_import(data, filename)
    with store.transaction():
        ensure_editable(store)
        existing = {c["id"]: c for c in store.components()}
        plan = _check_import(rows, existing, _context(store),
                             lambda changes: _fit(store, changes, existing))
        result = ImportResult()
        updates = []
        for cid, new in plan:
            if cid is not None and (diff := _changed(existing[cid], new)):
                old = existing[cid]
                updates.append((old, diff, _action(old["status"], new["status"], "import")))
                result.updated.append(cid)
            elif cid is not None:
                result.unchanged += 1
        result.created.extend(insert_components(
            store, [new for cid, new in plan if cid is None], actor, action="import",
            source="import"))
        update_components(store, updates, actor)
        store.audit(actor, "import", "component", None,
                    {"file": filename, "created": len(result.created),
                     "updated": len(result.updated), "unchanged": result.unchanged})
    return result


def _parse_id(raw: Any) -> int | None:
    """A whole number written as ``12``, ``12.0`` or ``"12"``; ``None`` for anything else.
    Digits are read as they are (through a float, 99999999999999999999999 became
    99999999999999991611392 in the message)."""
    if str(raw).strip().isdigit():
        return int(str(raw).strip())
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _check_import(rows: list[tuple[int, dict[str, Any]]], existing: dict[int, dict[str, Any]],
                  ctx: dict[str, Any], fit: Any) -> list[tuple[int | None, dict[str, Any]]]:
    """``(component id or None, normalized row)`` per row; raises with every problem found
    (``fit``: what the rows that change something would break in the templates)."""
    problems: list[Problem] = []
    checked = []
    plan: list[tuple[int | None, dict[str, Any]]] = []
    seen_ids: dict[int, int] = {}
    for row_no, raw in rows:
        cid = None
        raw_id = "" if raw.get("id") is None else str(raw.get("id")).strip()
        if raw_id:
            cid = _parse_id(raw_id)
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
        if cid is not None and (stale := _stale_row(raw, existing[cid], new, row_no)):
            problems.append(stale)
        checked.append((row_no, None, cid, new))
        plan.append((cid, new))
    problems += check_duplicates(checked, list(existing.values()))
    if not problems:
        problems += fit([c for c in checked
                         if c[2] is None or _changed(existing[c[2]], c[3])])
    if problems:
        raise ValidationError(problems, f"The file was rejected ({len(problems)} problem(s)); "
                                        "nothing was imported")
    return plan


def _stale_row(raw: Mapping[str, Any], current: Mapping[str, Any], new: Mapping[str, Any],
               row_no: int) -> Problem | None:
    """The problem with a row whose ``version`` is not the library's, if it changes anything."""
    raw_version = "" if raw.get("version") is None else str(raw.get("version")).strip()
    if not raw_version:
        return None
    version = _parse_id(raw_version)
    if version is None:
        return Problem(f"'{raw_version}' is not a version number (leave it as exported, or "
                       "empty)", row=row_no, field="version")
    if version == current["version"] or not _changed(current, new):
        return None
    what = _changed(current, new)
    fields = ", ".join(f"{k} {current.get(k)!r} -> {what[k]!r}" for k in what)
    return Problem(
        f"component #{current['id']} was changed by {current['updated_by']} at "
        f"{current['updated_at']} since this file was exported (the file has version "
        f"{version}, the library version {current['version']}); importing would change "
        f"{fields}. File text: {new['text']!r}; library text: {current['text']!r}. Export "
        "again, or empty the version cell to overwrite on purpose", row=row_no, field="version")
