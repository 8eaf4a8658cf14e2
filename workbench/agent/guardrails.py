"""Guardrails: what the agent must never do, whatever its posterior says.

Options a guardrail forbids are **masked in the policy** (their probability is zero before the
draw), as channel consent and quiet hours are: shifting a choice after the fact (say, moving a
22:00 send to 08:00) would log a propensity for an option that was never served and leave the
forbidden options at their wide prior, winning Thompson draws forever while never being observed.
What cannot be masked per option (the 7-day frequency cap, "must send" rules) overrides the
decision afterwards and is recorded as a flag, and the agent does not learn the overridden
dimension from those decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench import Problem, ValidationError
from workbench.agent.users import CHANNEL_IDS

if TYPE_CHECKING:
    from workbench.agent.actions import ActionSpace

#: Guardrail flags, one bit each, recorded on every decision.
GUARDRAILS = {
    "holdout": 1,  # holdout user: never touched by the agent
    "no_consent": 2,  # the user consents to no channel the agent can use
    "frequency_cap": 4,  # already at the 7-day cap: skipped
    "quiet_hours": 8,  # (no longer set: quiet hours are masked in the policy; kept for old logs)
    "must_send": 16,  # a message marketers force was sent instead of the policy's choice
    "traffic_cap": 32,  # an atom's batch share was capped in this user's context
    "exploration": 64,  # a choice the posterior alone would rarely make (exploration floor)
}


@dataclass(frozen=True)
class MustSend:
    """A message marketers force: these atoms on this channel, for a segment or everyone."""

    atoms: Mapping[str, int]
    channel: str
    segment: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Guardrails:
    """Limits on the agent's decisions.

    ``min_exploration`` (default 0: Thompson Sampling explores by itself) mixes a uniform share
    into every dimension's probabilities, for marketers who want every option kept alive.
    ``always_send`` takes skipping away from the policy (the frequency cap and consent still
    hold; set ``frequency_cap_7d`` high to lift the cap).
    """

    frequency_cap_7d: int = 3
    quiet_start: int = 22  # no send from quiet_start:00 ...
    quiet_end: int = 8  # ... to quiet_end:00 (may wrap over midnight)
    min_exploration: float = 0.0
    max_atom_share: float = 1.0  # 1 = no cap; e.g. 0.4 keeps every atom under 40% of a batch
    must_send: tuple[MustSend, ...] = ()
    always_send: bool = False

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
        if not isinstance(self.always_send, bool):
            p.append(Problem("must be true or false", field="always_send"))
        if p:
            raise ValidationError(p, "Invalid guardrails")

    def quiet(self, hour: int) -> bool:
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end


def check_must_send(rules: tuple[MustSend, ...], space: ActionSpace, segments: list[str]
                     ) -> None:
    """Raise naming the rule and field when a must-send rule cannot be served."""
    problems = []
    for i, m in enumerate(rules, start=1):
        if m.channel not in space.templates:
            problems.append(Problem(f"no template for channel '{m.channel}'", row=i,
                                    field="channel"))
            continue
        for slot in space.template_for(m.channel).slots:
            atom = space.atoms.get(m.atoms.get(slot, -1))
            if atom is None or atom["kind"] != slot or atom.get("status") == "archived":
                problems.append(Problem(f"needs an active '{slot}' atom", row=i,
                                        field=f"atoms.{slot}"))
        if m.segment is not None and m.segment not in segments:
            problems.append(Problem(f"unknown segment '{m.segment}'", row=i, field="segment"))
    if problems:
        raise ValidationError(problems, "Invalid must-send rules")


def apply_must_send(rules: tuple[MustSend, ...], space: ActionSpace, segments: list[str],
                    consent: np.ndarray, out: dict[str, Any], flags: np.ndarray,
                    send: np.ndarray, agent_users: np.ndarray) -> None:
    """Force the rules' messages on their users (in place), flagged and with propensity 1."""
    seg_codes = out["ctx_segment"]
    for rule in rules:
        who = agent_users.copy()
        if rule.segment is not None:
            who &= seg_codes == segments.index(rule.segment)
        who &= (consent >> CHANNEL_IDS.index(rule.channel) & 1).astype(bool)
        ch = space.dimension("channel").index_of(rule.channel)
        out["choice_channel"] = np.where(who, ch, out["choice_channel"])
        out["p_channel"] = np.where(who, 1.0, out["p_channel"]).astype(np.float32)
        for slot, atom in rule.atoms.items():
            name = f"slot:{slot}"
            if f"choice_{name}" in out:
                k = space.dimension(name).index_of(atom)
                out[f"choice_{name}"] = np.where(who, k, out[f"choice_{name}"])
                out[f"p_{name}"] = np.where(who, 1.0, out[f"p_{name}"]).astype(np.float32)
        flags |= np.where(who, GUARDRAILS["must_send"], 0).astype(np.int16)
        send |= who
