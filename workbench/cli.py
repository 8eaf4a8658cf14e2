"""The ``workbench`` command line.

    workbench run [--port N] [--no-browser]   start the app (creates, migrates and seeds the db)
    workbench seed [--reset]                 add the demo data (idempotent); --reset starts over
    workbench db path|migrate|backup PATH    where the file is, bring it up to date, copy it
    workbench decide --users FILE --out FILE  decide a batch and export it for a sending platform
    workbench ingest FILE.csv                load outcome events and update the posterior
    workbench bench decide --users N --json  benchmark the agent
    workbench llm serve|check                local model server, check the agents' models
    workbench rewrite --segment S [--all]    diagnose and rewrite a segment's weak messages

``--db PATH`` before the command (or ``WORKBENCH_DB``) picks the SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from store import SchemaTooNewError, StoreError, default_db_path, open_store
from store.migrations import LATEST_VERSION
from workbench import WorkbenchError
from workbench.library.seed import seed

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def prepare(db: Path) -> str:
    """Create, migrate and seed the file; returns a one-line summary."""
    with open_store(db) as store:
        result = seed(store)
        counts = store.counts()
    added = " (demo data added)" if result.added_anything else ""
    return (f"{db}: schema v{LATEST_VERSION}, {counts['components']} components, "
            f"{counts['templates']} templates{added}")


def cmd_run(args: argparse.Namespace) -> int:
    db = default_db_path()
    print(prepare(db))
    home = PROJECT_ROOT / "Home.py"
    if not home.exists():
        print(f"error: {home} not found; run from a checkout installed with pip install -e .",
              file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "streamlit", "run", str(home),
           "--server.port", str(args.port), "--server.address", args.address,
           "--browser.gatherUsageStats", "false", "--server.showEmailPrompt", "false"]
    if args.no_browser:
        cmd += ["--server.headless", "true"]
    env = dict(os.environ, WORKBENCH_DB=str(db))
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)


def cmd_seed(args: argparse.Namespace) -> int:
    db = default_db_path()
    if args.reset and db.exists():
        backup = db.parent / "backups" / (
            f"{db.stem}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}.db")
        with open_store(db, migrate=False) as store:
            store.backup(backup)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        print(f"previous file backed up to {backup}")
    print(prepare(db))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    db = default_db_path()
    if args.action == "path":
        print(db)
        return 0
    if args.action == "migrate":
        with open_store(db, migrate=False) as store:
            before = store.schema_version
            applied = store.migrate()
            print(json.dumps({"path": str(db), "from": before, "to": store.schema_version,
                              "applied": applied}))
        return 0
    if not args.path:
        print("error: db backup needs a destination PATH", file=sys.stderr)
        return 2
    with open_store(db) as store:
        print(f"backed up {db} to {store.backup(args.path)}")
    return 0


def _actor() -> str:
    return os.environ.get("WORKBENCH_USER", "cli")


def cmd_decide(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.agent.state import decide_batch, load_agent
    from workbench.agent.users import synthetic_users

    start = date.fromisoformat(args.start) if args.start else date.today()
    with open_store(default_db_path()) as store:
        seed(store)
        agent = load_agent(store)
        if args.users:
            try:
                users = pd.read_csv(args.users, dtype={"user_id": str})
            except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
                print(f"error: cannot read {args.users}: {e}", file=sys.stderr)
                return 1
        else:
            users = synthetic_users(args.synthetic, agent.segments, args.seed)
        batch_id, rendered = decide_batch(store, agent, users, actor=_actor(), source="cli",
                                          seed=args.seed, start=start)
    cols = ["decision_id", "user_id", "arm", "send", "channel", "send_at", "template_id",
            "title", "body", "atoms", "propensity", "guardrail_names"]
    out = rendered[cols].rename(columns={"guardrail_names": "guardrails"})
    if args.out:
        if args.out.endswith(".json"):
            out.to_json(args.out, orient="records", date_format="iso", indent=1)
        else:
            out.to_csv(args.out, index=False)
    print(json.dumps({"batch_id": batch_id, "users": len(out), "sent": int(out["send"].sum()),
                      "out": args.out}))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from workbench.agent.state import load_agent
    from workbench.agent.ingest import ingest_events

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as e:
        print(f"error: cannot read {path}: {e}", file=sys.stderr)
        return 1
    with open_store(default_db_path()) as store:
        agent = load_agent(store)
        report = ingest_events(store, agent, data, path.name, _actor(),
                               as_of=date.fromisoformat(args.as_of) if args.as_of else None)
    print(json.dumps(report.to_dict(), indent=None if args.json else 1))
    for line, reason in report.quarantined[:50]:
        print(f"line {line}: {reason} (kept in quarantine)", file=sys.stderr)
    return 0


def _progress_bar(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = int(width * done / total)
    eta = elapsed / done * (total - done) if done else 0
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days "
                     f"· {elapsed:6.1f}s elapsed · ETA {eta:6.1f}s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_simulate(args: argparse.Namespace) -> int:
    from workbench.sim.trial import create_run, preset, run_row, run_trial

    with open_store(default_db_path()) as store:
        seed(store)
        if args.run or args.resume:
            run_id = args.run or args.resume
            run_row(store, run_id)
        else:
            config = preset(args.preset, users=args.users, days=args.days, seed=args.seed,
                            active_days=args.active_days)
            run_id = create_run(store, config, _actor())
        status = run_trial(store, run_id, None if args.quiet else _progress_bar)
        row = run_row(store, run_id)
    print(json.dumps({"run_id": run_id, "status": status, "days_done": row["days_done"],
                      "seconds": round(row["seconds"], 1), "folder": row["folder"]}))
    return 0


def cmd_lift(args: argparse.Namespace) -> int:
    from workbench.lift.report import from_run, phase_table, read_csv
    from workbench.sim.trial import latest_run, run_row, user_outcomes

    if args.file:
        data = read_csv(Path(args.file).read_bytes(), Path(args.file).name)
    else:
        with open_store(default_db_path()) as store:
            run = run_row(store, args.run) if args.run else latest_run(store)
        users = user_outcomes(run) if run else None
        if users is None:
            print("error: no finished simulated run; run `workbench simulate` or pass --file",
                  file=sys.stderr)
            return 1
        data = from_run(users, f"run #{run['id']}")
    table = phase_table(data, adjusted=not args.unadjusted)
    if args.json:
        print(table.to_json(orient="records"))
    else:
        cols = ["phase", "metric", "estimator", "lift", "ci_low", "ci_high", "p_value",
                "variance_reduction"]
        print(f"Lift of the agent over business as usual ({data.source})")
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:+.4f}"))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from workbench.bench import bench_decide, bench_lift, bench_simulate

    if args.what == "lift":
        result = bench_lift(args.users, seed=args.seed)
    elif args.what == "simulate":
        result = bench_simulate(args.users, args.days, seed=args.seed)
    else:
        result = bench_decide(args.users, seed=args.seed)
    print(json.dumps(result, indent=None if args.json else 1))
    return 0


def cmd_llm(args: argparse.Namespace) -> int:
    if args.action == "serve":
        from workbench.studio.llm_server import serve

        return serve(port=args.port, host=args.host, model=args.model, alias=args.alias,
                     threads=args.threads, ctx=args.ctx)
    from workbench.studio.llm import check_backend, load_configs

    with open_store(default_db_path()) as store:
        results = [check_backend(c, store) for c in load_configs(store).values()]
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['agent']:<11} {r['label']} (from {r['source']})\n"
                  f"{'':<11} {'OK' if r['ok'] else 'FAILED'}: {r['message']}")
    return 0 if all(r["ok"] for r in results) else 1


def _rewrite_summary(r: dict) -> dict:
    ev = r["evaluation"]
    return {"rewrite_id": r["id"], "template_id": r["template_id"], "path": r["path"],
            "engine": r["engine"], "error_type": r["error_type"],
            "reason": r["diagnosis"].get("reason", ""), "original": r["original"],
            "rewrite": r["rewrite"], "attempts": r["attempts"],
            "rejected": [x["reasons"] for x in r["rejected"]],
            "scores": {"original": {k: ev["original"][k] for k in ("audience_score",
                                                                   "marketing_score")},
                       "rewrite": {k: ev["rewrite"][k] for k in ("audience_score",
                                                                 "marketing_score")}},
            "verdict": ev["verdict"], "position_flip": ev["position_flip"],
            "chrf": r["chrf"], "cosine": r["cosine"]}


def cmd_rewrite(args: argparse.Namespace) -> int:
    from workbench.studio.pipeline import Studio

    with open_store(default_db_path()) as store:
        seed(store)
        studio = Studio(store)
        if args.template:
            ids = list(args.template)
        else:
            weak = studio.weak_messages(args.segment)
            if weak.empty:
                print(f"error: segment '{args.segment}' has no weak messages", file=sys.stderr)
                return 1
            ids = [int(i) for i in weak.sort_values("score")["template_id"]]
            ids = ids if args.all else ids[:1]
        result = studio.run_segment(args.segment, actor=os.environ.get("WORKBENCH_USER", "cli"),
                                    template_ids=ids)
    out = {"run_id": result["run_id"], "segment": args.segment, "engines": result["engines"],
           "rewrites": [_rewrite_summary(r) for r in result["rewrites"]]}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"Run #{out['run_id']} on {args.segment} (rewrite: {out['engines']['rewrite']})")
    for r in out["rewrites"]:
        s = r["scores"]
        print(f"\n#{r['template_id']} [{r['error_type']}] via {r['path']}: {r['reason']}\n"
              f"  before: {r['original']['title']} | {r['original']['body']}\n"
              f"  after:  {r['rewrite']['title']} | {r['rewrite']['body']}\n"
              f"  audience {s['original']['audience_score']} -> {s['rewrite']['audience_score']}"
              f", marketing {s['original']['marketing_score']} -> "
              f"{s['rewrite']['marketing_score']}, blind verdict: {r['verdict']}, "
              f"chrF {r['chrf']}, cosine {r['cosine']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="SQLite file to use (default: $WORKBENCH_DB or "
                                     "data/workbench.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the Streamlit app on the embedded default")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("seed", help="add the demo data (idempotent)")
    p.add_argument("--reset", action="store_true",
                   help="back up the current file, then start from a fresh seeded one")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("db", help="database file: path, migrate, backup PATH")
    p.add_argument("action", choices=["path", "migrate", "backup"])
    p.add_argument("path", nargs="?", help="destination of a backup")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("decide", help="decide a batch of users and export it")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--users", help="CSV of users (user_id, segment, ...; see README)")
    src.add_argument("--synthetic", type=int, metavar="N", help="N synthetic demo users")
    p.add_argument("--out", help="write the batch to FILE.csv or FILE.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", help="first day of the batch (YYYY-MM-DD, default today)")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("ingest", help="load outcome events (CSV) and update the posterior")
    p.add_argument("file")
    p.add_argument("--as-of", help="learn decisions whose window closed by this day")
    p.add_argument("--json", action="store_true", help="one-line JSON report")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("simulate", help="run the simulated trial (agent vs BAU holdout)")
    p.add_argument("--preset", default="longitudinal_study",
                   help="longitudinal_study (default) or quick_demo")
    p.add_argument("--users", type=int, help="population size (preset default: 100000)")
    p.add_argument("--days", type=int, help="horizon in days (preset default: 336)")
    p.add_argument("--active-days", type=int, help="days of active management (default 119)")
    p.add_argument("--seed", type=int, help="random seed (preset default: 7)")
    p.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a paused or "
                                                                "interrupted run")
    p.add_argument("--run", type=int, metavar="RUN_ID", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("lift", help="lift table of the latest simulated run (or a CSV)")
    p.add_argument("--run", type=int, metavar="RUN_ID", help="a run other than the latest")
    p.add_argument("--file", help="user-level outcomes CSV instead of a simulated run")
    p.add_argument("--unadjusted", action="store_true", help="skip ML-RATE")
    p.add_argument("--json", action="store_true", help="JSON records")
    p.set_defaults(func=cmd_lift)

    p = sub.add_parser("rewrite", help="diagnose and rewrite a segment's weak messages")
    p.add_argument("--segment", required=True, help="audience segment id, e.g. new_buyers")
    p.add_argument("--all", action="store_true",
                   help="every weak message of the segment (default: the weakest one)")
    p.add_argument("--template", type=int, action="append", metavar="ID",
                   help="rewrite this template instead (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_rewrite)

    p = sub.add_parser("bench", help="benchmarks, printed as JSON")
    p.add_argument("what", choices=["decide", "simulate", "lift"])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=336)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one-line JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("llm", help="LLM backends: run the bundled local model server, check "
                                   "every agent's model")
    llm = p.add_subparsers(dest="action", required=True)
    q = llm.add_parser("serve", help="serve SmolLM2-135M over an OpenAI-compatible API "
                                     "(foreground, Ctrl-C stops)")
    q.add_argument("--port", type=int, default=8081)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--model", help="a GGUF file other than the bundled SmolLM2-135M")
    q.add_argument("--alias", default="smollm2-135m", help="the model name clients ask for")
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--ctx", type=int, default=2048, help="context window in tokens")
    q.set_defaults(func=cmd_llm)
    q = llm.add_parser("check", help="a tiny real request to each online agent's model")
    q.add_argument("--json", action="store_true", help="one-line JSON report")
    q.set_defaults(func=cmd_llm)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.db:
        os.environ["WORKBENCH_DB"] = args.db
    try:
        return args.func(args)
    except (SchemaTooNewError, StoreError, WorkbenchError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
