"""The block-arrow Cholesky factor: the same posterior as the dense factor, blocks found from the
features' names, and a dense fallback whenever the data couples two blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.agent.actions import ActionSpace
from workbench.agent.arrow import ArrowCholesky, Partition, partition
from workbench.agent.policy import Agent, AgentConfig
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.users import synthetic_users


def _features(segments: int, options: int) -> list[str]:
    """A model's feature names as the agent writes them: bias terms, global option features
    and one offset per segment, plus a second context variable with two labels."""
    opts = [f"atom:{k}" for k in range(options)]
    ctx = [f"segment:s{s}" for s in range(segments)] + ["platform:ios", "platform:web"]
    return (["bias"] + [f"bias|{c}" for c in ctx] + opts
            + [f"{o}|{c}" for o in opts for c in ctx])


def _rows(features: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    """Decision rows: each touches the shared features and one segment's offsets only."""
    segments = sorted({f.rsplit("segment:", 1)[1] for f in features if "segment:" in f})
    X = np.zeros((n, len(features)))
    for i in range(n):
        seg, plat = rng.choice(segments), rng.choice(["ios", "web"])
        k = f"atom:{rng.integers(0, 4)}"
        for j, f in enumerate(features):
            base, _, ctx = f.partition("|")
            if base in ("bias", k) and ctx in ("", f"segment:{seg}", f"platform:{plat}"):
                X[i, j] = 1.0
    return X - rng.uniform(0, 0.3) * (X != 0)  # centred rows are not 0/1


def _posterior(segments: int = 6, seed: int = 0) -> GaussianPosterior:
    rng = np.random.default_rng(seed)
    feats = _features(segments, 4)
    post = GaussianPosterior.prior(feats, rng.uniform(0.2, 2.0, len(feats)), noise_var=0.3)
    X = _rows(feats, 400, rng)
    post.update(X, X @ rng.normal(size=len(feats)) + rng.normal(size=400),
                counts=rng.integers(1, 5, 400))
    return post


def test_the_blocks_are_the_labels_of_the_variable_with_most_of_them():
    feats = _features(3, 2)
    part = partition(feats)
    assert [[feats[i] for i in b] for b in part.blocks] == [
        [f"bias|segment:s{s}", f"atom:0|segment:s{s}", f"atom:1|segment:s{s}"] for s in range(3)]
    assert [feats[i] for i in part.shared] == [
        "bias", "bias|platform:ios", "bias|platform:web", "atom:0", "atom:1",
        "atom:0|platform:ios", "atom:0|platform:web", "atom:1|platform:ios",
        "atom:1|platform:web"]
    assert partition(["bias", "atom:0", "atom:0|segment:a"]).blocks == ()  # one label
    assert partition(["bias", "atom:0"]).blocks == ()


def test_the_block_factor_gives_the_dense_posterior():
    post = _posterior()
    assert len(post.partition.blocks) == 6
    A, b = post.precision, post.b
    cov = np.linalg.inv(A)
    assert np.allclose(post.mean, np.linalg.solve(A, b))
    assert np.allclose(post.variances, np.diag(cov))
    assert np.allclose(post.covariance, cov)
    X = _rows(post.features, 30, np.random.default_rng(9))
    _, sd = post.score_moments(X)
    assert np.allclose(sd ** 2, np.einsum("ij,jk,ik->i", X, cov, X))
    # L^-T maps standard normal draws to N(0, A^-1): L^-T L^-1 = A^-1.
    root = post.factor.backward(np.eye(len(A)))
    assert np.allclose(root @ root.T, cov)


def test_draws_follow_the_posterior():
    post = _posterior(segments=4, seed=3)
    draws = post.sample(40_000, np.random.default_rng(0))
    assert np.allclose(draws.mean(axis=0), post.mean, atol=4 * np.sqrt(post.variances.max() / 40_000))
    assert np.allclose(np.cov(draws.T), post.covariance, atol=0.05 * post.variances.max())


def test_a_row_touching_two_segments_makes_the_factor_dense_and_keeps_it_right():
    post = _posterior()
    assert post.partition.blocks
    feats = post.features
    row = np.zeros((1, len(feats)))
    row[0, [feats.index("atom:1|segment:s0"), feats.index("atom:1|segment:s3")]] = 1.0
    post.update(row, np.array([1.0]))
    assert post.partition.blocks == ()
    assert np.allclose(post.mean, np.linalg.solve(post.precision, post.b))
    # A model loaded with such data is checked against it and factored densely too.
    loaded = GaussianPosterior.from_bytes(post.to_bytes())
    assert loaded.partition.blocks == ()
    assert np.allclose(loaded.mean, post.mean)
    # Without that row the loaded model keeps its blocks.
    clean = _posterior()
    assert len(GaussianPosterior.from_bytes(clean.to_bytes()).partition.blocks) == 6


