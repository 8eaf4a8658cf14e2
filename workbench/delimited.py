"""Which character separates a CSV file's fields, read from its header line.

Spreadsheets in locales with a decimal comma (most of Europe, Indonesia, Brazil...) save "CSV"
with semicolons, and some tools export tabs. Every importer took such a file for one column
and answered "required column 'user_id' is missing" to a file whose header reads
``user_id;segment``. Column names never hold a comma, a semicolon or a tab, so the header
line settles it: a header without a comma but with a semicolon (or a tab) is split on that.
Values keep their own format (a decimal comma in a value is still refused, by its row).
"""

from __future__ import annotations

__all__ = ["delimiter"]


def delimiter(data: str | bytes) -> str:
    """The field separator of a CSV file (or of its first line): ``,``, ``;`` or a tab."""
    end = data.find(b"\n" if isinstance(data, bytes) else "\n")  # no copy of the rest
    first = data if end < 0 else data[:end]
    line = first.decode("utf-8", errors="replace") if isinstance(first, bytes) else first
    if "," in line:
        return ","
    return next((d for d in (";", "\t") if d in line), ",")
