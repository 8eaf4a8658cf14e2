"""``workbench bench ...``: speed as JSON (the figures the README quotes come from here)."""

from __future__ import annotations

import json
from typing import Any

import click

from workbench.cli.params import POSITIVE, SEED


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
    """Time ML-RATE (5-fold boosting) over all six metrics."""
    from workbench.bench import bench_lift as measure

    return _print(measure(users, seed=seed), as_json)


@bench.command("simulate")
@_options
@click.option("--days", type=POSITIVE, default=336, show_default=True, metavar="D")
def bench_simulate(users: int, seed: int, as_json: bool, days: int) -> int:
    """Time a whole simulated trial in a temporary database."""
    from workbench.bench import bench_simulate as measure

    return _print(measure(users, days, seed=seed), as_json)
