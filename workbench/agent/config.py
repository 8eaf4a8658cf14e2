"""The agent's configuration, validated at the edge (:class:`AgentConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench import Problem, ValidationError
from workbench.agent.actions import ActionSpace
from workbench.agent.arguments import check_finite
from workbench.agent.contexts import DEFAULT_CONTEXTS, context_problems, resolve_contexts
from workbench.agent.guardrails import Guardrails, MustSend
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import RewardWeights


@dataclass(frozen=True)
class AgentConfig:
    """How the agent decides and learns.

    - ``holdout_share``: users kept out of the agent's reach (0: no holdout).
    - ``contexts``: kind of dimension (``slot``, ``timing``, ``channel``, ``send``) -> the
      user-state variables it conditions on; kinds not given keep
      :data:`workbench.agent.contexts.DEFAULT_CONTEXTS` (segment everywhere).
    - ``noise_var``: the variance of a reward around its expectation before data; with
      ``learn_noise`` (default) each dimension then learns it from its own residuals.
    - ``prior_scale``: a new option's prior sd as a share of the reward's size (its mean);
      ``prior_sd`` is that sd before any reward was seen.
    - ``discount``: each learning step multiplies the weight of everything learnt before by it
      (1: off; 0.95 forgets half in about 14 steps), for rewards that drift.
    - ``exploration``: multiplies the spread of the posterior draws of Thompson Sampling
      (1: the posterior itself; lower explores less). 0.7 had the lowest total regret over
      the tuning suite; 0.35, 0.5, 0.85 and 1 more (see the README's *Regret*).
    - ``draws``: posterior samples per context and batch behind ``P(best)``.
    - ``interactions``: ``"auto"`` (default: pairs of content slots are decided jointly once
      the data shows an interaction), ``"off"``, or a list of pairs of slot names decided
      jointly from the start, e.g. ``[["offer", "cta"]]`` (see :mod:`workbench.agent.pairs`).
    """

    reward: RewardWeights = field(default_factory=RewardWeights)
    guardrails: Guardrails = field(default_factory=Guardrails)
    holdout_share: float = 0.10
    noise_var: float = 0.25
    draws: int = 2000
    attribution_days: int = 3
    incremental: bool = False
    contexts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CONTEXTS))
    learn_noise: bool = True
    prior_scale: float = 0.5
    prior_sd: float = 0.05
    discount: float = 1.0
    exploration: float = 0.7
    interactions: Any = "auto"

    def __post_init__(self) -> None:
        p = [Problem(f"must be a {kind.__name__} (e.g. {kind.__name__}({example})), not "
                     f"{type(getattr(self, f)).__name__}", field=f)
             for f, kind, example in (("reward", RewardWeights, "gmv=0.05"),
                                      ("guardrails", Guardrails, "frequency_cap_7d=2"))
             if not isinstance(getattr(self, f), kind)]  # a dict failed at the first learn
        if isinstance(self.holdout_share, bool) or not isinstance(self.holdout_share,
                                                                  (int, float)):
            p.append(Problem(f"must be a number in [0, 1), not {self.holdout_share!r}",
                             field="holdout_share"))
        elif not 0 <= self.holdout_share < 1:
            p.append(Problem("must be in [0, 1)", field="holdout_share"))
        elif self.incremental and self.holdout_share <= 0:
            p.append(Problem("incremental rewards are measured against holdout users: set "
                             "holdout_share above 0", field="holdout_share"))
        for f in ("noise_var", "prior_scale", "prior_sd", "exploration"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                p.append(Problem("must be a number > 0", field=f))
        p += check_finite(self, ("noise_var", "prior_scale", "prior_sd", "exploration"))
        if not isinstance(self.draws, int) or self.draws < 100:
            p.append(Problem("must be a whole number >= 100", field="draws"))
        if not isinstance(self.attribution_days, int) or self.attribution_days < 0:
            p.append(Problem("must be a whole number >= 0", field="attribution_days"))
        if isinstance(self.discount, bool) or not isinstance(self.discount, (int, float)) \
                or not 0 < self.discount <= 1:
            p.append(Problem("must be in (0, 1]", field="discount"))
        if not isinstance(self.learn_noise, bool):
            p.append(Problem("must be true or false", field="learn_noise"))
        if isinstance(self.interactions, str):
            if self.interactions not in ("auto", "off"):
                p.append(Problem('must be "auto", "off" or a list of pairs of slot names',
                                 field="interactions"))
        elif not isinstance(self.interactions, (list, tuple)) or not all(
                isinstance(q, (list, tuple)) and len(q) == 2 and all(isinstance(x, str) for x in q)
                for q in self.interactions):
            p.append(Problem('must be "auto", "off" or a list of pairs of slot names',
                             field="interactions"))
        else:
            object.__setattr__(self, "interactions", tuple(tuple(q) for q in self.interactions))
        p += context_problems(self.contexts)
        if p:
            raise ValidationError(p, "Invalid agent configuration")
        object.__setattr__(self, "contexts", resolve_contexts(self.contexts))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["contexts"] = {k: list(v) for k, v in self.contexts.items()}
        if not isinstance(self.interactions, str):
            d["interactions"] = [list(q) for q in self.interactions]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AgentConfig:
        g = dict(d.get("guardrails", {}))
        g["must_send"] = tuple(MustSend(**m) for m in g.get("must_send", ()))
        rest = {k: v for k, v in d.items() if k not in ("reward", "guardrails")}
        return cls(reward=RewardWeights(**d.get("reward", {})), guardrails=Guardrails(**g),
                   **rest)


def agent_parts(space: Any, config: Any, models: Any
                ) -> tuple[AgentConfig, Mapping[str, GaussianPosterior]]:
    """An agent's configuration (default when None) and earlier models (none when None),
    refused by name when they are not what :class:`workbench.agent.Agent` takes: a dict for
    the configuration, or models that are not posteriors, failed later with a raw error."""
    p = []
    if not isinstance(space, ActionSpace):
        p.append(Problem("must be an ActionSpace (ActionSpace.plain(...) or "
                         f"ActionSpace.from_library(store)), not {type(space).__name__}",
                         field="space"))
    if config is not None and not isinstance(config, AgentConfig):
        p.append(Problem(f"must be an AgentConfig, not {type(config).__name__}",
                         field="config"))
    if models is not None and (not isinstance(models, Mapping) or not all(
            isinstance(k, str) and isinstance(v, GaussianPosterior) for k, v in models.items())):
        p.append(Problem("must be the models of an earlier agent (agent.models: dimension "
                         "name -> posterior)", field="models"))
    if p:
        raise ValidationError(p, "Invalid agent")
    return config or AgentConfig(), models or {}
