"""The lift report: estimates per phase, metric, week and segment, from a simulated run or from
imported user-level outcomes.

Imported CSV (one row per user and phase)::

    user_id,arm,phase,segment,engagement,direct_open,...,pre_engagement,pre_opens

``arm`` is ``agent`` or ``holdout``; ``phase`` is ``active`` or ``passive`` (optional: one
"all" phase when absent); metric columns are any of ``direct_open, engagement, intent,
conversion, conversion_vertical, gmv``; columns starting with ``pre_`` are pre-treatment
covariates for ML-RATE, any finite number (standardised covariates are negative). Metric values
are numbers >= 0, except ``gmv``, where a negative value is a net refund. A metric's value is at most :func:`value_limit` in size (about 1e75: far above any
real outcome, and the most the estimators' sums of fourth powers can take).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError
from workbench.delimited import (blank_columns, delimiter, header, not_utf8,
                                  refuse_repeated_columns, unnamed_values)
from workbench.lift import charts
from workbench.lift import html as fmt
from workbench.lift.change import phase_change
from workbench.lift.estimators import SEGMENT_MIN_USERS, LiftEstimate, ml_rate
from workbench.lift.metrics import METRICS, SIGNED_METRICS, metric_name
from workbench.lift.permutation import plain_lift
from workbench.lift.weekly import NO_INTERVAL, heavy_weeks

MAX_IMPORT_BYTES = 500 * 2 ** 20


@dataclass
class LiftData:
    """User-level outcomes: ``outcomes[phase][metric]`` aligned with ``treated``."""

    treated: np.ndarray
    segment: np.ndarray
    covariates: np.ndarray | None
    outcomes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    source: str = ""
    phase_days: dict[str, int] = field(default_factory=dict)  # days per phase, when known
    #: still running (the live programme): an interim look, see :data:`INTERIM_NOTE`
    ongoing: bool = False

    @property
    def phases(self) -> list[str]:
        return list(self.outcomes)

    @property
    def metrics(self) -> list[str]:
        return [m for m in METRICS if all(m in o for o in self.outcomes.values())]


def from_run(users: dict[str, np.ndarray], source: str = "simulated trial") -> LiftData:
    """From a finished run's ``users.npz``: per-phase outcomes and pre-period covariates.

    The outcomes are views of ``phase_metrics`` when it is float64 (the live programme's, at
    millions of users: a copy per phase and metric would double the memory)."""
    pm = users["phase_metrics"]
    metrics = [str(m) for m in users["metrics"]]
    phases = [str(p) for p in users["phases"]]
    days = users["phase_days"]
    names = ("pre_engagement", "pre_opens", "start_inactive", "segment", "platform",
             "habitual_hour")
    # The live programme's events before each user's start, per metric (when it has any):
    # pre-treatment, so ML-RATE may predict from them as from the other covariates.
    pre = users["pre_metrics"] if "pre_metrics" in users else np.empty((len(pm), 0))
    pre = pre[:, np.flatnonzero(np.any(pre != 0, axis=0))]
    X = np.empty((len(pm), len(names) + pre.shape[1]))
    for j, name in enumerate(names):
        X[:, j] = users[name]
    X[:, len(names):] = pre
    segs = np.asarray([str(s) for s in users["segments"]])
    outcomes = {p: {m: np.asarray(pm[:, i, k], dtype=float) for k, m in enumerate(metrics)}
                for i, p in enumerate(phases) if days[i] > 0}
    return LiftData(~users["holdout"].astype(bool), segs[users["segment"]], X,
                    outcomes, source, {p: int(days[i]) for i, p in enumerate(phases)
                                       if days[i] > 0})


INTERIM_NOTE = (
    "Interim results: the programme is still running and its outcomes are counted so far. "
    "Each 95% interval holds for one look; a report read again every day will show some "
    "interval away from zero by chance more often than 1 time in 20, so take \"clearly\" as "
    "final at a date fixed in advance, not at the first day it appears.")
"""Said above the numbers of a source that is still running (its report is read repeatedly;
the intervals are fixed-horizon, not valid under continuous monitoring)."""


def whole_run(data: LiftData, metric: str) -> LiftEstimate:
    """Lift of ``metric`` per user over every phase together (unadjusted: the delta method, or
    the permutation interval of a heavy-tailed metric): the
    one number a glance at a finished run gets, with the interval and significance that make
    it readable (a +99% on 400 holdout users is noise)."""
    y = sum(data.outcomes[p][metric] for p in data.phases)
    return plain_lift(y[data.treated], y[~data.treated])


def value_limit(rows: int, phases: int) -> float:
    """The largest size of a metric's value in a file of ``rows`` rows and ``phases`` phases
    for which every sum the estimators form stays finite: a user's total over the phases (up
    to ``phases`` values), its deviation from the mean (up to twice that), and the sums over
    every row of its square and fourth power (the tail weight). Above it the sums overflow
    and the report has no number (or crashes), so such a file is refused."""
    return (float(np.finfo(float).max) / max(rows, 1)) ** 0.25 / (2 * max(phases, 1))


def read_csv(data: bytes, name: str = "upload.csv") -> LiftData:
    """Parse an imported outcomes file; problems name the line and column."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError([Problem("the file is over 500 MB")], "The file was rejected")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError([not_utf8(data, e)], "The file was rejected") from None
    # pandas would keep a repeated column as 'arm.1' and read the first one only
    names = header(text)
    refuse_repeated_columns([c.strip().lower() for c in names], "The file was rejected")
    try:
        # text columns by the header's own spelling: keyed on "user_id", a 'User_ID' column
        # was read as numbers, and the users 007 and 7 were one user, twice
        df = pd.read_csv(io.StringIO(text), sep=delimiter(text), dtype={
            c: str for c in names if c.strip().lower() in ("user_id", "arm", "phase", "segment")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValidationError([Problem(str(e).splitlines()[0])], "The file was rejected") from None
    if blank := blank_columns(names):  # a spreadsheet's empty trailing columns (",,")
        if problems := unnamed_values(names, lambda i: df.iloc[:, i]):
            raise ValidationError(problems, f"{name} was rejected; nothing was imported")
        df = df.iloc[:, [i for i in range(df.shape[1]) if i not in blank]]
    df.columns = [c.strip().lower() for c in df.columns]
    problems = [Problem(f"required column '{c}' is missing", field=c)
                for c in ("user_id", "arm") if c not in df.columns]
    metrics = [m for m in METRICS if m in df.columns]
    if not metrics:
        problems.append(Problem(f"no metric column (one of {', '.join(METRICS)})"))
    if problems:
        raise ValidationError(problems, "The file was rejected")
    if "phase" not in df.columns:
        df["phase"] = "all"
    if "segment" not in df.columns:
        df["segment"] = "all"

    def bad(mask: pd.Series, col: str, message: str) -> None:
        for i in np.flatnonzero(mask.to_numpy())[:20]:
            # data row 1 is the first line under the header, as every reader numbers rows
            problems.append(Problem(message.format(v=df[col].iloc[i]), row=int(i) + 1, field=col))

    df["arm"] = df["arm"].astype(str).str.strip().str.lower()
    bad(~df["arm"].isin(["agent", "holdout"]), "arm", "'{v}' is not agent or holdout")
    df["phase"] = df["phase"].astype(str).str.strip().str.lower()
    bad(~df["phase"].isin(["active", "passive", "all"]), "phase",
        "'{v}' is not active, passive or all")
    bad(df["user_id"].isna(), "user_id", "is empty")
    bad(df.duplicated(["user_id", "phase"]), "user_id", "user '{v}' appears twice in a phase")
    covs = [c for c in df.columns if c.startswith("pre_")]
    limit = value_limit(len(df), df["phase"].nunique())
    for col in metrics + covs:
        vals = pd.to_numeric(df[col], errors="coerce")
        if col in covs:  # standardised covariates are negative
            bad(vals.isna() | ~np.isfinite(vals), col, "'{v}' is not a finite number")
        elif col in SIGNED_METRICS:  # refunds: negative values are real
            bad(vals.isna() | ~np.isfinite(vals), col, "'{v}' is not a number")
        else:
            bad(vals.isna() | (vals < 0) | ~np.isfinite(vals), col,
                "'{v}' is not a number >= 0")
        if col in metrics:  # covariates only feed the learners, which take any finite number
            bad(np.isfinite(vals) & (vals.abs() > limit), col,
                f"'{{v}}' is too large: with {len(df)} rows the lift's sums of squares and "
                f"fourth powers overflow above {limit:.1e}")
        df[col] = vals
    if problems:
        raise ValidationError(problems, f"{name} was rejected; nothing was imported")
    users = df.drop_duplicates("user_id").set_index("user_id")
    arms = df.groupby("user_id")["arm"].nunique()
    if (arms > 1).any():
        uid = arms[arms > 1].index[0]
        raise ValidationError([Problem(f"user '{uid}' is in both arms", field="arm")],
                              f"{name} was rejected; nothing was imported")
    sizes = users["arm"].value_counts()
    if min(sizes.get("agent", 0), sizes.get("holdout", 0)) < 2:
        raise ValidationError([Problem(
            f"the file has {sizes.get('agent', 0)} agent and {sizes.get('holdout', 0)} holdout "
            "users; a lift needs at least 2 users in each arm", field="arm")],
            f"{name} was rejected; nothing was imported")
    order = users.index
    outcomes = {}
    for phase, part in df.groupby("phase", sort=False):
        part = part.set_index("user_id").reindex(order)
        outcomes[str(phase)] = {m: part[m].fillna(0).to_numpy(float) for m in metrics}
    X = users[covs].to_numpy(float) if covs else None
    return LiftData(users["arm"].to_numpy() == "agent", users["segment"].astype(str).to_numpy(),
                    X, outcomes, name)


def _estimate(data: LiftData, y: np.ndarray, adjusted: bool, seed: int) -> LiftEstimate:
    if adjusted:
        return ml_rate(y, data.treated, data.covariates, seed=seed)
    return plain_lift(y[data.treated], y[~data.treated], seed=seed)


def phase_table(data: LiftData, adjusted: bool = True, seed: int = 0) -> pd.DataFrame:
    """One row per phase and metric: the estimate with its interval and estimator. The change
    between phases adjusts with each phase's own ML-RATE predictions and reads whether the
    active lift is clear from the active row, so the two rows never disagree about it.

    The columns (``lift --json`` and the page's CSV export them as they are): ``phase,
    metric`` then :meth:`~workbench.lift.estimators.LiftEstimate.as_dict`. In a phase's row
    ``lift`` is ``mean_agent / mean_holdout - 1``, the means are per user and ``diff`` their
    difference. In a "passive vs active" row ``lift`` is the relative change of lift,
    ``lift_passive / lift_active - 1``, with Fieller's interval (``ci_low``, ``ci_high``),
    ``p_value``, ``significant``, ``status`` (why there is no number, when there is none),
    ``n_agent``/``n_holdout`` (the same users in both phases), ``variance_reduction`` (against
    the change from plain means) and ``events_holdout`` (holdout users with an event, counted
    in each phase); ``mean_agent``, ``mean_holdout``, ``diff`` and ``diff_se`` are empty
    (null in JSON, blank in CSV): a change of lift has no average per user."""
    rows, estimates = [], {}
    for phase in data.phases:
        for metric in data.metrics:
            est = _estimate(data, data.outcomes[phase][metric], adjusted, seed)
            estimates[phase, metric] = est
            rows.append({"phase": phase, "metric": metric, **est.as_dict()})
    if {"active", "passive"} <= set(data.phases):
        for metric in data.metrics:
            active, passive = ({"y": data.outcomes[phase][metric], "treated": data.treated,
                                "g": estimates[phase, metric].predictions}
                               for phase in ("active", "passive"))
            est = phase_change(active, passive, active_lift=estimates["active", metric])
            rows.append({"phase": "passive vs active", "metric": metric, **est.as_dict()})
    return pd.DataFrame(rows)


def segment_table(data: LiftData, metric: str, phase: str | None = None) -> pd.DataFrame:
    """Unadjusted lift per segment (the permutation interval where heavy-tailed; segments with
    at least :data:`SEGMENT_MIN_USERS` users in
    each arm)."""
    phase = phase or data.phases[0]
    y = data.outcomes[phase][metric]
    rows = []
    for seg in sorted(set(data.segment)):
        m = data.segment == seg
        t, c = y[m & data.treated], y[m & ~data.treated]
        if min(len(t), len(c)) >= SEGMENT_MIN_USERS and c.mean() > 0:
            rows.append({"segment": seg, **plain_lift(t, c).as_dict()})
    return pd.DataFrame(rows)


def run_start(run: dict[str, Any]) -> date | None:
    """The first day of a simulated run (from its stored configuration)."""
    try:
        return date.fromisoformat(json.loads(run.get("config") or "{}")["start"])
    except (KeyError, TypeError, ValueError):
        return None


def funnel(data: LiftData, phase: str | None = None) -> pd.DataFrame:
    phase = phase or data.phases[0]
    rows = []
    for metric in data.metrics:
        y = data.outcomes[phase][metric]
        rows.append({"metric": metric, "agent": float(y[data.treated].mean()),
                     "holdout": float(y[~data.treated].mean())})
    return pd.DataFrame(rows)


words = fmt.words


def arm_table(data: LiftData) -> pd.DataFrame:
    """Per phase and metric: users and the average per user in each arm (for people)."""
    rows = []
    for phase in data.phases:
        for metric in data.metrics:
            y = data.outcomes[phase][metric]
            rows.append({"Phase": fmt.PHASE_LABELS.get(phase, phase),
                         "Metric": metric_name(metric),
                         "Agent users": fmt.count(data.treated.sum()),
                         "Holdout users": fmt.count((~data.treated).sum()),
                         "Agent per user": fmt.number(float(y[data.treated].mean())),
                         "Holdout per user": fmt.number(float(y[~data.treated].mean()))})
    return pd.DataFrame(rows)


METHOD_NOTE = (
    "Users were split at random before the trial: most got the agent's messages, a holdout "
    "kept the business-as-usual messaging. The lift of a metric is how much higher the agent "
    "group's average per user is than the holdout's (+10% means 10% more per user). Because "
    "the split is random, anything else that happened (seasons, promotions, weekdays) affected "
    "both groups alike. ML-RATE makes the comparison more precise without changing what it "
    "measures: a model trained on other users predicts each user's outcome from their behaviour "
    "before the trial, and the comparison is adjusted for what was predictable; the variance "
    "reduction says how much narrower that made the interval. Intervals are 95%: the delta "
    "method for a ratio, with Student's t (Welch-Satterthwaite degrees of freedom) so that small "
    "holdouts get honestly wider intervals, computed on the log scale of the ratio. Metrics "
    "where a few large values carry the average (order value with few buyers) use a "
    "permutation interval instead, which does not assume a bell curve. 'Clearly above/below' "
    "means the interval excludes zero; otherwise the result is not distinguishable from "
    "business as usual. Samples with fewer than 100 holdout users or 10 holdout users with an "
    "event are flagged: such intervals are rough, and a flagged result is never called clear, "
    "even when its interval excludes zero.")


def phase_spans(phase_days: dict[str, int], start: date | None
                ) -> list[tuple[str, date, date]]:
    """``(phase, first day, last day)`` of each phase in order, from the days per phase and
    the first day, for sources whose phases follow each other (a run: active, then passive)."""
    if start is None:
        return []
    out, day = [], start
    for phase, days in phase_days.items():
        if days > 0:
            out.append((phase, day, day + timedelta(days=days - 1)))
            day += timedelta(days=days)
    return out


def manager_report(data: LiftData, table: pd.DataFrame, *, weekly: pd.DataFrame | None = None,
                   start: date | str | None = None, title: str | None = None,
                   generated: str | None = None,
                   periods: Sequence[tuple[str, date, date]] | None = None) -> str:
    """The forwardable report: a self-contained HTML page (plotly.js inlined) with an
    executive summary in words, the lift per phase as a chart and a table, weekly lift on
    calendar dates, users and averages per arm, the estimator and its variance reduction in
    plain language, and a method note.

    ``table`` is :func:`phase_table`'s result (all phases); ``weekly`` is
    :func:`~workbench.lift.weekly.weekly_table` (dated when it was given the run's start). ``periods`` are the
    stretches of each management mode (:func:`workbench.sources.phase_periods`; by default the
    phases follow each other from ``start``)."""
    first = date.fromisoformat(start) if isinstance(start, str) else start
    if periods is None:
        periods = phase_spans(data.phase_days, first) if data.phase_days else []
    title = title or f"Lift report: agent vs business as usual ({data.source})"
    n_t, n_c = int(data.treated.sum()), int((~data.treated).sum())
    meta = [f"Source: {data.source or 'outcomes'}", f"{fmt.count(n_t + n_c)} users: "
            f"{fmt.count(n_t)} with the agent, {fmt.count(n_c)} in the holdout "
            f"({n_c / (n_t + n_c):.0%})"]
    if periods:
        meta.append(f"{periods[0][1]:%d %b %Y} to {periods[-1][2]:%d %b %Y}")
        meta.extend(f"{fmt.PHASE_LABELS.get(p, p)}: {a:%d %b %Y} to {b:%d %b %Y}"
                    for p, a, b in periods)
    elif first:
        meta.append(f"Trial start {first:%d %b %Y}")
    meta.append(f"Generated {generated or fmt.generated_at()}")
    body = [f"<h1>{fmt.escape(title)}</h1>",
            "<p class='meta'>" + " · ".join(fmt.escape(m) for m in meta) + "</p>",
            "<h2>Summary</h2><div class='summary'>"
            + "".join(f"<p>{fmt.escape(p)}</p>" for p in
                      ([INTERIM_NOTE] if data.ongoing else []) + fmt.summary(table))
            + "</div>"]
    people = fmt.people_table(table)
    # What the summary does not say already (a metric's missing number is said there, why too)
    # Each under the estimate it belongs to (a bare "small sample: 100 holdout users" named
    # neither the metric nor the phase)
    warnings = [f"{r['Phase']}, {fmt.inline_metric(t['metric'])}: {r['Warning']}"
                for r, t in zip(people.to_dict("records"), table.to_dict("records"))
                if r["Warning"]]
    if warnings:
        body.append("<p class='warn'>" + "<br>".join(fmt.escape("⚠ " + w) for w in warnings)
                    + "</p>")
    figs = 0
    body.append("<h2>Lift per metric and phase</h2>")
    body.append(charts.figure_html(charts.phase_figure(table), first=True))
    figs += 1
    colours = [fmt.direction(r)[1] for r in table.to_dict("records")]
    body.append(fmt.table_html(people, "Lift (95% interval)", colours))
    body.append("<h2>Per user, agent and holdout</h2>")
    body.append(fmt.table_html(arm_table(data)))
    if weekly is not None and len(weekly):
        weekly = heavy_weeks(weekly, table)
        bare = set(weekly.loc[weekly.get("estimator", pd.Series("", weekly.index))
                              == NO_INTERVAL, "metric"])
        bare = [m for m in METRICS if m in bare]
        body.append("<h2>Week by week</h2><p>Each week's lift with its 95% interval (unadjusted:"
                    " weekly sums only); the shaded span is the passive phase."
                    + fmt.escape(" No interval for the weeks of "
                                 + ", ".join(map(fmt.inline_metric, bare)) + ": a few large "
                                 "values carry the average, and weekly sums cannot give the "
                                 "permutation interval of the table above." if bare else "")
                    + "</p>")
        # One switch to passive: shaded from its day; otherwise each week by its mode.
        modes = [p for p, _, _ in periods]
        passive_from = periods[-1][1] if modes == ["active", "passive"] else None
        for metric in [m for m in METRICS if m in set(weekly["metric"])]:
            if none := fmt.no_weekly_lift(weekly, metric):
                body.append(f"<p>{fmt.escape(none)}</p>")
                continue
            body.append(charts.figure_html(charts.weekly_figure(weekly, metric, passive_from),
                                           first=False))
    body.append("<h2>How this was measured</h2><p>" + fmt.escape(METHOD_NOTE) + "</p>")
    body.append("<p>" + fmt.escape(fmt.estimators_used(table)) + "</p>")
    return fmt.page(title, body)


def html_report(title: str, sections: list[tuple[str, Any]]) -> str:
    """A self-contained HTML file from headings, tables (DataFrames; the phase table is shown
    formatted for people), text and plotly figures, with plotly.js inlined once so that the
    file opens offline. Figures get a named template, so their colours survive outside the
    app. :func:`manager_report` builds the whole report a manager reads."""
    body = [f"<h1>{fmt.escape(title)}</h1>"]
    first = True
    for heading, item in sections:
        body.append(f"<h2>{fmt.escape(heading)}</h2>")
        if isinstance(item, pd.DataFrame):
            if {"lift", "ci_low", "ci_high", "status", "phase"} <= set(item.columns):
                colours = [fmt.direction(r)[1] for r in item.to_dict("records")]
                body.append(fmt.table_html(fmt.people_table(item), "Lift (95% interval)",
                                           colours))
            else:
                body.append(fmt.table_html(item))
        elif isinstance(item, str):
            body.append(f"<p>{fmt.escape(item)}</p>")
        else:
            body.append(charts.figure_html(item, first))
            first = False
    return fmt.page(title, body)
