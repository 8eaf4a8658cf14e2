"""``workbench programme ...``: the live programme's daily operation, for a cron job."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import click

from workbench.cli.params import POSITIVE, CommandFailed, InputFile, IsoDate, actor, open_db


def _today() -> date:
    return datetime.now(timezone.utc).date()


@click.group()
def programme() -> None:
    """The live programme: roster, daily decisions to an outbox, events from an inbox."""


@programme.command("roster")
@click.argument("file", type=InputFile(), metavar="FILE.csv|FILE.parquet")
@click.option("--holdout-share", type=click.FloatRange(0, 1, max_open=True), metavar="F",
              help="Share of users kept as the holdout (first import only; default 0.1).")
@click.option("--salt", metavar="S", help="Salt of the arm assignment (first import only).")
@click.option("--joined-on", type=IsoDate(), help="Arrival day of new users (default: today).")
@click.option("--accept-new-users", is_flag=True,
              help="Import a file whose new users look like a mistake (ids that lost their "
                   "leading zeros; more new users than the programme has).")
@click.option("--remove", is_flag=True,
              help="FILE lists users who left (user_id): they are no longer decided, and "
                   "keep their arm in the lift.")
def roster(file: Path, holdout_share: float | None, salt: str | None,
           joined_on: date | None, accept_new_users: bool, remove: bool) -> int:
    """Import the programme's users; every user keeps the arm of their first import."""
    from workbench.live.leavers import remove_users
    from workbench.live.roster import import_roster

    if remove:
        given = [flag for flag, value in (("--holdout-share", holdout_share), ("--salt", salt),
                                          ("--joined-on", joined_on),
                                          ("--accept-new-users", accept_new_users)) if value]
        if given:
            raise click.UsageError(f"--remove takes no {', '.join(given)}")
    try:
        data = file.read_bytes()
    except OSError as e:
        raise CommandFailed(f"cannot read {file}: {e.strerror or e}") from None
    with open_db() as store:
        if remove:
            report = remove_users(store, data, name=file.name, actor=actor(),
                                  left_on=_today().isoformat())
        else:
            report = import_roster(store, data, name=file.name, actor=actor(),
                                   joined_on=(joined_on or _today()).isoformat(),
                                   holdout_share=holdout_share, salt=salt,
                                   accept_new_users=accept_new_users)
    click.echo(json.dumps(report.to_dict()))
    return 0


def _folder(ctx, param, value: str | None) -> Path | None:
    """A folder named on the command line: an empty name is not the current folder."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty: name a folder", ctx, param)
    return None if value is None else Path(value)


class TimeZoneName(click.ParamType):
    """An IANA time zone name (``Asia/Kuala_Lumpur``, ``UTC``); anything else names the flag."""

    name = "ZONE"

    def convert(self, value, param, ctx):
        from workbench.live.pacing import zone_problem

        if (why := zone_problem(str(value))) is not None:
            self.fail(why, param, ctx)
        return str(value)


@programme.command("day")
@click.option("--date", "day", type=IsoDate(),
              help="The day to decide (default: today in the programme's time zone).")
@click.option("--outbox", type=click.Path(file_okay=False), callback=_folder, metavar="DIR",
              help="Folder the batch is written to (default: <db>.live/outbox).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("--no-learn-log", is_flag=True,
              help="Skip the SQLite decision log that decision-attributed events teach from.")
@click.option("--max-per-day", type=POSITIVE, metavar="N",
              help="At most N sends per user on one calendar day (stored with the programme; "
                   "default 1).")
@click.option("--timezone", type=TimeZoneName(), metavar="ZONE",
              help="The programme's IANA time zone, e.g. Asia/Kuala_Lumpur: days, send hours "
                   "and quiet hours are local (stored with the programme; default UTC).")
def day(day: date | None, outbox: Path | None, fmt: str, no_learn_log: bool,
        max_per_day: int | None, timezone: str | None) -> int:
    """Decide for the day's agent-arm users and write the batch to the outbox (idempotent)."""
    from workbench.live import live_dir
    from workbench.live.day import programme_day

    with open_db() as store:
        result = programme_day(store, day, outbox or live_dir(store) / "outbox",
                               fmt=fmt, actor=actor(), learn_log=not no_learn_log,
                               max_per_day=max_per_day, timezone=timezone)
    click.echo(json.dumps(result, default=str))
    return 0


@programme.command("ingest")
@click.option("--inbox", type=click.Path(file_okay=False), callback=_folder, metavar="DIR",
              help="Folder of events files (default: <db>.live/inbox); a folder that does not "
                   "exist is an error, given or not.")
def ingest(inbox: Path | None) -> int:
    """Load every new events file of the inbox once (files are left where they are)."""
    from workbench.live import live_dir
    from workbench.live.day import programme_ingest

    with open_db() as store:
        result = programme_ingest(store, inbox or live_dir(store) / "inbox", actor=actor())
    click.echo(json.dumps(result, default=str))
    if result["not_learnt"]:  # stored and counted in the lift, but the agent learns nothing
        why = ", ".join(f"{n} {r}" for r, n in result["not_learnt_by_reason"].items())
        click.echo(f"warning: {result['not_learnt']} line(s) stored but not learnt ({why}); "
                   "see the report's 'not_learnt'", err=True)
    if result["ignored_columns"]:
        cols = "; ".join(f"{f}: {', '.join(c)}" for f, c in result["ignored_columns"].items())
        click.echo(f"warning: columns not read ({cols})", err=True)
    if result["rejected"]:  # the others were loaded; a cron job still hears of it
        names = ", ".join(r["file"] for r in result["rejected"])
        raise CommandFailed(f"{len(result['rejected'])} file(s) rejected ({names}); the "
                            f"other {result['files']} were read (see the report's 'rejected')")
    return 0
