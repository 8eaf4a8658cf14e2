"""When the programme's sends go out: its time zone, its frequency cap and its daily limit.

**Time zone.** A programme has one IANA time zone (``programme day --timezone
Asia/Kuala_Lumpur``), stored with the programme when it is first given and changed only by
giving another; UTC until then. The day decided is a calendar day there: the agent's send time
(weekday x hour) and its quiet hours are local hours of that day's week, and the outbox's
``send_at`` is that local time in UTC (``...Z``). A local hour that does not exist (the spring
change) moves to the next one; one that happens twice (the autumn change) is the first.

**Frequency cap.** ``programme day`` runs every day and each run decides a send up to 6 days
ahead, so the agent's own cap (the roster's ``sends_7d`` at or above ``frequency_cap_7d``) is
not enough: run daily, a user was sent 7 messages in 7 days. Before a day's sends are written,
each is checked against the sends the programme has already decided for the same user (past
ones and pending ones, from the decision logs of the 13 days either side, whatever order the
days were decided in): it is skipped, flagged ``frequency_cap`` with propensity 1 as the agent
skips a capped user, when some 7 days (168 hours, any start) would hold more than
``frequency_cap_7d`` sends with it, or when its local calendar day already holds the
programme's daily limit (1 by default, ``programme day --max-per-day``). The roster's
``sends_7d`` is the messages the team's *other* tools sent (the programme counts its own from
its log): they count against every 7 days of the week decided. A message marketers force
(``must_send``) is sent all the same, as the agent sends it past its own cap, and counts
against the others.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import pandas as pd
import pyarrow as pa

from store import Store
from store import agent as agent_store
from store import live as live_store
from store import parquet as columnar
from store import sends as sends_store
from workbench import Problem, ValidationError
from workbench.agent.guardrails import GUARDRAILS

#: Where the programme's time zone and daily limit are kept (``agent_settings``).
ZONE_KEY = "programme.timezone"
PER_DAY_KEY = "programme.max_sends_per_day"
DEFAULT_ZONE = "UTC"
DEFAULT_PER_DAY = 1
WEEK_MIN = 7 * 24 * 60
DAY_MIN = 24 * 60
#: Days decided this close to the day (either side) can hold sends within a week of its own.
NEAR_DAYS = 13
_EPOCH = date(1970, 1, 1).toordinal()


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone name (``None`` when it is one)."""
    names = available_timezones() - {"localtime"}
    if name in names:
        return None
    near = sorted(n for n in names if n.lower() == name.strip().lower())
    hint = f" (did you mean {near[0]}?)" if near else ""
    return (f"'{name}' is not an IANA time zone name such as Asia/Kuala_Lumpur or UTC{hint}")


def check_settings(timezone: str | None, max_per_day: int | None) -> None:
    """Refuse a time zone or daily limit that cannot be stored (nothing is decided)."""
    problems = []
    if timezone is not None and (why := zone_problem(timezone)) is not None:
        problems.append(Problem(why, field="timezone"))
    if max_per_day is not None and (isinstance(max_per_day, bool)
                                    or not isinstance(max_per_day, int) or max_per_day < 1):
        problems.append(Problem("must be a whole number >= 1", field="max_per_day"))
    if problems:
        raise ValidationError(problems, "The day was not decided")


def stored(store: Store) -> dict:
    """The programme's time zone and daily limit as stored (their defaults until set)."""
    per_day = agent_store.setting(store, PER_DAY_KEY)
    return {"timezone": agent_store.setting(store, ZONE_KEY) or DEFAULT_ZONE,
            "max_per_day": int(per_day) if per_day else DEFAULT_PER_DAY}


def resolve(store: Store, timezone: str | None, max_per_day: int | None) -> tuple[dict, dict]:
    """The settings a run uses (those given, else the stored ones) and those of them that
    change what is stored (to :func:`save` with the run's writes)."""
    check_settings(timezone, max_per_day)
    now = stored(store)
    given = {"timezone": timezone, "max_per_day": max_per_day}
    changed = {k: v for k, v in given.items() if v is not None
               and (v != now[k] or agent_store.setting(store, _KEYS[k]) is None)}
    return now | changed, changed


_KEYS = {"timezone": ZONE_KEY, "max_per_day": PER_DAY_KEY}


def save(store: Store, changed: dict, actor: str) -> None:
    """Store changed settings (inside the caller's transaction), audited."""
    for name, value in changed.items():
        agent_store.save_setting(store, _KEYS[name], str(value), actor)
    if changed:
        store.audit(actor, "programme settings", "programme", 1, changed)


def local_today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def localise(decisions: pd.DataFrame, zone: str) -> None:
    """Turn the agent's ``send_at`` (the local wall time of the chosen weekday and hour) into
    UTC, in place; UTC itself is left as it is."""
    if zone == DEFAULT_ZONE or not len(decisions):
        return
    local = pd.DatetimeIndex(decisions["send_at"].to_numpy())
    utc = local.tz_localize(zone, ambiguous=np.ones(len(local), bool),
                            nonexistent="shift_forward").tz_convert("UTC").tz_localize(None)
    decisions["send_at"] = utc.as_unit(local.unit)


def _minutes(values) -> np.ndarray:
    return np.asarray(values).astype("datetime64[m]").astype(np.int64)


