"""Our unadjusted relative lift side by side with GrowthBook's gbstats, on the same trials.

Why: a manager may check a number against GrowthBook. Both compute the same point estimate and
the same delta-method standard error; they differ in the interval: gbstats' is symmetric on the
linear scale (``lift +- t * se``), ours is computed on ``log(1 + lift)`` and mapped back
(:attr:`workbench.lift.estimators.LiftEstimate.ci`). This script measures what that choice is
worth: coverage of the true lift, and on which side the misses fall.

gbstats pins numpy and pandas below 2, so it cannot share the workbench's environment. Two
interpreters take part, with the trials' sums passed in a JSON file::

    .venv/bin/python tests/peer_gbstats.py draw /tmp/trials.json            # ours, and the trials
    python3 -m venv /tmp/gb && /tmp/gb/bin/pip install gbstats==0.8.0
    /tmp/gb/bin/python tests/peer_gbstats.py gbstats /tmp/trials.json       # gbstats', both tables

The README's *Lift statistics* section gives the figures (4,000 trials per design, seed 7).
Not collected by pytest (the golden values of both libraries on fixed sums are in
``tests/test_lift.py``).
"""

from __future__ import annotations

import collections
import json
import sys

TRIALS = 4000
SEED = 7
#: name, agent users, holdout users, outcome ("bernoulli" rate / "poisson" mean /
#: "lognormal" sigma), true lift
DESIGNS = (("0/1 at 5%, no effect", 9000, 1000, "bernoulli", 0.05, 0.0),
           ("0/1 at 5%, +20%", 9000, 1000, "bernoulli", 0.05, 0.2),
           ("0/1 at 2%, +30%, 500 in the holdout", 4500, 500, "bernoulli", 0.02, 0.3),
           ("counts (Poisson 0.3), +10%, 300 in the holdout", 2700, 300, "poisson", 0.3, 0.1),
           ("lognormal values (sigma 1.2), +10%", 9000, 1000, "lognormal", 1.2, 0.1))


def draw(path: str) -> None:
    """Draw the trials, compute our intervals, and write both to ``path``."""
    import numpy as np

    sys.path.insert(0, ".")
    from workbench.lift.estimators import from_moments

    rng = np.random.default_rng(SEED)

    def outcome(kind: str, param: float, n: int, lift: float) -> np.ndarray:
        if kind == "bernoulli":
            return (rng.random(n) < param * (1 + lift)).astype(float)
        if kind == "poisson":
            return rng.poisson(param * (1 + lift), n).astype(float)
        return rng.lognormal(0.0, param, n) * (1 + lift)

    rows = []
    for name, n_t, n_c, kind, param, lift in DESIGNS:
        for _ in range(TRIALS):
            yt, yc = outcome(kind, param, n_t, lift), outcome(kind, param, n_c, 0.0)
            sums = [n_t, float(yt.sum()), float((yt ** 2).sum()),
                    n_c, float(yc.sum()), float((yc ** 2).sum())]
            est = from_moments(*sums)
            rows.append({"design": name, "lift": lift, "sums": sums,
                         "ours": list(est.ci) if est.estimable else None})
    with open(path, "w") as f:
        json.dump(rows, f)
    _table("ours", rows, "ours")


def gbstats(path: str) -> None:
    """Add gbstats' intervals (frequentist two-sided t-test, relative) and print both."""
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic

    with open(path) as f:
        rows = json.load(f)
    for r in rows:
        n_t, s_t, ss_t, n_c, s_c, ss_c = r["sums"]
        if r["ours"] is None:
            r["gbstats"] = None
            continue
        test = TwoSidedTTest(SampleMeanStatistic(n=n_c, sum=s_c, sum_squares=ss_c),
                             SampleMeanStatistic(n=n_t, sum=s_t, sum_squares=ss_t),
                             FrequentistConfig(difference_type="relative"))
        r["gbstats"] = list(test.compute_result().ci)
    _table("ours", rows, "ours")
    _table("gbstats 0.8.0", rows, "gbstats")


def _table(title: str, rows: list[dict], key: str) -> None:
    """Coverage and misses per design: "below" is an interval wholly below the true lift."""
    tally: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r[key] is None:  # no holdout event: neither library gives a lift
            continue
        lo, hi = r[key]
        tally[r["design"]][0 if lo <= r["lift"] <= hi else 1 if hi < r["lift"] else 2] += 1
    print(f"{title}: coverage of the true lift (misses below / above), {TRIALS} trials each")
    for design, (cover, below, above) in tally.items():
        n = cover + below + above
        print(f"  {design}: {cover / n:.1%} ({below / n:.1%} / {above / n:.1%})")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("draw", "gbstats"):
        sys.exit(__doc__)
    (draw if sys.argv[1] == "draw" else gbstats)(sys.argv[2])
