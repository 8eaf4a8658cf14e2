"""Pairwise interactions between content slots, learnt without enumerating the space.

Why: a factored policy scores each slot on its own, so an offer that pays only with a certain
call to action is invisible to it (alone, that offer looks like the slot's worst atom). A pair of
slots can instead be decided jointly: one option per combination of their atoms, whose features
are both atoms' features plus a ``pair:`` identity for the combination. The pair's options are
the product of two slots only (``K_a x K_b``, at most :data:`MAX_PAIR_OPTIONS`); the composite
space is never enumerated.

**When.** ``AgentConfig(interactions="auto")`` (the default) keeps a joint model for every
candidate pair of slots and lets it learn from every batch, but decides with it only once the
data supports an interaction: a score test of each combination against the additive fit,
Bonferroni-corrected (:func:`interaction_p`), at ``p <`` :data:`SWITCH_P`. Until then, and
whenever the test stops holding, the slots are decided separately, as before. A slot is in at
most one active pair (the strongest first). ``interactions="off"`` keeps no pair; a list of
pairs of slot names (``[("offer", "cta")]``) decides those pairs jointly from the start.

The factored models of the slots keep learning either way, so what the pages show of each slot
does not change with the pairs. When a pair decides, the logged propensity of the first slot is
the probability of the combination and that of the second is 1, so that their product (the
decision's propensity) stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from scipy.stats import chi2

from workbench import Problem, ValidationError
from workbench.agent.actions import ActionSpace, Dimension, Option
from workbench.agent.arrow import ArrowCholesky, Partition, partition
from workbench.agent.contexts import Contexts
from workbench.agent.models import DimensionPolicy
from workbench.agent.posterior import GaussianPosterior

#: Largest number of combinations a pair of slots may have to be a candidate.
MAX_PAIR_OPTIONS = 100
#: Combinations of all candidate pairs together in ``"auto"`` (the smallest pairs first): each
#: candidate is a model learnt beside the slots', so a library of many large slots keeps
#: only a few.
MAX_CANDIDATE_OPTIONS = 200
#: Significance of the pair identities' weights at which a pair starts deciding jointly.
SWITCH_P = 1e-3
#: Decisions a pair model must have learnt from before it may decide.
MIN_DECISIONS = 2000
PREFIX = "pair:"


def pair_name(a: str, b: str) -> str:
    """The model name of the pair of slot dimensions ``a`` and ``b`` (``slot:...``)."""
    return f"{PREFIX}{a.split(':', 1)[1]}+{b.split(':', 1)[1]}"


def joint_dimension(a: Dimension, b: Dimension) -> Dimension:
    """One option per combination of ``a``'s and ``b``'s atoms (combinations of atoms scoped
    to two different segments are left out), with both atoms' identities and the
    combination's as features. Tags stay with the slots' own models: a pair model is one of
    many kept on the side, so it holds only what a joint decision needs."""
    opts = []
    for oa in a.options:
        for ob in b.options:
            if oa.segment and ob.segment and oa.segment != ob.segment:
                continue
            feats = (oa.features[0], ob.features[0], f"{PREFIX}{oa.value}&{ob.value}")
            opts.append(Option((oa.value, ob.value), f"{oa.label} + {ob.label}", feats,
                               oa.segment or ob.segment))
    return Dimension(pair_name(a.name, b.name), "slot", tuple(opts))


def resolve(setting: str | Sequence[Sequence[str]], space: ActionSpace
            ) -> tuple[list[tuple[str, str]], bool]:
    """The candidate pairs of slot dimensions and whether they are forced on, from the
    ``interactions`` setting; a pair that names no slot of the space is refused."""
    slots = [d for d in space.dimensions if d.kind == "slot"]
    if setting == "off":
        return [], False
    if setting == "auto":
        out, total = [], 0
        for a, b in sorted(combinations(slots, 2),
                           key=lambda ab: len(ab[0].options) * len(ab[1].options)):
            k = len(a.options) * len(b.options)
            if k <= MAX_PAIR_OPTIONS and total + k <= MAX_CANDIDATE_OPTIONS:
                out.append((a.name, b.name))
                total += k
        return out, False
    names = {d.name.split(":", 1)[1]: d.name for d in slots}
    out, problems = [], []
    for i, pair in enumerate(setting):
        missing = [s for s in pair if s not in names]
        if missing or len(set(pair)) != 2:
            problems.append(Problem(f"a pair of two different slots of the library ("
                                    f"{', '.join(names) or 'none'}), not {list(pair)}",
                                    field=f"interactions[{i}]"))
        else:
            out.append((names[pair[0]], names[pair[1]]))
    if problems:
        raise ValidationError(problems, "Invalid agent configuration")
    return out, True


class Pairs:
    """The joint models of the candidate pairs, and which of them decide now."""

    def __init__(self, space: ActionSpace, setting: str | Sequence[Sequence[str]],
                 ctx: Contexts, models: Mapping[str, GaussianPosterior], segments: Sequence[str],
                 **policy_args):
        pairs, self.forced = resolve(setting, space)
        self.members = {pair_name(a, b): (a, b) for a, b in pairs}
        self.policies = {
            name: DimensionPolicy(joint_dimension(space.dimension(a), space.dimension(b)), ctx,
                                  models.get(name), segments, empirical_bayes=False,
                                  **policy_args)
            for name, (a, b) in self.members.items()}
        self._values = {name: ([o.value for o in space.dimension(a).options],
                                [o.value for o in space.dimension(b).options])
                        for name, (a, b) in self.members.items()}
        self.active: dict[str, tuple[str, str]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Choose the pairs that decide: forced ones, or those whose interaction is
        significant, strongest first, each slot in one pair at most."""
        scored = []
        for name, pol in self.policies.items():
            p = 0.0 if self.forced else interaction_p(pol.model)
            if p < SWITCH_P:
                scored.append((p, name))
        self.active, used = {}, set()
        for _, name in sorted(scored):
            a, b = self.members[name]
            if a not in used and b not in used:
                self.active[name] = (a, b)
                used |= {a, b}
        #: slot dimension -> the active pair that decides it (first slot), and second slots
        self.leaders = {a: name for name, (a, _) in self.active.items()}
        self.followers = {b for _, b in self.active.values()}

    def joint_rows(self, slot_rows: Mapping[str, tuple[np.ndarray, np.ndarray]]
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per pair, the rows that teach it (both slots teach and both options exist) and
        their joint option indices (``slot_rows``: per slot dimension, the rows that teach it
        and their option indices)."""
        out = {}
        for name, (a, b) in self.members.items():
            (rows, ca), (_, cb) = slot_rows[a], slot_rows[b]
            ok = rows & (ca >= 0) & (cb >= 0)
            pol, (va, vb) = self.policies[name], self._values[name]
            index = {o.value: k for k, o in enumerate(pol.dim.options)}
            joint = np.array([index.get((va[i], vb[j]), -1)
                              for i, j in zip(ca[ok], cb[ok])], np.int64)
            keep = np.flatnonzero(ok)[joint >= 0]
            ok = np.zeros_like(ok)
            ok[keep] = True
            out[name] = ok, joint[joint >= 0]
        return out

    def learn_batch(self, teach: Mapping[str, Any], reward: np.ndarray, weight: np.ndarray,
                    noise: Mapping[str, float], discount: float, batch: np.ndarray,
                    mixes: Mapping[str, dict]) -> None:
        """Teach every pair from one learn call (``teach``: per model, the rows that teach it,
        see :func:`workbench.agent.mixes.teaching`), then choose the pairs that decide. The
        noise variance is the first slot's (learnt on the same rewards), which spares a pair
        model the posterior mean that estimating its own would need after every update."""
        for name, (a, _) in self.members.items():
            pol = self.policies[name]
            pol.model.discount(discount)
            if pol.model.noise_var != noise[a]:
                pol.model.noise_var = noise[a]
                pol.model._changed()  # noqa: SLF001
            t = teach[name]
            if t.ok.any():
                pol.learn(t.ctx, t.choice, reward[t.ok], weight[t.ok], None, batch[t.ok],
                          mixes.get(name))
        self.refresh()

    def record(self, name: str, joint: np.ndarray, p_joint: np.ndarray, holdout: np.ndarray,
               out: dict) -> None:
        """Write a pair's joint choice into the batch as both slots' choices: the first slot
        carries the combination's probability, the second 1."""
        a, b = self.active[name]
        out[f"choice_{a}"], out[f"choice_{b}"] = self.split(name, joint)
        out[f"p_{a}"] = p_joint
        out[f"p_{b}"] = np.where(holdout, np.float32(np.nan), np.float32(1.0))

    def split(self, name: str, joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two slots' option indices of each joint choice of pair ``name``."""
        pol, (va, vb) = self.policies[name], self._values[name]
        ia = np.array([va.index(o.value[0]) for o in pol.dim.options], np.int16)
        ib = np.array([vb.index(o.value[1]) for o in pol.dim.options], np.int16)
        return ia[joint], ib[joint]


def interaction_p(model: GaussianPosterior) -> float:
    """p-value of "no interaction" in the data a pair model has learnt from.

    An interaction worth deciding on is usually one combination that pays (an offer that
    works only with one call to action), which an omnibus test over every combination
    dilutes. So each pair identity (global or per context) gets the score test of adding it
    to the additive model fitted by least squares from the model's sufficient statistics
    (the prior's shrinkage, right for deciding, must not hide a real interaction from the
    test): its residual sum against its residual variance given the main effects, with the
    model's learnt noise. The largest is Bonferroni-corrected over the identities that have
    data. 1 when the model has learnt from too few decisions."""
    if model.n < MIN_DECISIONS:
        return 1.0
    seen = np.diag(model.gram) > 0
    pair = np.array([f.startswith(PREFIX) for f in model.features]) & seen
    main = seen & ~pair
    if not pair.any():
        return 1.0
    G, b = model.gram, model.xy
    ridge = np.where(main, 1e-9 * max(float(np.mean(np.diag(G))), 1e-12), 0.0)
    try:  # the main effects' gram is block-arrow like the model's: factored by segment
        f = ArrowCholesky.scaled(G, 1.0, ridge, _main_partition(model, main))
    except np.linalg.LinAlgError:
        return 1.0
    U = f.forward(G[:, pair])  # L^-1 G_ap, so G_pa G_aa^-1 G_ap = U^T U
    score = b[pair] - U.T @ f.forward(b)
    var = model.noise_var * np.maximum(np.diag(G)[pair] - np.einsum("ij,ij->j", U, U), 0.0)
    ok = var > 1e-12 * model.noise_var * np.diag(G)[pair]
    if not ok.any():
        return 1.0
    z2 = float(np.max(score[ok] ** 2 / var[ok]))
    return float(min(1.0, ok.sum() * chi2.sf(z2, 1)))


def _main_partition(model: GaussianPosterior, main: np.ndarray) -> Partition:
    """The model's segment blocks restricted to the features in ``main``."""
    keep = np.flatnonzero(main)
    if not model.partition.blocks:
        return Partition((), keep)
    sub = partition([model.features[i] for i in keep])
    return Partition(tuple(keep[b] for b in sub.blocks), keep[sub.shared])
