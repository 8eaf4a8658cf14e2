"""User state as the agent sees it: the columns of a users table and their buckets.

A users table has one row per user. ``user_id`` and ``segment`` are required; every other column
has a default so that a sending platform's minimal export works:

| column | meaning | default |
|---|---|---|
| ``days_inactive`` | days since the user's last positive interaction | 30 |
| ``platform`` | ``ios``, ``android`` or ``web`` | ``android`` |
| ``past_engagement`` | days with engagement in the last 90 days | 0 |
| ``habitual_hour`` | hour of day (0-23) the user is usually active | 19 |
| ``sends_7d`` | messages sent to the user in the last rolling 7 days | 0 |
| ``consent_push``/``consent_email``/``consent_sms``/``consent_in_app`` | channel consent | push, e-mail, in-app yes; SMS no |
| ``arm`` | ``agent`` or ``holdout``; assigned stably from ``user_id`` when absent | |

The agent never sees raw values: each is bucketed, and the buckets are the context of a
decision. Few, meaningful buckets keep contexts shared by many users, which is what lets the
agent decide millions of users at once (see :mod:`workbench.agent.policy`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError

CHANNEL_IDS = ("push", "email", "sms", "in_app")
DEFAULTS = {"days_inactive": 30, "platform": "android", "past_engagement": 0,
            "habitual_hour": 19, "sends_7d": 0, "consent_push": True, "consent_email": True,
            "consent_sms": False, "consent_in_app": True}
PLATFORMS = ("ios", "android", "web")


@dataclass(frozen=True)
class Bucketing:
    """Edges of the buckets; a value v falls in bucket i when edges[i-1] <= v < edges[i]."""

    name: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def codes(self, values: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.edges, dtype=float), values, side="right"
                               ).astype(np.int16)


INACTIVITY = Bucketing("inactivity", (30, 60, 90), ("<30d", "30-59d", "60-89d", "90d+"))
ENGAGEMENT = Bucketing("engagement", (1, 8), ("none", "low", "high"))
EXPOSURES = Bucketing("exposures", (1, 3), ("0", "1-2", "3+"))
DAYPART_OF_HOUR = np.array([3] * 6 + [0] * 6 + [1] * 6 + [2] * 5 + [3])  # hour -> daypart
DAYPARTS = ("morning", "afternoon", "evening", "night")


def stable_arm(user_ids: pd.Series, holdout_share: float, salt: str = "workbench-arm") -> np.ndarray:
    """``True`` for holdout users: a keyed hash of the id (SipHash, vectorised by pandas), so a
    user keeps their arm forever whatever else is in the batch.

    The id is hashed as given: integer ids as integers (fast at millions of users), anything
    else as its text, so the integer 7 and the text "7" are hashed differently. A users file
    read by the CLI has text ids: give the Python API the same text to get the same arms."""
    key = hashlib.blake2b(salt.encode(), digest_size=8).hexdigest()  # 16 characters
    values = user_ids.to_numpy()
    if values.dtype.kind not in "iu":  # integers hash fast; anything else as its text
        values = np.asarray(user_ids.astype(str), dtype=object)
    h = pd.util.hash_array(values, hash_key=key)
    return (h / np.float64(2 ** 64)) < holdout_share


def _category(series: pd.Series, lower: bool = True) -> pd.Series:
    """As a categorical, with normalised categories (cheap for millions of rows)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cat = series
    else:
        cat = series.astype(str).astype("category")
    if lower:
        names = [str(c).strip().lower() for c in cat.cat.categories]
        if len(set(names)) == len(names):
            cat = cat.cat.rename_categories(names)
        else:
            cat = cat.astype(str).str.strip().str.lower().astype("category")
    return cat


def label_codes(series: pd.Series, labels: tuple[str, ...] | list[str]) -> np.ndarray:
    """Index of each value in ``labels`` (-1 when absent), through the categories."""
    cat = _category(series, lower=False)
    lookup = pd.Index(labels).get_indexer(cat.cat.categories.astype(str))
    return np.where(cat.cat.codes.to_numpy() < 0, -1, lookup[cat.cat.codes.to_numpy()]
                    ).astype(np.int16)


