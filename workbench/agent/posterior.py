"""Bayesian linear regression with a Gaussian posterior over named features.

Why this model: the agent's expected reward for an option in a context is linear in features of
the option (its identity, and tags such as offer type or tone) crossed with features of the user
(segment, inactivity, ...). A Gaussian prior on the weights and Gaussian noise give a Gaussian
posterior in closed form (conjugacy), as in Chapelle & Li's (2011) Thompson Sampling with
Bayesian linear/logistic models. We keep the linear-Gaussian form because its update is exact,
order-independent and additive in sufficient statistics, which makes batched, delayed, partial
and replayed feedback safe.

**Sufficient statistics, not the posterior.** The model keeps the data's statistics
(``gram = sum n x x^T``, ``xy = sum x y``, and the squared residuals ``rss`` of the rewards over
``dof`` degrees of freedom) apart from the prior, and derives the posterior from them: ``A = diag(1 / (prior_var * scale)) + gram / s2``
and ``b = xy / s2``. So the two hyperparameters can be learnt from the data without losing
anything (empirical Bayes):

- ``noise_var`` ``s2``, the variance of a reward around its expectation. A fixed 0.25 (the
  variance of a fair coin) made the posterior of 0/1 rewards near 5% about 2-3x too wide; with
  ``learn_noise`` the model uses the residual variance of its own fit, shrunk toward the initial
  value by ``NOISE_PSEUDO`` pseudo-observations (the posterior mean of an inverse-gamma prior).
  Each update's residuals are taken against the prediction of the posterior before it
  (centred on the batch's mean): predictive residuals, which need no refit and lean to the
  wide side while little is known. A decision learnt from a partial window (precision weight
  ``w``, its exposure) has variance ``s2 / w``, so ``w`` times its squared residual estimates
  ``s2`` and it counts one degree of freedom, as in weighted least squares; counting ``w``
  made a window first learnt at 60% exposure give 1/0.6 times the noise variance (posteriors
  about 1.25x too wide, 1.9x at 20%). Each decision's residual is taken once, at its first
  learn: a late learn (more events of decisions counted) does not change the estimate.
  We chose this over a Bernoulli/logistic Laplace approximation because rewards are weighted sums
  of event counts (opens, conversions, GMV), not only 0/1, and because the Gaussian update stays
  exact and additive for batched, late and partial-window feedback; for rare binary rewards the
  learnt variance ``p(1 - p)`` gives the same width as the Bernoulli model's Laplace posterior.
- ``scale``, multiplying every relative prior variance ``prior_var``: the agent sets it from the
  size of the rewards (see :mod:`workbench.agent.models`), so a new option's prior spread matches
  what options of this dimension actually differ by.

``discount(gamma)`` multiplies the data's statistics (not the prior) by ``gamma``: old
observations count less, for rewards that drift.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from workbench.agent.arrow import ArrowCholesky, Partition, partition

#: Pseudo-observations behind the initial noise variance when it is learnt from the data.
NOISE_PSEUDO = 20.0
#: Rows with a smaller share of nonzero entries are multiplied as sparse matrices.
SPARSE_BELOW = 0.1
#: The learnt noise variance never goes below this share of the initial one (all-zero rewards).
NOISE_FLOOR = 1e-4


@dataclass
class GaussianPosterior:
    """Posterior ``N(mean, A^-1)`` over the weights of ``features``.

    ``prior_var`` is each weight's prior variance relative to ``scale``; ``prior_mean`` its prior
    mean (zero unless set, e.g. for a new option: what a typical option of its kind is worth).
    ``noise_var`` is the variance of a reward around its expectation: fixed, or re-estimated from
    the data after every update when ``learn_noise``.
    """

    features: list[str]
    gram: np.ndarray  # sum of n x x^T over the data, p x p
    xy: np.ndarray  # sum of x y
    prior_var: np.ndarray
    noise_var: float = 0.25
    n: int = 0  # observations learnt from (not discounted)
    rss: float = 0.0  # weighted squared residuals of the rewards (predictive, see update)
    dof: float = 0.0  # their degrees of freedom: one per decision at its first learn (discounted)
    scale: float = 1.0
    learn_noise: bool = False
    noise_prior: float = field(default=0.0)  # initial noise variance (0: noise_var at creation)
    prior_mean: np.ndarray | None = None  # zeros when None
    #: per context key: [weight, weighted sum of the rows served] (see :meth:`add_served`)
    served: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.noise_prior:
            self.noise_prior = float(self.noise_var)
        if self.prior_mean is None:
            self.prior_mean = np.zeros(len(self.features))

    @classmethod
    def prior(cls, features: Sequence[str], prior_var: Sequence[float] | float,
              noise_var: float = 0.25, *, scale: float = 1.0,
              learn_noise: bool = False) -> GaussianPosterior:
        p = len(features)
        var = np.broadcast_to(np.asarray(prior_var, dtype=float), (p,)).copy()
        if np.any(var <= 0):
            raise ValueError("prior variances must be positive")
        return cls(list(features), np.zeros((p, p)), np.zeros(p), var, float(noise_var),
                   scale=float(scale), learn_noise=learn_noise)

    # -- derived (cached until the next change) --------------------------------------------

    def _changed(self) -> None:
        self.__dict__.pop("_derived", None)

    def _cache(self) -> dict:
        cache = self.__dict__.get("_derived")
        if cache is None:
            cache = self.__dict__["_derived"] = {}
        return cache

    def _get(self, key: str, make: Callable[[], Any]) -> Any:  # make(), cached until a change
        c = self._cache()
        if key not in c:
            c[key] = make()
        return c[key]

    @property
    def precision(self) -> np.ndarray:
        """``A = diag(1 / (prior_var * scale)) + gram / noise_var``, dense: for reports and
        tests (the agent reads it block by block, see :attr:`factor`)."""
        A = self.gram / self.noise_var
        A[np.diag_indices_from(A)] += _prior_precision(self)
        return A

    @property
    def b(self) -> np.ndarray:
        return self.xy / self.noise_var + self.prior_mean / (self.prior_var * self.scale)

    @property
    def factor(self) -> ArrowCholesky:
        """The Cholesky factor of the precision, block by segment (see
        :mod:`workbench.agent.arrow`)."""
        return self._get("factor", lambda: ArrowCholesky.scaled(
            self.gram, self.noise_var, _prior_precision(self), self.partition))

    @property
    def partition(self) -> Partition:
        """The features' blocks. Checked against the data once, then kept up to date by
        :meth:`update` (the data changes only there and in :meth:`discount`)."""
        part = self.__dict__.get("_partition")
        if part is None:
            part = self.__dict__["_partition"] = partition(self.features, self.gram)
        return part

    @property
    def covariance(self) -> np.ndarray:
        return self._get("cov", lambda: self.factor.inverse())

    @property
    def variances(self) -> np.ndarray:
        """The diagonal of :attr:`covariance`, without forming it: the prior's expectation
        maximisation (:mod:`workbench.agent.prior`) needs only these, several times per
        update."""
        c = self._cache()
        if "var" not in c:
            c["var"] = np.diag(c["cov"]).copy() if "cov" in c else self.factor.inverse_diagonal()
        return c["var"]

    @property
    def mean(self) -> np.ndarray:
        return self._get("mean", lambda: self.factor.solve(self.b))

    def index(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.features)}

    # -- hyperparameters -------------------------------------------------------------------

    def set_scale(self, scale: float) -> None:
        if scale > 0 and scale != self.scale:
            self.scale = float(scale)
            self._changed()

    # -- growth ----------------------------------------------------------------------------

    def with_features(self, features: Sequence[str], prior_var: Sequence[float]) -> GaussianPosterior:
        """The same posterior extended with new features (at their prior); known ones keep
        what was learnt. Features absent from ``features`` are kept too: an archived atom's
        weight is still part of the fitted model."""
        have = set(self.features)
        new = [(f, v) for f, v in zip(features, prior_var) if f not in have]
        if not new:
            return self
        p0, k = len(self.features), len(new)
        G = np.zeros((p0 + k, p0 + k))
        G[:p0, :p0] = self.gram
        var = np.array([v for _, v in new], dtype=float)
        return GaussianPosterior(self.features + [f for f, _ in new], G,
                                 np.concatenate([self.xy, np.zeros(k)]),
                                 np.concatenate([self.prior_var, var]), self.noise_var, self.n,
                                 self.rss, self.dof, self.scale, self.learn_noise,
                                 self.noise_prior, np.concatenate([self.prior_mean, np.zeros(k)]),
                                 {key: np.concatenate([v, np.zeros(k)])
                                  for key, v in self.served.items()})

    # -- learning --------------------------------------------------------------------------

    def update(self, X: np.ndarray, y: np.ndarray, counts: np.ndarray | None = None,
               add_precision: bool | np.ndarray = True, yy: np.ndarray | None = None) -> None:
        """Add observations: rows of ``X`` (dense or sparse) with reward sums ``y`` over ``counts``.

        Rows may be aggregates: a cell of ``n`` identical feature vectors with reward sum ``y``
        contributes ``n x x^T`` and ``x y``. ``add_precision`` is each row's weight in the
        precision: 1 (True) for a complete observation, 0 (False) for a late reward correction
        of one already counted, and a fraction for a partly observed attribution window (the
        rewards seen so far are then an unbiased estimate of that fraction of the whole
        reward, see :meth:`workbench.agent.policy.Agent.learn`). ``yy`` is each row's weighted
        sum of squared rewards (``sum r^2 / exposure``); given, the rows' spread updates the
        noise estimate."""
        X = X.tocsr() if sparse.issparse(X) else np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        n = np.ones(X.shape[0]) if counts is None else np.asarray(counts, dtype=float)
        mask = np.broadcast_to(np.asarray(add_precision, dtype=float), n.shape)
        w = n * mask
        if yy is not None and w.sum() > 0:
            # Residuals against the prediction before this update, centred on this batch.
            pred = X @ self.mean
            pred += (y.sum() - w @ pred) / w.sum()
            ss = np.asarray(yy, dtype=float) - 2 * pred * y + w * pred ** 2
            self.rss += float(np.maximum(ss, 0.0)[mask > 0].sum())  # weighted, see module doc
            self.dof += float(n[mask > 0].sum())  # one per decision, whatever its exposure
            if self.learn_noise:
                s2 = (NOISE_PSEUDO * self.noise_prior + self.rss) / (NOISE_PSEUDO + self.dof)
                self.noise_var = float(max(s2, NOISE_FLOOR * self.noise_prior))
        part = self.__dict__.get("_partition")
        if part is not None and not part.kept_by(X[w != 0]):
            self.__dict__["_partition"] = Partition.dense(len(self.features))
        _add_weighted_gram(self.gram, X, w)
        self.xy += X.T @ y
        self.n += int(round(float(np.sum(n * (mask > 0)))))
        self._changed()

    def add_served(self, key: str, weight: float, row_sum: np.ndarray) -> None:
        """Remember what was served in a context (``key``): its weight and weighted sum of
        rows. Models learnt from rows centred within each batch (see
        :meth:`workbench.agent.models.DimensionPolicy.learn`) know the options' differences and
        the mean reward of what was served; the served mix ties the two into absolute levels."""
        v = self.served.get(key)
        add = np.concatenate([[weight], row_sum])
        self.served[key] = add if v is None else v + add

    def served_mean(self, key: str) -> np.ndarray | None:
        """The mean row served in a context (None before anything was)."""
        v = self.served.get(key)
        return None if v is None or v[0] <= 0 else v[1:] / v[0]

    def discount(self, gamma: float) -> None:
        """Let the data learnt so far count ``gamma`` times as much (the prior stays)."""
        if gamma >= 1.0:
            return
        self.gram *= gamma
        self.xy *= gamma
        self.rss *= gamma
        self.dof *= gamma
        for v in self.served.values():
            v *= gamma
        self._changed()

    # -- sampling --------------------------------------------------------------------------

    def sample(self, m: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
        """``m`` weight vectors from the posterior (``m x p``); ``spread`` scales their
        deviations from the mean (1 = the posterior itself)."""
        z = rng.standard_normal((len(self.features), m))
        draws = self.factor.backward(z).T  # A = L L^T, so L^-T z ~ N(0, A^-1)
        if spread != 1.0:
            draws *= spread
        return draws + self.mean

    def score_moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the expected reward ``x . w`` per row."""
        mean = X @ self.mean
        var = self.factor.quad_forms(X)
        return mean, np.sqrt(np.maximum(var, 0))

    # -- persistence -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """An ``.npz`` of plain arrays (no pickled objects: loading runs no code)."""
        buf = io.BytesIO()
        np.savez(buf, features=np.array(self.features, dtype=str), gram=self.gram, xy=self.xy,
                 prior_var=self.prior_var, noise_var=self.noise_var, n=self.n, rss=self.rss,
                 dof=self.dof, scale=self.scale, learn_noise=self.learn_noise,
                 noise_prior=self.noise_prior, prior_mean=self.prior_mean,
                 served_keys=np.array(list(self.served), dtype=str),
                 served=np.array(list(self.served.values())).reshape(
                     len(self.served), len(self.features) + 1))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GaussianPosterior:
        """Load :meth:`to_bytes`; blobs of the earlier format (posterior precision and ``b``,
        features as a pickled object array) are converted to sufficient statistics."""
        z = np.load(io.BytesIO(data), allow_pickle=False)
        if "gram" in z.files:
            served = ({str(k): v.copy() for k, v in zip(z["served_keys"], z["served"])}
                      if "served" in z.files else {})
            return cls([str(f) for f in z["features"]], z["gram"], z["xy"], z["prior_var"],
                       float(z["noise_var"]), int(z["n"]), float(z["rss"]), float(z["dof"]),
                       float(z["scale"]), bool(z["learn_noise"]), float(z["noise_prior"]),
                       z["prior_mean"], served)
        # Earlier format: A = diag(1/prior_var) + gram / s2 and b = xy / s2.
        s2, prior_var, n = float(z["noise_var"]), z["prior_var"], int(z["n"])
        gram = (z["precision"] - np.diag(1.0 / prior_var)) * s2
        xy = z["b"] * s2
        # The residuals are unknown: as many as observations, at the stored noise variance.
        return cls(_legacy_features(data), gram, xy, prior_var, s2, n, s2 * n, float(n))


