"""Benchmarks printed as JSON (``workbench bench ...``); speed is measured here, not in tests."""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import numpy as np

from workbench.agent.actions import ActionSpace
from workbench.agent.policy import Agent
from workbench.agent.users import prepare_users, synthetic_users

BENCH_SEGMENTS = [f"segment_{i:02d}" for i in range(14)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bench_decide(users: int, seed: int = 0, mabwiser_users: int = 200_000) -> dict[str, Any]:
    """Time :meth:`Agent.decide` for ``users`` users on a space of 6 slots x 8 atoms, 168 send
    slots and 4 channels, with context; and MABWiser's Thompson Sampling on the closest problem
    it supports (one non-contextual Beta-Bernoulli bandit per dimension, a draw per user)."""
    space = ActionSpace.synthetic(slots=6, atoms_per_slot=8, seed=seed)
    agent = Agent(space, BENCH_SEGMENTS)
    audience = prepare_users(synthetic_users(users, BENCH_SEGMENTS, seed), BENCH_SEGMENTS)
    # Some history, so that the posteriors are not flat.
    warm = agent.decide(audience.iloc[:50_000], seed=seed)
    rng = np.random.default_rng(seed)
    agent.learn(warm, _fake_outcomes(rng, len(warm)))
    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    decisions = agent.decide(audience, seed=seed + 1)
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "benchmark": "decide",
        "users": users,
        "seconds": round(seconds, 3),
        "decisions_per_second": round(users / seconds),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_mb_before_decide": round(rss_before, 1),
        "problem": {
            "slots": 6, "atoms_per_slot": 8, "send_slots": 168, "channels": 4,
            "send_or_skip": 2, "composite_actions": space.size,
            "context_variables": ["segment", "inactivity", "engagement", "exposures",
                                  "daypart", "platform", "consent"],
            "segments": len(BENCH_SEGMENTS), "posterior_draws_per_context": agent.config.draws,
        },
        "sent": int(decisions["send"].sum()),
        "target": "8.8 million users in under 10 seconds",
    }
    result["mabwiser"] = _bench_mabwiser(min(users, mabwiser_users), space, seed)
    if isinstance(result["mabwiser"], dict):
        m = result["mabwiser"]
        result["speedup_vs_mabwiser"] = round(
            result["decisions_per_second"] / m["decisions_per_second"], 1)
    return result


def _fake_outcomes(rng: np.random.Generator, n: int):
    import pandas as pd

    return pd.DataFrame({"direct_open": rng.random(n) < 0.08,
                         "engagement": rng.random(n) < 0.2})


def _bench_mabwiser(users: int, space: ActionSpace, seed: int) -> dict[str, Any] | str:
    try:
        from mabwiser.mab import MAB, LearningPolicy
    except ImportError:
        return "not installed: pip install -e '.[bench]'"
    rng = np.random.default_rng(seed)
    bandits = []
    for d in space.dimensions:
        arms = list(range(len(d.options)))
        mab = MAB(arms=arms, learning_policy=LearningPolicy.ThompsonSampling(), seed=seed)
        mab.fit(decisions=rng.integers(0, len(arms), 50_000),
                rewards=(rng.random(50_000) < 0.1).astype(int))
        bandits.append(mab)
    dummy = np.zeros((users, 1))
    t0 = time.perf_counter()
    for mab in bandits:
        mab.predict(contexts=dummy)
    seconds = time.perf_counter() - t0
    return {"users_timed": users, "seconds": round(seconds, 3),
            "decisions_per_second": round(users / seconds),
            "model": "one non-contextual Beta-Bernoulli Thompson Sampling bandit per dimension "
                     "(MABWiser has no factored contextual Thompson Sampling)"}