def prepare_users(users: pd.DataFrame, segments: list[str] | None = None,
                  holdout_share: float = 0.10) -> pd.DataFrame:
    """Validate a users table and fill defaults; raises naming the row and column."""
    problems: list[Problem] = []
    for col in ("user_id", "segment"):
        if col not in users.columns:
            problems.append(Problem(f"required column '{col}' is missing", field=col))
    if problems:
        raise ValidationError(problems, "The users table was rejected")
    df = users.copy(deep=False)  # new columns only; the caller's frame is left as it was
    # an empty consent cell is no answer: neither "yes" (a default would send without
    # consent) nor "no"; it is refused by row like any other bad value
    unanswered = {c: df[c].isna().to_numpy() for c in DEFAULTS
                  if c.startswith("consent_") and c in df.columns}
    for col, default in DEFAULTS.items():
        if col not in df.columns:
            df[col] = default
        elif col not in unanswered:
            filled = df[col]
            if pd.api.types.is_string_dtype(filled.dtype) and not isinstance(default, str):
                filled = filled.astype(object)  # text cells are checked below, by row
            df[col] = filled.fillna(default)

    def bad(mask: np.ndarray, col: str, message: str) -> None:
        for i in np.flatnonzero(mask)[:20]:
            problems.append(Problem(message.format(v=df[col].iloc[i]), row=int(i) + 1, field=col))

    ids = df["user_id"]
    if ids.dtype.kind not in "iu":  # as the log writes them: 1 and "1" are one user, "  " none
        text = ids.astype(str).where(ids.notna())
        ids = text.where(text.str.strip() != "")
    bad(ids.isna().to_numpy(), "user_id", "is empty")
    bad((ids.duplicated() & ids.notna()).to_numpy(), "user_id", "user '{v}' appears twice")
    missing = df["segment"].isna().to_numpy()
    df["segment"] = _category(df["segment"], lower=False)
    blank = np.flatnonzero(df["segment"].cat.categories.astype(str).str.strip() == "")
    no_segment = missing | (np.isin(df["segment"].cat.codes.to_numpy(), blank) if len(blank)
                            else False)
    bad(no_segment, "segment", "is empty")
    if segments is not None:
        bad((label_codes(df["segment"], segments) < 0) & ~no_segment, "segment",
            "unknown segment '{v}'")
    for col, lo, hi in (("days_inactive", 0, 100000), ("past_engagement", 0, 100000),
                        ("habitual_hour", 0, 23), ("sends_7d", 0, 100000)):
        vals = pd.to_numeric(df[col], errors="coerce").astype(float).to_numpy()
        # 1e400 or inf reached the integer cast as a traceback; 1.5 was cut to 1 silently
        number = np.isfinite(vals) & (vals >= lo) & (vals <= hi)
        bad(~number, col, f"'{{v}}' is not a number from {lo} to {hi}")
        bad(number & (vals != np.floor(np.where(number, vals, 0))), col,
            "'{v}' is not a whole number")
        df[col] = np.where(number, np.floor(np.where(number, vals, 0)), lo).astype(np.int32)
    df["platform"] = _category(df["platform"])
    bad(label_codes(df["platform"], PLATFORMS) < 0, "platform",
        f"'{{v}}' is not one of {', '.join(PLATFORMS)}")
    for ch in CHANNEL_IDS:
        col = f"consent_{ch}"
        empty = unanswered.get(col, np.zeros(len(df), dtype=bool))
        bad(empty, col, "is empty: write true or false")
        if df[col].dtype != bool:
            s = df[col].astype(str).str.strip().str.lower()
            ok = s.isin(["true", "false", "1", "0", "yes", "no", "1.0", "0.0"])
            bad(~ok.to_numpy() & ~empty, col, "'{v}' is not true/false")
            df[col] = s.isin(["true", "1", "yes", "1.0"])
    if "arm" not in df.columns:
        df["arm"] = pd.Categorical.from_codes(
            stable_arm(df["user_id"], holdout_share).astype(np.int8), ["agent", "holdout"])
    else:  # an empty arm is assigned as if the column were absent (a blank is not "agent")
        blank = df["arm"].isna() | (df["arm"].astype(str).str.strip() == "")
        if blank.any():
            stable = pd.Series(np.where(stable_arm(df["user_id"], holdout_share),
                                        "holdout", "agent"), index=df.index)
            df["arm"] = df["arm"].astype(object).where(~blank, stable)
        df["arm"] = _category(df["arm"])
        bad(label_codes(df["arm"], ("agent", "holdout")) < 0, "arm",
            "'{v}' is not agent or holdout")
    if problems:
        # in file order (each check above lists its own rows), a row's columns as the file has
        column = {c: i for i, c in enumerate(users.columns)}
        problems.sort(key=lambda p: (p.row or 0, column.get(p.field, len(column))))
        raise ValidationError(problems, "The users table was rejected")
    return df


def state_codes(df: pd.DataFrame, segments: list[str]) -> dict[str, np.ndarray]:
    """Integer code of every context variable per user (vectorised; no per-row Python)."""
    consent = np.zeros(len(df), dtype=np.int16)
    for bit, ch in enumerate(CHANNEL_IDS):
        consent |= df[f"consent_{ch}"].to_numpy(bool).astype(np.int16) << bit
    return {
        "segment": label_codes(df["segment"], segments),
        "inactivity": INACTIVITY.codes(df["days_inactive"].to_numpy()),
        "engagement": ENGAGEMENT.codes(df["past_engagement"].to_numpy()),
        "exposures": EXPOSURES.codes(df["sends_7d"].to_numpy()),
        "daypart": DAYPART_OF_HOUR[df["habitual_hour"].to_numpy()].astype(np.int16),
        "platform": label_codes(df["platform"], PLATFORMS),
        "consent": consent,
    }


def state_labels(segments: list[str]) -> dict[str, tuple[str, ...]]:
    """Names of the codes of each context variable."""
    return {"segment": tuple(segments), "inactivity": INACTIVITY.labels,
            "engagement": ENGAGEMENT.labels, "exposures": EXPOSURES.labels,
            "daypart": DAYPARTS, "platform": PLATFORMS,
            "consent": tuple(str(i) for i in range(16))}


def synthetic_users(n: int, segments: list[str], seed: int = 0, start: int = 0) -> pd.DataFrame:
    """A plausible reactivation audience, for demos, tests and benchmarks."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, len(segments), n)
    return pd.DataFrame({
        "user_id": np.arange(start, start + n, dtype=np.int64),
        "segment": pd.Categorical.from_codes(seg, categories=list(segments)),
        "days_inactive": 14 + rng.geometric(1 / 40, n),
        "platform": pd.Categorical.from_codes(rng.choice(3, n, p=[0.35, 0.55, 0.10]),
                                              categories=list(PLATFORMS)),
        "past_engagement": rng.poisson(3, n),
        "habitual_hour": rng.choice(24, n, p=np.bincount(
            np.r_[np.arange(24), [8, 12, 13, 18, 19, 19, 20, 20, 21, 21, 22]], minlength=24)
            / 35),
        "sends_7d": rng.poisson(1.0, n),
        "consent_push": rng.random(n) < 0.85,
        "consent_email": rng.random(n) < 0.7,
        "consent_sms": rng.random(n) < 0.3,
        "consent_in_app": np.ones(n, bool),
    })
