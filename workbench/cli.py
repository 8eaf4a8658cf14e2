"""The ``workbench`` command line.

    workbench run [--port N] [--no-browser]   start the app (creates, migrates and seeds the db)
    workbench seed [--reset]                 add the demo data (idempotent); --reset starts over
    workbench db path|migrate|backup PATH    where the file is, bring it up to date, copy it

``--db PATH`` before the command (or ``WORKBENCH_DB``) picks the SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from store import SchemaTooNewError, StoreError, default_db_path, open_store
from store.migrations import LATEST_VERSION
from workbench.errors import WorkbenchError
from workbench.seed import seed

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
