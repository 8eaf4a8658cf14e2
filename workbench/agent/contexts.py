"""What each dimension of the action conditions on: its context, configurable per kind.

A context is a combination of buckets of user-state variables (see :mod:`workbench.agent.users`).
Each kind of dimension (``slot``, ``timing``, ``channel``, ``send``) conditions on its own list
of variables, set in :class:`workbench.agent.policy.AgentConfig` ``contexts`` and checked there.
The defaults include the segment for every kind: segments disagree about content, but also about
when to send and on which channel, and a send time that cannot see the segment ends up serving
everyone the hour that suits the largest segments. Besides it, only send-or-skip
takes user state by default (inactivity and recent exposures: fatigue decides whether to send at
all): every variable adds offsets that must be learnt, and in the tuning environment, where only
the segment mattered, the user's daypart on the send time and platform on the channel cost
about 70% more regret (13.8 against 8.1 per 1,000). Add them where they matter, e.g.
``AgentConfig(contexts={"timing": ("segment", "daypart")})`` when users keep habitual hours.

Contexts are coded in mixed radix, so every user's context is one small integer and users who
share it share the agent's probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workbench import Problem

#: The kinds of dimension of an action space.
KINDS = ("slot", "timing", "channel", "send")
#: The user-state variables a dimension may condition on.
CONTEXT_VARIABLES = ("segment", "inactivity", "engagement", "exposures", "daypart", "platform")
#: What user state each kind of dimension conditions on, unless configured otherwise.
DEFAULT_CONTEXTS: Mapping[str, tuple[str, ...]] = {
    "slot": ("segment",),
    "timing": ("segment",),
    "channel": ("segment",),
    "send": ("segment", "inactivity", "exposures"),
}


def resolve_contexts(overrides: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """The defaults with ``overrides`` applied (kind -> variables), as tuples."""
    out = dict(DEFAULT_CONTEXTS)
    for kind, variables in (overrides or {}).items():
        out[kind] = tuple(variables)
    return out


def context_problems(overrides: Mapping[str, Sequence[str]]) -> list[Problem]:
    """What is wrong with a ``contexts`` setting, naming the kind."""
    problems = []
    if not isinstance(overrides, Mapping):
        return [Problem("must map a kind of dimension to a list of variables", field="contexts")]
    for kind, variables in overrides.items():
        f = f"contexts.{kind}"
        if kind not in KINDS:
            problems.append(Problem(f"unknown kind; one of {', '.join(KINDS)}", field=f))
            continue
        if isinstance(variables, str) or not isinstance(variables, Sequence):
            problems.append(Problem("must be a list of variables", field=f))
            continue
        for v in variables:
            if v not in CONTEXT_VARIABLES:
                problems.append(Problem(f"unknown variable '{v}'; one of "
                                        f"{', '.join(CONTEXT_VARIABLES)}", field=f))
        if len(set(variables)) != len(variables):
            problems.append(Problem("lists a variable twice", field=f))
    return problems


@dataclass
class Contexts:
    """Mixed-radix coding of the context of one kind of dimension."""

    variables: tuple[str, ...]  # feature variables
    masks: tuple[str, ...]  # variables that only restrict options (channel consent)
    sizes: tuple[int, ...]
    labels: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, variables: Sequence[str], masks: Sequence[str],
           labels: Mapping[str, tuple[str, ...]]) -> Contexts:
        variables, masks = tuple(variables), tuple(masks)
        return cls(variables, masks, tuple(len(labels[v]) for v in variables + masks), labels)

    @property
    def count(self) -> int:
        return int(np.prod(self.sizes, dtype=np.int64))

    def code(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(codes.values())))
        out = np.zeros(n, dtype=np.int32)
        for var, size in zip(self.variables + self.masks, self.sizes):
            out = out * np.int32(size) + codes[var]
        return out

    def decode(self, ctx: int) -> dict[str, int]:
        out = {}
        for var, size in reversed(list(zip(self.variables + self.masks, self.sizes))):
            ctx, out[var] = divmod(int(ctx), size)
        return out

    def decode_all(self, ctxs: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The code of every variable for each context (vectorised :meth:`decode`)."""
        rest = np.asarray(ctxs, dtype=np.int64)
        out = {}
        for var, size in reversed(list(zip(self.variables + self.masks, self.sizes))):
            rest, out[var] = np.divmod(rest, size)
        return out

    def features(self, ctx: int) -> list[str]:
        d = self.decode(ctx)
        return [f"{v}:{self.labels[v][d[v]]}" for v in self.variables]
