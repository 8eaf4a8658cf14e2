"""``workbench bench ...``: speed as JSON (the figures the README quotes come from here)."""

from __future__ import annotations

import json
from typing import Any

import click

from workbench.cli.params import POSITIVE, SEED
from workbench import ValidationError


def _print(result: dict[str, Any], as_json: bool) -> int:
    click.echo(json.dumps(result, indent=None if as_json else 1))
    return 0


def _options(f):
    """The options every benchmark takes; one place, so their defaults cannot drift apart."""
    f = click.option("--json", "as_json", is_flag=True, help="One-line JSON.")(f)
    f = click.option("--seed", type=SEED, default=0, show_default=True, metavar="S")(f)
    return click.option("--users", type=POSITIVE, default=1_000_000, show_default=True,
                        metavar="N")(f)


@click.group()
def bench() -> None:
    """Benchmarks, printed as JSON."""


@bench.command("decide")
@_options
def bench_decide(users: int, seed: int, as_json: bool) -> int:
    """Time the agent against MABWiser in the same run."""
    from workbench.bench import bench_decide as measure

    return _print(measure(users, seed=seed), as_json)


@bench.command("lift")
@_options
def bench_lift(users: int, seed: int, as_json: bool) -> int:
    """Time ML-RATE (cross-fitted boosting) over all six metrics."""
    from workbench.bench import bench_lift as measure

    return _print(measure(users, seed=seed), as_json)


@bench.command("simulate")
@_options
@click.option("--days", type=POSITIVE, default=336, show_default=True, metavar="D")
def bench_simulate(users: int, seed: int, as_json: bool, days: int) -> int:
    """Time a whole simulated trial in a temporary database."""
    from workbench.bench import bench_simulate as measure

    return _print(measure(users, days, seed=seed), as_json)


@bench.command("regret")
@click.option("--env", metavar="NAME", help="One environment (default: the whole suite).")
@click.option("--held-out", is_flag=True, help="The held-out environments instead of the suite.")
@click.option("--seeds", type=POSITIVE, default=5, show_default=True, metavar="N")
@click.option("--quick", is_flag=True, help="10 daily batches of 300 users per environment.")
@click.option("--players", metavar="A,B", help="Comma-separated players (default: all of "
              "agent, mabwiser, beta_ts, uniform, oracle_ts; also agent_all_hours and "
              "oracle_ts_all_hours: quiet hours lifted, no night mask; "
              "oracle_ts_sequential: oracle_ts learning after every user).")
@click.option("--json", "as_json", is_flag=True, help="One-line JSON (default: a table).")
def bench_regret(env: str | None, held_out: bool, seeds: int, quick: bool, players: str | None,
                 as_json: bool) -> int:
    """Regret per 1k decisions: the agent vs MABWiser, Beta TS, uniform and a reference TS
    told everything but which option is best (oracle_ts)."""
    from workbench.bench import bench_regret as measure
    from workbench.sim.regret import format_regret

    chosen = None if players is None else tuple(p.strip() for p in players.split(",")
                                                if p.strip())
    try:
        result = measure(env, seeds, quick=quick, held_out=held_out, players=chosen)
    except ValidationError as e:  # a flag's value: a usage error naming the flag (exit 2)
        raise click.UsageError("; ".join(f"--{p.field}: {p.message}" if p.field else p.message
                                         for p in e.problems)) from None
    click.echo(json.dumps(result) if as_json else format_regret(result))
    return 0


@bench.command("studio")
@click.option("--part", type=click.Choice(["held_out", "tuning", "all"]), default="held_out",
              show_default=True)
@click.option("--embedder", type=click.Choice(["lexical", "auto"]), default="lexical",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One-line JSON.")
def bench_studio(part: str, embedder: str, as_json: bool) -> int:
    """The rewrite studio over the labelled set: diagnosis accuracy, grounding, judge."""
    from workbench.bench import bench_studio as measure

    return _print(measure(part, embedder), as_json)


@bench.command("import")
@click.option("--rows", type=POSITIVE, default=5000, show_default=True, metavar="N")
@click.option("--json", "as_json", is_flag=True, help="One-line JSON.")
def bench_import(rows: int, as_json: bool) -> int:
    """Time a library import of N rows (new, updated, unchanged) against plain SQLite inserts."""
    from workbench.bench import bench_import as measure

    return _print(measure(rows), as_json)


@bench.command("programme")
@click.option("--users", type=POSITIVE, default=1_000_000, show_default=True, metavar="N")
@click.option("--events", type=POSITIVE, default=10_000_000, show_default=True, metavar="M")
@click.option("--json", "as_json", is_flag=True, help="One-line JSON.")
def bench_programme(users: int, events: int, as_json: bool) -> int:
    """The live programme's day at scale: roster, decide and log, ingest, lift aggregation."""
    from workbench.bench import bench_programme as measure

    return _print(measure(users, events), as_json)
