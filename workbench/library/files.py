"""Library files: the columns of an export, and cells a spreadsheet opens safely.

Why apart from :mod:`workbench.library.service`: exporting only reads the library, and the
formula quoting below is shared by every download people open in a spreadsheet; the service
keeps the writes (and reading a file back in, which checks it against the library).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from store import COMPONENT_FIELDS, Store

#: Columns of an exported library; the first ``IMPORT_COLUMNS`` are read back on import.
IMPORT_COLUMNS = ("id", *COMPONENT_FIELDS, "status")
READ_ONLY_COLUMNS = ("version", "source", "created_at", "created_by", "updated_at", "updated_by")
EXPORT_COLUMNS = (*IMPORT_COLUMNS, *READ_ONLY_COLUMNS)

#: A cell starting with one of these is a formula to a spreadsheet (``=HYPERLINK(...)``,
#: ``+cmd|...``, ``@SUM(...)``); the quote is the prefix that makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def escape_formula(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a quote before a formula-leading text.

    Texts that already start with a quote get one more, so that :func:`unescape_formula`
    gives back exactly what was exported (an exported file imports back unchanged)."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, _QUOTE)):
        return _QUOTE + value
    return value


def csv_text(frame: Any) -> str:
    """A table (pandas DataFrame) as CSV a spreadsheet opens safely: every text cell that a
    spreadsheet would run as a formula gets the quote of :func:`escape_formula` (numbers,
    negative ones included, stay numbers). For downloads people open in a spreadsheet; not for
    files a sending platform reads, whose texts must stay as written."""
    out = frame.copy()
    for col in out.select_dtypes(exclude=["number", "bool", "datetime"]).columns:
        out[col] = out[col].map(escape_formula)
    return out.to_csv(index=False)


def unescape_formula(value: str) -> str:
    """The text :func:`escape_formula` was given (a hand-written ``'=x`` reads as ``=x``)."""
    if value.startswith(_QUOTE) and value[1:].startswith((*FORMULA_STARTS, _QUOTE)):
        return value[1:]
    return value


def export_components(store: Store, fmt: str, **filters: Any) -> bytes:
    """The library (or a filtered part) as CSV or JSON bytes that import reads back.

    CSV cells that a spreadsheet would run as a formula are prefixed with a quote
    (:func:`escape_formula`); import removes it again."""
    rows = [{c: ("" if r.get(c) is None else r.get(c)) for c in EXPORT_COLUMNS}
            for r in store.components(**filters)]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: escape_formula(v) for c, v in row.items()} for row in rows)
    return buf.getvalue().encode("utf-8")


