"""``workbench event-limits``: the plausible maxima of outcome events, per use case."""

from __future__ import annotations

import json

import click

from workbench.cli.params import actor, open_db
from workbench.library.seed import seed as seed_library


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
           ) -> dict[str, str]:
    out = {}
    for v in values:
        event, sep, value = v.partition("=")
        if not sep or not event.strip():
            raise click.BadParameter(f"'{v}' is not EVENT=VALUE (e.g. gmv=5000)", ctx, param)
        name = event.strip().lower()
        if name in out and out[name] != value:
            raise click.BadParameter(f"{name} is given twice ({out[name]} and {value}); give "
                                     "it once", ctx, param)
        out[name] = value
    return out


@click.command("event-limits")
@click.option("--use-case", metavar="ID", help="A use case other than the programme's.")
@click.option("--max", "maxima", multiple=True, callback=_pairs, metavar="EVENT=VALUE",
              help="Set an event's plausible maximum (e.g. gmv=5000); repeatable. Lines "
                   "above it are quarantined by every ingest.")
@click.option("--json", "as_json", is_flag=True, help="One-line JSON.")
def event_limits(use_case: str | None, maxima: dict[str, str], as_json: bool) -> int:
    """Show (or set with --max) the plausible maxima of outcome events for a use case."""
    from workbench.agent.event_checks import load_limits, save_limits

    with open_db() as store:
        seed_library(store)
        limits = (save_limits(store, maxima, actor(), use_case) if maxima
                  else load_limits(store, use_case))
    out = {"use_case": limits.use_case, "maxima": dict(limits.maxima),
           "saved_by": limits.saved_by, "saved_at": limits.saved_at}
    click.echo(json.dumps(out, indent=None if as_json else 1))
    return 0
