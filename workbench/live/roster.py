"""The programme's users and their arms.

A roster file has one row per user: ``user_id`` and ``segment`` are required, the other columns
are the attributes and consents :func:`workbench.agent.users.prepare_users` reads (defaults
fill what is missing). The arm is not in the file: it is the programme's, a keyed hash of the
user id with the programme's salt (:func:`workbench.agent.users.stable_arm`), so the same user
lands in the same arm on every import, and a user who joins later is assigned on arrival by
the same rule. The salt and the holdout share are fixed when the first roster is imported.

Re-importing updates every user's attributes (days inactive, sends in the last 7 days change
daily) and keeps users absent from the new file: they stay in the programme and in its
measurement. Bad rows are reported by row and column and nothing is written.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from store import Store
from store import live as live_store
from workbench import Problem, ValidationError
from workbench.agent.state import segments_of
from workbench.agent.users import DEFAULTS, prepare_users, stable_arm
from workbench.live import live_dir

#: Columns kept in the roster, besides ``user_id``, ``segment``, ``arm`` and ``joined_on``.
ATTRIBUTES = tuple(DEFAULTS)
#: Columns a user keeps from their first import.
FIXED_AT_ARRIVAL = ("arm", "joined_on", "pre_engagement", "start_inactive")
DEFAULT_HOLDOUT_SHARE = 0.10


@dataclass(frozen=True)
class RosterReport:
    rows: int
    new_users: int
    total_users: int
    holdout_share: float
    holdout_users: int

    def to_dict(self) -> dict:
        return {"rows": self.rows, "new_users": self.new_users, "total_users": self.total_users,
                "holdout_share": self.holdout_share, "holdout_users": self.holdout_users}


def roster_path(store: Store) -> Path:
    return live_dir(store) / "roster" / "roster.parquet"


def read_table(data: bytes, name: str) -> pd.DataFrame:
    """A CSV or Parquet file (by its first bytes) as text-keyed columns."""
    try:
        if data[:4] == b"PAR1":
            return pq.read_table(io.BytesIO(data)).to_pandas()
        return pd.read_csv(io.BytesIO(data), dtype={"user_id": str, "segment": str})
    except Exception as e:  # noqa: BLE001 - any parse failure is the file's problem
        raise ValidationError([Problem(f"cannot be read as CSV or Parquet ({e})")],
                              f"{name} was rejected") from None


def load_roster(store: Store, columns: list[str] | None = None) -> pd.DataFrame:
    """The current roster (empty with the roster's columns when none was imported)."""
    path = roster_path(store)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in
                             ("user_id", "segment", *FIXED_AT_ARRIVAL, *ATTRIBUTES)})
    return pq.read_table(path, columns=columns).to_pandas()


def import_roster(store: Store, data: bytes, *, name: str, actor: str, joined_on: str,
                  holdout_share: float | None = None, salt: str | None = None
                  ) -> RosterReport:
    """Validate and merge a roster file; the first import fixes the salt and holdout share."""
    prog = live_store.programme(store)
    if prog is not None:
        if holdout_share is not None and abs(holdout_share - prog["holdout_share"]) > 1e-12:
            raise ValidationError([Problem(
                f"the programme's holdout share is {prog['holdout_share']}; it cannot change "
                "once users are assigned", field="holdout_share")], f"{name} was rejected")
        share, key = prog["holdout_share"], prog["salt"]
    else:
        share = DEFAULT_HOLDOUT_SHARE if holdout_share is None else holdout_share
        if not 0 <= share < 1:
            raise ValidationError([Problem("must be in [0, 1)", field="holdout_share")],
                                  f"{name} was rejected")
        key = salt or secrets.token_hex(8)
    df = read_table(data, name)
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "arm" in df.columns:
        raise ValidationError([Problem("the arm is assigned by the programme (a hash of the "
                                       "user id); remove the column", field="arm")],
                              f"{name} was rejected; nothing was imported")
    if "user_id" in df.columns:
        ids = df["user_id"]
        df["user_id"] = ids.where(ids.isna(), ids.astype(str).str.strip()).astype("string")
        df.loc[df["user_id"] == "", "user_id"] = pd.NA
    df = df[[c for c in ("user_id", "segment", *ATTRIBUTES) if c in df.columns]]
    try:
        df = prepare_users(df, segments_of(store), share)
    except ValidationError as e:
        raise ValidationError(e.problems, f"{name} was rejected; nothing was imported") from None
    new = df.drop(columns=["arm"])
    new["segment"] = new["segment"].astype(str)
    new["platform"] = new["platform"].astype(str)
    old = load_roster(store)
    known = pd.Index(old["user_id"].astype(str))
    is_new = ~new["user_id"].isin(known).to_numpy()
    holdout = stable_arm(new["user_id"].astype(str), share, salt=key)
    new["arm"] = np.where(holdout, "holdout", "agent")
    new["joined_on"] = joined_on
    # Pre-treatment covariates for the lift report: the attributes as they were on arrival.
    new["pre_engagement"] = new["past_engagement"]
    new["start_inactive"] = new["days_inactive"]
    if len(old):  # a known user keeps the arm, join day and arrival attributes they were given
        pos = known.get_indexer(new["user_id"].astype(str))
        hit = pos >= 0
        for col in FIXED_AT_ARRIVAL:
            new.loc[hit, col] = old[col].to_numpy()[pos[hit]]
        kept = old[~old["user_id"].isin(new["user_id"].astype(str))]
        merged = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    else:
        merged = new
    merged = merged[["user_id", "segment", *FIXED_AT_ARRIVAL, *ATTRIBUTES]]
    merged["user_id"] = merged["user_id"].astype(str)
    path = roster_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(merged, preserve_index=False), tmp)
    with store.transaction():
        if prog is None:
            live_store.create_programme(store, key, share, actor)
        live_store.record_roster_import(
            store, source=name, sha256=hashlib.sha256(data).hexdigest(), rows=len(new),
            new_users=int(is_new.sum()), total_users=len(merged), actor=actor)
        store.audit(actor, "import", "roster", name,
                    {"rows": len(new), "new_users": int(is_new.sum())})
        tmp.replace(path)  # the file lands with its metadata, or the transaction rolls back
    return RosterReport(len(new), int(is_new.sum()), len(merged), share,
                        int((merged["arm"] == "holdout").sum()))
