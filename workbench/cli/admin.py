"""``workbench run``, ``seed`` and ``db``: the app and the database file it works on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from store.migrations import LATEST_VERSION
from workbench.cli.params import CommandFailed, db_path, open_db
from workbench.library.seed import reset_database
from workbench.library.seed import seed as seed_library

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def prepare(db: Path) -> str:
    """Create, migrate and seed the file; returns a one-line summary."""
    with open_db() as store:
        result = seed_library(store)
        counts = store.counts()
    added = " (demo data added)" if result.added_anything else ""
    return (f"{db}: schema v{LATEST_VERSION}, {counts['components']} components, "
            f"{counts['templates']} templates{added}")


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
def run(port: int, address: str, no_browser: bool) -> int:
    """Create/migrate/seed the database, then start the app."""
    db = db_path()
    click.echo(prepare(db))
    home = PROJECT_ROOT / "Home.py"
    if not home.exists():
        click.echo(f"error: {home} not found; run from a checkout installed with "
                   "pip install -e .", err=True)
        return 2
    cmd = [sys.executable, "-m", "streamlit", "run", str(home),
           "--server.port", str(port), "--server.address", address,
           "--browser.gatherUsageStats", "false", "--server.showEmailPrompt", "false"]
    if no_browser:
        cmd += ["--server.headless", "true"]
    env = dict(os.environ, WORKBENCH_DB=str(db))
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)


@click.command()
@click.option("--reset", is_flag=True,
              help="Back the file up (and move its <db>.runs/ and <db>.live/ folders) to "
                   "backups/ beside it, "
                   "then start from a fresh seeded one; refused while another process has "
                   "the file open.")
def seed(reset: bool) -> int:
    """Add the demo data (idempotent)."""
    db = db_path()
    if reset and db.exists():
        result = reset_database(db)
        click.echo(f"previous file backed up to {result.backup}")
        if result.runs is not None:
            click.echo(f"its simulation runs moved to {result.runs}")
        if result.live is not None:
            click.echo(f"its live programme (roster, decisions, events) moved to {result.live}")
    click.echo(prepare(db))
    return 0


@click.group()
def db() -> None:
    """The database file: where it is, bring it up to date, copy it."""


@db.command("path")
def db_path_command() -> int:
    """Print the SQLite file in use (absolute: `--db w.db` printed "w.db", which says
    nothing about which folder)."""
    click.echo(Path(db_path()).resolve())
    return 0


@db.command()
def migrate() -> int:
    """Bring the file's schema up to date (JSON report)."""
    with open_db(migrate=False) as store:
        before = store.schema_version
        applied = store.migrate()
        click.echo(json.dumps({"path": str(db_path()), "from": before,
                               "to": store.schema_version, "applied": applied}))
    return 0


def _backup_path(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """A name for the new file: an empty one (``""``) meant the current folder, ``.``."""
    if not value.strip():
        raise click.BadParameter("give the path of a new file for the backup", ctx, param)
    return Path(value)


@db.command()
@click.argument("path", type=click.Path(dir_okay=False), callback=_backup_path)
def backup(path: Path) -> int:
    """Write a consistent copy of the file to PATH (SQLite's online backup: other processes
    may keep reading and writing meanwhile; the copy is the file as of one moment)."""
    source = db_path()
    if not source.exists():
        raise CommandFailed(f"{source} does not exist; nothing to back up.")
    with open_db(migrate=False) as store:
        click.echo(f"backed up {source} to {store.backup(path)}")
        from workbench.live import live_dir

        if live_dir(store).exists():  # Parquet beside the file, not in it
            click.echo(f"warning: the live programme's roster, decisions and events are in "
                       f"{live_dir(store)}, which this copy does not include; copy that folder "
                       f"to {path}.live with the programme stopped", err=True)
    return 0
