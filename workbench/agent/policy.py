"""The decision agent: contextual Thompson Sampling over a factored composite action space.

Public front door: :class:`Agent` with the paired verbs :meth:`Agent.decide` (a DataFrame of
users in, a DataFrame of decisions out) and :meth:`Agent.learn` (decisions and their outcomes in,
posterior updated). Configuration is validated at the edge (:class:`AgentConfig`).

**Model.** Each dimension of the action (one per template slot, the send time, the channel, and
send-or-skip) has its own Bayesian linear regression (:mod:`workbench.agent.posterior`) of the reward
on option features crossed with the user's context buckets. Factoring keeps the learning
problem to a few hundred weights while the composite space has hundreds of millions of actions.

**Exact Thompson Sampling at scale.** Thompson Sampling draws a weight vector from the posterior
for each user and takes the best option under it. For users who share a context, that choice is
distributed as the posterior probability that each option is best. So the agent computes, once
per batch and context, ``P(best)`` from ``draws`` posterior samples, then draws each user's
option from it: the same distribution as per-user Thompson Sampling (up to the Monte Carlo error
of ``P(best)``, about ``0.5/sqrt(draws)``), at the cost of one uniform number per user and
dimension. The same probabilities are the logged propensities, exact for what was served.

**Guardrails** act after the policy and are recorded on every decision as flags (see
``GUARDRAILS``): holdout users are never touched, channel consent is respected, a rolling 7-day
frequency cap and quiet hours hold, a minimum exploration share is mixed in, no atom takes more
than a maximum share of a batch, and "must send" messages that marketers force are sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from workbench.agent.actions import CONTEXT_OF, ActionSpace, Dimension
from workbench.library.assembly import render
from workbench import Problem, ValidationError
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import RewardWeights, incremental, scalarise
from workbench.agent.users import (
    CHANNEL_IDS, label_codes, prepare_users, state_codes, state_labels,
)

#: Guardrail flags, one bit each, recorded on every decision.
GUARDRAILS = {
    "holdout": 1,  # holdout user: never touched by the agent
    "no_consent": 2,  # the user consents to no channel the agent can use
    "frequency_cap": 4,  # already at the 7-day cap: skipped
    "quiet_hours": 8,  # the chosen hour was in quiet hours: moved to the first allowed hour
    "must_send": 16,  # a message marketers force was sent instead of the policy's choice
    "traffic_cap": 32,  # an atom's batch share was capped in this user's context
    "exploration": 64,  # a choice the posterior alone would rarely make (exploration floor)
}
MASK_VARS = {"channel": ("consent",)}
PRIOR_VAR = {"identity": 1.0, "tag": 0.5, "interaction": 0.25}


@dataclass(frozen=True)
class MustSend:
    """A message marketers force: these atoms on this channel, for a segment or everyone."""

    atoms: Mapping[str, int]
    channel: str
    segment: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Guardrails:
    frequency_cap_7d: int = 3
    quiet_start: int = 22  # no send from quiet_start:00 ...
    quiet_end: int = 8  # ... to quiet_end:00 (may wrap over midnight)
    min_exploration: float = 0.05
    max_atom_share: float = 1.0  # 1 = no cap; e.g. 0.4 keeps every atom under 40% of a batch
    must_send: tuple[MustSend, ...] = ()

    def __post_init__(self) -> None:
        p = []
        if not isinstance(self.frequency_cap_7d, int) or self.frequency_cap_7d < 0:
            p.append(Problem("must be a whole number >= 0", field="frequency_cap_7d"))
        for f in ("quiet_start", "quiet_end"):
            v = getattr(self, f)
            if not isinstance(v, int) or not 0 <= v <= 23:
                p.append(Problem("must be an hour from 0 to 23", field=f))
        if not 0 <= self.min_exploration < 1:
            p.append(Problem("must be in [0, 1)", field="min_exploration"))
        if not 0 < self.max_atom_share <= 1:
            p.append(Problem("must be in (0, 1]", field="max_atom_share"))
        if p:
            raise ValidationError(p, "Invalid guardrails")

    def quiet(self, hour: int) -> bool:
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end


@dataclass(frozen=True)
class AgentConfig:
    reward: RewardWeights = field(default_factory=RewardWeights)
    guardrails: Guardrails = field(default_factory=Guardrails)
    holdout_share: float = 0.10
    noise_var: float = 0.25
    draws: int = 2000
    attribution_days: int = 3
    incremental: bool = False

    def __post_init__(self) -> None:
        p = []
        if not 0 <= self.holdout_share < 1:
            p.append(Problem("must be in [0, 1)", field="holdout_share"))
        if not self.noise_var > 0:
            p.append(Problem("must be > 0", field="noise_var"))
        if not isinstance(self.draws, int) or self.draws < 100:
            p.append(Problem("must be a whole number >= 100", field="draws"))
        if not isinstance(self.attribution_days, int) or self.attribution_days < 0:
            p.append(Problem("must be a whole number >= 0", field="attribution_days"))
        if p:
            raise ValidationError(p, "Invalid agent configuration")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AgentConfig:
        g = dict(d.get("guardrails", {}))
        g["must_send"] = tuple(MustSend(**m) for m in g.get("must_send", ()))
        rest = {k: v for k, v in d.items() if k not in ("reward", "guardrails")}
        return cls(reward=RewardWeights(**d.get("reward", {})), guardrails=Guardrails(**g),
                   **rest)


# -- private policy pieces ----------------------------------------------------------------

@dataclass
class _Contexts:
    """Mixed-radix coding of the context of one kind of dimension."""

    variables: tuple[str, ...]  # feature variables
    masks: tuple[str, ...]  # variables that only restrict options (channel consent)
    sizes: tuple[int, ...]
    labels: Mapping[str, tuple[str, ...]]

    @property
    def count(self) -> int:
        return int(np.prod(self.sizes))

    def code(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(len(next(iter(codes.values()))), dtype=np.int32)
        for var, size in zip(self.variables + self.masks, self.sizes):
            out = out * size + codes[var]
        return out

    def decode(self, ctx: int) -> dict[str, int]:
        out = {}
        for var, size in reversed(list(zip(self.variables + self.masks, self.sizes))):
            ctx, out[var] = divmod(ctx, size)
        return out

    def features(self, ctx: int) -> list[str]:
        d = self.decode(ctx)
        return [f"{v}:{self.labels[v][d[v]]}" for v in self.variables]


def _option_prior(feature: str) -> float:
    identity = feature.split(":", 1)[0] in ("atom", "hour", "channel", "send")
    return PRIOR_VAR["identity"] if identity else PRIOR_VAR["tag"]


class _DimensionPolicy:
    """Thompson Sampling for one dimension: features, design rows and P(best)."""

    def __init__(self, dim: Dimension, ctx: _Contexts, model: GaussianPosterior | None,
                 segments: Sequence[str], noise_var: float):
        self.dim = dim
        self.ctx = ctx
        self.segments = list(segments)
        # A tag carried by a single option says nothing more than its identity: leave it out.
        counts: dict[str, int] = {}
        for o in dim.options:
            for f in o.features:
                counts[f] = counts.get(f, 0) + 1
        option_feats = sorted(f for f, c in counts.items()
                              if c > 1 or f.split(":", 1)[0] in ("atom", "hour", "channel", "send"))
        ctx_feats = [f"{v}:{lab}" for v in ctx.variables for lab in ctx.labels[v]]
        names = option_feats + [f"{o}|{c}" for o in option_feats for c in ctx_feats]
        priors = [_option_prior(f) for f in option_feats] + \
            [PRIOR_VAR["interaction"]] * (len(names) - len(option_feats))
        self.model = (model.with_features(names, priors) if model is not None
                      else GaussianPosterior.prior(names, priors, noise_var))
        self._index = self.model.index()

    # -- design ----------------------------------------------------------------------------

    def row(self, option_features: Sequence[str], ctx: int) -> np.ndarray:
        idx = self._index
        x = np.zeros(len(self.model.features))
        cf = self.ctx.features(ctx)
        for f in option_features:
            if f in idx:
                x[idx[f]] = 1.0
            for c in cf:
                if f"{f}|{c}" in idx:
                    x[idx[f"{f}|{c}"]] = 1.0
        return x

    def design(self, ctxs: Sequence[int]) -> np.ndarray:
        """Rows for every (context, option), ``len(ctxs) * K x p`` (cached per context)."""
        cache = self.__dict__.setdefault("_design", {})
        blocks = []
        for c in ctxs:
            c = int(c)
            if c not in cache:
                cache[c] = np.stack([self.row(o.features, c) for o in self.dim.options])
            blocks.append(cache[c])
        return np.concatenate(blocks)

    def allowed(self, ctxs: Sequence[int]) -> np.ndarray:
        """Which options each context may use (segment-scoped atoms, channel consent)."""
        out = np.ones((len(ctxs), len(self.dim.options)), bool)
        for i, c in enumerate(ctxs):
            d = self.ctx.decode(c)
            for k, o in enumerate(self.dim.options):
                if o.segment is not None and "segment" in d:
                    out[i, k] = self.segments[d["segment"]] == o.segment
                if "consent" in d:
                    out[i, k] &= bool(d["consent"] >> CHANNEL_IDS.index(o.value) & 1)
        return out

    # -- Thompson Sampling -----------------------------------------------------------------

    def prob_best(self, ctxs: Sequence[int], draws: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``P(best)`` per context and option from ``draws`` posterior samples, and the mask."""
        K = len(self.dim.options)
        allowed = self.allowed(ctxs)
        W = self.model.sample(draws, rng)  # draws x p
        S = (self.design(ctxs) @ W.T).reshape(len(ctxs), K, draws)
        S[~allowed] = -np.inf
        best = S.argmax(axis=1)  # contexts x draws
        flat = (np.arange(len(ctxs))[:, None] * K + best).ravel()
        P = np.bincount(flat, minlength=len(ctxs) * K).reshape(len(ctxs), K) / draws
        P[~allowed.any(axis=1)] = 0.0
        return P, allowed


