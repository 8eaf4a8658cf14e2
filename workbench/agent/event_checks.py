"""Which outcome-event values are plausible, per use case: the checks every events file meets.

A hostile or broken export must not poison the models: one ``gmv,1e300`` line would drag every
model mean to 1e299. So each event type has a plausible range. The binary events
(:data:`BINARY_EVENTS`: one per decision or none) are 0 or 1, always. The others (amounts and
counts: GMV today) have a **plausible maximum**, a setting of the use case, because what is
plausible depends on the business (a grocery basket is not a holiday booking): stored in the
SQLite file per use case (:func:`save_limits`), shown and edited on Agent control > Event
checks and with ``workbench event-limits``, defaulting to :data:`DEFAULT_MAXIMA`. A line above
its maximum is quarantined with the reason by ``workbench ingest`` and the live programme's
ingest. A maximum is a positive, finite number; anything else is refused naming the event.
Each save numbers a new version of a use case's maxima; a save based on an older version (the
page opened before someone else saved) is refused with :class:`StaleLimitsError`, as stale atom
and template edits are, instead of silently overwriting the newer maxima.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from store import Store, now
from store import agent as agent_store
from workbench import Problem, ValidationError, WorkbenchError
from workbench.agent.reward import MAX_VALUE

__all__ = ["BINARY_EVENTS", "DEFAULT_MAXIMA", "EventLimits", "StaleLimitsError", "load_limits",
           "parse_maxima", "save_limits", "value_problem", "NEEDS_AMOUNT"]

#: Events that happen once per decision or not at all: their value is 0 or 1.
BINARY_EVENTS = ("direct_open", "engagement", "intent", "conversion", "conversion_vertical")
#: Why an amount event (GMV) with an empty value is refused, after the event's name.
NEEDS_AMOUNT = " needs a value: the amount (an empty value counts 1 only for the other events)"
#: The plausible maximum of each non-binary event's value (GMV in currency units per event)
#: until a use case sets its own. Above it a line is a broken export or an attack, not a customer.
DEFAULT_MAXIMA: Mapping[str, float] = MappingProxyType({"gmv": 100_000.0})
#: Where a use case's maxima are kept (``agent_settings``), as JSON ``{event: maximum}``.
SETTING_KEY = "event_maxima:{use_case}"
#: The use case of a programme that has none defined yet.
NO_USE_CASE = "default"


@dataclass(frozen=True)
class EventLimits:
    """The plausible maxima in force for one use case (every non-binary event has one)."""

    use_case: str
    maxima: Mapping[str, float]
    saved_by: str | None = None  # None: the defaults, never saved for this use case
    saved_at: str | None = None
    version: int = 0  # 0: the defaults; each save adds 1 (a save from before versions is 1)

    def rows(self) -> list[dict[str, Any]]:
        """One row per event type, binary ones included, for a table people read."""
        return ([{"event": e, "values": "0 or 1", "plausible maximum": None}
                 for e in BINARY_EVENTS]
                + [{"event": e, "values": "amount", "plausible maximum": m}
                   for e, m in self.maxima.items()])


class StaleLimitsError(WorkbenchError):
    """The maxima were saved by someone else after this save's version was read; nothing was
    saved. Carries both sides so that a page can show them."""

    def __init__(self, current: EventLimits, based_on: int, yours: Mapping[str, float]):
        self.current, self.based_on, self.yours = current, based_on, dict(yours)
        super().__init__(
            f"Not saved: the event checks of use case {current.use_case} were changed by "
            f"{current.saved_by} at {current.saved_at} since you opened them (you opened "
            f"version {based_on}, they are now version {current.version}). Theirs: "
            f"{describe(current.maxima)}. Yours: {describe(yours)}. Save yours again if it "
            "still holds.")


def describe(maxima: Mapping[str, float]) -> str:
    """``gmv at most 5000``: maxima as people read them."""
    return ", ".join(f"{e} at most {m:g}" for e, m in maxima.items())


def parse_maxima(values: Mapping[str, Any]) -> dict[str, float]:
    """``values`` (event -> maximum, as typed: text or numbers) checked and as floats.

    Refused whole, naming each bad event: an event that has no maximum (binary or unknown), a
    value that is empty, not a number, NaN or infinite, not above 0 or over
    :data:`~workbench.agent.reward.MAX_VALUE`."""
    problems, out = [], {}
    for event, raw in values.items():
        name = str(event).strip().lower()
        if name in BINARY_EVENTS:
            problems.append(Problem("is a 0/1 event; it has no maximum to set", field=name))
            continue
        if name not in DEFAULT_MAXIMA:
            problems.append(Problem(f"is not an event with a maximum (those are: "
                                    f"{', '.join(DEFAULT_MAXIMA)})", field=name))
            continue
        value = _number(raw)
        if value is None:
            problems.append(Problem(f"'{raw}' is not a number", field=name))
        elif not math.isfinite(value):
            problems.append(Problem(f"'{raw}' is not a finite number", field=name))
        elif value <= 0:
            problems.append(Problem(f"'{raw}' must be above 0", field=name))
        elif value > MAX_VALUE:  # the agent refuses to learn a value over it
            problems.append(Problem(f"'{raw}' must be at most {MAX_VALUE:g}", field=name))
        else:
            out[name] = value
    if problems:
        raise ValidationError(problems, "The plausible maxima were not saved")
    return out


def _number(raw: Any) -> float | None:
    """A number typed as text or given as one; None when it is neither (``True`` included)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    try:
        return float(str(raw).strip())
    except ValueError:
        return None


