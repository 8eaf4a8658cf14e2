"""The Cholesky factor of a block-arrow precision: why a model's cost grows linearly in segments.

A dimension's model has a global weight per option feature and an offset per segment (see
:mod:`workbench.agent.models`). A decision's row touches the shared features and the offsets
of its own segment only, so the precision ``A`` is zero between two segments' offsets. Ordered
segment by segment with the shared features last, it is block-arrow shaped::

    A = [[D_1,             C_1],
         [      ...,       ...],
         [            D_S, C_S],
         [C_1^T ... C_S^T, G  ]]

and so is its lower Cholesky factor: ``L_s = chol(D_s)``, ``M_s = C_s^T L_s^-T`` and
``L_g = chol(G - sum_s M_s M_s^T)``. The dense factor of ``p`` features costs ``p^3 / 3``, and
``p`` grows with the segments (about 2,500 features at 40 segments: 3.7 s per batch of 3,000,
most of it factoring, inverting and solving). The blocks cost ``S k^3 + S k g^2`` for ``S``
segments of ``k`` features and ``g`` shared ones: linear in the segments.

The blocks are the labels of the context variable with the most of them (the segment, as the
agent's contexts are configured by default); any other context variable's offsets are shared
features. A precision whose blocks are not separate (a row touching two segments, which the
agent's design never writes) is factored densely, as one shared block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack, solve_triangular


@dataclass(frozen=True)
class Partition:
    """Feature indices per block (one label of the blocking context variable) and the shared
    rest; the factor's layout is the blocks in order, then the shared features."""

    blocks: tuple[np.ndarray, ...]
    shared: np.ndarray

    @classmethod
    def dense(cls, p: int) -> Partition:
        """No blocks: every feature shared (the plain dense factor)."""
        return cls((), np.arange(p))

    @property
    def local(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.int64)

    def block_ids(self, p: int) -> np.ndarray:
        """Each feature's block (-1 for shared ones)."""
        ids = np.full(p, -1, np.int64)
        for s, b in enumerate(self.blocks):
            ids[b] = s
        return ids

    def separates(self, gram: np.ndarray) -> bool:
        """Whether ``gram`` is zero between any two blocks."""
        if not self.blocks:
            return True
        ids = self.block_ids(len(gram))
        rows, cols = np.nonzero(gram)
        a, b = ids[rows], ids[cols]
        return not np.any((a >= 0) & (b >= 0) & (a != b))

    def kept_by(self, X: np.ndarray) -> bool:
        """Whether every row of ``X`` (dense or scipy sparse) touches at most one block (so
        adding ``X^T X`` keeps the blocks separate)."""
        if not self.blocks:
            return True
        rows, cols = X.nonzero()
        ids = self.block_ids(X.shape[1])[cols]
        rows, ids = rows[ids >= 0], ids[ids >= 0]
        first = np.full(X.shape[0], -1, np.int64)
        first[rows[::-1]] = ids[::-1]  # some block each row touches
        return bool(np.all(ids == first[rows]))


def partition(features: Sequence[str], gram: np.ndarray | None = None) -> Partition:
    """The blocks of ``features`` (offsets named ``feature|variable:label``): one per label of
    the context variable with the most labels, if it has two or more and ``gram`` (when given)
    is zero between them; else no blocks."""
    by_var: dict[str, dict[str, list[int]]] = {}
    for i, f in enumerate(features):
        _, sep, ctx = f.rpartition("|")
        if sep:
            var, _, label = ctx.partition(":")
            by_var.setdefault(var, {}).setdefault(label, []).append(i)
    p = len(features)
    if not by_var:
        return Partition.dense(p)
    labels = max(by_var.values(), key=len)
    if len(labels) < 2:
        return Partition.dense(p)
    blocks = tuple(np.array(ix, np.int64) for ix in labels.values())
    shared = np.setdiff1d(np.arange(p), np.concatenate(blocks))
    part = Partition(blocks, shared)
    if gram is not None and not part.separates(gram):
        return Partition.dense(p)
    return part


