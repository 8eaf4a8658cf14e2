"""The rewrite studio's fourth agent, EvaluateAgent: how a rewrite compares with its original.

Both messages get 1/3/5 scores for audience match and marketing effectiveness, and a blind
pairwise choice is asked in both orders (original as A, then rewrite as A); a verdict that flips
with the order is position bias and counts as a tie (:func:`pair_verdict`). The judge is the
evaluation agent's model when one is configured (:func:`by_model`), else the offline heuristic
judge of :mod:`workbench.studio.judge` (:func:`by_heuristic`). Faithfulness to the original
(chrF and embedding cosine) is measured apart from the judge (:func:`faithfulness_scores`).

:class:`workbench.studio.pipeline.Studio` chooses the judge and stores the result; this module
only computes it, so the two orders and the tie rule have one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.studio import copyrules as rules
from workbench.studio import judge as heuristic
from workbench.studio.llm import LLMClient
from workbench.studio.prompts import (
    COMPARE_SCHEMA,
    SCORE_SCHEMA,
    compare_prompt,
    score_prompt,
)
from workbench.studio.prompts import message_fields as _fields

__all__ = ["by_heuristic", "by_model", "faithfulness_scores", "judge_view", "pair_verdict"]


def pair_verdict(first: str, second: str) -> tuple[str, bool]:
    """Combine the two orders of a blind comparison.

    ``first`` is the choice with the original as A and the rewrite as B; ``second`` with the
    rewrite as A. Returns the verdict (``rewrite``/``original``/``tie``) and whether the judge's
    pick flipped with the order (position bias), which makes it a tie.
    """
    def who(choice: str, rewrite_pos: str) -> str:
        if choice == "tie":
            return "tie"
        return "rewrite" if choice == rewrite_pos else "original"
    v1, v2 = who(first, "B"), who(second, "A")
    if v1 == v2:
        return v1, False
    flipped = "tie" not in (v1, v2)
    return "tie", flipped


def judge_view(msg: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """What the judge sees of one side: the message's context with ``fields`` as its copy, so
    the original and the rewrite differ only in their words."""
    return {**{k: msg.get(k) for k in ("id", "channel", "voucher", "product_category",
                                       "merchant", "segment")}, **fields}


def _result(engine: str, s_o: dict, s_r: dict, c1: dict, c2: dict) -> dict[str, Any]:
    verdict, flipped = pair_verdict(c1["choice"], c2["choice"])
    return {"engine": engine, "original": s_o, "rewrite": s_r,
            "pairwise": [{**c1, "order": "original as A"}, {**c2, "order": "rewrite as A"}],
            "verdict": verdict, "position_flip": flipped}


def by_heuristic(msg: Mapping[str, Any], draft: Mapping[str, str],
                 strong: list[dict[str, Any]], embedder: Any,
                 limits: Mapping[str, int | None]) -> dict[str, Any]:
    """The offline judge's evaluation of ``draft`` against ``msg``, with the segment's
    ``strong`` messages as the reference and the channel's ``limits``."""
    segment = msg["segment"]
    original = judge_view(msg, _fields(msg))
    rewritten = judge_view(msg, draft)
    ref = heuristic.Reference.of(strong, embedder)
    s_o = heuristic.score(original, msg, segment, ref, limits)
    s_r = heuristic.score(rewritten, msg, segment, ref, limits)
    c1 = heuristic.compare(original, rewritten, msg, segment, ref, limits)
    c2 = heuristic.compare(rewritten, original, msg, segment, ref, limits)
    return _result(heuristic.LABEL, s_o, s_r, c1, c2)


def by_model(client: LLMClient, msg: Mapping[str, Any], draft: Mapping[str, str],
             segment: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """The evaluation model's scores and both-orders comparison (four calls, each cached)."""
    original = judge_view(msg, _fields(msg))
    rewritten = judge_view(msg, draft)

    def ask(prompt: tuple[str, str], schema: dict, what: str) -> dict:
        return client.complete_json(system=prompt[0], user=prompt[1], schema=schema,
                                    purpose=what, max_tokens=300)

    s_o = ask(score_prompt(original, segment), SCORE_SCHEMA, f"score original #{msg['id']}")
    s_r = ask(score_prompt(rewritten, segment), SCORE_SCHEMA, f"score rewrite #{msg['id']}")
    c1 = ask(compare_prompt(original, rewritten, segment), COMPARE_SCHEMA,
             f"compare #{msg['id']} original first")
    c2 = ask(compare_prompt(rewritten, original, segment), COMPARE_SCHEMA,
             f"compare #{msg['id']} rewrite first")
    return _result(engine, s_o, s_r, c1, c2)


def faithfulness_scores(msg: Mapping[str, Any], draft: Mapping[str, str],
                        embedder: Any) -> dict[str, float]:
    """chrF (2 decimals) and embedding cosine (4 decimals) of ``draft`` against ``msg``."""
    from workbench.studio.faithfulness import faithfulness
    f = faithfulness(rules.message_text(msg), rules.message_text(draft), embedder)
    return {"chrf": round(f.chrf, 2), "cosine": round(f.cosine, 4)}