def _use_case(store: Store, use_case: str | None) -> str:
    if use_case is not None:
        if use_case not in store.use_case_ids():
            known = ", ".join(sorted(store.use_case_ids())) or "none defined"
            raise ValidationError([Problem(f"'{use_case}' is not a use case (known: {known})",
                                           field="use_case")], "Unknown use case")
        return use_case
    current = store.use_cases()
    return current[0]["id"] if current else NO_USE_CASE


def load_limits(store: Store, use_case: str | None = None) -> EventLimits:
    """The maxima in force for ``use_case`` (default: the programme's use case): the saved
    ones over :data:`DEFAULT_MAXIMA`."""
    uc = _use_case(store, use_case)
    raw = agent_store.setting(store, SETTING_KEY.format(use_case=uc))
    if raw is None:
        return EventLimits(uc, MappingProxyType(dict(DEFAULT_MAXIMA)))
    saved = json.loads(raw)
    maxima = {**DEFAULT_MAXIMA, **parse_maxima(saved["maxima"])}
    return EventLimits(uc, MappingProxyType(maxima), saved.get("by"), saved.get("at"),
                       int(saved.get("version", 1)))


def save_limits(store: Store, values: Mapping[str, Any], actor: str,
                use_case: str | None = None, based_on: int | None = None) -> EventLimits:
    """Check and save maxima for ``use_case`` (events not given keep theirs), with an audit
    entry; returns what is now in force. Nothing is saved when a value is refused, nor when
    ``based_on`` (the :attr:`EventLimits.version` the person saw; ``None`` skips the check, for
    scripts) is not the version stored now: :class:`StaleLimitsError`."""
    checked = parse_maxima(values)
    with store.transaction():
        current = load_limits(store, use_case)
        if based_on is not None and based_on != current.version:
            raise StaleLimitsError(current, based_on, checked)
        maxima = {**current.maxima, **checked}
        at, version = now(), current.version + 1
        agent_store.save_setting(store, SETTING_KEY.format(use_case=current.use_case),
                                 json.dumps({"maxima": maxima, "by": actor, "at": at,
                                             "version": version}), actor)
        store.audit(actor, "event_maxima", "use_case", current.use_case,
                    {"before": dict(current.maxima), "after": maxima})
    return EventLimits(current.use_case, MappingProxyType(maxima), actor, at, version)


def value_problem(event: str, value: float, text: str,
                  maxima: Mapping[str, float]) -> str | None:
    """Why this event's value is implausible (for the quarantine), or None. ``text`` is the
    value as written: empty counts as 1 for the 0-or-1 events, but an amount must be given."""
    if not text and event not in BINARY_EVENTS:
        return event + NEEDS_AMOUNT
    if not math.isfinite(value) or value < 0:
        return f"value '{text}' is not a number >= 0"
    if event in BINARY_EVENTS and value not in (0.0, 1.0):
        return f"value '{text}' of {event} is not 0 or 1"
    limit = maxima.get(event)
    if limit is not None and value > limit:
        return f"value '{text}' of {event} is over the plausible maximum {limit:g}"
    return None