def test_without_blocks_the_factor_is_the_plain_cholesky_factor():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(7, 7))
    A = M @ M.T + 7 * np.eye(7)
    f = ArrowCholesky(A, Partition.dense(7))
    assert np.allclose(f.Lg, np.linalg.cholesky(A))
    assert np.allclose(f.inverse(), np.linalg.inv(A))
    assert np.allclose(f.inverse_diagonal(), np.diag(np.linalg.inv(A)))


def test_a_precision_that_is_not_positive_definite_raises_linalg_error():
    feats = _features(2, 2)
    part = partition(feats)
    A = np.eye(len(feats))
    A[part.blocks[1][0], part.blocks[1][0]] = -1.0
    with pytest.raises(np.linalg.LinAlgError):
        ArrowCholesky(A, part).inverse_diagonal()


def test_the_agent_factors_its_models_by_segment():
    segments = [f"s{i}" for i in range(12)]
    space = ActionSpace.plain({"offer": 4, "cta": 3}, ("push", "email"), skip=False)
    agent = Agent(space, segments, AgentConfig(holdout_share=0))
    batch = agent.decide(synthetic_users(2_000, segments, 0), seed=1)
    hits = np.random.default_rng(2).random(len(batch)) < 0.1
    agent.learn(batch, pd.DataFrame({"direct_open": hits.astype(float)}))
    for name, model in agent.models.items():
        assert len(model.partition.blocks) == 12, name
        assert np.allclose(model.mean, np.linalg.solve(model.precision, model.b)), name


def test_sparse_rows_add_the_same_gram_as_dense_ones():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 300)) * (rng.random((200, 300)) < 0.04)  # the sparse product
    counts = rng.integers(1, 4, 200).astype(float)
    post = GaussianPosterior.prior([f"f{i}" for i in range(300)], 1.0)
    post.update(X, rng.normal(size=200), counts, add_precision=0.5)
    assert np.count_nonzero(X) < 0.1 * X.size
    assert np.allclose(post.gram, (X * (0.5 * counts)[:, None]).T @ X)


@pytest.mark.parametrize("n_segments, sparse_rows", [(2, False), (30, True)])
def test_learning_rows_are_the_dense_design_rows_centred_on_each_contexts_mix(
        n_segments, sparse_rows):
    """With many segments a context's rows are built sparse from its compact design rows
    (its own offsets and the shared features); they are the dense rows, centred on what its
    batch served in the context, bias columns kept, and the mix served is remembered."""
    from scipy import sparse

    from workbench.agent.models import _centred_rows

    segments = [f"s{i}" for i in range(n_segments)]
    space = ActionSpace.plain({"offer": 4, "cta": 3}, ("push", "email"), skip=False)
    pol = Agent(space, segments, AgentConfig(holdout_share=0)).policies["slot:offer"]
    rng = np.random.default_rng(6)
    K = len(pol.dim.options)
    ctxs = rng.choice(pol.ctx.count, size=min(6, pol.ctx.count), replace=False)
    cells = np.unique([c * K + k for c in ctxs for k in rng.choice(K, 3, replace=False)])
    counts = rng.integers(1, 9, len(cells)).astype(float)
    w = counts * rng.uniform(0.3, 1.0, len(cells))
    X = _centred_rows(pol, cells, counts, w, {})
    assert sparse.issparse(X) == sparse_rows
    X = X.toarray() if sparse_rows else X
    bias = [i for i, f in enumerate(pol.model.features) if f.startswith("bias")]
    for c in ctxs:
        D = pol.design([c])
        mine = cells // K == c
        n = np.zeros(K)
        n[cells[mine] % K] = counts[mine]
        want = D[cells[mine] % K] - n @ D / n.sum()
        want[:, bias] = D[cells[mine] % K][:, bias]
        assert np.allclose(X[mine], want)
    assert len(pol.model.served) == len(ctxs)
    total = sum(v[0] for v in pol.model.served.values())
    assert total == pytest.approx(w.sum())


@pytest.mark.parametrize("n_segments", [2, 30])
def test_learning_no_rows_changes_nothing(n_segments):
    segments = [f"s{i}" for i in range(n_segments)]
    space = ActionSpace.plain({"offer": 4}, ("push", "email"), skip=False)
    pol = Agent(space, segments, AgentConfig(holdout_share=0)).policies["slot:offer"]
    before = (pol.model.gram.copy(), pol.model.xy.copy(), pol.model.n)
    none = np.zeros(0, np.int64)
    pol.learn(none, none, np.zeros(0), np.zeros(0), np.zeros(0))
    assert np.array_equal(pol.model.gram, before[0]) and np.array_equal(pol.model.xy, before[1])
    assert pol.model.n == before[2] and pol.model.served == {}
