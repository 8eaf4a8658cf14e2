"""``workbench llm`` and ``rewrite``: the studio's model backends and its rewrites."""

from __future__ import annotations

import json

import click

from workbench.cli.params import POSITIVE, CommandFailed, actor, open_db
from workbench.library.seed import seed as seed_library


@click.group()
def llm() -> None:
    """LLM backends: run the bundled local model server, check every agent's model."""


@llm.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8081, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--model", metavar="FILE.gguf",
              help="A GGUF file other than the bundled SmolLM2-135M.")
@click.option("--alias", default="smollm2-135m", show_default=True,
              help="The model name clients ask for.")
@click.option("--threads", type=POSITIVE, default=2, show_default=True)
@click.option("--ctx", type=POSITIVE, default=2048, show_default=True,
              help="Context window in tokens.")
def serve(port: int, host: str, model: str | None, alias: str, threads: int, ctx: int) -> int:
    """Serve the bundled local model over an OpenAI-compatible API (foreground, Ctrl-C stops)."""
    from workbench.studio.llm_server import serve as serve_model

    return serve_model(port=port, host=host, model=model, alias=alias, threads=threads, ctx=ctx)


@llm.command()
@click.option("--json", "as_json", is_flag=True, help="One-line JSON report.")
def check(as_json: bool) -> int:
    """A tiny real request to each online agent's model; exit 1 on any failure."""
    from workbench.studio.llm import check_backend, load_configs

    with open_db() as store:
        results = [check_backend(c, store) for c in load_configs(store).values()]
    if as_json:
        click.echo(json.dumps(results))
    else:
        for r in results:
            click.echo(f"{r['agent']:<11} {r['label']} (from {r['source']})\n"
                       f"{'':<11} {'OK' if r['ok'] else 'FAILED'}: {r['message']}")
    return 0 if all(r["ok"] for r in results) else 1


def _rewrite_summary(r: dict) -> dict:
    ev = r["evaluation"]
    scores = ("audience_score", "marketing_score")
    return {"rewrite_id": r["id"], "template_id": r["template_id"], "path": r["path"],
            "engine": r["engine"], "error_type": r["error_type"],
            "reason": r["diagnosis"].get("reason", ""), "original": r["original"],
            "rewrite": r["rewrite"], "attempts": r["attempts"],
            "rejected": [x["reasons"] for x in r["rejected"]],
            "scores": {side: {k: ev[side][k] for k in scores}
                       for side in ("original", "rewrite")},
            "verdict": ev["verdict"], "position_flip": ev["position_flip"],
            "chrf": r["chrf"], "cosine": r["cosine"]}


@click.command()
@click.option("--segment", required=True, help="Audience segment id, e.g. new_buyers.")
@click.option("--all", "every", is_flag=True,
              help="Every weak message of the segment (default: the weakest one).")
@click.option("--template", type=POSITIVE, multiple=True, metavar="ID",
              help="Rewrite this template instead (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def rewrite(segment: str, every: bool, template: tuple[int, ...], as_json: bool) -> int:
    """Diagnose, rewrite and evaluate the segment's weakest message, stored as a run the studio
    page shows; exit 1 with the reason when a model backend fails, or when every message was
    skipped because its offer fits no wording for the segment."""
    from workbench.studio.pipeline import Studio

    with open_db() as store:
        seed_library(store)
        studio = Studio(store)
        if template:
            ids = list(template)
        else:
            weak = studio.weak_messages(segment)
            if weak.empty:
                raise CommandFailed(f"segment '{segment}' has no weak messages")
            ids = [int(i) for i in weak.sort_values("score")["template_id"]]
            ids = ids if every else ids[:1]
        result = studio.run_segment(segment, actor=actor(), template_ids=ids)
    out = {"run_id": result["run_id"], "segment": segment, "engines": result["engines"],
           "rewrites": [_rewrite_summary(r) for r in result["rewrites"]],
           "skipped": result["skipped"]}
    failed = 1 if out["skipped"] and not out["rewrites"] else 0
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return failed
    click.echo(f"Run #{out['run_id']} on {segment} (rewrite: {out['engines']['rewrite']})")
    for r in out["rewrites"]:
        s = r["scores"]
        click.echo(f"\n#{r['template_id']} [{r['error_type']}] via {r['path']}: {r['reason']}\n"
                   f"  before: {r['original']['title']} | {r['original']['body']}\n"
                   f"  after:  {r['rewrite']['title']} | {r['rewrite']['body']}\n"
                   f"  audience {s['original']['audience_score']} -> "
                   f"{s['rewrite']['audience_score']}, marketing "
                   f"{s['original']['marketing_score']} -> {s['rewrite']['marketing_score']}, "
                   f"blind verdict: {r['verdict']}, chrF {r['chrf']}, cosine {r['cosine']}")
    for k in out["skipped"]:
        click.echo(f"\n#{k['template_id']} not rewritten: {k['reason']}",
                   err=bool(failed))
    return failed
