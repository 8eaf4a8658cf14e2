"""The ``workbench`` command line, on click.

One module per area (``admin``: run, seed, db; ``agent``: decide, ingest; ``events``:
event-limits; ``trial``: simulate, lift; ``studio``: llm, rewrite; ``benchmarks``: bench);
``params`` holds the checked parameter types they share. :func:`main` is the entry point of the ``workbench`` script and of
``python -m workbench``; it returns the exit code instead of exiting, so tests call it directly.

Exit codes: 0 done; 1 the command failed (a clear ``error:`` line on stderr, never a
traceback); 2 a usage error (click names the flag and what it expected).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

import click

from store import StoreError
from workbench import WorkbenchError
from workbench.cli import admin, agent, benchmarks, events, programme, studio, trial
from workbench.cli.params import set_db

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="FILE", callback=set_db, expose_value=False,
              help="SQLite file to use (default: $WORKBENCH_DB or data/workbench.db).")
def cli() -> None:
    """Agentic CRM workbench: the app, its database, the agent, the trial and the studio."""


for command in (admin.run, admin.seed, admin.db, agent.decide, agent.ingest, trial.simulate,
                trial.lift, benchmarks.bench, studio.llm, studio.rewrite, programme.programme,
                events.event_limits):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0, 1 failed, 2 usage) instead of raising.

    ``--db`` reaches the command through ``WORKBENCH_DB``; the caller's value is put back
    afterwards, so that calling ``main`` from Python leaves the environment as it found it.
    """
    saved = os.environ.get("WORKBENCH_DB")
    try:
        return _run(argv)
    finally:
        if saved is None:
            os.environ.pop("WORKBENCH_DB", None)
        else:
            os.environ["WORKBENCH_DB"] = saved


def _run(argv: Sequence[str] | None) -> int:
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="workbench",
                        standalone_mode=False)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.Abort:
        click.echo("error: interrupted", err=True)
        return 1
    except (WorkbenchError, StoreError) as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except sqlite3.Error as e:
        click.echo(f"error: the database refused the command: {e}", err=True)
        return 1
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        click.echo(f"error: {e.strerror or e}{where}", err=True)
        return 1
    return code if isinstance(code, int) else 0
