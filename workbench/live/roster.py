"""The programme's users and their arms.

A roster file has one row per user: ``user_id`` and ``segment`` are required, the other columns
are the attributes and consents :func:`workbench.agent.users.prepare_users` reads (defaults
fill what is missing). The arm is not in the file: it is the programme's, a keyed hash of the
user id with the programme's salt (:func:`workbench.agent.users.stable_arm`), so the same user
lands in the same arm on every import, and a user who joins later is assigned on arrival by
the same rule. The salt and the holdout share are fixed when the first roster is imported.

Re-importing updates every user's attributes (days inactive, sends in the last 7 days change
daily) from the columns the file has: a column it lacks (or an empty cell) keeps each known
user's stored value, so a re-import from another tool never resets a withdrawn consent. Users
absent from the new file stay in the programme and in its measurement. Bad rows are reported by
row and column and nothing is written. A re-import that looks like the wrong file (ids with
their leading zeros dropped, or more new users than the programme has) is refused unless the
caller accepts new users (:mod:`workbench.live.newcomers`). Users who leave are removed by
:mod:`workbench.live.leavers`: they keep their row (``left_on`` set) and are no longer decided.

At 8.8M users memory is the constraint: the file is validated and written in batches of
:data:`BATCH_ROWS` rows (a ``ParquetWriter`` to a temporary file renamed into place with the
import's metadata), known users are looked up in the current roster's ids as Arrow (no Python
string per user), and a user repeated across batches is found by an Arrow group-by.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from workbench import Problem, ValidationError
from workbench.agent.state import segments_of
from workbench.agent.users import prepare_users, stable_arm
from workbench.delimited import (blank_columns, delimiter, refuse_repeated_columns,
                                  unnamed_values)
from workbench.live import programme_lock
from workbench.live.newcomers import NewUsers
from workbench.live.rosterfile import (  # noqa: F401  (ATTRIBUTES, roster_path: the API)
    ATTRIBUTES,
    FIXED_AT_ARRIVAL,
    KEPT,
    ROSTER_SCHEMA,
    kept_batches,
    read_roster,
    replace_roster,
    roster_path,
)

DEFAULT_HOLDOUT_SHARE = 0.10


@dataclass(frozen=True)
class RosterReport:
    rows: int
    new_users: int
    total_users: int
    holdout_share: float
    holdout_users: int
    #: Attribute columns the file lacks: known users kept their stored values for them.
    kept_columns: tuple[str, ...] = ()
    #: Users of the file who had left the programme: they stay out (removal is final).
    left_in_file: int = 0

    def to_dict(self) -> dict:
        return {"rows": self.rows, "new_users": self.new_users, "total_users": self.total_users,
                "holdout_share": self.holdout_share, "holdout_users": self.holdout_users,
                "kept_columns": list(self.kept_columns), "left_in_file": self.left_in_file}


#: Rows validated and written at a time: memory stays flat whatever the roster's size.
BATCH_ROWS = 1_000_000
MAX_PROBLEMS = 50


def read_batches(data: bytes, name: str) -> Iterator[pd.DataFrame]:
    """A CSV or Parquet file (by its first bytes) in batches of :data:`BATCH_ROWS` rows, with
    lowercase column names; a CSV's columns are text (:func:`prepare_users` parses them, so a
    bad value is a problem on its row, not a failed read)."""
    try:
        if data[:4] == b"PAR1":
            file = pq.ParquetFile(pa.BufferReader(data))
            names = file.schema_arrow.names
            batches = (b.to_pandas() for b in file.iter_batches(batch_size=BATCH_ROWS))
        else:
            header = data[:data.find(b"\n") if b"\n" in data else len(data)]
            sep = delimiter(header)
            names = next(csv.reader([header.decode("utf-8-sig").strip()], delimiter=sep), [])
            reader = pacsv.open_csv(
                pa.BufferReader(data), read_options=pacsv.ReadOptions(block_size=32 << 20),
                parse_options=pacsv.ParseOptions(delimiter=sep),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in names}, strings_can_be_null=True,
                    quoted_strings_can_be_null=False))
            batches = (b.to_pandas() for b in reader)
        refuse_repeated_columns([str(c).strip().lower().lstrip("\ufeff") for c in names],
                                f"{name} was rejected; nothing was imported")
        blank = blank_columns(names)  # a spreadsheet's empty trailing columns (",,")
        named = [i for i in range(len(names)) if i not in blank]
        rows = 0
        for df in batches:
            if blank:
                problems = unnamed_values(names, lambda i: df.iloc[:, i], rows + 1)
                if problems:
                    raise ValidationError(problems, f"{name} was rejected; nothing was imported")
                df = df.iloc[:, named]
            df.columns = [str(c).strip().lower().lstrip("\ufeff") for c in df.columns]
            for start in range(0, len(df), BATCH_ROWS):
                yield df.iloc[start:start + BATCH_ROWS].reset_index(drop=True)
            rows += len(df)
        if not rows:  # an empty file still has its columns checked
            yield pd.DataFrame({str(names[i]).strip().lower().lstrip("\ufeff"):
                                pd.Series(dtype=object) for i in named})
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, StopIteration) as e:
        raise ValidationError([Problem(f"cannot be read as CSV or Parquet ({e})")],
                              f"{name} was rejected") from None


def load_roster(store: Store, columns: list[str] | None = None, *,
                include_left: bool = False) -> pd.DataFrame:
    """The current roster (empty with the roster's columns when none was imported), without
    the users who left the programme unless ``include_left``: ``programme day`` decides from
    it, so a user who left is not decided. The lift reads the file, where they stay."""
    path = roster_path(store)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns or ROSTER_SCHEMA.names})
    names = list(columns or ROSTER_SCHEMA.names)
    table = read_roster(path, names if include_left else list(dict.fromkeys(
        [*names, "left_on"])))
    if not include_left:
        left = table.column("left_on")
        if left.null_count < table.num_rows:  # no copy while nobody has left
            table = table.filter(pc.is_null(left))
        table = table.select(names)
    return table.to_pandas()


def import_roster(store: Store, data: bytes, *, name: str, actor: str, joined_on: str,
                  holdout_share: float | None = None, salt: str | None = None,
                  accept_new_users: bool = False) -> RosterReport:
    """Validate and merge a roster file; the first import fixes the salt and holdout share.
    ``accept_new_users`` imports a file :mod:`workbench.live.newcomers` takes for a mistake.

    One programme command at a time (:func:`workbench.live.programme_lock`): two imports at
    once each merged into the roster as it was before either, through one temporary file,
    and left a corrupt roster or one that lost an import the ledger lists."""
    with programme_lock(store, f"programme roster {name}"):
        return _import(store, data, name=name, actor=actor, joined_on=joined_on,
                       holdout_share=holdout_share, salt=salt, accept=accept_new_users)


def _new_salt() -> str:
    """A fresh programme's salt: random, so nobody can tell a user's arm from their id."""
    return secrets.token_hex(8)


def _import(store: Store, data: bytes, *, name: str, actor: str, joined_on: str,
            holdout_share: float | None, salt: str | None, accept: bool) -> RosterReport:
    if not segments_of(store):  # every row was "unknown segment" on a fresh database
        raise ValidationError([Problem(
            "the library has no segments yet: run `workbench seed` on this database first")],
            f"{name} was rejected; nothing was imported")
    prog = live_store.programme(store)
    if prog is not None:
        if holdout_share is not None and abs(holdout_share - prog["holdout_share"]) > 1e-12:
            raise ValidationError([Problem(
                f"the programme's holdout share is {prog['holdout_share']}; it cannot change "
                "once users are assigned", field="holdout_share")], f"{name} was rejected")
        if salt is not None and salt != prog["salt"]:  # was ignored without a word
            raise ValidationError([Problem(
                "the programme's salt was fixed by its first roster import; it cannot change "
                "once users are assigned", field="salt")], f"{name} was rejected")
        share, key = prog["holdout_share"], prog["salt"]
    else:
        share = DEFAULT_HOLDOUT_SHARE if holdout_share is None else holdout_share
        if not 0 <= share < 1:
            raise ValidationError([Problem("must be in [0, 1)", field="holdout_share")],
                                  f"{name} was rejected")
        key = salt or _new_salt()

    def write(tmp: Path) -> dict:
        counts = _write_merged(store, data, name, tmp, key, share, joined_on, accept)
        if counts["rows"] == 0:  # a bare header fixed the salt and share with nobody assigned
            raise ValidationError([Problem("the file has no users (a header only)")],
                                  f"{name} was rejected; nothing was imported")
        return counts

    counts = replace_roster(store, data, name=name, actor=actor, write=write, action="import",
                            programme=None if prog is not None else (key, share))
    return RosterReport(counts["rows"], counts["new_users"], counts["total_users"], share,
                        counts["holdout_users"], tuple(counts["kept_columns"]),
                        counts["left_in_file"])


class _Old:
    """The current roster's ids and what a known user keeps (Arrow: no Python string a user),
    and which of its users the new file has."""

    def __init__(self, path: Path):
        self.path = path
        self.exists = path.exists()
        table = read_roster(path, ["user_id", *KEPT]) if self.exists else None
        self.ids = table.column("user_id").combine_chunks() if table is not None else None
        self.fixed = table.drop_columns(["user_id"]) if table is not None else None
        self.seen = np.zeros(len(self.ids) if self.ids is not None else 0, bool)
        self._columns: dict[str, pa.Array] = {}

    def column(self, name: str) -> pa.Array:
        """A stored column of the current roster (read once, when a file lacks it)."""
        if name not in self._columns:
            self._columns[name] = read_roster(self.path, [name]).column(name).combine_chunks()
        return self._columns[name]

    def positions(self, ids: pd.Series) -> np.ndarray:
        """Row of each id in the current roster (-1 for a new user); marks them as seen."""
        if not len(self.seen):
            return np.full(len(ids), -1, np.int64)
        pos = pc.fill_null(pc.index_in(pa.array(ids, pa.string()), value_set=self.ids), -1
                           ).to_numpy().astype(np.int64)
        self.seen[pos[pos >= 0]] = True
        return pos

    def kept(self) -> Iterator[pa.Table]:
        """Batches of the current roster's users absent from the new file (they stay)."""
        if not self.exists:
            return
        yield from kept_batches(self.path, ~self.seen, BATCH_ROWS)


def _write_merged(store: Store, data: bytes, name: str, tmp: Path, key: str, share: float,
                  joined_on: str, accept: bool) -> dict:
    """Validate the file batch by batch and write the merged roster to ``tmp``: the file's
    users (known ones keep arm, join day and arrival attributes), then the current roster's
    users absent from the file. Raises with the problems found (up to
    :data:`MAX_PROBLEMS`), naming row and column; ``tmp`` is then incomplete."""
    segments = segments_of(store)
    old = _Old(roster_path(store))
    problems: list[Problem] = []
    ids: list[pa.Array] = []
    counts: dict = dict(rows=0, new_users=0, total_users=0, holdout_users=0, kept_columns=[],
                        left_in_file=0)
    newcomers = NewUsers(old.ids)
    with pq.ParquetWriter(tmp, ROSTER_SCHEMA) as writer:
        for df in read_batches(data, name):
            offset = counts["rows"]
            counts["rows"] += len(df)
            if "arm" in df.columns:
                raise ValidationError([Problem(
                    "the arm is assigned by the programme (a hash of the user id); remove "
                    "the column", field="arm")], f"{name} was rejected; nothing was imported")
            if "user_id" in df.columns:
                uid = df["user_id"]
                uid = uid.where(uid.isna(), uid.astype(str).str.strip()).astype("string")
                df["user_id"] = uid.mask(uid == "")
            known = ("user_id", "segment", *ATTRIBUTES)
            df = df[[c for c in df.columns if c in known]]  # in the file's order, as problems are
            unstated = _unstated(df)
            if old.exists:
                counts["kept_columns"] = [c for c in ATTRIBUTES if c not in df.columns]
            try:
                df = prepare_users(df, segments, share)
            except ValidationError as e:
                problems.extend(replace(p, row=p.row + offset) if p.row else p
                                for p in e.problems)
                if any(p.row is None for p in e.problems) or len(problems) >= MAX_PROBLEMS:
                    break
                continue
            if problems:
                continue  # only validating from here on
            pos = old.positions(df["user_id"].astype(str))
            batch = _merged_batch(df, old, pos, key, share, joined_on, unstated)
            new = np.flatnonzero(pos < 0)
            counts["new_users"] += len(new)
            counts["left_in_file"] += batch.num_rows - batch.column("left_on").null_count
            newcomers.look(batch.column("user_id").take(new), new + offset + 1)
            ids.append(batch.column("user_id"))
            _write(writer, batch, counts)
        if not problems:
            problems = _duplicates(ids)
        if not problems and not accept:
            problems = newcomers.problems(counts["rows"])
        if problems:
            raise ValidationError(problems[:MAX_PROBLEMS],
                                  f"{name} was rejected; nothing was imported")
        del ids
        for table in old.kept():
            _write(writer, table, counts)
    return counts


def _unstated(df: pd.DataFrame) -> dict[str, np.ndarray | None]:
    """What the file says nothing about, per attribute: ``None`` for a column it lacks, else
    its empty cells (an empty consent cell is refused, not kept). A known user keeps the
    stored value there: a defaults-filled re-import without consent columns reset every user
    who had withdrawn consent to push, e-mail and in-app allowed."""
    out: dict[str, np.ndarray | None] = {}
    for c in ATTRIBUTES:
        if c not in df.columns:
            out[c] = None
        elif not c.startswith("consent_") and df[c].isna().any():
            out[c] = df[c].isna().to_numpy()
    return out


def _merged_batch(df: pd.DataFrame, old: _Old, pos: np.ndarray, key: str, share: float,
                  joined_on: str, unstated: dict[str, np.ndarray | None]) -> pa.Table:
    """A validated batch as roster rows: arm by the salted hash for a new user, and for a
    known one (``pos``: their row in ``old``) the arm, join day, arrival attributes and day
    they left of their first import, and the stored
    value of each attribute the file leaves unstated (see :func:`_unstated`)."""
    uid = df["user_id"].astype(str)
    n = len(df)
    fixed = {"arm": pa.array(np.where(stable_arm(uid, share, salt=key), "holdout", "agent"),
                             pa.string()),
             "joined_on": pa.array(np.full(n, joined_on, object), pa.string()),
             # Pre-treatment covariates for the lift report: the attributes on arrival.
             "pre_engagement": pa.array(df["past_engagement"].to_numpy(np.int32)),
             "start_inactive": pa.array(df["days_inactive"].to_numpy(np.int32)),
             "left_on": pa.nulls(n, pa.string())}
    hit = pos >= 0
    if hit.any():
        mask = pa.array(hit)
        kept = old.fixed.take(pa.array(pos[hit]))
        fixed = {c: pc.replace_with_mask(v, mask, kept.column(c).combine_chunks())
                 for c, v in fixed.items()}
    attrs = {c: pa.array(df[c].astype(str) if c == "platform" else df[c].to_numpy(),
                         ROSTER_SCHEMA.field(c).type) for c in ATTRIBUTES}
    for c, empty in unstated.items():
        keep = hit if empty is None else hit & empty
        if keep.any():
            attrs[c] = pc.replace_with_mask(attrs[c], pa.array(keep),
                                            old.column(c).take(pa.array(pos[keep])))
    columns = {"user_id": pa.array(uid, pa.string()),
               "segment": pa.array(df["segment"].astype(str), pa.string()), **fixed, **attrs}
    return pa.table(columns, schema=ROSTER_SCHEMA)


def _write(writer: pq.ParquetWriter, table: pa.Table, counts: dict[str, int]) -> None:
    writer.write_table(table)
    counts["total_users"] += table.num_rows
    counts["holdout_users"] += int(pc.sum(pc.equal(table.column("arm"), "holdout")).as_py()
                                   or 0)


def _duplicates(ids: list[pa.ChunkedArray]) -> list[Problem]:
    """Users that appear twice across batches (:func:`prepare_users` finds them within one),
    at the row of their repeat."""
    if len(ids) < 2:
        return []
    chunks = [c for a in ids for c in a.chunks]
    n = sum(len(c) for c in chunks)
    counts = pa.table({"user_id": pa.chunked_array(chunks, pa.string()),
                       "row": np.arange(1, n + 1)}).group_by("user_id").aggregate(
        [("row", "count"), ("row", "max")])
    dup = counts.filter(pc.greater(counts.column("row_count"), 1)).sort_by("row_max")
    return [Problem(f"user '{u}' appears twice", row=int(r), field="user_id") for u, r in zip(
        dup.column("user_id").to_pylist()[:MAX_PROBLEMS],
        dup.column("row_max").to_pylist()[:MAX_PROBLEMS])]