def _prior_precision(post: GaussianPosterior) -> np.ndarray:
    """The prior's part of the precision's diagonal, ``1 / (prior_var * scale)``."""
    return 1.0 / (post.prior_var * post.scale)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what an object array of strings needs, never arbitrary callables."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a stored posterior")


def _legacy_features(data: bytes) -> list[str]:
    """Feature names of an earlier-format blob, stored as a pickled object array."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        raw = zf.read("features.npy")
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    read_header(f)
    names = _ArrayUnpickler(f).load()
    if not all(isinstance(s, str) for s in names):
        raise ValueError("stored posterior has non-text feature names")
    return [str(s) for s in names]


def prob_best(scores: np.ndarray) -> np.ndarray:
    """Share of draws in which each option has the highest score.

    ``scores`` is ``draws x options`` (or ``... x draws x options``); ties go to the first.
    """
    best = scores.argmax(axis=-1)
    k = scores.shape[-1]
    flat = best.reshape(-1, best.shape[-1])
    out = np.stack([np.bincount(row, minlength=k) for row in flat]) / best.shape[-1]
    return out.reshape(*best.shape[:-1], k)


def _add_weighted_gram(gram: np.ndarray, X: np.ndarray, w: np.ndarray) -> None:
    """``gram += sum_i w_i x_i x_i^T``, as a sparse product added in place when most of ``X``
    is zero (a row touches the shared features and one segment's offsets: a few percent of
    them with many segments, where a dense ``p x p`` result was hundreds of megabytes)."""
    size = X.shape[0] * X.shape[1]
    nonzero = X.nnz if sparse.issparse(X) else np.count_nonzero(X)
    if size and nonzero < SPARSE_BELOW * size:
        Xs = sparse.csr_matrix(X)
        S = (Xs.T @ sparse.diags(w) @ Xs).tocoo()
        S.sum_duplicates()
        gram[S.row, S.col] += S.data
    else:  # a few segments: the dense product is faster
        Xd = X.toarray() if sparse.issparse(X) else X
        gram += (Xd * w[:, None]).T @ Xd
