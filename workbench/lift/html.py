"""The lift report a manager can forward: numbers written for people and one self-contained
HTML file (the charts are :mod:`workbench.lift.charts`).
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from html import escape
from typing import Any

import pandas as pd

from workbench.lift import estimators
from workbench.lift.estimators import (HAS_NUMBER, HEAVY_TAILED_CHANGE,
                                       NEGATIVE_ACTIVE_LIFT, NO_ACTIVE_LIFT, NO_VARIATION, OK,
                                       PHASE_CHANGE_ADJUSTED, UNBOUNDED_CHANGE)
from workbench.lift.metrics import metric_name

UP, DOWN, FLAT = "#1a7f37", "#cf222e", "#6e7781"  # green, red, grey
PHASE_LABELS = {"active": "Active management", "passive": "Passive (agent on its own)",
                "all": "Whole trial", "passive vs active": "Change, passive vs active"}


def pct(x: float, digits: int | None = None) -> str:
    """A relative change for people: ``+3.1%``, ``-0.27%``, ``+1,250%``; "n/a" for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "unbounded" if x > 0 else "-unbounded"
    v = 100 * x
    if digits is None:
        digits = 0 if abs(v) >= 1000 else 1 if abs(v) >= 1 or v == 0 else 2
    return f"{v:+,.{digits}f}%"


def interval(lift: float, low: float, high: float) -> str:
    """``+3.1% (+1.2% to +5.0%)``."""
    if isinstance(lift, float) and math.isnan(lift):
        return "n/a"
    top = "no upper limit" if math.isinf(high) else pct(high)
    return f"{pct(lift)} ({pct(low)} to {top})"


def number(x: float) -> str:
    """A per-user average for people: three significant figures, thousands separated; "n/a"
    when there is none, or none that is finite (sums that overflowed)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{digits}f}"


def count(n: float) -> str:
    return f"{int(n):,}"


def direction(row: dict[str, Any]) -> tuple[str, str]:
    """Arrow and colour that follow the sign of the lift; grey when it is not clearly away
    from zero (or there is none)."""
    lift = row.get("lift", math.nan)
    if row.get("status", OK) != OK or math.isnan(lift):
        return "–", FLAT
    arrow = "▲" if lift > 0 else "▼" if lift < 0 else "●"
    if not row.get("significant"):
        return arrow, FLAT
    return arrow, UP if lift > 0 else DOWN


def words(row: dict[str, Any]) -> str:
    """A manager's sentence for one estimate (a row of the phase table)."""
    name = metric_name(str(row["metric"]))
    status = row.get("status", OK)
    if status not in HAS_NUMBER:
        return f"{name}: {status}, so there is no lift to report."
    lo, hi = row["ci_low"], row["ci_high"]
    if row.get("significant"):
        sure = "clearly above business as usual" if lo > 0 else "clearly below business as usual"
    elif _too_small_to_call(row):
        sure = ("its interval excludes zero, but the sample is too small to call it "
                "either way")
    else:
        sure = "not distinguishable from business as usual"
    text = (f"{name}: {pct(row['lift'])} per user (95% interval {pct(lo)} to "
            f"{'no upper limit' if math.isinf(hi) else pct(hi)}), {sure}.")
    if row.get("small_sample"):
        text += f" Small sample ({small_sample_reason(row)}): a rough indication only."
    return text


def _too_small_to_call(row: dict[str, Any]) -> bool:
    """An interval that excludes zero on a sample flagged too small (never called clear)."""
    return (row.get("status", OK) == OK and bool(row.get("small_sample"))
            and not row.get("significant") and (row["ci_low"] > 0 or row["ci_high"] < 0))


def small_sample_reason(row: dict[str, Any]) -> str:
    """The small-sample rule a row broke (see :func:`estimators.small_sample_reason`)."""
    return estimators.small_sample_reason(row.get("n_holdout", math.nan),
                                          row.get("events_holdout", math.nan))


def chance_note(intervals: int) -> str:
    """What a table of several 95% intervals owes its reader: how many would exclude 0 with
    no real difference anywhere (5% each; "about 0.15" of 3, not a rounded "0.1")."""
    if intervals < 2:
        return ""
    return (f". Each interval is 95% on its own: of {intervals} segments with no real "
            f"difference, about {intervals / 20:.2g} would still exclude 0 by chance.")


def inline_metric(metric: str) -> str:
    """A metric's name inside a sentence: "days with intent", but "GMV"."""
    name = metric_name(metric)
    return name if name.isupper() else name[0].lower() + name[1:]


