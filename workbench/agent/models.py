"""One dimension's model: its features, their priors, design rows and Thompson Sampling.

**Features.** An option's expected reward in a context is

    bias + bias|ctx  +  sum over option features f of  ( w_f  +  sum over context buckets c of w_f|c )

where the option features are its identity (``atom:17``, ``hour:20``, ``channel:push``) and its
tags (``offer:amount_off``, ``tone:caring``, ``daypart:evening``). ``w_f`` is the global effect,
shared by every segment; ``w_f|segment:s`` is segment ``s``'s offset from it, with a tighter
prior, so a small segment starts from what the large ones learnt and moves away only as its own
data says (hierarchical sharing). The ``bias`` terms absorb the reward level of each context, so
the option weights are deviations from it: a new atom's prior mean is the context's mean reward
plus what its tags say.

**Priors scaled to the reward.** Every relative prior variance is multiplied by ``tau^2``, where
``tau = prior_scale * max(|mean reward|, 0.1 * noise sd)`` is re-estimated after each update (and
is ``prior_sd`` before any data). The variance is budgeted: half for the global terms, half for
the context offsets; in each, the identity shares with the tags, so an option's prior spread is
about ``tau`` however many tags and context variables it has. With rewards near 5% a new atom's
prior sd is then about 0.025 instead of 1.4: a clearly better new atom passes 50% of its slot
within a few thousand decisions while a worse one gets a few percent on its first batch and
little after. Every tag is a feature, even one carried by a single atom: when a second atom
gets it, the tag already has the first atom's data, so adding atoms or tags never resets what
was learnt.

**A reward level per batch.** Learning centres each row's option columns on its batch's mix in
its context (:meth:`DimensionPolicy.learn`); the bias terms learn the level of what was served,
and :func:`option_moments` gives an option's level as that plus the option's difference
from the mix served.

**Thompson Sampling without design matrices.** Scores are additive over context variables, so
``P(best)`` is computed from per-variable tables ``T_v[label, option, draw]`` (one small matrix
product each) summed per context, instead of a ``contexts x options x features`` design
product: the send-time dimension conditions on the segment at no extra cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from workbench.agent.actions import Dimension
from workbench.agent.contexts import Contexts
from workbench.agent.guardrails import GUARDRAILS, Guardrails
from workbench.agent.posterior import SPARSE_BELOW, GaussianPosterior
from workbench.agent.prior import GroupPrior, group_of
from workbench.agent.sampling import cap_shares, draw
from workbench.agent.users import CHANNEL_IDS

BIAS = "bias"
#: Prefixes of option features that name one option (or, for timing, one hour of the day).
IDENTITY = ("atom", "hour", "channel", "send", "pair")
#: Relative prior variance of the bias terms (the reward level is not in doubt for long).
BIAS_VAR = 100.0
#: Share of the prior variance for the global (all-segment) effects; the rest is for offsets.
GLOBAL_SHARE = 0.5
#: Share of an option's prior variance for its identity; the rest is for its tags.
IDENTITY_SHARE = 0.5
#: Elements of a scores chunk in :meth:`DimensionPolicy.prob_best` (memory bound).
CHUNK = 6_000_000


def _is_identity(feature: str) -> bool:
    return feature.split(":", 1)[0] in IDENTITY


def _typical_identity(model: GaussianPosterior) -> float:
    """Mean global identity weight of the options observed so far: the options the agent
    served most sit near the bias, the others below it, so a new option is priced like a
    typical one rather than like the incumbent."""
    seen = [i for i, f in enumerate(model.features)
            if "|" not in f and _is_identity(f) and model.gram[i, i] > 0]
    return float(np.mean(model.mean[seen])) if seen else 0.0


class DimensionPolicy:
    """Thompson Sampling for one dimension: features, priors, design rows and ``P(best)``.

    ``option_mask`` marks options a guardrail forbids everywhere (quiet hours, skipping when
    sends are forced).
    """

    def __init__(self, dim: Dimension, ctx: Contexts, model: GaussianPosterior | None,
                 segments: Sequence[str], *, noise_var: float, learn_noise: bool,
                 prior_scale: float, prior_sd: float, option_mask: np.ndarray | None = None,
                 empirical_bayes: bool = True):
        self.dim = dim
        self.ctx = ctx
        self.segments = list(segments)
        self.prior_scale = prior_scale
        self.prior_sd = prior_sd
        K = len(dim.options)
        self.option_mask = np.ones(K, bool) if option_mask is None else option_mask
        option_feats = sorted({f for o in dim.options for f in o.features})
        names, rel = self._features(option_feats)
        stored = None
        if model is None:
            model = GaussianPosterior.prior(names, rel, noise_var, learn_noise=learn_noise,
                                            scale=prior_sd ** 2)
        else:
            known = set(model.features)
            typical = _typical_identity(model)
            model = model.with_features(names, rel)
            stored = model.prior_var.copy()  # the budget times what empirical Bayes learnt
            idx = model.index()
            for f in names:  # a new option starts where a typical option of its kind is
                if f not in known and _is_identity(f) and "|" not in f:
                    model.prior_mean[idx[f]] = typical
            # The prior variance is configuration: it applies to known features too.
            model.prior_var[[idx[f] for f in names]] = rel
            model.learn_noise = learn_noise
            model._changed()  # noqa: SLF001
        self.model = model
        self._index = idx = model.index()
        current = set(names)
        self._prior = GroupPrior(model.prior_var, [
            group_of(f, current, BIAS, _is_identity(f.partition("|")[0]))
            for f in model.features]) if empirical_bayes else None
        self._before_last: np.ndarray | None = None  # EM multipliers before the last learn
        self._refresh_scale()
        if stored is not None and self._prior is not None:
            self._prior.restore(model, stored)
        # Gather tables for scoring: option feature f and its offset f|v:label per variable.
        p = len(model.features)  # a zero column at p stands for "not in the model"
        self._xopt = np.array([[1.0 if f in o.features else 0.0 for f in option_feats]
                               for o in dim.options], dtype=np.float32)
        self._cols = np.array([idx[f] for f in option_feats])
        self._cols_var = {v: np.array([[idx.get(f"{f}|{v}:{lab}", p) for f in option_feats]
                                       for lab in ctx.labels[v]]) for v in ctx.variables}
        self._bias_var = {v: np.array([idx.get(f"{BIAS}|{v}:{lab}", p)
                                       for lab in ctx.labels[v]]) for v in ctx.variables}
        self._design: dict[int, np.ndarray] = {}
        self._bias_cols = np.array([i for i, f in enumerate(model.features)
                                    if f == BIAS or f.startswith(BIAS + "|")], dtype=np.int64)

    def _features(self, option_feats: list[str]) -> tuple[list[str], list[float]]:
        """Feature names and relative prior variances (the variance budget above)."""
        tags_per_option = np.median([sum(not _is_identity(f) for f in o.features)
                                     for o in self.dim.options]) if self.dim.options else 0
        n_tags = max(float(tags_per_option), 1.0)
        has_tags = tags_per_option > 0

        def share(f: str) -> float:
            if _is_identity(f):
                return IDENTITY_SHARE if has_tags else 1.0
            return (1 - IDENTITY_SHARE) / n_tags

        nv = max(len(self.ctx.variables), 1)
        ctx_feats = [f"{v}:{lab}" for v in self.ctx.variables for lab in self.ctx.labels[v]]
        names = [BIAS] + [f"{BIAS}|{c}" for c in ctx_feats] + option_feats \
            + [f"{f}|{c}" for f in option_feats for c in ctx_feats]
        rel = [BIAS_VAR] + [BIAS_VAR] * len(ctx_feats) \
            + [GLOBAL_SHARE * share(f) for f in option_feats] \
            + [(1 - GLOBAL_SHARE) / nv * share(f) for f in option_feats for _ in ctx_feats]
        return names, rel

    # -- hyperparameters -------------------------------------------------------------------

    def _refresh_scale(self) -> None:
        """``tau^2`` from the mean reward and the noise (``prior_sd^2`` before any data)."""
        m, i = self.model, self._index.get(BIAS)
        if i is None or m.gram[i, i] <= 0:
            return
        mu = m.xy[i] / m.gram[i, i]
        tau = self.prior_scale * max(abs(mu), 0.1 * np.sqrt(m.noise_var))
        m.set_scale(tau ** 2)

    # -- design ----------------------------------------------------------------------------

    def design(self, ctxs: Sequence[int]) -> np.ndarray:
        """Dense rows for every (context, option), ``len(ctxs) * K x p`` (a new array)."""
        K, p = len(self.dim.options), len(self.model.features)
        out = np.zeros((len(ctxs) * K, p))
        for j, (cols, R) in enumerate(_design_rows(self, ctxs)):
            out[j * K:(j + 1) * K, cols] = R
        return out

    def allowed(self, ctxs: Sequence[int]) -> np.ndarray:
        """Which options each context may use: guardrail masks, segment-scoped atoms and
        channel consent."""
        ctxs = np.asarray(ctxs, dtype=np.int64)
        out = np.broadcast_to(self.option_mask, (len(ctxs), len(self.dim.options))).copy()
        dec = self.ctx.decode_all(ctxs)
        for k, o in enumerate(self.dim.options):
            if o.segment is not None and "segment" in dec:
                seg = self.segments.index(o.segment) if o.segment in self.segments else -1
                out[:, k] &= dec["segment"] == seg
            if "consent" in dec:
                out[:, k] &= (dec["consent"] >> CHANNEL_IDS.index(o.value) & 1).astype(bool)
        return out

    # -- Thompson Sampling -----------------------------------------------------------------

    def prob_best(self, ctxs: Sequence[int], draws: int, rng: np.random.Generator,
                  spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``P(best)`` per context and option from ``draws`` posterior samples, and the mask."""
        ctxs = np.asarray(ctxs, dtype=np.int64)
        K = len(self.dim.options)
        allowed = self.allowed(ctxs)
        W = self.model.sample(draws, rng, spread).astype(np.float32)  # draws x p
        W = np.concatenate([W, np.zeros((draws, 1), np.float32)], axis=1)
        base = self._xopt @ W[:, self._cols].T  # K x draws
        tables = {v: self._xopt @ np.transpose(W[:, cols], (1, 2, 0))  # labels x K x draws
                  for v, cols in self._cols_var.items()}
        dec = self.ctx.decode_all(ctxs)
        P = np.zeros((len(ctxs), K))
        step = max(1, CHUNK // max(K * draws, 1))
        for s in range(0, len(ctxs), step):
            sl = slice(s, s + step)
            S = np.broadcast_to(base, (len(ctxs[sl]), K, draws)).copy()
            for v, T in tables.items():
                S += T[dec[v][sl]]
            S[~allowed[sl]] = -np.inf
            best = S.argmax(axis=1)  # contexts x draws
            flat = (np.arange(best.shape[0])[:, None] * K + best).ravel()
            P[sl] = np.bincount(flat, minlength=best.shape[0] * K).reshape(-1, K) / draws
        P[~allowed.any(axis=1)] = 0.0
        return P, allowed

    def choose(self, ctx: np.ndarray, weight: np.ndarray, rng: np.random.Generator,
               g: Guardrails, draws: int, spread: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each user's option (``ctx``: their context codes; ``weight``: users per context),
        its probability (the propensity) and the guardrail flags of the choice.

        ``P(best)`` is computed once per context present, reshaped by the optional exploration
        floor and atom share cap, and drawn from with one uniform number per user."""
        present = np.flatnonzero(weight)
        K = len(self.dim.options)
        P_full = np.zeros((self.ctx.count, K))
        A_full = np.ones_like(P_full, dtype=bool)
        fact = np.zeros((self.ctx.count, K), dtype=np.int16)  # flags per (context, option)
        if len(present):
            P, allowed = self.prob_best(present, draws, rng, spread)
            if g.min_exploration > 0:
                floor = g.min_exploration / np.maximum(allowed.sum(axis=1, keepdims=True), 1)
                fact[present] |= np.where(P < floor, GUARDRAILS["exploration"], 0
                                          ).astype(np.int16)
                P = (1 - g.min_exploration) * P + allowed * floor
                P[~allowed.any(axis=1)] = 0.0
            if self.dim.kind == "slot" and g.max_atom_share < 1:
                before = P
                P = cap_shares(P, weight[present], allowed, g.max_atom_share)
                capped = np.abs(P - before).max(axis=1) > 1e-9
                fact[present[capped]] |= GUARDRAILS["traffic_cap"]
            P_full[present], A_full[present] = P, allowed
        choice = draw(P_full, ctx, rng.random(len(ctx), dtype=np.float32))
        if self.dim.name == "channel":
            fact[~A_full.any(axis=1)] |= GUARDRAILS["no_consent"]
        flat = ctx * np.int32(K) + choice
        return choice, P_full.ravel()[flat].astype(np.float32), fact.ravel()[flat]

    # -- learning --------------------------------------------------------------------------

    def learn(self, ctx: np.ndarray, choice: np.ndarray, reward: np.ndarray,
              weight: np.ndarray, sq: np.ndarray | None, batch: np.ndarray | None = None,
              mix: dict[tuple[int, int], np.ndarray] | None = None, *, late: bool = False
              ) -> None:
        """Add decisions (context code, option index, reward, precision weight, squared
        reward over exposure for the noise estimate, None for late corrections), aggregated
        into (batch, context, option) cells.

        **Centred on the batch's mix.** Each row's option columns are taken relative to the
        mean row of its batch in its context (``mix[(batch, context)]``: how many of the
        batch's teaching decisions chose each option; by default this call's own rows), so
        the options learn only from their differences with what was served beside them; the
        bias columns keep their rows and learn the reward level. Without this, an option
        served mostly late in a run (when the other dimensions have improved and every reward
        is higher) takes the credit for the rise: the factored model's posterior was about
        twice too narrow (a contrast off by more than 2 sd in 38% of cases on the tuning
        environment; 2% centred) and kept favouring whatever it served most. The mix is the
        whole batch's, whatever part of it a call learns, so a decision learnt in parts
        (partial windows, late rewards) adds up exactly to one learn of it.

        **Late learns redo the last refit.** The prior's expectation maximisation takes a few
        steps per learn, continuing from the last; a ``late`` learn (more events of decisions
        already counted) restarts them from where they stood before the last non-late learn,
        on the data now complete, so a window learnt in parts ends where one learn of it
        would (with a fixed noise variance, see :meth:`workbench.agent.policy.Agent.learn`)."""
        K = len(self.dim.options)
        b = np.zeros(len(ctx), np.int64) if batch is None else batch.astype(np.int64)
        C = self.ctx.count
        cell = (b * C + ctx.astype(np.int64)) * K + choice
        cells, pos = np.unique(cell, return_inverse=True)
        counts = np.bincount(pos, minlength=len(cells))
        sums = np.bincount(pos, weights=reward, minlength=len(cells))
        w = np.bincount(pos, weights=weight, minlength=len(cells))
        yy = None if sq is None else np.bincount(pos, weights=sq, minlength=len(cells))
        Xc = _centred_rows(self, cells, counts, w, mix or {})
        self.model.update(Xc, sums, counts, add_precision=w / counts, yy=yy)
        self._refresh_scale()
        if self._prior is not None:
            if not late:
                self._before_last = self._prior.mult.copy()
            elif self._before_last is not None:
                self._prior.mult = self._before_last.copy()
            self._prior.fit(self.model)

    def reuse_cache(self, previous: DimensionPolicy) -> None:
        """Take ``previous``'s design rows when they are the same (same options and
        features)."""
        if previous.model.features == self.model.features and previous.dim == self.dim \
                and previous.ctx.variables == self.ctx.variables \
                and previous.ctx.masks == self.ctx.masks:
            self._design = previous._design  # noqa: SLF001


# -- design rows (compact per context), centred rows and the mix served per context ---------

def _design_rows(pol: DimensionPolicy, ctxs: Sequence[int]
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each context's design rows, compact and cached: the columns its options' rows touch
    (sorted: the shared features and its own offsets) and their ``K x len(columns)`` values.
    Dense rows were ``K x p`` per context: with 100 segments and the 168 send slots, 8 MB each
    and most of a batch's learning time. The cached arrays themselves: read them, never write."""
    cache = pol._design  # noqa: SLF001
    missing = sorted({int(c) for c in ctxs} - cache.keys())
    if missing:
        K, p = len(pol.dim.options), len(pol.model.features)
        dec = pol.ctx.decode_all(missing)
        index, xopt = pol._index, pol._xopt.astype(float)  # noqa: SLF001
        ones = np.ones((K, 1))
        for j, c in enumerate(missing):
            cols, vals = [pol._cols], [xopt]  # noqa: SLF001
            if BIAS in index:
                cols.insert(0, np.array([index[BIAS]]))
                vals.insert(0, ones)
            for v in pol.ctx.variables:
                lab = dec[v][j]
                cols += [pol._bias_var[v][lab:lab + 1], pol._cols_var[v][lab]]  # noqa: SLF001
                vals += [ones, xopt]
            at, R = np.concatenate(cols), np.concatenate(vals, axis=1)
            keep = at < p  # p stands for a feature not in the model
            order = np.argsort(at[keep], kind="stable")
            cache[c] = (at[keep][order], R[:, keep][:, order])
    return [cache[int(c)] for c in ctxs]


def _centred_rows(pol: DimensionPolicy, cells: np.ndarray, counts: np.ndarray, w: np.ndarray,
                  mix: dict[tuple[int, int], np.ndarray]) -> np.ndarray | sparse.csr_matrix:
    """The design rows of (batch, context, option) ``cells`` centred on their batch's mix in
    their context (see :meth:`DimensionPolicy.learn`), bias columns kept; remembers the mix
    served per context on the way (``w``: the cells' precision weights). A context's rows
    touch the shared features and its own offsets only, so with many segments the rows are
    built sparse, one context at a time from its compact rows; with a few, dense."""
    K, C, p = len(pol.dim.options), pol.ctx.count, len(pol.model.features)
    if not len(cells):
        return np.zeros((0, p))
    groups, gpos = np.unique(cells // K, return_inverse=True)  # (batch, context)
    uctx, cpos = np.unique(groups % C, return_inverse=True)
    D = _design_rows(pol, uctx)
    of_cell = cpos[gpos]
    own = np.zeros((len(groups), K))
    np.add.at(own, (gpos, cells % K), counts)
    is_bias = np.zeros(p, bool)
    is_bias[pol._bias_cols] = True  # noqa: SLF001
    dense = np.mean([len(cj) for cj, _ in D]) >= SPARSE_BELOW * p
    X = np.zeros((len(cells), p)) if dense else None
    rows, cols, vals = [], [], []
    for j, (cj, R) in enumerate(D):
        at = np.flatnonzero(of_cell == j)
        gj = np.flatnonzero(cpos == j)  # this context's (batch, context) groups
        centre = np.empty((len(gj), len(cj)))
        for i, g in enumerate(gj):
            n = mix.get((int(groups[g] // C), int(groups[g] % C)))
            n = own[g] if n is None or n.sum() <= 0 else np.asarray(n, float)[:K]
            centre[i] = n @ R / n.sum()
        raw = R[cells[at] % K]
        xc = raw - centre[np.searchsorted(gj, gpos[at])]
        xc[:, is_bias[cj]] = raw[:, is_bias[cj]]
        if dense:
            X[at[:, None], cj[None, :]] = xc
        else:
            rows.append(np.repeat(at, len(cj)))
            cols.append(np.tile(cj, len(at)))
            vals.append(xc.ravel())
        if np.any(w[at] > 0):
            served = np.zeros(p)
            served[cj] = w[at] @ raw
            pol.model.add_served(_context_key(pol, int(uctx[j])), float(w[at].sum()), served)
    if dense:
        return X
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(cells), p))


def _context_key(pol: DimensionPolicy, c: int) -> str:
    """A context's key in the model: its bias features (stable across rebuilds)."""
    cols, R = _design_rows(pol, [c])[0]
    names = pol.model.features
    return "+".join(names[i] for i, x in zip(cols, R[0])
                    if x and (names[i] == BIAS or names[i].startswith(BIAS + "|")))


def option_moments(pol: DimensionPolicy, ctxs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of each (context, option)'s expected reward: the mean reward
    served in the context plus the option's difference from the mix served there (the
    served mix is remembered when learning, see :meth:`DimensionPolicy.learn`: the bias
    learns the mean reward of what was served). One context at a time: dense rows of every
    context at once were gigabytes with many segments."""
    bias_cols = pol._bias_cols  # noqa: SLF001
    means, sds = [], []
    for c in ctxs:
        X = pol.design([c])
        served = pol.model.served_mean(_context_key(pol, int(c)))
        if served is not None:
            bias = X[:, bias_cols].copy()
            X -= served
            X[:, bias_cols] = bias
        m, sd = pol.model.score_moments(X)
        means.append(m)
        sds.append(sd)
    if not means:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(means), np.concatenate(sds)
