"""The decision agent: contextual Thompson Sampling over a factored composite action space.

Public front door: :class:`Agent` with the paired verbs :meth:`Agent.decide` (a DataFrame of
users in, a DataFrame of decisions out) and :meth:`Agent.learn` (decisions and their outcomes in,
posterior updated), and :meth:`Agent.beliefs`. Configuration is validated at the edge
(:class:`AgentConfig`, :class:`Guardrails`).

**Model.** Each dimension of the action (one per template slot, the send time, the channel, and
send-or-skip) has its own Bayesian linear regression (:mod:`workbench.agent.posterior`) of the
reward on option features crossed with the user's context (:mod:`workbench.agent.models`): global
effects plus segment offsets shrunk toward them, priors scaled to the reward, and a noise
variance learnt from the data. What each dimension conditions on is configuration
(:mod:`workbench.agent.contexts`; the segment by default everywhere). Factoring keeps the
learning problem to a few thousand weights while the composite space has hundreds of millions of
actions.

**Exact Thompson Sampling at scale.** Thompson Sampling draws a weight vector from the posterior
for each user and takes the best option under it. For users who share a context, that choice is
distributed as the posterior probability that each option is best. So the agent computes, once
per batch and context, ``P(best)`` from ``draws`` posterior samples, then draws each user's
option from it: the same distribution as per-user Thompson Sampling (up to the Monte Carlo error
of ``P(best)``, about ``0.5/sqrt(draws)``), at the cost of one uniform number per user and
dimension. The same probabilities are the logged propensities, exact for what was served.

**Randomness.** ``decide(seed=None)`` (the default) draws fresh entropy for every batch; the seed
used is returned in the batch's ``attrs["seed"]`` (and :attr:`Agent.last_seed`), so a logged batch
can be replayed exactly with ``decide(users, seed=that_seed)`` on the same posteriors.

**Guardrails** (:mod:`workbench.agent.guardrails`): options a guardrail forbids (quiet hours,
channels without consent, atoms of another segment, skipping under ``always_send``) are masked in
the policy before the draw; holdout users are never touched; the frequency cap and "must send"
rules override afterwards and are flagged on the decision (see ``GUARDRAILS``). An optional
minimum exploration share and maximum atom share reshape the probabilities, which stay the
logged propensities.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError
from workbench.agent import batches
from workbench.agent.actions import ActionSpace, Dimension
from workbench.agent.arguments import (
    LearntBatches,
    check_atom_share,
    check_learn,
    check_seed,
    check_users,
    check_view,
    learn_columns,
    segments_list,
)
from workbench.agent.beliefs import explain
from workbench.agent.config import AgentConfig, agent_parts
from workbench.agent.contexts import Contexts
from workbench.agent.guardrails import (
    GUARDRAILS,
    Guardrails,
    MustSend,
    apply_must_send,
    check_must_send,
)
from workbench.agent.mixes import CTX_VARS, Mixes, batch_ids, teaching
from workbench.agent.mixes import agent_rows as _agent_rows
from workbench.agent.mixes import column as _col
from workbench.agent.models import DimensionPolicy, option_moments
from workbench.agent.pairs import Pairs
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import incremental, scalarise
from workbench.agent.users import label_codes, prepare_users, state_codes, state_labels

__all__ = ["GUARDRAILS", "Agent", "AgentConfig", "Guardrails", "LearnReport", "MustSend"]

#: Variables that only restrict a kind's options (they are not features).
MASK_VARS = {"channel": ("consent",)}


@dataclass
class LearnReport:
    learned: dict[str, int]
    reward_mean: float
    decisions: int


class Agent:
    """Decide composite actions for users and learn from their outcomes.

    >>> agent = Agent(ActionSpace.from_library(store), segments)   # doctest: +SKIP
    >>> batch = agent.decide(users)                                 # doctest: +SKIP
    >>> agent.learn(batch, outcomes)                                # doctest: +SKIP
    >>> agent = agent.add_atoms([new_atom_row])                     # doctest: +SKIP

    ``models`` are earlier posteriors by dimension name (``agent.models`` of an earlier agent):
    known features keep what was learnt, new atoms and tags join at their prior.
    """

    def __init__(self, space: ActionSpace, segments: Sequence[str],
                 config: AgentConfig | None = None,
                 models: Mapping[str, GaussianPosterior] | None = None):
        self.config, models = agent_parts(space, config, models)
        self.space, self.segments, cfg = space, segments_list(segments), self.config
        check_atom_share(space, self.segments, cfg.guardrails)
        self.last_seed: int | None = None
        self._learnt = LearntBatches()  # decide batches learnt (a second learn is refused)
        labels = state_labels(self.segments)
        scoped = {d.kind for d in space.dimensions if any(o.segment for o in d.options)}
        self._ctx: dict[str, Contexts] = {}
        for kind in ("slot", "timing", "channel", "send"):
            variables = cfg.contexts[kind]
            masks = MASK_VARS.get(kind, ())
            if kind in scoped and "segment" not in variables:
                masks = ("segment",) + masks  # segment-scoped atoms need the segment
            self._ctx[kind] = Contexts.of(variables, masks, labels)
        args = {"noise_var": cfg.noise_var, "learn_noise": cfg.learn_noise,
                "prior_scale": cfg.prior_scale, "prior_sd": cfg.prior_sd}
        self.policies = {d.name: DimensionPolicy(
            d, self._ctx[d.kind], models.get(d.name), self.segments,
            option_mask=_option_mask(d, cfg.guardrails), **args) for d in space.dimensions}
        self.pairs = Pairs(space, cfg.interactions, self._ctx["slot"], models, self.segments,
                           **args)
        check_must_send(cfg.guardrails.must_send, space, self.segments)

    @property
    def models(self) -> dict[str, GaussianPosterior]:
        """Every posterior by name: per dimension, and per candidate pair (``pair:a+b``)."""
        return {name: p.model for name, p in (*self.policies.items(),
                                               *self.pairs.policies.items())}

    # -- a changing library ----------------------------------------------------------------

    def with_space(self, space: ActionSpace) -> Agent:
        """This agent on another action space (atoms added or retired), keeping everything
        learnt: known atoms and tags keep their posteriors, new ones join at their prior."""
        agent = Agent(space, self.segments, self.config, self.models)
        agent.reuse_cache(self)
        agent._learnt = self._learnt  # noqa: SLF001
        return agent

    def add_atoms(self, atoms: Iterable[Mapping[str, Any]]) -> Agent:
        """This agent with new atoms (library rows: ``id``, ``kind``, ``text`` and optional
        ``offer_type``, ``tone``, ``product_category``, ``tags``, ``segment``) offered."""
        return self.with_space(self.space.with_atoms(atoms, self.segments))

    def retire_atoms(self, atom_ids: Iterable[int]) -> Agent:
        """This agent with these atoms no longer offered (what they taught stays)."""
        return self.with_space(self.space.without_atoms(atom_ids))

    def reuse_cache(self, previous: Agent) -> None:
        """Carry ``previous``'s design rows over where a dimension is unchanged (rebuilding an
        agent from saved posteriors every week need not rebuild them)."""
        for name, pol in (*self.policies.items(), *self.pairs.policies.items()):
            old = previous.policies.get(name) or previous.pairs.policies.get(name)
            if old is not None:
                pol.reuse_cache(old)

    # -- decide ----------------------------------------------------------------------------

    def decide(self, users: pd.DataFrame, *, seed: int | None = None, start: date | None = None
               ) -> pd.DataFrame:
        """One decision per user: what to send, when, on which channel, or to skip.

        ``start`` is the first day of the batch; send times fall in the 7 days from it.
        ``seed`` None (default) draws fresh randomness; the seed used is in ``attrs["seed"]``
        of the result, and the same seed on the same posteriors replays the batch exactly.
        Returns the users' ids and arms, the decision, per-dimension propensities
        (``p_<dimension>``), the overall ``propensity``, ``guardrails`` flags and the context
        codes the agent learns with.
        """
        check_users(users)
        df = prepare_users(users, self.segments, self.config.holdout_share)
        codes = state_codes(df, self.segments)
        holdout = label_codes(df["arm"], ("agent", "holdout")) == 1
        out: dict[str, Any] = {"user_id": df["user_id"].to_numpy(),
                               "arm": pd.Categorical.from_codes(holdout.astype(np.int8),
                                                                ["agent", "holdout"])}
        out.update(self.decide_arrays(codes, holdout, df["sends_7d"].to_numpy(), seed=seed))
        frame = pd.DataFrame(out, copy=False)  # millions of rows: no consolidation copy
        frame = self.decode(frame, start or date.today())
        frame.attrs["seed"] = self.last_seed
        return frame

    def decide_arrays(self, codes: Mapping[str, np.ndarray], holdout: np.ndarray,
                      sends_7d: np.ndarray, *, seed: int | None = None) -> dict[str, np.ndarray]:
        """The core of :meth:`decide` on context codes (see
        :func:`workbench.agent.users.state_codes`), for callers that already hold them as
        arrays, like the simulated world. The seed used is left in :attr:`last_seed`."""
        g = self.config.guardrails
        self.last_seed = seed = secrets.randbits(63) if seed is None else check_seed(seed)
        rng = np.random.default_rng(seed)
        agent_users = ~holdout
        flags = np.where(holdout, GUARDRAILS["holdout"], 0).astype(np.int16)
        out: dict[str, Any] = {f"ctx_{var}": codes[var] for var in CTX_VARS}
        ctx_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for d in self.space.dimensions:
            if d.name in self.pairs.followers:
                continue  # decided with its pair
            pair = self.pairs.leaders.get(d.name)
            pol = self.policies[d.name] if pair is None else self.pairs.policies[pair]
            if d.kind not in ctx_cache:
                c = pol.ctx.code(codes)
                ctx_cache[d.kind] = c, np.bincount(c[agent_users], minlength=pol.ctx.count
                                                   ).astype(float)
            ctx, weight = ctx_cache[d.kind]
            choice, p_choice, bits = pol.choose(ctx, weight, rng, g, self.config.draws,
                                                self.config.exploration)
            bits[holdout] = 0
            flags |= bits
            p_choice[holdout] = np.nan
            if pair is not None:
                self.pairs.record(pair, choice, p_choice, holdout, out)
                continue
            out[f"choice_{d.name}"] = choice.astype(np.int16)
            out[f"p_{d.name}"] = p_choice
        # Send or skip, then the guardrails that override it.
        send = out["choice_send"] == self.space.dimension("send").index_of(True)
        capped7 = sends_7d >= g.frequency_cap_7d
        flags |= np.where(agent_users & capped7 & send, GUARDRAILS["frequency_cap"], 0
                          ).astype(np.int16)
        send &= ~capped7
        send &= (flags & GUARDRAILS["no_consent"]) == 0
        send &= agent_users
        apply_must_send(g.must_send, self.space, self.segments, codes["consent"], out, flags,
                        send, agent_users)
        out["send"] = send
        out["guardrails"] = flags
        _set_propensity(self.space, out, flags, send, holdout)
        return out

    def decode(self, frame: pd.DataFrame, start: date) -> pd.DataFrame:
        """Option values and send times from the chosen indices (``choice_*`` columns of
        :meth:`decide_arrays`), for a batch whose first day is ``start``."""
        return batches.decode(self.space, frame, start)

    def render(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """Add the template and assembled texts of sent decisions (for export; small batches)."""
        return batches.render_texts(self.space, decisions)

    # -- learn -----------------------------------------------------------------------------

    def rewards(self, decisions: pd.DataFrame | Mapping[str, np.ndarray],
                outcomes: pd.DataFrame) -> np.ndarray:
        """Scalarised (and, if configured, incremental) reward of each decision row."""
        r = scalarise(outcomes, self.config.reward)
        if self.config.incremental:
            r = incremental(r, ~_agent_rows(decisions), _col(decisions, "ctx_segment"),
                            outcomes["pre_reward"].to_numpy(float)
                            if "pre_reward" in outcomes.columns else None)
        return r

    def learn(self, decisions: pd.DataFrame | Mapping[str, np.ndarray],
              outcomes: pd.DataFrame, *, late: bool = False, same_space: bool = False,
              exposure: float | np.ndarray = 1.0, counted: float | np.ndarray | None = None,
              mixes: Mixes | None = None) -> LearnReport:
        """Update the posteriors from decisions and their outcomes (aligned row by row).

        ``outcomes`` holds event counts per decision (columns of
        :data:`workbench.agent.reward.EVENTS`; missing ones count as zero). ``same_space`` says
        the decisions were made on this agent's current action space, so their ``choice_*``
        option indices can be used as they are (the simulated world learns this way).

        **Partial windows.** ``exposure`` (a number or one per row, in (0, 1]) is the expected
        share of a decision's reward already observable, e.g. the share of conversions that
        arrive within the hours elapsed of the attribution window. The events seen so far,
        divided by it, are an unbiased estimate of the whole reward, with about ``1/exposure``
        times its variance; so a decision counts with weight ``exposure`` in the precision
        while its events so far enter the reward sums as they are. When more events arrive, pass
        them with ``late=True``, the new ``exposure`` and ``counted`` = the exposure already
        learnt: the decision's weight grows by the difference. After the whole window the
        data's statistics (``gram``, ``xy``, mix served) are a single learn's, and a late learn
        redoes the prior's refit of the learn before it: with ``learn_noise=False`` the
        posterior (and the next seeded ``decide``) is a single learn's when the late learns
        follow the partial one on the same agent object; the learnt noise variance (default)
        is not (learnt at a decision's first learn). ``late=True`` alone (``counted`` =
        ``exposure`` = 1) adds late rewards without counting it again. Refused: relearning a
        learnt batch's rows, and outcomes with the batch's index labels in another order.
        """
        check_learn(decisions, outcomes, learn_columns(self.space, same_space), late, same_space)
        exp, weight = _exposure_weights(exposure, counted, late, len(outcomes))
        seen = None if late else self._learnt.check(decisions)
        # A late correction adds plain event value: the holdout baseline was already taken.
        r = scalarise(outcomes, self.config.reward) if late else self.rewards(decisions, outcomes)
        agent_rows = _agent_rows(decisions)
        teach = teaching(self, decisions, same_space)
        batch = batch_ids(decisions)
        mixes = mixes or {}
        learned = {}
        for d in self.space.dimensions:
            pol, t = self.policies[d.name], teach[d.name]
            if not late:
                pol.model.discount(self.config.discount)
            learned[d.name] = int(t.ok.sum())
            if t.ok.any():
                pol.learn(t.ctx, t.choice, r[t.ok], weight[t.ok],
                          None if late else r[t.ok] ** 2 / exp[t.ok], batch[t.ok],
                          mixes.get(d.name), late=late)
        self.pairs.learn_batch(teach, r, weight,
                               {n: p.model.noise_var for n, p in self.policies.items()},
                               1.0 if late else self.config.discount, batch, mixes)
        self._learnt.add(seen)
        return LearnReport(learned, float(r[agent_rows].mean()) if agent_rows.any() else 0.0,
                           len(decisions))

    # -- beliefs ---------------------------------------------------------------------------

    def context_code(self, kind: str, values: Mapping[str, int]) -> int:
        ctx = self._ctx[kind]
        code = 0
        for var, size in zip(ctx.variables + ctx.masks, ctx.sizes):
            code = code * size + int(values.get(var, size - 1 if var == "consent" else 0))
        return code

    def beliefs(self, dimension: str, context: Mapping[str, Any], *, draws: int | None = None,
                seed: int = 0) -> pd.DataFrame:
        """Posterior of each option's expected reward in one context (buckets by index or name):
        mean, sd, 95% interval and probability of being best (forbidden options: 0)."""
        d, values = check_view(self.space, self._ctx["slot"].labels, dimension, context,
                               "Cannot read beliefs", draws=draws, seed=seed)
        pol, c = self.policies[d.name], self.context_code(d.kind, values)
        mean, sd = option_moments(pol, [c])
        P, allowed = pol.prob_best([c], draws or self.config.draws, np.random.default_rng(seed))
        return pd.DataFrame({
            "option": [o.value for o in d.options], "label": [o.label for o in d.options],
            "mean": mean, "sd": sd, "low": mean - 1.96 * sd, "high": mean + 1.96 * sd,
            "p_best": P[0], "allowed": allowed[0]})

    def explain(self, dimension: str, context: Mapping[str, Any], option: Any,
                top: int = 8) -> pd.DataFrame:
        """Why ``option`` over the best other option: each feature's contribution to the
        difference of their posterior mean rewards."""
        d, at = check_view(self.space, self._ctx["slot"].labels, dimension, context,
                           "Cannot explain", option=option)
        return explain(d, self.policies[d.name], self.context_code(d.kind, at), option, top)


def _option_mask(d: Dimension, g: Guardrails) -> np.ndarray:
    """Options a guardrail forbids in every context: quiet hours, skipping when sends are
    forced."""
    if d.name == "timing":
        return np.array([not g.quiet(int(o.value) % 24) for o in d.options])
    if d.name == "send":
        return np.array([bool(o.value) or not g.always_send for o in d.options])
    return np.ones(len(d.options), bool)


def _set_propensity(space: ActionSpace, out: dict[str, Any], flags: np.ndarray,
                    send: np.ndarray, holdout: np.ndarray) -> None:
    """Propensity of the whole decision: send-or-skip, times every dimension of what was sent.
    Guardrail overrides of send-or-skip are certain (probability 1)."""
    override = (flags & (GUARDRAILS["must_send"] | GUARDRAILS["frequency_cap"]
                         | GUARDRAILS["no_consent"])) > 0
    out["p_send"] = np.where(override, np.float32(1), out["p_send"])
    content = np.ones(len(holdout), dtype=np.float64)
    for d in space.dimensions:
        if d.name != "send":
            content *= out[f"p_{d.name}"]
    propensity = np.where(send, out["p_send"] * content, out["p_send"])
    propensity[holdout] = np.nan
    out["propensity"] = propensity


def _exposure_weights(exposure: float | np.ndarray, counted: float | np.ndarray | None,
                      late: bool, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's exposure and the weight it adds now (its exposure less what was counted)."""
    exp = _fraction(exposure, n, "exposure", low_open=True)
    if counted is not None and not late:  # it would cut a first learn's weight, silently
        raise ValidationError([Problem("is the exposure already learnt, so it goes with "
                                       "late=True only", field="counted")], "Cannot learn")
    done = _fraction(exp if late else 0.0, n, "counted") if counted is None \
        else _fraction(counted, n, "counted")
    if np.any(done > exp + 1e-12):
        raise ValidationError([Problem("must not exceed exposure", field="counted")],
                              "Cannot learn")
    return exp, exp - done


def _fraction(value: float | np.ndarray, n: int, name: str, low_open: bool = False
              ) -> np.ndarray:
    try:
        v = np.broadcast_to(np.asarray(value, dtype=float), (n,))
    except (TypeError, ValueError):
        raise ValidationError([Problem(f"must be a number or one per decision ({n}), not "
                                       f"{np.shape(value) or repr(value)}", field=name)],
                              "Cannot learn") from None
    bad = ~np.isfinite(v) | (v > 1) | ((v <= 0) if low_open else (v < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError([Problem(f"must be in {'(0' if low_open else '[0'}, 1], not "
                                       f"{v[i]!r}", row=i + 1, field=name)], "Cannot learn")
    return v