def summary(table: pd.DataFrame) -> list[str]:
    """The executive summary: one paragraph per phase and one on the change between them."""
    paragraphs = []
    for phase in [p for p in ("all", "active", "passive") if p in set(table["phase"])]:
        rows = table[table["phase"] == phase].to_dict("records")
        up = [r for r in rows if r["significant"] and r["lift"] > 0]
        down = [r for r in rows if r["significant"] and r["lift"] < 0]
        unclear = [r for r in rows if r["status"] == OK and not r["significant"]
                   and not _too_small_to_call(r)]
        uncalled = [r for r in rows if _too_small_to_call(r)]
        missing = [r for r in rows if r["status"] not in HAS_NUMBER]
        label = PHASE_LABELS.get(phase, phase)
        if up or len(rows) > 1:
            parts = [f"{label}: the agent's users did clearly better than the holdout on "
                     + (f"{len(up)} of {len(rows)} metrics" if up else
                        f"none of the {len(rows)} metrics")]
        else:
            parts = [f"{label}: the agent's users did not do clearly better than the holdout"]
        if up:
            parts[0] += " (" + "; ".join(_clear(r) for r in up) + ")"
        parts[0] += "."
        if down:
            parts.append("Worse on " + "; ".join(_clear(r) for r in down) + ".")
        if unclear:
            parts.append("Not distinguishable from business as usual: " + ", ".join(
                inline_metric(r["metric"]) for r in unclear) + ".")
        if uncalled:
            parts.append("Away from zero but on samples too small to call: " + ", ".join(
                f"{inline_metric(r['metric'])} ({small_sample_reason(r)})" for r in uncalled) + ".")
        if flat := [r for r in rows if r["status"] == NO_VARIATION]:
            parts.append("Nothing to compare on " + ", ".join(inline_metric(r["metric"])
                                                             for r in flat)
                         + ": every user has the same value in both arms.")
        if missing:
            parts.append("No lift yet for " + ", ".join(
                f"{inline_metric(r['metric'])} ({r['status']})" for r in missing) + ".")
        small = [r for r in rows if r.get("small_sample") and r["status"] == OK
                 and not _too_small_to_call(r)]
        if small:
            parts.append("Small samples make " + ", ".join(
                inline_metric(r["metric"]) for r in small) + " rough indications only.")
        paragraphs.append(" ".join(parts))
    change = table[(table["phase"] == "passive vs active") & table["significant"]]
    if len(change):
        paragraphs.append("From active to passive management the lift changed clearly for "
                          + "; ".join(f"{inline_metric(r['metric'])} by "
                                      f"{interval(r['lift'], r['ci_low'], r['ci_high'])}"
                                      for r in change.to_dict("records"))
                          + " (relative to the active phase's lift).")
    unclear = table[(table["phase"] == "passive vs active") & (table["status"] == OK)
                    & ~table["significant"].astype(bool)]
    if len(unclear):  # compared, with no clear change (beside clear ones too)
        paragraphs.append("The passive phase's lift is not distinguishable from the active "
                          "phase's for " + ", ".join(inline_metric(m) for m in unclear["metric"])
                          + ".")
    apart = table[(table["phase"] == "passive vs active") & (table["status"] != OK)]
    for status, rows in apart.groupby("status", sort=False):
        why = _NO_COMPARISON.get(status, f"{status}.")
        paragraphs.append("No phase comparison for " + ", ".join(
            inline_metric(m) for m in rows["metric"]) + ": " + why)
    if (tested := int((table["status"] == OK).sum())) > 1:  # several metrics, phases
        paragraphs.append(f"This report holds {tested} intervals, each 95% on its own and not "
                          "adjusted for the others: with no real difference anywhere, 1 in 20 "
                          f"would still exclude zero by chance (about {tested / 20:.2g} of "
                          f"{tested}), so one clear result among many is weak evidence alone.")
    return paragraphs


def _clear(r: dict[str, Any]) -> str:
    """A clear lift with its baseline: "days with intent +24.8% (+7.5% to +44.8%), 0.399 per
    user against 0.320 in the holdout" (a relative lift alone hides whether it is of much)."""
    return (f"{inline_metric(r['metric'])} {interval(r['lift'], r['ci_low'], r['ci_high'])}"
            + (f", {number(r['mean_agent'])} per user against {number(r['mean_holdout'])} in "
               "the holdout" if r["phase"] != "passive vs active" and "mean_agent" in r else ""))


#: Why a metric has no change between phases, by the estimate's status.
_NO_COMPARISON = {
    NO_ACTIVE_LIFT: "without a clear lift in the active phase, the change between phases "
                    "cannot be measured.",
    HEAVY_TAILED_CHANGE: "a few large values carry the average, so a change between phases "
                         "has no reliable interval; the lift of each phase is given above.",
    UNBOUNDED_CHANGE: "the active phase's lift is too uncertain for a change relative to it to "
                      "have a bounded interval; the lift of each phase is given above.",
    NEGATIVE_ACTIVE_LIFT: "the active phase's lift is negative, so a change relative to it "
                          "would read backwards; the lift of each phase is given above.",
}


def people_table(table: pd.DataFrame) -> pd.DataFrame:
    """The estimates with readable columns and formatted numbers."""
    out = []
    for r in table.to_dict("records"):
        arrow, _ = direction(r)
        shown = r["status"] not in HAS_NUMBER  # the status stands for the number
        est = r["status"] if shown else \
            f"{arrow} {interval(r['lift'], r['ci_low'], r['ci_high'])}"
        warning = "; ".join(w for w in str(r.get("warning") or "").split("; ")
                            if w and not (shown and w == r["status"]))
        per_user = r["phase"] != "passive vs active"
        out.append({
            "Phase": PHASE_LABELS.get(r["phase"], r["phase"]),
            "Metric": metric_name(r["metric"]),
            "Lift (95% interval)": est,
            "Clear?": "yes" if r["significant"] else "no",
            "Agent per user": number(r["mean_agent"]) if per_user else "",
            "Holdout per user": number(r["mean_holdout"]) if per_user else "",
            "Users (agent / holdout)": f"{count(r['n_agent'])} / {count(r['n_holdout'])}",
            "Method": _method(r),
            "Warning": warning,
        })
    return pd.DataFrame(out)


