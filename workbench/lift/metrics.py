"""The funnel metrics the lift is measured on, the names people read, and the phase a week is
charted in.

One home for the list: the simulator (``workbench.sim.world``) writes these columns, imported
CSVs are read by them, and the report labels them with :data:`METRIC_NAMES`.
"""

from __future__ import annotations

METRICS = ("direct_open", "engagement", "intent", "conversion", "conversion_vertical", "gmv")

METRIC_NAMES = {"direct_open": "Days with direct opens", "engagement": "Days with engagement",
                "intent": "Days with intent", "conversion": "Days with conversion",
                "conversion_vertical": "Days with conversion in the vertical", "gmv": "GMV"}

SIGNED_METRICS = frozenset({"gmv"})
"""Metrics whose per-user values may be negative (refunds exceed purchases)."""


def metric_name(metric: str) -> str:
    """The label a person reads for ``metric`` (the column name, readable, when unknown)."""
    return METRIC_NAMES.get(metric, metric.replace("_", " ").capitalize())


def week_mode(day_modes: list[str]) -> str:
    """The management mode a week's lift is shown in: that of most of its days (active on a
    tie). One rule for simulated runs and the live programme, whose switches rarely fall on
    a week's first day."""
    active = sum(m == "active" for m in day_modes)
    return "active" if active * 2 >= len(day_modes) else "passive"
