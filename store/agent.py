"""The decision agent's own rows: its settings, its saved posteriors and the daily snapshots of
its beliefs.

The posteriors are stored as opaque bytes (``GaussianPosterior.to_bytes``): this layer keeps and
returns them whole and never decodes them, so the model's format has one home in the agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from store import Store, now

__all__ = [
    "ModelRow",
    "SnapshotRow",
    "setting",
    "save_setting",
    "model_states",
    "save_models",
    "save_snapshots",
    "snapshots",
]


class ModelRow(TypedDict):
    """One dimension's posterior: ``state`` is the model's own bytes, ``n`` its observations."""

    dimension: str
    state: bytes
    n: int
    updated_at: str


class SnapshotRow(TypedDict):
    """The agent's belief about one option of a dimension for one segment on one day.

    ``share`` is the day's traffic share of the option (``None`` when it had no traffic data).
    """

    day: str
    dimension: str
    segment: str
    option: str
    label: str
    mean: float
    sd: float
    p_best: float
    share: float | None


def setting(store: Store, key: str) -> str | None:
    """The stored text of an agent setting, ``None`` when it was never saved."""
    rows = store.query("SELECT value FROM agent_settings WHERE key = ?", [key])
    return rows[0]["value"] if rows else None


def save_setting(store: Store, key: str, value: str, actor: str) -> None:
    """Insert or replace one setting, stamped with who saved it and when."""
    store.db["agent_settings"].upsert(
        {"key": key, "value": value, "updated_at": now(), "updated_by": actor}, pk="key")


def model_states(store: Store) -> dict[str, bytes]:
    """Each saved dimension's posterior bytes, by dimension."""
    return {r["dimension"]: r["state"]
            for r in store.query("SELECT dimension, state FROM agent_models")}


def save_models(store: Store, rows: Iterable[ModelRow]) -> None:
    """Insert or replace the posteriors of the given dimensions (others are left as they are)."""
    store.db["agent_models"].upsert_all(list(rows), pk="dimension")


def save_snapshots(store: Store, rows: list[SnapshotRow]) -> None:
    """Insert or replace snapshot rows (a day's snapshot taken twice keeps the latest)."""
    store.db["posterior_snapshots"].upsert_all(
        rows, pk=("day", "dimension", "segment", "option"), batch_size=2000)


def snapshots(store: Store, dimension: str, segment: str) -> list[SnapshotRow]:
    """Every day's snapshot rows of one dimension for one segment, oldest day first."""
    return store.query(
        "SELECT * FROM posterior_snapshots WHERE dimension = ? AND segment = ? ORDER BY day",
        [dimension, segment])
