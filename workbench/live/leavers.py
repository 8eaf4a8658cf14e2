"""Users who leave the programme: ``workbench programme roster FILE --remove``.

A roster import never drops anyone (users missing from a file stay), so a user who closed
their account or asked to be forgotten was decided every day for ever. A removal file lists
the users who left (``user_id``; other columns are ignored; CSV or Parquet, read as a roster
is). Each listed user of the programme gets the day they left (``left_on``) and from then on
is not decided (:func:`workbench.live.roster.load_roster` leaves them out). They keep their
row, arm and join day: the lift counts them in their arm, as a trial counts everyone it
assigned (dropping them would make the arms differ by who left, which the agent may cause).

Removal is final: a later roster file that still lists them does not bring them back (its
report counts them as ``left_in_file``). Ids not in the programme are counted and ignored (a
company-wide deletion list names users of other programmes), except one that is a known id
with its leading zeros dropped or added, which is refused by row like a roster import's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from workbench import Problem, ValidationError
from workbench.live import programme_lock
from workbench.live.newcomers import padded
from workbench.live.roster import BATCH_ROWS, MAX_PROBLEMS, read_batches
from workbench.live.rosterfile import (ROSTER_SCHEMA, kept_batches, read_roster,
                                       replace_roster, roster_path)

__all__ = ["RemovalReport", "remove_users"]


@dataclass(frozen=True)
class RemovalReport:
    rows: int
    removed: int  # users who left with this file
    already_left: int  # listed users who had left before
    not_in_programme: int  # listed ids the programme does not have (ignored)
    total_users: int  # the roster's users, those who left included (the lift counts them)
    active_users: int  # the users still decided

    def to_dict(self) -> dict:
        return {"rows": self.rows, "removed": self.removed, "already_left": self.already_left,
                "not_in_programme": self.not_in_programme, "total_users": self.total_users,
                "active_users": self.active_users}


def remove_users(store: Store, data: bytes, *, name: str, actor: str, left_on: str
                 ) -> RemovalReport:
    """Mark the users listed in ``data`` as having left on ``left_on`` (one transaction with
    the ledger row; a bad file writes nothing)."""
    with programme_lock(store, f"programme roster --remove {name}"):
        path = roster_path(store)
        if live_store.programme(store) is None or not path.exists():
            raise ValidationError([Problem("the programme has no roster yet: nobody to remove")],
                                  f"{name} was rejected; nothing was removed")
        listed = _listed(data, name)
        known = read_roster(path, ["user_id", "left_on"])
        ids = known.column("user_id").combine_chunks()
        unknown = listed.filter(pc.invert(pc.is_in(listed, value_set=ids)))
        where, matches = padded(unknown, ids)
        if len(where):
            new, old = unknown[int(where[0])].as_py(), matches[0].as_py()
            row = int(pc.index_in(pa.scalar(new), value_set=listed).as_py()) + 1
            raise ValidationError([Problem(
                f"user '{new}' is not in the programme, but '{old}' is: the ids look re-saved "
                f"by a spreadsheet that dropped or added leading zeros ({len(where)} such "
                "user(s) in the file). Export the ids as text", row=row, field="user_id")],
                f"{name} was rejected; nothing was removed")
        hit = pc.is_in(ids, value_set=listed).to_numpy(zero_copy_only=False)
        was_left = pc.is_valid(known.column("left_on")).to_numpy(zero_copy_only=False)
        counts = dict(rows=len(listed), new_users=0, total_users=len(ids),
                      removed=int((hit & ~was_left).sum()))
        if counts["removed"]:
            leaving = hit & ~was_left

            def write(tmp) -> dict:
                offset = 0
                with pq.ParquetWriter(tmp, ROSTER_SCHEMA) as writer:
                    for table in kept_batches(path, np.ones(len(ids), bool), BATCH_ROWS):
                        mask = pa.array(leaving[offset:offset + table.num_rows])
                        offset += table.num_rows
                        left = pc.if_else(mask, pa.scalar(left_on), table.column("left_on"))
                        writer.write_table(table.set_column(
                            ROSTER_SCHEMA.get_field_index("left_on"), "left_on", left))
                return counts

            replace_roster(store, data, name=name, actor=actor, write=write, action="remove")
        return RemovalReport(len(listed), counts["removed"],
                             int((hit & was_left).sum()), len(unknown), len(ids),
                             int((~(hit | was_left)).sum()))


def _listed(data: bytes, name: str) -> pa.Array:
    """The file's ids in file order (stripped); an empty one is refused by row."""
    chunks: list[pa.Array] = []
    problems: list[Problem] = []
    rows = 0
    for df in read_batches(data, name):
        if "user_id" not in df.columns:
            raise ValidationError([Problem("required column 'user_id' is missing",
                                           field="user_id")],
                                  f"{name} was rejected; nothing was removed")
        uid = df["user_id"].astype("string").str.strip()
        empty = np.flatnonzero((uid.isna() | (uid == "")).to_numpy())
        problems += [Problem("is empty", row=rows + int(i) + 1, field="user_id")
                     for i in empty[:MAX_PROBLEMS]]
        rows += len(df)
        chunks.append(pa.array(uid, pa.string()))
    if problems or not rows:
        raise ValidationError(problems[:MAX_PROBLEMS] or [Problem(
            "the file has no users (a header only)")], f"{name} was rejected; nothing was removed")
    return pa.chunked_array(chunks, pa.string()).combine_chunks()
