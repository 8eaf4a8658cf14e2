"""The roster's Parquet file (``<db>.live/roster/roster.parquet``): its columns, reading it
whatever version of the workbench wrote it, and replacing it whole in the transaction that
records the change in the ledger (:func:`replace_roster`), for imports and removals alike.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from workbench.agent.users import DEFAULTS
from workbench.live import live_dir

#: Columns kept in the roster, besides ``user_id``, ``segment``, ``arm`` and ``joined_on``.
ATTRIBUTES = tuple(DEFAULTS)
#: Columns a user keeps from their first import.
FIXED_AT_ARRIVAL = ("arm", "joined_on", "pre_engagement", "start_inactive")
#: What a known user keeps whatever a re-import says: the above and the day they left.
KEPT = (*FIXED_AT_ARRIVAL, "left_on")
#: The roster file's columns and types.
ROSTER_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("segment", pa.string()), ("arm", pa.string()),
     ("joined_on", pa.string()), ("pre_engagement", pa.int32()), ("start_inactive", pa.int32())]
    + [(c, pa.string() if c == "platform" else pa.bool_() if c.startswith("consent_")
        else pa.int32()) for c in ATTRIBUTES]
    + [("left_on", pa.string())])  # the day the user left the programme; null while in it


def roster_path(store: Store) -> Path:
    return live_dir(store) / "roster" / "roster.parquet"


def read_roster(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The roster file's ``columns`` (all by default) in :data:`ROSTER_SCHEMA`'s types; a
    column an older roster file lacks (``left_on``) is read as nulls."""
    names = columns or ROSTER_SCHEMA.names
    have = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[c for c in names if c in have])
    for c in names:
        if c not in have:
            table = table.append_column(ROSTER_SCHEMA.field(c),
                                        pa.nulls(table.num_rows, ROSTER_SCHEMA.field(c).type))
    return table.select(names)


def kept_batches(path: Path, keep: np.ndarray, batch_rows: int) -> Iterator[pa.Table]:
    """The roster file's rows where ``keep`` is true, in batches of up to ``batch_rows``
    rows, as :data:`ROSTER_SCHEMA`."""
    offset = 0
    file = pq.ParquetFile(path)
    have = set(file.schema_arrow.names)
    for batch in file.iter_batches(batch_size=batch_rows):
        part = keep[offset:offset + batch.num_rows]
        offset += batch.num_rows
        if part.any():
            table = pa.Table.from_batches([batch.filter(pa.array(part))])
            for c in ROSTER_SCHEMA.names:
                if c not in have:
                    table = table.append_column(c, pa.nulls(table.num_rows,
                                                            ROSTER_SCHEMA.field(c).type))
            yield table.select(ROSTER_SCHEMA.names).cast(ROSTER_SCHEMA)


def replace_roster(store: Store, data: bytes, *, name: str, actor: str,
                   write: Callable[[Path], dict], action: str,
                   programme: tuple[str, float] | None = None) -> dict:
    """Put the roster ``write`` makes (from a temporary path; it returns the counts ``rows``,
    ``new_users`` and ``total_users`` at least) in place, in the transaction that records it
    in the ledger (and creates the programme with ``programme``'s salt and share), and
    return the counts. If anything fails, the roster the ledger lists stays."""
    path = roster_path(store)
    made = [d for d in (path.parent.parent, path.parent) if not d.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Names of this import's own, in the roster's folder (the rename stays on one disk).
    own = f".roster.{os.getpid()}-{secrets.token_hex(4)}"
    tmp, kept = path.with_name(own + ".tmp"), path.with_name(own + ".old")
    try:
        counts = write(tmp)
        existed = path.exists()
        if existed:
            _link(path, kept)  # the roster the ledger lists, until the commit
        try:
            with store.transaction():
                tmp.replace(path)
                if programme is not None:
                    live_store.create_programme(store, *programme, actor)
                live_store.record_roster_import(
                    store, source=name, sha256=hashlib.sha256(data).hexdigest(),
                    rows=counts["rows"], new_users=counts["new_users"],
                    total_users=counts["total_users"], actor=actor)
                store.audit(actor, action, "roster", name,
                            {k: v for k, v in counts.items() if isinstance(v, int)})
        except BaseException:  # rolled back: the file goes back to what the ledger says
            if existed and kept.exists():
                kept.replace(path)
            elif not existed:
                path.unlink(missing_ok=True)
            raise
    finally:
        tmp.unlink(missing_ok=True)
        kept.unlink(missing_ok=True)
        for d in reversed(made):  # a refused first import leaves no empty folders behind
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    return counts


def _link(path: Path, kept: Path) -> None:
    """A second name for ``path`` (no copy); none where the disk has no hard links."""
    try:
        os.link(path, kept)
    except OSError:
        pass
