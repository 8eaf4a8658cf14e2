"""``workbench simulate`` and ``lift``: the simulated trial and the lift it measured."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from workbench import ValidationError
from workbench.cli.params import POSITIVE, SEED, CommandFailed, InputFile, actor, open_db
from workbench.library.seed import seed as seed_library


def _progress_bar(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = int(width * done / total)
    eta = elapsed / done * (total - done) if done else 0
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days "
                     f"· {elapsed:6.1f}s elapsed · ETA {eta:6.1f}s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _known_preset(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from workbench.sim.trial import PRESETS

    if value not in PRESETS:
        raise click.BadParameter(f"'{value}' is not a preset (known: {', '.join(PRESETS)})",
                                 ctx, param)
    return value


@click.command()
@click.option("--preset", default="longitudinal_study", show_default=True,
              callback=_known_preset, help="longitudinal_study or quick_demo.")
@click.option("--users", type=POSITIVE, metavar="N",
              help="Population size (preset default: 100000).")
@click.option("--days", type=POSITIVE, metavar="D", help="Horizon in days (preset default: 336).")
@click.option("--active-days", type=click.IntRange(min=0), metavar="A",
              help="Days of active management (preset default: 119; with --days alone, "
                   "the preset's share of the horizon).")
@click.option("--seed", type=SEED, metavar="S", help="Random seed (preset default: 7).")
@click.option("--resume", type=POSITIVE, metavar="RUN_ID",
              help="Continue a paused or interrupted run.")
@click.option("--cancel", type=POSITIVE, metavar="RUN_ID",
              help="Stop an unfinished run and remove it (its sandbox and results).")
@click.option("--run", "run_id", type=POSITIVE, hidden=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(preset: str, users: int | None, days: int | None, active_days: int | None,
             seed: int | None, resume: int | None, cancel: int | None, run_id: int | None,
             quiet: bool) -> int:
    """Run (or resume) the simulated trial, with a progress bar."""
    from workbench.sim.trial import cancel as cancel_run
    from workbench.sim.trial import create_run, run_row, run_trial
    from workbench.sim.trial import preset as make_config

    if cancel:
        with open_db() as store:
            cancel_run(store, cancel, actor())
        click.echo(json.dumps({"run_id": cancel, "status": "cancelled"}))
        return 0
    config = None
    if not (run_id or resume):  # flags are checked before anything is written: a usage error
        try:
            config = make_config(preset, users=users, days=days, seed=seed,
                                 active_days=active_days)
        except ValidationError as e:
            raise click.UsageError("; ".join(
                f"--{p.field.replace('_', '-')}: {p.message}" if p.field else p.message
                for p in e.problems)) from None
    with open_db() as store:
        seed_library(store)
        run_id = run_id or resume
        if run_id:
            run_row(store, run_id)
        else:
            run_id = create_run(store, config, actor())
        status = run_trial(store, run_id, None if quiet else _progress_bar)
        row = run_row(store, run_id)
    click.echo(json.dumps({"run_id": run_id, "status": status, "days_done": row["days_done"],
                           "seconds": round(row["seconds"], 1), "folder": row["folder"]}))
    return 0


@click.command()
@click.option("--run", "run_id", type=POSITIVE, metavar="RUN_ID",
              help="A run other than the latest finished one.")
@click.option("--file", "file", type=InputFile(), metavar="outcomes.csv",
              help="User-level outcomes CSV instead of a simulated run.")
@click.option("--live", is_flag=True, help="The live programme (roster and ingested events).")
@click.option("--unadjusted", is_flag=True, help="Skip ML-RATE.")
@click.option("--json", "as_json", is_flag=True, help="JSON records.")
def lift(run_id: int | None, file: Path | None, live: bool, unadjusted: bool,
         as_json: bool) -> int:
    """Lift table of the latest finished simulated run (or a CSV, or the live programme)."""
    from workbench.lift.report import INTERIM_NOTE, from_run, phase_table, read_csv
    from workbench.sim.trial import latest_run, progress, run_row, user_outcomes

    if sum(map(bool, (run_id, file, live))) > 1:
        raise click.UsageError("give at most one of --run, --file and --live")
    if file:
        data = read_csv(file.read_bytes(), file.name)
    elif live:
        from workbench.live.logs import user_outcomes as live_outcomes
        from workbench.live.logs import why_no_lift

        with open_db() as store:
            users = live_outcomes(store)
            missing = why_no_lift(store, users)
        if missing:  # what is missing, or an arm too small for a lift
            raise CommandFailed(missing)
        data = replace(from_run(users, "live programme"), ongoing=True)
    else:
        with open_db() as store:
            newest = latest_run(store)
            run = run_row(store, run_id) if run_id else latest_run(store, "done")
        users = user_outcomes(run) if run else None
        if users is None:
            if run_id:
                status = progress(run)["status"]
                raise CommandFailed(f"run #{run_id} has no per-user outcomes ({status}); give "
                                    "a finished run or --file")
            raise CommandFailed("no finished simulated run; run `workbench simulate` or pass "
                                "--file")
        if not run_id and newest["id"] != run["id"]:  # the newest one is still going, or died
            click.echo(f"Reporting run #{run['id']}, the latest finished run: run "
                       f"#{newest['id']} is {progress(newest)['status']}.", err=True)
        data = from_run(users, f"run #{run['id']}")
    table = phase_table(data, adjusted=not unadjusted)
    if as_json:
        click.echo(table.to_json(orient="records"))
    else:
        # The report's table: a missing number says why, a small sample says so (raw
        # columns printed NaN and no warning; --json keeps every raw field)
        from workbench.lift.html import people_table

        click.echo(f"Lift of the agent over business as usual ({data.source})")
        if data.ongoing:
            click.echo(INTERIM_NOTE)
        click.echo(people_table(table).to_string(index=False))
    return 0