def bench_simulate(users: int, days: int, seed: int = 7) -> dict[str, Any]:
    """Time a whole simulated trial (longitudinal-study preset) in a temporary database."""
    import tempfile
    from pathlib import Path

    from store import open_store
    from workbench.library.seed import seed as seed_store
    from workbench.sim.trial import create_run, preset, run_row, run_trial

    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as tmp:
        with open_store(Path(tmp) / "bench.db") as store:
            seed_store(store)
            config = preset("longitudinal_study", users=users, days=days, seed=seed,
                            active_days=min(119, days))
            run_id = create_run(store, config, "bench")
            t0 = time.perf_counter()
            status = run_trial(store, run_id)
            seconds = time.perf_counter() - t0
            folder = Path(run_row(store, run_id)["folder"])
            disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            db_bytes = sum(f.stat().st_size for f in Path(tmp).glob("bench.db*"))
    return {
        "benchmark": "simulate", "users": users, "days": days, "status": status,
        "seconds": round(seconds, 1), "user_days_per_second": round(users * days / seconds),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "run_folder_mb": round(disk / 2 ** 20, 1), "database_mb": round(db_bytes / 2 ** 20, 1),
        "target": "8.8 million users x 11 months in under 10 minutes; 100k users in well "
                  "under a minute",
    }


def bench_lift(users: int, seed: int = 0) -> dict[str, Any]:
    """ML-RATE with cross-fitted gradient boosting over all six metrics of one phase,
    on a synthetic trial of ``users`` users with six pre-period covariates."""
    from workbench.lift.estimators import CROSS_FIT_FOLDS, ml_rate
    from workbench.sim.world import METRICS

    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.poisson(3, users), rng.poisson(1, users), rng.integers(14, 400, users),
                         rng.integers(0, 14, users), rng.integers(0, 3, users),
                         rng.integers(0, 24, users)]).astype(float)
    treated = rng.random(users) < 0.9
    rate = 0.02 * (1 + X[:, 0]) * np.where(treated, 1.03, 1.0)
    t0 = time.perf_counter()
    results = {}
    for k, metric in enumerate(METRICS):
        y = rng.poisson(rate * 120 * (0.5 ** k)).astype(float)
        est = ml_rate(y, treated, X, seed=seed)
        results[metric] = {"lift": round(est.lift, 4),
                           "variance_reduction": round(est.variance_reduction, 3)}
    seconds = time.perf_counter() - t0
    return {"benchmark": "lift", "users": users, "metrics": len(METRICS), "folds": CROSS_FIT_FOLDS,
            "learner": "HistGradientBoostingRegressor (trained on <= 400k rows per split)",
            "seconds": round(seconds, 1), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "results": results, "target": "8.8 million users in under 2 minutes"}


