"""A roster re-import that is probably the wrong file is refused before it adds anyone.

A spreadsheet that re-saves a roster reads ids such as ``000123`` as numbers and writes
``123``: the import took every such user for a newcomer and added 20,000 phantom users (each
with an arm, decided daily, counted in the lift), while the real ones stayed. Two signs are
refused, each naming the first row it concerns:

- a new id that is a known id with its leading zeros dropped or added (``123`` for
  ``000123``, or ``0123`` for ``123``);
- more new users than the programme has, making up most of the file: the import would more
  than double the programme (another programme's or another brand's export). A daily file of
  newcomers only, which is allowed (users missing from a file stay), adds fewer than that.

When the new users are real (a pilot rolled out to everyone), the caller accepts them
(``workbench programme roster FILE --accept-new-users``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench import Problem

__all__ = ["ACCEPT_FLAG", "NewUsers", "padded"]

#: How a person accepts what is refused here.
ACCEPT_FLAG = "--accept-new-users"


def _unpadded(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The ids without leading zeros (an id of zeros only as ``0``)."""
    stripped = pc.utf8_ltrim(ids, characters="0")
    return pc.if_else(pc.and_(pc.equal(stripped, ""), pc.not_equal(ids, "")), "0", stripped)


def padded(ids: pa.Array, known: pa.Array, known_unpadded: pa.Array | None = None
           ) -> tuple[np.ndarray, pa.Array]:
    """Which of ``ids`` (none of them in ``known``) are a known id but for leading zeros, and
    for each of those the known id."""
    hit = pc.index_in(_unpadded(ids), value_set=_unpadded(known) if known_unpadded is None
                      else known_unpadded)
    where = np.flatnonzero(pc.is_valid(hit).to_numpy(zero_copy_only=False))
    return where, known.take(pc.drop_null(hit))


class NewUsers:
    """The new users of a re-import, batch by batch, and what about them looks mistaken."""

    def __init__(self, known: pa.Array | None):
        self.known = known if known is not None and len(known) else None
        self._unpadded: pa.Array | None = None
        self.first: tuple[int, str] | None = None  # row and id of the first new user
        self.padded: tuple[int, str, str] | None = None  # row, id and known id
        self.padded_count = 0
        self.count = 0

    def look(self, ids: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> None:
        """Note the new users ``ids`` found at file rows ``rows``."""
        if self.known is None or not len(ids):
            return
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        self.count += len(ids)
        if self.first is None:
            self.first = (int(rows[0]), ids[0].as_py())
        if self._unpadded is None:
            self._unpadded = _unpadded(self.known)
        where, known = padded(ids, self.known, self._unpadded)
        if len(where) and self.padded is None:
            self.padded = (int(rows[where[0]]), ids[int(where[0])].as_py(), known[0].as_py())
        self.padded_count += len(where)

    def problems(self, rows: int) -> list[Problem]:
        """Why the import looks mistaken (empty when it does not), for a file of ``rows``."""
        if self.padded is not None:
            row, new, old = self.padded
            return [Problem(
                f"user '{new}' is not in the programme, but '{old}' is: the ids look re-saved "
                f"by a spreadsheet that dropped or added leading zeros ({self.padded_count} "
                f"such user(s) in the file). Export the ids as text; if these are new users, "
                f"import with {ACCEPT_FLAG}", row=row, field="user_id")]
        if self.first is not None and self.count * 2 > rows and self.count >= len(self.known):
            row, new = self.first
            return [Problem(
                f"{self.count} of the file's {rows} users are new (the first is '{new}') and "
                f"the programme has {len(self.known)}: the import would more than double it. "
                f"Check that this is the programme's file; if these are new users, import with "
                f"{ACCEPT_FLAG}", row=row, field="user_id")]
        return []