def _cap_shares(P: np.ndarray, weight: np.ndarray, allowed: np.ndarray, cap: float
                ) -> np.ndarray:
    """Lower options above ``cap`` of the batch's expected traffic, moving the excess to the
    other allowed options of each context in proportion to their probability."""
    P = P.copy()
    total = weight.sum()
    if total == 0:
        return P
    for _ in range(2 * P.shape[1]):
        share = weight @ P / total
        over = share > cap + 1e-9
        if not over.any():
            break
        scaled = P * np.where(over, cap / np.maximum(share, 1e-300), 1.0)
        removed = P.sum(axis=1) - scaled.sum(axis=1)
        free = np.where(over, 0.0, P + 1e-12 * allowed) * allowed
        free_sum = free.sum(axis=1)
        ok = free_sum > 0
        scaled[ok] += (removed[ok] / free_sum[ok])[:, None] * free[ok]
        scaled[~ok] = P[~ok]
        P = scaled
    return P


def _alias_tables(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _draw(P: np.ndarray, ctx: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each user's option from the row of ``P`` of their context, with one uniform number.

    The alias method makes a draw two table look-ups and a comparison, whatever the number of
    options: ``u * K`` picks a column, its fractional part decides between the column and its
    alias.
    """
    K = P.shape[1]
    prob, alias = _alias_tables(P)
    scaled = u * np.float32(K)
    col = np.minimum(scaled.astype(np.int32), K - 1)
    frac = scaled - col
    flat = ctx * np.int32(K) + col
    keep = frac < prob.astype(np.float32).ravel()[flat]
    return np.where(keep, col, alias.astype(np.int32).ravel()[flat])


@dataclass
class LearnReport:
    learned: dict[str, int]
    reward_mean: float
    decisions: int


class Agent:
    """Decide composite actions for users and learn from their outcomes.

    >>> agent = Agent(ActionSpace.from_library(store), segments)   # doctest: +SKIP
    >>> batch = agent.decide(users, seed=1)                         # doctest: +SKIP
    >>> agent.learn(batch, outcomes)                                # doctest: +SKIP
    """

    def __init__(self, space: ActionSpace, segments: Sequence[str],
                 config: AgentConfig | None = None,
                 models: Mapping[str, GaussianPosterior] | None = None):
        self.space = space
        self.segments = list(segments)
        self.config = config or AgentConfig()
        labels = state_labels(self.segments)
        self._ctx: dict[str, _Contexts] = {}
        for kind in ("slot", "timing", "channel", "send"):
            variables = CONTEXT_OF[kind]
            masks = MASK_VARS.get(kind, ())
            self._ctx[kind] = _Contexts(variables, masks,
                                        tuple(len(labels[v]) for v in variables + masks), labels)
        models = models or {}
        self.policies = {d.name: _DimensionPolicy(d, self._ctx[d.kind], models.get(d.name),
                                                  self.segments, self.config.noise_var)
                         for d in space.dimensions}
        self._check_must_send()

    @property
    def models(self) -> dict[str, GaussianPosterior]:
        return {name: p.model for name, p in self.policies.items()}

    def _check_must_send(self) -> None:
        problems = []
        for i, m in enumerate(self.config.guardrails.must_send, start=1):
            if m.channel not in self.space.templates:
                problems.append(Problem(f"no template for channel '{m.channel}'", row=i,
                                        field="channel"))
                continue
            for slot in self.space.template_for(m.channel).slots:
                atom = self.space.atoms.get(m.atoms.get(slot, -1))
                if atom is None or atom["kind"] != slot or atom.get("status") == "archived":
                    problems.append(Problem(f"needs an active '{slot}' atom", row=i,
                                            field=f"atoms.{slot}"))
            if m.segment is not None and m.segment not in self.segments:
                problems.append(Problem(f"unknown segment '{m.segment}'", row=i, field="segment"))
        if problems:
            raise ValidationError(problems, "Invalid must-send rules")

    # -- decide ----------------------------------------------------------------------------

    def decide(self, users: pd.DataFrame, *, seed: int = 0, start: date | None = None
               ) -> pd.DataFrame:
        """One decision per user: what to send, when, on which channel, or to skip.

        ``start`` is the first day of the batch; send times fall in the 7 days from it.
        Returns the users' ids and arms, the decision, per-dimension propensities
        (``p_<dimension>``), the overall ``propensity``, ``guardrails`` flags and the context
        codes the agent learns with.
        """
        df = prepare_users(users, self.segments, self.config.holdout_share)
        codes = state_codes(df, self.segments)
        holdout = label_codes(df["arm"], ("agent", "holdout")) == 1
        out: dict[str, Any] = {"user_id": df["user_id"].to_numpy(),
                               "arm": pd.Categorical.from_codes(holdout.astype(np.int8),
                                                                ["agent", "holdout"])}
        out.update(self.decide_arrays(codes, holdout, df["sends_7d"].to_numpy(), seed=seed))
        frame = pd.DataFrame(out, copy=False)  # millions of rows: no consolidation copy
        frame = self._decode(frame, start or date.today())
        frame.attrs["seed"] = seed
        return frame

    def decide_arrays(self, codes: Mapping[str, np.ndarray], holdout: np.ndarray,
                      sends_7d: np.ndarray, *, seed: int = 0) -> dict[str, np.ndarray]:
        """The core of :meth:`decide` on context codes (see :func:`workbench.agent.users.state_codes`),
        for callers that already hold them as arrays, like the simulated world."""
        g = self.config.guardrails
        n = len(holdout)
        rng = np.random.default_rng(seed)
        agent_users = ~holdout
        flags = np.where(holdout, GUARDRAILS["holdout"], 0).astype(np.int16)
        out: dict[str, Any] = {f"ctx_{var}": codes[var] for var in (
            "segment", "inactivity", "engagement", "exposures", "daypart", "platform", "consent")}
        ctx_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for d in self.space.dimensions:
            pol = self.policies[d.name]
            if d.kind not in ctx_cache:
                c = pol.ctx.code(codes)
                ctx_cache[d.kind] = c, np.bincount(c[agent_users], minlength=pol.ctx.count
                                                   ).astype(float)
            ctx, weight = ctx_cache[d.kind]
            present = np.flatnonzero(weight)
            P_full = np.zeros((pol.ctx.count, len(d.options)))
            A_full = np.ones_like(P_full, dtype=bool)
            if len(present):
                P, allowed = pol.prob_best(present, self.config.draws, rng)
                policy = P.copy()
                if g.min_exploration > 0:
                    uni = allowed / np.maximum(allowed.sum(axis=1, keepdims=True), 1)
                    P = (1 - g.min_exploration) * P + g.min_exploration * uni
                capped = np.zeros(len(present), bool)
                if d.kind == "slot" and g.max_atom_share < 1:
                    before = P
                    P = _cap_shares(P, weight[present], allowed, g.max_atom_share)
                    capped = np.abs(P - before).max(axis=1) > 1e-9
                P_full[present], A_full[present] = P, allowed
            choice = _draw(P_full, ctx, rng.random(n, dtype=np.float32))
            K = len(d.options)
            # Per-(context, option) facts, looked up once per user through a flat index.
            fact = np.zeros((pol.ctx.count, K), dtype=np.int16)
            if len(present) and g.min_exploration > 0:
                floor = g.min_exploration / np.maximum(allowed.sum(axis=1, keepdims=True), 1)
                fact[present] |= np.where(policy < floor, GUARDRAILS["exploration"], 0
                                          ).astype(np.int16)
            if len(present) and capped.any():
                fact[present[capped]] |= GUARDRAILS["traffic_cap"]
            if d.name == "channel":
                fact[~A_full.any(axis=1)] |= GUARDRAILS["no_consent"]
            if d.name == "timing":
                shift = np.array([self._quiet_shift(t) for t in range(K)])
                fact[:, shift != np.arange(K)] |= GUARDRAILS["quiet_hours"]
                # Propensity of the slot actually used: all the mass that maps onto it.
                moved = np.zeros((K, K))
                moved[np.arange(K), shift] = 1.0
                P_full = (P_full @ moved)[:, shift]
                choice_out = shift[choice]
            else:
                choice_out = choice
            flat = ctx * np.int32(K) + choice
            bits = fact.ravel()[flat]
            bits[holdout] = 0
            flags |= bits
            p_choice = P_full.ravel()[flat].astype(np.float32)
            p_choice[holdout] = np.nan
            out[f"choice_{d.name}"] = choice_out.astype(np.int16)
            out[f"p_{d.name}"] = p_choice
        # Send or skip, then the guardrails that override it.
        send = out["choice_send"] == self.space.dimension("send").index_of(True)
        capped7 = sends_7d >= g.frequency_cap_7d
        flags |= np.where(agent_users & capped7 & send, GUARDRAILS["frequency_cap"], 0
                          ).astype(np.int16)
        send &= ~capped7
        send &= (flags & GUARDRAILS["no_consent"]) == 0
        send &= agent_users
        self._apply_must_send(codes["consent"], out, flags, send, agent_users)
        out["send"] = send
        out["guardrails"] = flags
        # Propensity of the whole decision: send-or-skip, times every dimension of what was
        # sent. Guardrail overrides of send-or-skip are certain (probability 1).
        override = (flags & (GUARDRAILS["must_send"] | GUARDRAILS["frequency_cap"]
                             | GUARDRAILS["no_consent"])) > 0
        out["p_send"] = np.where(override, np.float32(1), out["p_send"])
        content = np.ones(n, dtype=np.float64)
        for d in self.space.dimensions:
            if d.name != "send":
                content *= out[f"p_{d.name}"]
        propensity = np.where(send, out["p_send"] * content, out["p_send"])
        propensity[holdout] = np.nan
        out["propensity"] = propensity
        return out

    def _quiet_shift(self, t: int) -> int:
        g = self.config.guardrails
        for step in range(24):
            h = (t + step) % 168
            if not g.quiet(h % 24):
                return h
        return t

    def _apply_must_send(self, consent: np.ndarray, out: dict[str, Any], flags: np.ndarray,
                         send: np.ndarray, agent_users: np.ndarray) -> None:
        seg_codes = out["ctx_segment"]
        for rule in self.config.guardrails.must_send:
            who = agent_users.copy()
            if rule.segment is not None:
                who &= seg_codes == self.segments.index(rule.segment)
            who &= (consent >> CHANNEL_IDS.index(rule.channel) & 1).astype(bool)
            ch = self.space.dimension("channel").index_of(rule.channel)
            out["choice_channel"] = np.where(who, ch, out["choice_channel"])
            out["p_channel"] = np.where(who, 1.0, out["p_channel"]).astype(np.float32)
            for slot, atom in rule.atoms.items():
                name = f"slot:{slot}"
                if f"choice_{name}" in out:
                    k = self.space.dimension(name).index_of(atom)
                    out[f"choice_{name}"] = np.where(who, k, out[f"choice_{name}"])
                    out[f"p_{name}"] = np.where(who, 1.0, out[f"p_{name}"]).astype(np.float32)
            flags |= np.where(who, GUARDRAILS["must_send"], 0).astype(np.int16)
            send |= who

    def _decode(self, frame: pd.DataFrame, start: date) -> pd.DataFrame:
        """Option values and send times from the chosen indices."""
        timing = frame["choice_timing"].to_numpy()
        weekday, hour = timing // 24, timing % 24
        start_dt = np.datetime64(datetime(start.year, start.month, start.day), "h")
        offset = (weekday - start.weekday()) % 7
        frame["weekday"] = weekday.astype(np.int8)
        frame["hour"] = hour.astype(np.int8)
        frame["send_at"] = start_dt + (offset * 24 + hour).astype("timedelta64[h]")
        channels = np.array([o.value for o in self.space.dimension("channel").options],
                            dtype=object)
        frame["channel"] = pd.Categorical.from_codes(
            frame["choice_channel"].to_numpy(), categories=list(channels))
        for d in self.space.dimensions:
            if d.kind == "slot":
                ids = np.array([o.value for o in d.options], dtype=np.int64)
                frame[d.name.replace("slot:", "atom_")] = ids[frame[f"choice_{d.name}"]]
        return frame

    # -- rendering and export ---------------------------------------------------------------

    def render(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """Add the template and assembled texts of sent decisions (for export; small batches)."""
        frame = decisions.copy()
        templates, titles, bodies, atoms_json = [], [], [], []
        for row in frame.itertuples(index=False):
            if not row.send:
                templates.append(None), titles.append(""), bodies.append("")
                atoms_json.append("{}")
                continue
            tpl = self.space.template_for(row.channel)
            choice = {s: self.space.atoms[getattr(row, f"atom_{s}")] for s in tpl.slots}
            msg = render(tpl, choice)
            templates.append(self.space.templates[row.channel]["id"])
            titles.append(msg.title)
            bodies.append(msg.body)
            atoms_json.append(str({s: a["id"] for s, a in choice.items()}).replace("'", '"'))
        frame["template_id"] = pd.array(templates, dtype="Int64")
        sent = frame["send"].to_numpy(bool)
        frame["channel"] = frame["channel"].astype(object).where(sent, None)
        frame["send_at"] = frame["send_at"].where(sent)
        frame["title"] = titles
        frame["body"] = bodies
        frame["atoms"] = atoms_json
        frame["guardrail_names"] = [",".join(k for k, b in GUARDRAILS.items() if f & b)
                                    for f in frame["guardrails"]]
        return frame

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
              outcomes: pd.DataFrame, *, late: bool = False, same_space: bool = False
              ) -> LearnReport:
        """Update the posteriors from decisions and their outcomes (aligned row by row).

        ``outcomes`` holds event counts per decision (columns of
        :data:`workbench.agent.reward.EVENTS`; missing ones count as zero). Each decision is learnt
        from once; events that arrive after it was learnt are passed with ``late=True``, which
        adds their reward without counting the decision again. ``same_space`` says the
        decisions were made on this agent's current action space, so their ``choice_*`` option
        indices can be used as they are (the simulated world learns this way).
        """
        if len(_col(decisions, "guardrails")) != len(outcomes):
            raise ValidationError([Problem("decisions and outcomes must have the same rows")],
                                  "Cannot learn")
        # A late correction adds plain event value: the holdout baseline was already taken.
        r = scalarise(outcomes, self.config.reward) if late else self.rewards(decisions, outcomes)
        flags = _col(decisions, "guardrails")
        agent_rows = _agent_rows(decisions)
        sent = _col(decisions, "send").astype(bool) & agent_rows
        forced = (flags & GUARDRAILS["must_send"]) > 0
        override = (flags & (GUARDRAILS["frequency_cap"] | GUARDRAILS["no_consent"])) > 0
        codes = {v: _col(decisions, f"ctx_{v}") for v in
                 ("segment", "inactivity", "engagement", "exposures", "daypart", "platform",
                  "consent")}
        learned = {}
        for d in self.space.dimensions:
            pol = self.policies[d.name]
            if d.name == "send":
                rows = agent_rows & ~forced & ~override
            elif d.kind == "slot" or d.name == "channel":
                rows = sent & ~forced
            else:
                rows = sent
            if d.name == "send" or same_space:
                col = _col(decisions, f"choice_{d.name}").astype(np.int64)
            else:
                col = self._choice_index(d, decisions)
            ok = rows & (col >= 0)
            if not ok.any():
                learned[d.name] = 0
                continue
            ctx = pol.ctx.code({v: c[ok] for v, c in codes.items()})
            K = len(d.options)
            cell = ctx.astype(np.int64) * K + col[ok]
            counts = np.bincount(cell, minlength=pol.ctx.count * K)
            sums = np.bincount(cell, weights=r[ok], minlength=pol.ctx.count * K)
            cells = np.flatnonzero(counts)
            counts, sums = counts[cells], sums[cells]
            ctx_of = cells // K
            uctx, pos = np.unique(ctx_of, return_inverse=True)
            X = pol.design(uctx)[pos * K + cells % K]
            pol.model.update(X, sums, counts, add_precision=not late)
            learned[d.name] = int(ok.sum())
        return LearnReport(learned, float(r[agent_rows].mean()) if agent_rows.any() else 0.0,
                           len(decisions))

    def _choice_index(self, d: Dimension, decisions: pd.DataFrame) -> np.ndarray:
        """Current option index of each decision's chosen value (-1 when it is gone)."""
        if d.kind == "slot":
            values = decisions[d.name.replace("slot:", "atom_")].to_numpy()
        elif d.name == "timing":
            values = (decisions["weekday"].to_numpy().astype(int) * 24
                      + decisions["hour"].to_numpy().astype(int))
        elif d.name == "channel":
            values = decisions["channel"].astype(str).to_numpy()
        else:
            raise KeyError(d.name)
        lookup = {o.value: i for i, o in enumerate(d.options)}
        return pd.Series(values).map(lookup).fillna(-1).to_numpy(np.int64)

    # -- beliefs ---------------------------------------------------------------------------

    def context_code(self, kind: str, values: Mapping[str, int]) -> int:
        ctx = self._ctx[kind]
        code = 0
        for var, size in zip(ctx.variables + ctx.masks, ctx.sizes):
            code = code * size + int(values.get(var, size - 1 if var == "consent" else 0))
        return code

    def beliefs(self, dimension: str, context: Mapping[str, int], *, draws: int | None = None,
                seed: int = 0) -> pd.DataFrame:
        """Posterior of each option's expected reward in one context: mean, sd, 95% interval
        and probability of being best."""
        d = self.space.dimension(dimension)
        pol = self.policies[dimension]
        c = self.context_code(d.kind, context)
        X = pol.design([c])
        mean, sd = pol.model.score_moments(X)
        P, allowed = pol.prob_best([c], draws or self.config.draws, np.random.default_rng(seed))
        return pd.DataFrame({
            "option": [o.value for o in d.options], "label": [o.label for o in d.options],
            "mean": mean, "sd": sd, "low": mean - 1.96 * sd, "high": mean + 1.96 * sd,
            "p_best": P[0], "allowed": allowed[0]})

    def explain(self, dimension: str, context: Mapping[str, int], option: Any,
                top: int = 8) -> pd.DataFrame:
        """Why ``option`` over the best other option: each feature's contribution to the
        difference of their posterior mean rewards."""
        d = self.space.dimension(dimension)
        pol = self.policies[dimension]
        c = self.context_code(d.kind, context)
        mean_w = pol.model.mean
        k = d.index_of(option)
        X = pol.design([c])
        scores = X @ mean_w
        others = [j for j in range(len(d.options)) if j != k]
        if not others:
            return pd.DataFrame(columns=["feature", "contribution"])
        j = max(others, key=lambda i: scores[i])
        diff = (X[k] - X[j]) * mean_w
        order = np.argsort(-np.abs(diff))[:top]
        return pd.DataFrame({
            "feature": [pol.model.features[i] for i in order if diff[i] != 0],
            "contribution": [float(diff[i]) for i in order if diff[i] != 0],
            "versus": d.options[j].label})

    # -- for callers that build agents week after week ---------------------------------------

    def decode(self, frame: pd.DataFrame, start: date) -> pd.DataFrame:
        """Option values and send times of decisions given as chosen indices (e.g. a sample
        of :meth:`decide_arrays` output), with send times in the week from ``start``."""
        return self._decode(frame, start)

    def reuse_cache(self, previous: Agent) -> None:
        """Carry over the design rows ``previous`` built for dimensions whose options and
        features are unchanged (rebuilding them each week is most of a small run's time)."""
        for name, pol in self.policies.items():
            old = previous.policies.get(name)
            if old is not None and old.model.features == pol.model.features \
                    and old.dim == pol.dim and "_design" in old.__dict__:
                pol.__dict__["_design"] = old.__dict__["_design"]


def _col(decisions: pd.DataFrame | Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return np.asarray(decisions[name])


def _agent_rows(decisions: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
    if "holdout" in decisions:
        return ~np.asarray(decisions["holdout"], bool)
    return np.asarray(decisions["arm"]).astype(str) == "agent"
