"""The lift report: estimates per phase, metric, week and segment, from a simulated run or from
imported user-level outcomes.

Imported CSV (one row per user and phase)::

    user_id,arm,phase,segment,engagement,direct_open,...,pre_engagement,pre_opens

``arm`` is ``agent`` or ``holdout``; ``phase`` is ``active`` or ``passive`` (optional: one
"all" phase when absent); metric columns are any of ``direct_open, engagement, intent,
conversion, conversion_vertical, gmv``; columns starting with ``pre_`` are pre-treatment
covariates for ML-RATE.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError
from workbench.lift.estimators import LiftEstimate, from_moments, ml_rate, phase_change, unadjusted
from workbench.sim.world import METRICS

MAX_IMPORT_BYTES = 500 * 2 ** 20


@dataclass
class LiftData:
    """User-level outcomes: ``outcomes[phase][metric]`` aligned with ``treated``."""

    treated: np.ndarray
    segment: np.ndarray
    covariates: np.ndarray | None
    outcomes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    source: str = ""

    @property
    def phases(self) -> list[str]:
        return list(self.outcomes)

    @property
    def metrics(self) -> list[str]:
        return [m for m in METRICS if all(m in o for o in self.outcomes.values())]


def from_run(users: dict[str, np.ndarray], source: str = "simulated trial") -> LiftData:
    """From a finished run's ``users.npz``: per-phase outcomes and pre-period covariates."""
    pm = users["phase_metrics"]
    metrics = [str(m) for m in users["metrics"]]
    phases = [str(p) for p in users["phases"]]
    days = users["phase_days"]
    X = np.column_stack([users["pre_engagement"], users["pre_opens"], users["start_inactive"],
                         users["segment"], users["platform"], users["habitual_hour"]])
    segs = np.asarray([str(s) for s in users["segments"]])
    outcomes = {p: {m: pm[:, i, k].astype(float) for k, m in enumerate(metrics)}
                for i, p in enumerate(phases) if days[i] > 0}
    return LiftData(~users["holdout"].astype(bool), segs[users["segment"]], X.astype(float),
                    outcomes, source)


def read_csv(data: bytes, name: str = "upload.csv") -> LiftData:
    """Parse an imported outcomes file; problems name the line and column."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError([Problem("the file is over 500 MB")], "The file was rejected")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError([Problem("is not valid UTF-8", row=data[:e.start].count(b"\n") + 1)],
                              "The file was rejected") from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype={"user_id": str, "arm": str, "phase": str,
                                                    "segment": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValidationError([Problem(str(e).splitlines()[0])], "The file was rejected") from None
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
            problems.append(Problem(message.format(v=df[col].iloc[i]), row=int(i) + 2, field=col))

    df["arm"] = df["arm"].astype(str).str.strip().str.lower()
    bad(~df["arm"].isin(["agent", "holdout"]), "arm", "'{v}' is not agent or holdout")
    df["phase"] = df["phase"].astype(str).str.strip().str.lower()
    bad(~df["phase"].isin(["active", "passive", "all"]), "phase",
        "'{v}' is not active, passive or all")
    bad(df["user_id"].isna(), "user_id", "is empty")
    bad(df.duplicated(["user_id", "phase"]), "user_id", "user '{v}' appears twice in a phase")
    covs = [c for c in df.columns if c.startswith("pre_")]
    for col in metrics + covs:
        vals = pd.to_numeric(df[col], errors="coerce")
        bad(vals.isna() | (vals < 0), col, "'{v}' is not a number >= 0")
        df[col] = vals
    if problems:
        raise ValidationError(problems, f"{name} was rejected; nothing was imported")
    users = df.drop_duplicates("user_id").set_index("user_id")
    arms = df.groupby("user_id")["arm"].nunique()
    if (arms > 1).any():
        uid = arms[arms > 1].index[0]
        raise ValidationError([Problem(f"user '{uid}' is in both arms", field="arm")],
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
    return unadjusted(y[data.treated], y[~data.treated])


def phase_table(data: LiftData, adjusted: bool = True, seed: int = 0) -> pd.DataFrame:
    """One row per phase and metric: the estimate with its interval and estimator."""
    rows = []
    for phase in data.phases:
        for metric in data.metrics:
            est = _estimate(data, data.outcomes[phase][metric], adjusted, seed)
            rows.append({"phase": phase, "metric": metric, **est.as_dict()})
    if {"active", "passive"} <= set(data.phases):
        for metric in data.metrics:
            est = phase_change({"y": data.outcomes["active"][metric], "treated": data.treated},
                               {"y": data.outcomes["passive"][metric], "treated": data.treated})
            rows.append({"phase": "passive vs active", "metric": metric, **est.as_dict()})
    return pd.DataFrame(rows)


def segment_table(data: LiftData, metric: str, phase: str | None = None) -> pd.DataFrame:
    """Unadjusted lift per segment (segments with at least 20 users in each arm)."""
    phase = phase or data.phases[0]
    y = data.outcomes[phase][metric]
    rows = []
    for seg in sorted(set(data.segment)):
        m = data.segment == seg
        t, c = y[m & data.treated], y[m & ~data.treated]
        if len(t) >= 20 and len(c) >= 20 and c.mean() > 0:
            rows.append({"segment": seg, **unadjusted(t, c).as_dict()})
    return pd.DataFrame(rows)


def weekly_table(weekly: pd.DataFrame) -> pd.DataFrame:
    """Lift per week and metric from the run's weekly per-user moments."""
    rows = []
    for (week, metric), g in weekly.groupby(["week", "metric"]):
        arms = {r["arm"]: r for r in g.to_dict("records")}
        if {"agent", "holdout"} <= set(arms) and arms["holdout"]["sum"] > 0:
            a, h = arms["agent"], arms["holdout"]
            est = from_moments(a["n"], a["sum"], a["sumsq"], h["n"], h["sum"], h["sumsq"])
            rows.append({"week": week, "metric": metric, "mode": a["mode"], **est.as_dict()})
    return pd.DataFrame(rows)


def funnel(data: LiftData, phase: str | None = None) -> pd.DataFrame:
    phase = phase or data.phases[0]
    rows = []
    for metric in data.metrics:
        y = data.outcomes[phase][metric]
        rows.append({"metric": metric, "agent": float(y[data.treated].mean()),
                     "holdout": float(y[~data.treated].mean())})
    return pd.DataFrame(rows)


def words(row: dict[str, Any]) -> str:
    """A manager's sentence for one estimate."""
    name = str(row["metric"]).replace("_", " ")
    lo, hi = row["ci_low"], row["ci_high"]
    sure = ("clearly above" if lo > 0 else "clearly below" if hi < 0
            else "not distinguishable from")
    return (f"{name}: {row['lift']:+.1%} per user (95% interval {lo:+.1%} to {hi:+.1%}), "
            f"{sure} business as usual.")


def html_report(title: str, sections: list[tuple[str, Any]]) -> str:
    """A self-contained HTML file: headings, tables (DataFrames) and plotly figures, with
    plotly.js inlined once so that the file opens offline."""
    parts = [f"<html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
             "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}</style></head><body>",
             f"<h1>{_esc(title)}</h1>"]
    first = True
    for heading, item in sections:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        if isinstance(item, pd.DataFrame):
            parts.append(item.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
        elif isinstance(item, str):
            parts.append(f"<p>{_esc(item)}</p>")
        else:
            parts.append(item.to_html(full_html=False, include_plotlyjs="inline" if first
                                      else False))
            first = False
    parts.append("</body></html>")
    return "\n".join(parts)


def _esc(text: str) -> str:
    from html import escape

    return escape(str(text))
