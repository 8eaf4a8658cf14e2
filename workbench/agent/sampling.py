"""Drawing millions of users' options from per-context probabilities, and capping shares."""

from __future__ import annotations

import numpy as np


def cap_shares(P: np.ndarray, weight: np.ndarray, allowed: np.ndarray, cap: float
                ) -> np.ndarray:
    """Lower options above ``cap`` of the batch's expected traffic, moving the excess to the
    other allowed options of each context in proportion to their probability."""
    P = P.copy()
    total = weight.sum()
    if total == 0:
        return P
    for _ in range(8 * P.shape[1]):
        share = weight @ P / total
        over = share > cap + 1e-9
        if not over.any():
            break
        scaled = P * np.where(over, cap / np.maximum(share, 1e-300), 1.0)
        removed = P.sum(axis=1) - scaled.sum(axis=1)
        # Into the options under the cap, in proportion to their probability plus a little
        # evenly: options Thompson Sampling rarely picks must still be able to take the excess.
        even = allowed / np.maximum(allowed.sum(axis=1, keepdims=True), 1)
        free = np.where(over, 0.0, P + 0.05 * even) * allowed
        free_sum = free.sum(axis=1)
        ok = free_sum > 0
        scaled[ok] += (removed[ok] / free_sum[ok])[:, None] * free[ok]
        scaled[~ok] = P[~ok]
        P = scaled
    return P


def alias_tables(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias tables of each row of ``P`` (rows with no mass become uniform)."""
    C, K = P.shape
    prob = np.ones((C, K))
    alias = np.tile(np.arange(K), (C, 1))
    sums = P.sum(axis=1)
    for c in np.flatnonzero(sums > 0):
        scaled = P[c] * (K / sums[c])
        small = [k for k in range(K) if scaled[k] < 1.0]
        large = [k for k in range(K) if scaled[k] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[c, s], alias[c, s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        for k in small + large:  # leftovers are 1 up to rounding
            prob[c, k] = 1.0
    return prob, alias


def draw(P: np.ndarray, ctx: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each user's option from the row of ``P`` of their context, with one uniform number.

    The alias method makes a draw two table look-ups and a comparison, whatever the number of
    options: ``u * K`` picks a column, its fractional part decides between the column and its
    alias.
    """
    K = P.shape[1]
    prob, alias = alias_tables(P)
    scaled = u * np.float32(K)
    col = np.minimum(scaled.astype(np.int32), K - 1)
    frac = scaled - col
    flat = ctx * np.int32(K) + col
    keep = frac < prob.astype(np.float32).ravel()[flat]
    return np.where(keep, col, alias.astype(np.int32).ravel()[flat])
