"""What a headline card of the lift report shows for one estimate: the number, its interval,
an arrow that follows the sign of the lift, a colour only when the lift is clear, and the
small-sample warning next to the number."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from workbench.lift.estimators import HAS_NUMBER, OK
from workbench.lift.html import pct, words
from workbench.lift.metrics import metric_name


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    delta: str
    arrow: str  # "up", "down" or "off" (Streamlit's delta_arrow)
    colour: str  # "green", "red" or "gray"
    sentence: str
    warning: str  # empty, or why the number means little

    @property
    def verdict(self) -> str:
        """In words next to the number; empty when there is no number."""
        if self.value == "—":
            return ""
        if self.warning:
            return "Not called significant"
        return "Significant" if self.colour != "gray" else "Not significant"


def card(row: dict[str, Any]) -> Card:
    """The card of one row of :func:`workbench.lift.report.phase_table`."""
    lift = float(row.get("lift", math.nan))
    estimable = row.get("status", OK) in HAS_NUMBER and not math.isnan(lift)
    if not estimable:
        return Card(metric_name(row["metric"]), "—", str(row.get("status", "")), "off", "gray",
                    words(row), "")
    arrow = "up" if lift > 0 else "down" if lift < 0 else "off"
    colour = ("green" if lift > 0 else "red") if row.get("significant") else "gray"
    high = row["ci_high"]
    delta = (f"95% interval {pct(row['ci_low'])} to "
             f"{'no upper limit' if math.isinf(high) else pct(high)}")
    warning = ""
    if row.get("small_sample"):
        events = row.get("events_holdout", math.nan)
        with_event = "" if events is None or math.isnan(events) else \
            f", {int(events):,} with an event"
        warning = (f"Small sample: {int(row['n_holdout']):,} holdout users{with_event}. Too "
                   "few for the interval to mean much (at least 100 holdout users and 10 "
                   "with an event are needed); not called significant.")
    return Card(metric_name(row["metric"]), pct(lift), delta, arrow, colour, words(row), warning)
