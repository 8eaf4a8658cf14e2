"""The studio's labelled set of flawed push messages, and its fixed tuning/held-out split.

110 push messages written for this project (not taken from the seed): 11 segments, brands and
product categories the seed does not have, each labelled with its main error type and, for the
multi-flaw ones, secondary types. The split is decided by a fixed seed before any rule was tuned:
the diagnosis was tuned on ``tuning`` only, and ``held_out`` is what the bench reports.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from workbench import Problem, ValidationError
from workbench.studio.copyrules import ERROR_TYPES

DATA_FILE = Path(__file__).resolve().parent / "data" / "flawed_push.csv"
SPLIT_SEED = 20261122
HELD_OUT_SIZE = 44
PARTS = ("all", "tuning", "held_out")


def _rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    problems = []
    for line, r in enumerate(rows, start=2):
        if r["error_type"] not in ERROR_TYPES:
            problems.append(Problem(f"unknown error type '{r['error_type']}'", row=line,
                                    field="error_type"))
        bad = [s for s in (r.get("secondary") or "").split(";") if s and s not in ERROR_TYPES]
        if bad:
            problems.append(Problem(f"unknown error type(s) {bad}", row=line, field="secondary"))
        if not r["body"].strip():
            problems.append(Problem("must not be empty", row=line, field="body"))
    if problems:
        raise ValidationError(problems, f"{path.name} has bad rows")
    for r in rows:
        r["secondary"] = [s for s in (r.get("secondary") or "").split(";") if s]
    return rows


def held_out_ids(ids: list[str], seed: int = SPLIT_SEED, size: int = HELD_OUT_SIZE) -> set[str]:
    """The held-out ids: a fixed-seed sample of the sorted ids, decided before tuning."""
    return set(random.Random(seed).sample(sorted(ids), size))


def load(part: str = "all", path: Path = DATA_FILE) -> list[dict[str, Any]]:
    """The labelled messages of one part (``all``, ``tuning`` or ``held_out``)."""
    if part not in PARTS:
        raise ValidationError([Problem(f"must be one of {', '.join(PARTS)}", field="part")])
    rows = _rows(path)
    held = held_out_ids([r["id"] for r in rows])
    if part == "all":
        return rows
    return [r for r in rows if (r["id"] in held) == (part == "held_out")]