def bench_studio(part: str = "held_out", embedder: str = "lexical") -> dict[str, Any]:
    """The rewrite studio's pipeline on the offline engines over the held-out part of its
    labelled set: diagnosis accuracy (overall, per type, confusion), the share of rewrites with
    an unsupported claim, the share keeping every offer number, code and date, and the
    heuristic judge's preference rate. ``embedder``: ``lexical`` (fast, the default here) or
    ``auto`` (MiniLM when installed, as the studio itself uses)."""
    import os

    from workbench.studio import scorecard
    from workbench.studio.embeddings import LexicalEmbedder, get_embedder

    emb = LexicalEmbedder() if embedder == "lexical" else get_embedder()
    t0 = time.perf_counter()
    out = scorecard.run(part, embedder=emb)
    return {"benchmark": "studio", **out, "embedder": emb.name,
            "seconds": round(time.perf_counter() - t0, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "targets": {"unsupported_claim_share": 0.0,
                        "keeps_every_number_code_date_share": 1.0,
                        "diagnosis_accuracy": ">= 0.80 overall, >= 0.60 per type",
                        "blind_preference": "> 0.85 (external blind judge)"}}
def bench_regret(env: str | None = None, seeds: int = 5, *, quick: bool = False,
                 held_out: bool = False, players: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """Regret per 1,000 decisions of the agent (defaults, public API), MABWiser Thompson
    Sampling per segment x dimension, an independent Beta TS per segment x dimension, uniform
    random and the reference ``oracle_ts`` (see :mod:`workbench.sim.regret`) in the synthetic
    environments of :mod:`workbench.sim.envs`; ``players`` picks some, or the extra ones with
    every hour open (a player's figures do not depend on which others run).

    ``env`` names one environment (``heldout-*`` names work too); without it the suite runs,
    or with ``held_out=True`` the held-out set (kept for honest reporting: never tune on it).
    ``quick`` shortens every environment to 10 daily batches of 300 users (for tests).

    Linear algebra runs on one thread (``blas_threads`` in the result): every player then
    uses one core, so times per batch compare like with like, and on a shared machine BLAS
    threads fighting over the cores made the agent 3-4x slower than on one thread.
    """
    import os

    from threadpoolctl import threadpool_limits

    from workbench import Problem, ValidationError
    from workbench.sim.envs import HELD_OUT, SUITE, environment
    from workbench.sim.regret import EXTRA_PLAYERS, PLAYERS, regret_row, run

    players, known = PLAYERS if players is None else tuple(players), PLAYERS + EXTRA_PLAYERS
    problems = [Problem(f"unknown player '{p}'; one of {', '.join(known)}", field="players")
                for p in players if p not in known]
    if not players or len(set(players)) != len(players):
        problems.append(Problem("name each player once, at least one", field="players"))
    if not isinstance(seeds, int) or seeds < 1:
        problems.append(Problem("must be a whole number >= 1", field="seeds"))
    if problems:
        raise ValidationError(problems, "Invalid benchmark")
    envs = [environment(env)] if env else list(HELD_OUT if held_out else SUITE)
    out: dict[str, Any] = {"benchmark": "regret", "quick": quick, "seeds": seeds,
                           "players": list(players), "environments": {}}
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        for e in envs:
            if quick:
                e = e.scaled(days=10, batch=300)
            per: dict[str, list] = {p: [] for p in players}
            for s in range(seeds):
                for r in run(e, s, players):
                    per[r.player].append(r)
            out["environments"][e.name] = regret_row(e, per)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["blas_threads"] = 1
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["target"] = "agent's mean regret at most half of MABWiser's in every environment"
    return out


def bench_import(rows: int = 5000, seed: int = 0) -> dict[str, Any]:
    """Time a library import of ``rows`` rows (the allowed maximum by default) three ways, in a
    temporary seeded database: all new atoms; the same atoms re-imported from their export with
    every text edited (``rows`` updates); and that export imported back unchanged.

    The peer is SQLite itself: inserting the same rows with one ``executemany`` (no checks, no
    revisions), so the ratio says what validation, duplicate check and history cost on top.
    """
    import csv
    import io
    import os
    import tempfile
    from pathlib import Path

    from store import open_store
    from store.bulk import plain_insert_seconds
    from workbench.library.seed import seed as seed_store
    from workbench.library.service import (
        MAX_IMPORT_ROWS,
        export_components,
        import_components,
    )
    from workbench.library.validation import OFFER_TYPES, TONES

    if not 1 <= rows <= MAX_IMPORT_ROWS:
        raise ValueError(f"rows must be between 1 and {MAX_IMPORT_ROWS}")
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as tmp:
        with open_store(Path(tmp) / "bench.db") as store:
            seed_store(store)
            kinds = [k["id"] for k in store.kinds()]
            segments = [None, *(s["id"] for s in store.segments())]
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(["kind", "text", "segment", "offer_type", "tone", "tags"])
            new_rows = [[kinds[i % len(kinds)], f"Bench atom {i} {rng.integers(10**9)}",
                         segments[i % len(segments)] or "", OFFER_TYPES[i % len(OFFER_TYPES)],
                         TONES[i % len(TONES)], f"bench;n{i % 7}"] for i in range(rows)]
            writer.writerows(new_rows)
            t0 = time.perf_counter()
            created = import_components(store, buf.getvalue().encode(), "new.csv", "bench")
            timings["create_seconds"] = time.perf_counter() - t0

            exported = export_components(store, "csv", search="Bench atom")
            # Same length: a longer text may not fit a template's channel (see library.fit)
            edited = exported.decode().replace("Bench atom", "Bench item").encode()
            t0 = time.perf_counter()
            updated = import_components(store, edited, "edited.csv", "bench")
            timings["update_seconds"] = time.perf_counter() - t0
            again = export_components(store, "csv", search="Bench item")
            t0 = time.perf_counter()
            unchanged = import_components(store, again, "again.csv", "bench")
            timings["unchanged_seconds"] = time.perf_counter() - t0

        peer_seconds = plain_insert_seconds(Path(tmp) / "peer.db", new_rows)
    return {
        "benchmark": "import", "rows": rows,
        **{k: round(v, 3) for k, v in timings.items()},
        "created": len(created.created), "updated": len(updated.updated),
        "unchanged": unchanged.unchanged,
        "peer": "sqlite3 executemany of the same rows, no checks or history",
        "peer_seconds": round(peer_seconds, 4),
        "peer_ratio_create": round(timings["create_seconds"] / max(peer_seconds, 1e-6), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target": f"{MAX_IMPORT_ROWS} rows (the maximum) in under 5 seconds",
    }


def _in_child(fn, *args) -> dict[str, Any]:
    """Run ``fn(*args)`` in a forked process and return its result with the seconds it took,
    the CPU seconds it used (all its threads: on a shared machine wall time follows the load,
    CPU time much less) and the process's own peak memory, so that each step is measured
    alone."""
    import multiprocessing as mp

    def child(q, *a):
        t0 = time.perf_counter()
        c0 = _cpu_seconds()
        out = fn(*a)
        q.put({"result": out, "seconds": round(time.perf_counter() - t0, 1),
               "cpu_seconds": round(_cpu_seconds() - c0, 1),
               "peak_rss_mb": round(_peak_rss_mb(), 1)})

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q, *args))
    p.start()
    out = q.get()
    p.join()
    return out


def bench_programme(users: int, events: int = 10_000_000, seed: int = 0,
                    folder: str | None = None) -> dict[str, Any]:
    """The live programme's daily operation at scale, on a fresh database in ``folder`` (a
    temporary one by default): import a roster of ``users``, decide and log a day (Parquet log
    and outbox; the SQLite learning log is off, see :func:`workbench.live.day.programme_day`),
    ingest ``events`` user-level event lines from one CSV (a third credited to a decision), learn
    the day from the Parquet logs (:func:`workbench.live.learning.learn_days`), and aggregate
    per-user outcomes per phase and estimate the lift report's ML-RATE table. Each step runs in its own process, so its time and peak memory
    are its own. Prints the sizes on disk of a day."""
    import os
    import shutil
    import tempfile
    from datetime import date, timedelta
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from store import open_store
    from workbench.agent.ingest import SEND_DAYS
    from workbench.agent.state import load_agent, segments_of
    from workbench.library.seed import seed as seed_library
    from workbench.lift.report import from_run, phase_table
    from workbench.live.activity import ingest_activity
    from workbench.live.day import programme_day
    from workbench.live.learning import learn_days
    from workbench.live.logs import user_outcomes
    from workbench.live.roster import import_roster

    root = Path(folder or tempfile.mkdtemp(prefix="bench-programme-"))
    root.mkdir(parents=True, exist_ok=True)
    db = root / "bench.db"
    with open_store(db) as store:
        seed_library(store)
        segs = segments_of(store)
    day = date.today() - timedelta(days=3)  # its events (two days) lie before the clock

    def prepare() -> None:  # the files a team would bring (not timed)
        synthetic_users(users, segs, seed).to_parquet(root / "roster.parquet")
        rng = np.random.default_rng(seed)
        names = np.array(["direct_open", "engagement", "intent", "conversion",
                          "conversion_vertical", "gmv"], dtype=object)
        ev = rng.choice(6, events, p=[0.25, 0.45, 0.15, 0.07, 0.03, 0.05])
        secs = rng.integers(0, 2 * 86400, events)
        stamps = np.datetime64(day.isoformat() + "T00:00:00") + secs.astype("timedelta64[s]")
        uid = rng.integers(0, users, events).astype(str)
        pacsv.write_csv(pa.table({
            "user_id": pa.array(uid),
            "event": pa.array(names[ev]),
            "value": pa.array(np.where(ev == 5, np.round(rng.lognormal(3, 1, events), 2), 1.0)),
            "occurred_at": pa.array(np.datetime_as_string(stamps, unit="s")),
            # Opens, conversions and order values credited to the day's decision of the user
            # (the batch is the fresh database's first): what the agent learns from.
            "decision_id": pa.array(np.where(np.isin(ev, [0, 3, 5]), np.char.add("1-", uid),
                                             ""))}),
            root / "events.csv")

    def roster() -> dict:
        with open_store(db) as s:
            return import_roster(s, (root / "roster.parquet").read_bytes(),
                                 name="roster.parquet", actor="bench",
                                 joined_on=(day - timedelta(days=1)).isoformat(),
                                 salt="bench").to_dict()

    def decide() -> dict:
        with open_store(db) as s:
            return programme_day(s, day, root / "outbox", learn_log=False, actor="bench")

    def ingest() -> dict:
        with open_store(db) as s:
            r = ingest_activity(s, (root / "events.csv").read_bytes(), name="events.csv",
                                actor="bench")
            return {"lines": r.rows, "inserted": r.inserted, "quarantined": len(r.quarantined),
                    "days": len(r.days)}

    def learn() -> dict:
        with open_store(db) as s:
            window = SEND_DAYS + load_agent(s).config.attribution_days
            return learn_days(s, day + timedelta(days=window), actor="bench")

    def lift() -> dict:
        with open_store(db) as s:
            t0 = time.perf_counter()
            data = from_run(user_outcomes(s), source="live programme")
            t1 = time.perf_counter()
            table = phase_table(data)
            return {"phases": data.phases, "users": len(data.treated),
                    "estimates": len(table), "aggregation_seconds": round(t1 - t0, 1),
                    "estimates_seconds": round(time.perf_counter() - t1, 1)}

    _in_child(prepare)
    steps = {name: _in_child(fn) for name, fn in
             (("roster", roster), ("day", decide), ("ingest", ingest), ("learn", learn),
                                   ("lift", lift))}

    def mb(path: Path) -> float:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        return round(sum(p.stat().st_size for p in files) / 2 ** 20, 1)

    live = Path(str(db) + ".live")
    n_days = max(steps["ingest"]["result"]["days"], 1)
    sizes = {"roster_parquet_mb": mb(live / "roster"),
             "decision_log_mb_per_day": mb(live / "decisions" / f"day={day.isoformat()}"),
             "outbox_csv_mb_per_day": mb(Path(steps["day"]["result"]["outbox"])),
             "events_parquet_mb_per_day": round(mb(live / "events") / n_days, 1),
             "events_csv_mb_per_day": round(mb(root / "events.csv") / n_days, 1),
             "sqlite_mb": round(sum(mb(p) for p in root.glob("bench.db*") if p.is_file()), 1)}
    print(json.dumps({"sizes_on_disk": sizes}), file=sys.stderr)
    if folder is None:
        shutil.rmtree(root, ignore_errors=True)
    ingest_s = steps["ingest"]["seconds"]
    return {
        "benchmark": "programme", "users": users, "events": events,
        "roster_import": steps["roster"],
        "day": steps["day"] | {"target": "8.8M users in under 60 s, peak memory under 4 GB"},
        "ingest": steps["ingest"] | {
            "lines_per_second": round(events / ingest_s) if ingest_s else None,
            "target": "10M lines in under 2 minutes"},
        "learn": steps["learn"] | {"target": "on in the bench: the day's decisions learnt "
                                             "from the Parquet logs (was ~15 min via SQLite)"},
        "lift": steps["lift"] | {"target": "8.8M users in under 2 minutes cold (per-user "
                                           "outcomes from the events, then ML-RATE estimates)"},
        "sizes_on_disk": sizes,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "folder": str(root) if folder else None,
    }
