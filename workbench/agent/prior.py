"""Empirical Bayes for the prior variances of a dimension's model (:class:`GroupPrior`).

Why: the variance budget of :mod:`workbench.agent.models` says how an option's prior spread is
shared between the global effects and each context variable's offsets before any data.
Whether segments agree (offsets small: share what is learnt) or disagree (global effects small:
learn per segment) is a property of the programme, not something to fix in advance: in the
tuning environment where segments disagree, a budget of 10% for the global terms instead of
50% cut regret by a fifth, and where they agree it is the other way round. So each group's
variance (global identities, global tags, and per context variable its identity and tag
offsets) is re-estimated after every update by expectation maximisation: the mean of
``m_i^2 + S_ii`` over the group (posterior mean and variance of its weights, relative to the
budget), with :data:`EB_PSEUDO` pseudo-features at the budget so that a group of five options
cannot collapse to zero. With no data it stays at the budget. Each update continues the
iterations from where the last one left them; the result is the model's prior variances, saved
with it, and a rebuilt agent takes it up (:meth:`GroupPrior.restore`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.agent.posterior import GaussianPosterior

#: Expectation-maximisation steps of the prior variances after each update.
EB_ITERATIONS = 4
#: Pseudo-features at the budgeted variance in each group's estimate.
EB_PSEUDO = 2.0
#: Bounds of a group's variance as a multiple of its budget.
EB_RANGE = (0.01, 10.0)

_VAR_CODE: dict[str, int] = {}


def group_of(feature: str, current: set[str], bias: str, identity: bool) -> int:
    """The group of a feature: -1 (kept at its prior) for the biases, for features no current
    option has (archived options keep the prior they had) and for pair identities (one strong
    interaction among many null ones must not be shrunk away); otherwise identity or tag
    (``identity``), global or offset of one context variable."""
    if feature == bias or feature.startswith((bias + "|", "pair:")) or feature not in current:
        return -1
    _, _, ctx = feature.partition("|")
    kind = 0 if identity else 1
    if not ctx:
        return kind
    return 2 + 2 * _VAR_CODE.setdefault(ctx.split(":", 1)[0], len(_VAR_CODE)) + kind


class GroupPrior:
    """The budgeted prior variances of a model's features and the multiplier learnt for each
    group of them."""

    def __init__(self, budget: np.ndarray, groups: Sequence[int]):
        self.budget = np.asarray(budget, float).copy()
        self.groups = np.asarray(groups, int)
        self.learnt = np.unique(self.groups[self.groups >= 0])
        self.mult = np.ones(len(self.learnt))

    def _apply(self, model: GaussianPosterior, mult: np.ndarray) -> None:
        self.mult = mult
        g = self.groups
        model.prior_var = self.budget * np.where(
            g >= 0, mult[np.searchsorted(self.learnt, np.maximum(g, 0))], 1.0)
        model._changed()  # noqa: SLF001

    def restore(self, model: GaussianPosterior, stored: np.ndarray) -> None:
        """Take up the multipliers a saved model had learnt (its prior variances over the
        budget)."""
        g = self.groups
        mult = np.array([float(np.median(stored[g == k] / self.budget[g == k]))
                         for k in self.learnt])
        self._apply(model, np.clip(mult, *EB_RANGE))

    def fit(self, model: GaussianPosterior) -> None:
        """A few more expectation-maximisation steps of the multipliers on ``model``."""
        if model.n == 0 or not len(self.learnt):
            return
        g, mult = self.groups, self.mult
        for _ in range(EB_ITERATIONS):
            self._apply(model, mult)
            dev = (model.mean - model.prior_mean) ** 2 + model.variances
            ratio = dev / (self.budget * model.scale)
            mult = np.array([(EB_PSEUDO + ratio[g == k].sum()) / (EB_PSEUDO + int((g == k).sum()))
                             for k in self.learnt])
            mult = np.clip(mult, *EB_RANGE)
        self._apply(model, mult)
