"""``workbench decide`` and ``ingest``: the agent's loop with a real sending platform."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import click

from workbench.cli.params import (SEED, POSITIVE, CommandFailed, InputFile, IsoDate, OutputFile,
                                  actor, open_db)
from workbench.library.seed import seed as seed_library

#: Columns of an exported batch, in order (``guardrails`` is renamed from ``guardrail_names``).
#: How ``send_at`` (UTC) is written to ``--out``.
SEND_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
BATCH_COLUMNS = ["decision_id", "user_id", "arm", "send", "channel", "send_at", "template_id",
                 "title", "body", "atoms", "propensity", "guardrail_names"]


def _read_users(path: Path):
    import pandas as pd

    from workbench import ValidationError
    from workbench.delimited import (blank_columns, delimiter, header, refuse_repeated_columns,
                                     unnamed_values)

    summary = f"{path.name} was rejected; nothing was decided"
    try:
        with open(path, "rb") as f:
            first = f.readline()
        # pandas would keep a repeated column as 'segment.1' and decide on the first one
        names = header(first)
        refuse_repeated_columns(names, summary)
        users = pd.read_csv(path, sep=delimiter(first), dtype={"user_id": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CommandFailed(f"cannot read {path}: {reason}") from None
    if blank := blank_columns(names):  # a spreadsheet's empty trailing columns (",,")
        if problems := unnamed_values(names, lambda i: users.iloc[:, i]):
            raise ValidationError(problems, summary)
        users = users.iloc[:, [i for i in range(users.shape[1]) if i not in blank]]
    if users.empty:
        raise CommandFailed(f"{path} has no users, only a header line; nothing was decided")
    return users


@click.command()
@click.option("--users", "users_file", type=InputFile(), metavar="FILE.csv",
              help="CSV of users (user_id, segment, ...; see README).")
@click.option("--synthetic", type=POSITIVE, metavar="N", help="N synthetic demo users.")
@click.option("--out", type=OutputFile(), metavar="FILE.csv|FILE.json",
              help="Write the batch to a CSV file, or JSON records if the name ends in .json.")
@click.option("--seed", type=SEED, metavar="S",
              help="Replay a batch's random numbers (default: fresh ones, recorded with the "
                   "batch and printed).")
@click.option("--start", type=IsoDate(),
              help="First day of the batch (default: today in UTC, the zone of its send "
                   "times).")
def decide(users_file: Path | None, synthetic: int | None, out: Path | None, seed: int | None,
           start: date | None) -> int:
    """Decide a batch, log it, export it for a sending platform."""
    if (users_file is None) == (synthetic is None):
        raise click.UsageError("give exactly one of --users FILE.csv or --synthetic N")
    import pandas as pd

    from workbench.agent.state import decide_batch, load_agent
    from workbench.agent.users import synthetic_users

    users = _read_users(users_file) if users_file else None
    with open_db() as store:
        seed_library(store)
        agent = load_agent(store)
        if users is None:
            users = synthetic_users(synthetic, agent.segments, seed or 0)
        batch_id, rendered = decide_batch(store, agent, users, actor=actor(), source="cli",
                                          seed=seed, start=start or _today())
    batch = rendered[BATCH_COLUMNS].rename(columns={"guardrail_names": "guardrails"})
    # ISO 8601 in UTC with Z, as the programme's outbox writes it (empty when not sent)
    batch["send_at"] = pd.to_datetime(batch["send_at"]).dt.strftime(SEND_AT_FORMAT)
    if out:
        try:
            if out.suffix == ".json":
                batch.to_json(out, orient="records", date_format="iso", indent=1)
            else:
                batch.to_csv(out, index=False)
        except OSError as e:
            raise CommandFailed(f"batch #{batch_id} was decided and logged, but writing {out} "
                                f"failed: {e.strerror or e}") from None
    click.echo(json.dumps({"batch_id": batch_id, "seed": rendered.attrs["seed"],
                           "users": len(batch),
                           "sent": int(batch["send"].sum()), "out": None if out is None
                           else str(out)}))
    return 0


def _today() -> date:
    """The wall clock's day, UTC: the latest ``--as-of`` (a test may stand a clock in)."""
    return datetime.now(timezone.utc).date()


@click.command()
@click.argument("file", type=InputFile(), metavar="FILE.csv")
@click.option("--as-of", type=IsoDate(),
              help="Learn the decisions whose attribution window closed by this day (at the "
                   "latest today, UTC).")
@click.option("--pre-reward", "pre_reward_file", type=InputFile(), metavar="FILE.csv",
              help="user_id,pre_reward: each user's reward before the programme (incremental "
                   "mode's difference in differences).")
@click.option("--whole-windows", is_flag=True,
              help="Learn a decision only once its whole attribution window has closed "
                   "(default: from the part elapsed, growing as it elapses).")
@click.option("--json", "as_json", is_flag=True, help="One-line JSON report.")
def ingest(file: Path, as_of: date | None, pre_reward_file: Path | None, whole_windows: bool,
           as_json: bool) -> int:
    """Load outcome events, quarantine bad lines, learn."""
    from workbench.agent.ingest import ingest_events, load_pre_reward
    from workbench.agent.state import load_agent

    today = _today()
    if as_of is not None and as_of > today:
        raise click.BadParameter(f"{as_of.isoformat()} is after today ({today.isoformat()}, "
                                 "UTC): windows close on days that have passed",
                                 param_hint="'--as-of'")

    try:
        data = file.read_bytes()
        pre = None if pre_reward_file is None else pre_reward_file.read_bytes()
    except OSError as e:
        raise CommandFailed(f"cannot read {e.filename or file}: {e.strerror or e}") from None
    pre_reward = None if pre is None else load_pre_reward(pre)
    with open_db() as store:
        agent = load_agent(store)
        report = ingest_events(store, agent, data, file.name, actor(), as_of=as_of,
                               pre_reward=pre_reward, partial_windows=not whole_windows,
                               as_of_needs_lines=True)
    click.echo(json.dumps(report.to_dict(), indent=None if as_json else 1))
    for line, reason in report.quarantined[:50]:
        click.echo(f"line {line}: {reason} (kept in quarantine)", err=True)
    return 0