def _method(r: dict[str, Any]) -> str:
    # A row with no number has no variance reduction to speak of.
    reduction = (f" ({_reduction(r['variance_reduction'])})"
                 if r["status"] in HAS_NUMBER else "")
    if r["estimator"] == "ML-RATE":
        return "ML-RATE" + reduction
    if r["estimator"] == "permutation":
        return "permutation interval (heavy-tailed)"
    if r["estimator"] == "delta method":
        return "delta method"
    if r["estimator"] == PHASE_CHANGE_ADJUSTED:
        return "delta method on ML-RATE means" + reduction
    return "unadjusted"


def estimators_used(table: pd.DataFrame) -> str:
    """One line on the estimators behind the table, for the method note: each one with how
    many estimates it made, and for ML-RATE the range of its variance reduction (each
    estimate's own is in the table's Method column). A list of every estimate's method, with
    no metric named, said nothing a manager could use."""
    names = {"ML-RATE": "ML-RATE", "permutation": "a permutation interval (heavy tails)",
             "delta method": "the delta method (change between phases)",
             PHASE_CHANGE_ADJUSTED: "the delta method on ML-RATE's adjusted means (change "
                                    "between phases)"}
    parts = []
    made = table[table["status"].isin(HAS_NUMBER)]  # a row with no number made none
    for est, rows in made.groupby("estimator", sort=False):
        text = f"{names.get(est, 'unadjusted')} for {len(rows)} estimate(s)"
        vr = (rows.loc[rows["status"] == OK, "variance_reduction"].dropna().clip(lower=0)
              if est in ("ML-RATE", PHASE_CHANGE_ADJUSTED) else None)
        if vr is not None and len(vr):
            low, high = vr.min(), vr.max()
            text += (f", variance {low:.0%} lower" if low == high else
                     f", variance {low:.0%} to {high:.0%} lower")
            text += " by metric and phase" if est == "ML-RATE" else " by metric"
        parts.append(text)
    if not parts:
        return "No estimate could be made yet: the table says why for each metric."
    return "Estimators used here: " + "; ".join(parts) + ". Each estimate's is in the table."


#: The least variance reduction worth naming: below it the percentage rounds to "-0%".
SHOWN_REDUCTION = 0.005


def _reduction(vr: float) -> str:
    if not vr >= SHOWN_REDUCTION:
        return "no variance reduction"
    return (f"variance -{vr:.0%}: interval {1 - math.sqrt(1 - vr):.0%} narrower, worth "
            f"{1 / (1 - vr):.1f}x the users")


def no_weekly_lift(weekly: pd.DataFrame, metric: str) -> str | None:
    """Why ``metric`` has no weekly chart, or None when some week has a lift: a chart with
    no point drew empty axes numbered -1 to 6 instead of saying so."""
    rows = weekly[weekly["metric"] == metric]
    if rows["status"].isin(HAS_NUMBER).any():
        return None
    why = "; ".join(sorted(set(rows["status"]))) or "no week with both arms"
    return (f"No week has a lift of {inline_metric(metric)} yet ({why}, "
            f"{len(rows)} week{'s' if len(rows) != 1 else ''}).")


def no_segment_lift(metric: str) -> str:
    """The segment table's empty state."""
    return (f"No segment has at least {estimators.SEGMENT_MIN_USERS} users in each arm and {inline_metric(metric)} in its "
            "holdout yet, so there is no lift by segment.")


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:32px auto;
max-width:1100px;color:#1f2328;line-height:1.45}
h1{font-size:26px;margin-bottom:4px} h2{font-size:20px;margin-top:32px;border-bottom:1px solid
#d0d7de;padding-bottom:4px} .meta{color:#57606a;font-size:14px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #d0d7de;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#f6f8fa} .summary p{font-size:15px} .warn{color:#9a6700}
.chip{font-weight:600}
"""


def page(title: str, body: list[str]) -> str:
    """Wrap ``body`` (HTML fragments) into a whole page."""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>")


def table_html(df: pd.DataFrame, colour_column: str | None = None,
               colours: list[str] | None = None) -> str:
    """A table with escaped cells; ``colour_column`` is coloured row by row."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        cells = []
        for c, v in rec.items():
            style_attr = (f" class='chip' style='color:{colours[i]}'"
                          if c == colour_column and colours else "")
            cells.append(f"<td{style_attr}>{escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def generated_at() -> str:
    return datetime.now(timezone.utc).strftime("%d %b %Y %H:%M UTC")


def week_start(start: date, week: int) -> date:
    return start + timedelta(days=7 * int(week))