class ArrowCholesky:
    """``A = L L^T`` for a precision ``A`` laid out by ``part``; vectors go in and come out in
    the features' own order, except :meth:`forward`'s output and :meth:`backward`'s input,
    which are in the factor's layout (blocks, then shared).

    Blocks of one size (every segment's, in the agent's models) are stacked and factored as
    one array, with the inverses ``L_s^-1`` kept: a few batched products instead of a
    triangular solve per segment."""

    def __init__(self, A: np.ndarray, part: Partition):
        self._build(lambda r, c: A[r, c], part)

    @classmethod
    def scaled(cls, gram: np.ndarray, noise: float, diagonal: np.ndarray,
               part: Partition) -> ArrowCholesky:
        """The factor of ``A = gram / noise + diag(diagonal)`` (a model's precision), reading
        only the blocks the factor needs: with many segments ``A`` itself is hundreds of
        megabytes, and forming it after every change of the prior was a sixth of a batch."""
        def entries(r: np.ndarray, c: np.ndarray) -> np.ndarray:
            out = gram[r, c] / noise
            return out + np.where(r == c, diagonal[r], 0.0)
        out = cls.__new__(cls)
        out._build(entries, part)  # noqa: SLF001
        return out

    def _build(self, entries: Callable[[np.ndarray, np.ndarray], np.ndarray],
               part: Partition) -> None:
        """Factor the precision whose entries ``entries(rows, cols)`` gives (broadcast
        integer index arrays)."""
        self.part = part
        sh = part.shared
        by_size: dict[int, list[np.ndarray]] = {}
        for b in part.blocks:
            by_size.setdefault(len(b), []).append(b)
        #: per size: block indices (S x k), L_s^-1 (S x k x k) and M_s^T = L_s^-1 C_s (S x k x g)
        self.stacks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        G = entries(sh[:, None], sh[None, :])
        for blocks in by_size.values():
            idx = np.stack(blocks)
            L = np.linalg.cholesky(entries(idx[:, :, None], idx[:, None, :]))
            inv = np.tril(np.linalg.inv(L))
            Mt = inv @ entries(idx[:, :, None], sh[None, None, :])
            flat = Mt.reshape(-1, len(sh))
            G = G - flat.T @ flat
            self.stacks.append((idx, inv, Mt))
        self.Lg = np.linalg.cholesky(G)

    def forward(self, B: np.ndarray) -> np.ndarray:
        """``L^-1 B`` (``B``: features x columns, in the features' order)."""
        B2 = B.reshape(len(B), -1)
        rhs = B2[self.part.shared]
        us = []
        for idx, inv, Mt in self.stacks:
            u = inv @ B2[idx]  # S x k x m
            rhs = rhs - Mt.reshape(-1, Mt.shape[2]).T @ u.reshape(-1, u.shape[2])
            us.append(u.reshape(-1, u.shape[2]))
        ug = solve_triangular(self.Lg, rhs, lower=True, check_finite=False)
        return np.concatenate([*us, ug]).reshape((-1,) + B.shape[1:])

    def backward(self, U: np.ndarray) -> np.ndarray:
        """``L^-T U``, returned in the features' order; with ``U`` standard normal, draws from
        ``N(0, A^-1)``."""
        U2 = U.reshape(len(U), -1)
        n_local = len(U2) - len(self.part.shared)
        xg = solve_triangular(self.Lg, U2[n_local:], lower=True, trans="T", check_finite=False)
        out = np.empty_like(U2)
        out[self.part.shared] = xg
        start = 0
        for idx, inv, Mt in self.stacks:
            S, k = idx.shape
            u = U2[start:start + S * k].reshape(S, k, -1)
            out[idx] = np.transpose(inv, (0, 2, 1)) @ (u - Mt @ xg)
            start += S * k
        return out.reshape(U.shape)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``A^-1 b``."""
        return self.backward(self.forward(b))

    def inverse_diagonal(self) -> np.ndarray:
        """``diag(A^-1)``: the column sums of squares of ``L^-1``, whose block below ``L_s^-1``
        is ``-L_g^-1 M_s L_s^-1`` (LAPACK ``trtri`` for ``L_g^-1``)."""
        part = self.part
        out = np.empty(len(part.shared) + len(part.local))
        inv_g = _lapack(*lapack.dtrtri(self.Lg, lower=1))
        out[part.shared] = _col_sumsq(inv_g)
        for idx, inv, Mt in self.stacks:
            below = inv_g @ (np.transpose(Mt, (0, 2, 1)) @ inv)  # S x g x k
            out[idx] = (inv ** 2).sum(axis=1) + (below ** 2).sum(axis=1)
        return out

    def inverse(self) -> np.ndarray:
        """``A^-1``, dense (for reports and tests: the agent itself needs only the diagonal).
        Without blocks, LAPACK ``potri`` (a third of the work of a general inverse)."""
        if not self.part.blocks:
            low = np.tril(_lapack(*lapack.dpotri(self.Lg, lower=1)))
            return low + np.tril(low, -1).T
        U = self.forward(np.eye(len(self.part.shared) + len(self.part.local)))
        return U.T @ U

    def quad_forms(self, X: np.ndarray) -> np.ndarray:
        """``x^T A^-1 x`` per row ``x`` of ``X``."""
        return _col_sumsq(self.forward(X.T))


def _col_sumsq(M: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->j", M, M)


def _lapack(out: np.ndarray, info: int) -> np.ndarray:
    """A LAPACK routine's result, or the error its ``info`` code means."""
    if info:
        raise np.linalg.LinAlgError(f"posterior precision not invertible ({info})")
    return out
