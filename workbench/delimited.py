"""Which character separates a CSV file's fields, read from its header line.

Spreadsheets in locales with a decimal comma (most of Europe, Indonesia, Brazil...) save "CSV"
with semicolons, and some tools export tabs. Every importer took such a file for one column
and answered "required column 'user_id' is missing" to a file whose header reads
``user_id;segment``. Column names never hold a comma, a semicolon or a tab, so the header
line settles it: a header without a comma but with a semicolon (or a tab) is split on that.
Values keep their own format (a decimal comma in a value is still refused, by its row).

A problem names its row as README says every reader does: data row 1 is the first line under
the header (the lift outcomes and library readers said "row 2" for it, the users and roster
readers "row 1").

The header is also where a repeated column is refused, by every reader with the same
:func:`repeated_columns`: a reader would otherwise take one of the two silently (pandas keeps
both as ``value`` and ``value.1``, a dict the last one) or fail with a traceback.

A column without a name is not a repeat: spreadsheets export empty trailing columns as a
header ending in ``,,`` (and every line in ``,,``), which every reader refused as "column ''
appears twice in the header". Such columns are ignored when their cells are empty
(:func:`blank_columns`), and refused by position when one has a value
(:func:`unnamed_values`): a value under no name is data the file meant to give.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from workbench import Problem, ValidationError

__all__ = ["blank_columns", "delimiter", "header", "not_utf8", "refuse_repeated_columns",
           "repeated_columns", "unnamed_values"]


def _first_line(data: str | bytes) -> str:
    end = data.find(b"\n" if isinstance(data, bytes) else "\n")  # no copy of the rest
    first = data if end < 0 else data[:end]
    return first.decode("utf-8", errors="replace") if isinstance(first, bytes) else first


def delimiter(data: str | bytes) -> str:
    """The field separator of a CSV file (or of its first line): ``,``, ``;`` or a tab."""
    line = _first_line(data)
    if "," in line:
        return ","
    return next((d for d in (";", "\t") if d in line), ",")


def header(data: str | bytes) -> list[str]:
    """The column names of a CSV file's header line as written (a byte-order mark removed),
    for a reader that renames repeated names (pandas) to check them first."""
    line = _first_line(data).lstrip("\ufeff").rstrip("\r")
    return next(csv.reader([line], delimiter=delimiter(line)), [])


def repeated_columns(names: Iterable[str], where: str = "header") -> list[Problem]:
    """A problem for each column named more than once in ``names``, in the order of their
    repeats; ``names`` as the reader compares them (stripped and lowercased by most)."""
    seen: set[str] = set()
    twice: list[str] = []
    for name in names:
        if not _named(name):
            continue  # see blank_columns
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    return [Problem(f"column '{c}' appears twice in the {where}", field=c) for c in twice]


def refuse_repeated_columns(names: Iterable[str], summary: str) -> None:
    """Raise a :class:`ValidationError` (``summary``) naming each repeated column."""
    problems = repeated_columns(names)
    if problems:
        raise ValidationError(problems, summary)


def _named(name: Any) -> bool:
    return bool(str(name).strip().lstrip("\ufeff").strip())


def blank_columns(names: Sequence[Any]) -> list[int]:
    """Positions (0-based) of the header's columns without a name (empty or spaces)."""
    return [i for i, name in enumerate(names) if not _named(name)]


def _first_value(values: Any) -> tuple[int, str] | None:
    """Position and text of the first non-blank cell of a column (a list, a pandas Series or
    an Arrow array), vectorised: a roster's column has millions of cells."""
    import numpy as np
    import pandas as pd

    if hasattr(values, "to_pandas"):  # Arrow
        values = values.to_pandas()
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    text = series.astype("string").str.strip()
    where = np.flatnonzero((text.notna() & (text != "")).to_numpy(bool))
    return (int(where[0]), str(series.iloc[where[0]])) if len(where) else None


def unnamed_values(names: Sequence[Any], column: Callable[[int], Any],
                   first_row: int = 1) -> list[Problem]:
    """A problem for each column without a name (see :func:`blank_columns`) that has a value,
    at its first such row; ``column(i)`` gives the cells of column ``i`` (0-based), whose
    first is data row ``first_row``."""
    problems = []
    for i in blank_columns(names):
        found = _first_value(column(i))
        if found is not None:
            row, value = found
            problems.append(Problem(
                f"column {i + 1} has no name in the header but has a value ({value!r}): name "
                "the column, or delete it", row=row + first_row))
    return problems


def not_utf8(data: bytes, error: UnicodeDecodeError) -> Problem:
    """Where a file stops being UTF-8: the data row of the bad byte (the line under the header
    is data row 1; the header line itself has no row)."""
    line = data[:error.start].count(b"\n") + 1
    what = f"byte 0x{data[error.start]:02x}"
    if line == 1:
        return Problem(f"{what} in the header line is not valid UTF-8; save the file with UTF-8 "
                       "encoding")
    return Problem(f"{what} is not valid UTF-8; save the file with UTF-8 encoding",
                   row=line - 1)
