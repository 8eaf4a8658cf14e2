"""Bayesian linear regression with a Gaussian posterior over named features.

Why this model: the agent's expected reward for an option in a context is linear in features of
the option (its identity, and tags such as offer type or tone) crossed with features of the user
(segment, inactivity, ...). A Gaussian prior on the weights and Gaussian noise give a Gaussian
posterior in closed form (conjugacy), as in Chapelle & Li's (2011) Thompson Sampling with
Bayesian linear/logistic models; we keep the linear-Gaussian form because its update is exact,
order-independent and additive in sufficient statistics (precision ``A`` and ``b``), which makes
batched, delayed and replayed feedback safe: an observation adds ``x x^T / s2`` to ``A`` and
``x r / s2`` to ``b``, and a late correction of its reward only adds to ``b``.

Sharing weights between options that share a tag is what transfers learning: a new atom with the
tag ``offer_type:amount_off`` starts from what the agent learnt about amount-off offers, while its
own identity weight starts wide open, so Thompson Sampling tries it soon (cold start).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, solve_triangular


@dataclass
class GaussianPosterior:
    """Posterior ``N(mean, A^-1)`` over the weights of ``features``.

    ``prior_var`` is the prior variance of each weight (a zero-mean prior). ``noise_var`` is the
    variance of a reward around its expectation.
    """

    features: list[str]
    precision: np.ndarray  # A, p x p
    b: np.ndarray  # A @ mean
    prior_var: np.ndarray
    noise_var: float = 0.25
    n: int = 0

    @classmethod
    def prior(cls, features: Sequence[str], prior_var: Sequence[float] | float,
              noise_var: float = 0.25) -> GaussianPosterior:
        p = len(features)
        var = np.broadcast_to(np.asarray(prior_var, dtype=float), (p,)).copy()
        if np.any(var <= 0):
            raise ValueError("prior variances must be positive")
        return cls(list(features), np.diag(1.0 / var), np.zeros(p), var, float(noise_var))

    # -- derived (cached until the next update) -------------------------------------------

    def _cache(self) -> dict:
        key = (self.n, float(self.b.sum()), self.precision.shape)
        cache = self.__dict__.get("_derived")
        if cache is None or cache["key"] != key:
            cache = self.__dict__["_derived"] = {"key": key}
        return cache

    @property
    def chol(self) -> np.ndarray:
        """Lower Cholesky factor L of the precision, ``A = L L^T``."""
        c = self._cache()
        if "chol" not in c:
            c["chol"] = np.linalg.cholesky(self.precision)
        return c["chol"]

    @property
    def covariance(self) -> np.ndarray:
        c = self._cache()
        if "cov" not in c:
            inv_l = np.linalg.inv(self.chol)
            c["cov"] = inv_l.T @ inv_l
        return c["cov"]

    @property
    def mean(self) -> np.ndarray:
        c = self._cache()
        if "mean" not in c:
            c["mean"] = cho_solve((self.chol, True), self.b)
        return c["mean"]

    def index(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.features)}

    # -- growth ----------------------------------------------------------------------------

    def with_features(self, features: Sequence[str], prior_var: Sequence[float]) -> GaussianPosterior:
        """The same posterior extended with new features (at their prior); known ones keep
        what was learnt. Features absent from ``features`` are kept too: an archived atom's
        weight is still part of the fitted model."""
        new = [(f, v) for f, v in zip(features, prior_var) if f not in set(self.features)]
        if not new:
            return self
        p0, k = len(self.features), len(new)
        A = np.zeros((p0 + k, p0 + k))
        A[:p0, :p0] = self.precision
        var = np.array([v for _, v in new], dtype=float)
        A[p0:, p0:] = np.diag(1.0 / var)
        return GaussianPosterior(self.features + [f for f, _ in new], A,
                                 np.concatenate([self.b, np.zeros(k)]),
                                 np.concatenate([self.prior_var, var]), self.noise_var, self.n)

    # -- learning --------------------------------------------------------------------------

    def update(self, X: np.ndarray, y: np.ndarray, counts: np.ndarray | None = None,
               add_precision: bool | np.ndarray = True) -> None:
        """Add observations: rows of ``X`` with summed rewards ``y`` over ``counts`` users.

        Rows may be aggregates: a cell of ``n`` identical feature vectors with reward sum ``y``
        contributes ``n x x^T`` and ``x y``. ``add_precision`` False (or a per-row mask) adds a
        reward correction only, for late events of observations already counted.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        n = np.ones(len(X)) if counts is None else np.asarray(counts, dtype=float)
        mask = np.broadcast_to(np.asarray(add_precision, dtype=float), n.shape)
        s2 = self.noise_var
        self.precision += (X * (n * mask)[:, None]).T @ X / s2
        self.b += X.T @ y / s2
        self.n += int((n * mask).sum())
        self.__dict__.pop("_derived", None)

    # -- sampling --------------------------------------------------------------------------

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """``m`` weight vectors from the posterior (``m x p``)."""
        L = self.chol  # A = L L^T, so L^-T z ~ N(0, A^-1)
        z = rng.standard_normal((len(self.features), m))
        draws = solve_triangular(L, z, lower=True, trans="T").T
        return draws + self.mean

    def score_moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the expected reward ``x . w`` per row."""
        mean = X @ self.mean
        var = ((X @ self.covariance) * X).sum(axis=1)
        return mean, np.sqrt(np.maximum(var, 0))

    # -- persistence -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, features=np.array(self.features, dtype=object),
                            precision=self.precision, b=self.b, prior_var=self.prior_var,
                            noise_var=self.noise_var, n=self.n)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GaussianPosterior:
        z = np.load(io.BytesIO(data), allow_pickle=True)
        return cls([str(f) for f in z["features"]], z["precision"], z["b"], z["prior_var"],
                   float(z["noise_var"]), int(z["n"]))


def prob_best(scores: np.ndarray) -> np.ndarray:
    """Share of draws in which each option has the highest score.

    ``scores`` is ``draws x options`` (or ``... x draws x options``); ties go to the first.
    """
    best = scores.argmax(axis=-1)
    k = scores.shape[-1]
    flat = best.reshape(-1, best.shape[-1])
    out = np.stack([np.bincount(row, minlength=k) for row in flat]) / best.shape[-1]
    return out.reshape(*best.shape[:-1], k)
