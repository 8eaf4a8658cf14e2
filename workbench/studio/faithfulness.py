"""How faithful a rewrite is to its original message, measured as in the CRMAgent study.

Two numbers: chrF (sacrebleu's sentence-level character n-gram F-score, 0-100: how much of
the original's wording survives) and the embedding cosine between original and rewrite (how
much of its meaning survives, under all-MiniLM-L6-v2 when installed, else the lexical
fallback; :class:`Faithfulness` records which).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.studio.embeddings import Embedder, cosine, get_embedder


def chrf(hypothesis: str, reference: str) -> float:
    """Sentence chrF (sacrebleu defaults: character 6-grams, beta 2) of ``hypothesis``
    against one ``reference``, 0-100. 100 for identical non-empty texts; 0 when either is
    empty (sacrebleu's convention)."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(str(hypothesis), [str(reference)]).score)


@dataclass(frozen=True)
class Faithfulness:
    chrf: float    # 0-100, rewrite scored against the original
    cosine: float  # -1..1, embedding cosine of original and rewrite
    embedder: str  # the embedder's name, e.g. "all-MiniLM-L6-v2"


def faithfulness(original: str, rewrite: str, embedder: Embedder | None = None) -> Faithfulness:
    """chrF of ``rewrite`` against ``original`` and their embedding cosine."""
    emb = embedder or get_embedder()
    return Faithfulness(chrf=chrf(rewrite, original), cosine=cosine(original, rewrite, emb),
                        embedder=emb.name)