def _local_days(minutes: np.ndarray, zone: str) -> np.ndarray:
    """Each UTC time's calendar day in ``zone`` (days since 1970-01-01)."""
    if zone == DEFAULT_ZONE:
        return minutes // DAY_MIN
    at = pd.DatetimeIndex(minutes.astype("datetime64[m]")).tz_localize("UTC").tz_convert(zone)
    return _minutes(at.tz_localize(None).to_numpy()) // DAY_MIN


def _near_logs(store: Store, day: date) -> list[str]:
    """The decision logs of the other days decided within :data:`NEAR_DAYS` of ``day``."""
    out = []
    for row in live_store.days(store):
        gap = abs((date.fromisoformat(row["day"]) - day).days)
        if 0 < gap <= NEAR_DAYS:
            if not Path(row["log_path"]).is_file():
                raise ValidationError([Problem(
                    f"the decision log of {row['day']} is missing ({row['log_path']}): its "
                    "sends cannot be counted against the frequency cap")],
                    "The day was not decided")
            out.append(row["log_path"])
    return out


def cap_sends(store: Store, decisions: pd.DataFrame, day: date, *, zone: str, cap: int,
              per_day: int, outside: np.ndarray) -> int:
    """Skip (in place) each send of ``decisions`` (the day's, ``send_at`` in UTC) the
    programme's earlier sends leave no room for; returns how many were skipped. ``outside`` is
    each row's ``sends_7d`` from the roster (sends outside the programme)."""
    send = decisions["send"].to_numpy(bool)
    flags = decisions["guardrails"].to_numpy()
    cand = np.flatnonzero(send & ((flags & GUARDRAILS["must_send"]) == 0))
    logs = _near_logs(store, day)
    if not len(cand) or not logs:
        return 0
    t = _minutes(decisions["send_at"].to_numpy()[cand])
    stamp = "%Y-%m-%d %H:%M:%S"
    lo = (np.datetime64(int(t.min() - WEEK_MIN), "m")).astype(datetime).strftime(stamp)
    hi = (np.datetime64(int(t.max() + WEEK_MIN), "m")).astype(datetime).strftime(stamp)
    ids = pa.array(decisions["user_id"].to_numpy()[cand]).cast(pa.string())
    con = columnar.connect()
    try:
        pairs = sends_store.near_sends(
            con, logs, pa.table({"i": pa.array(np.arange(len(cand))), "user_id": ids,
                                 "t": pa.array(t)}), lo=lo, hi=hi, window=WEEK_MIN)
    finally:
        con.close()
    i = pairs.column("i").to_numpy().astype(np.int64)
    e = pairs.column("e").to_numpy().astype(np.int64)
    blocked = _blocked(i, e, t, len(cand), day, decisions["weekday"].to_numpy()[cand],
                       zone=zone, room=cap - np.asarray(outside)[cand].astype(np.int64),
                       per_day=per_day)
    rows = cand[blocked]
    for name, value in (("send", False), ("p_send", 1.0), ("propensity", 1.0),
                        ("guardrails", None)):
        column = decisions[name].to_numpy().copy()
        column[rows] = (flags[rows] | GUARDRAILS["frequency_cap"]) if value is None else value
        decisions[name] = column
    return int(len(rows))


def _blocked(i: np.ndarray, e: np.ndarray, t: np.ndarray, m: int, day: date,
             weekday: np.ndarray, *, zone: str, room: np.ndarray, per_day: int) -> np.ndarray:
    """Which of ``m`` candidates (times ``t``) the earlier sends ``e`` of pairs ``(i, e)``
    leave no room for: a local day at the daily limit, or a window of 7 days that holds
    ``room`` sends (``frequency_cap_7d`` less the user's sends outside the programme) with it.
    The busiest window through ``t`` starts at ``t`` or at an earlier send within a week."""
    blocked = room < 1
    d = e - t[i]  # each earlier send's distance from its candidate
    near = (d > -WEEK_MIN) & (d < WEEK_MIN)
    i, e, d = i[near], e[near], d[near]
    if not len(i):
        return blocked
    own_day = day.toordinal() - _EPOCH + (weekday.astype(np.int64) - day.weekday()) % 7
    same = np.bincount(i[_local_days(e, zone) == own_day[i]], minlength=m)
    blocked |= same >= per_day
    ahead = np.bincount(i[d >= 0], minlength=m)  # the week from the candidate on
    blocked |= ahead + 1 > room
    # the weeks from each earlier send before it: a sorted key per (candidate, send)
    span = WEEK_MIN * 3  # d + a week stays within the candidate's own range of keys
    key = np.sort(i * span + (d + WEEK_MIN))
    inside = np.searchsorted(key, key + WEEK_MIN, "left") - np.searchsorted(key, key, "left")
    i, d = key // span, key % span - WEEK_MIN
    blocked[i[(d <= 0) & (inside + 1 > room[i])]] = True
    return blocked
    own_day = day.toordinal() - _EPOCH + (weekday.astype(np.int64) - day.weekday()) % 7
    same = np.bincount(i[_local_days(e, zone) == own_day[i]], minlength=m)
    blocked |= same >= per_day
    ahead = np.bincount(i[(e >= t[i]) & (e < t[i] + WEEK_MIN)], minlength=m)
    blocked |= ahead + 1 > room
    first = e.min()
    span = int(e.max() - first) + WEEK_MIN + 1  # a user's key + a week stays theirs
    key = np.sort(i * span + (e - first))
    i, e = key // span, key % span + first
    inside = np.searchsorted(key, key + WEEK_MIN, "left") - np.searchsorted(key, key, "left")
    starts = e <= t[i]
    blocked[i[starts & (inside + 1 > room[i])]] = True
    return blocked
