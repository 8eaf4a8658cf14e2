"""Synthetic environments with a known best action, for the regret benchmark.

Why: speed was the agent's only bar; decision quality needs environments where the *exact*
expected reward of every composite action is known, so that regret (expected reward of the best
action minus that of the action taken) can be measured without estimation error.

An environment is data (a frozen :class:`Environment` with its seed). Users belong to segments;
a composite action is one atom for each of three content slots (greeting, offer, call to action),
a send hour (0-23) and a channel. The reward is one Bernoulli event (a direct open) whose
probability, for segment ``s``, is::

    p = base[s] + sum over dimensions of effect[s, option] + interaction bonuses

clipped to [0.0005, 0.95]. Main effects are drawn from the seed, scaled to the segment's base
rate (``spread``) and shared between segments as much as ``agreement`` says (0: segments
disagree entirely). Send hours have a bump at a peak hour (per segment when
``timing_by_segment``); night hours (22:00-07:59) are poor in every environment, so the best
action is reachable under the agent's default quiet hours. ``interactions`` make one atom of a
slot work only with one atom of another (an offer that pays only with a certain call to action).
``drift`` moves the content and channel effects linearly from one draw to a second between two
days; ``new_atoms`` adds atoms to a slot mid-run (one better than any existing atom, the others
worse). The expected reward of every composite action is enumerated per segment and day
(:meth:`Environment.expected`), which gives the exact best action.

Two sets of environments exist:

- :data:`SUITE`, the benchmark's suite: what the agent may be developed against;
- :data:`HELD_OUT` (names ``heldout-*``), with different parameters, **exist for honest
  reporting only**: whoever tunes the agent must not look at their results while tuning, so that
  their figures estimate how the agent does in environments nobody has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError

SLOTS = ("greeting", "offer", "cta")
HOURS = tuple(range(24))
NIGHT = tuple(h for h in HOURS if h >= 22 or h < 8)
P_MIN, P_MAX = 0.0005, 0.95


@dataclass(frozen=True)
class Interaction:
    """Atom ``first`` of slot ``slots[0]`` pays only together with atom ``second`` of slot
    ``slots[1]``: alone it is the slot's worst atom, the pair earns ``bonus`` x base rate."""

    slots: tuple[int, int]
    first: int
    second: int
    bonus: float


@dataclass(frozen=True)
class NewAtoms:
    """``count`` atoms join slot ``slot`` on ``day``: the first is better than the slot's best
    atom by ``lift`` x base rate, the others are worse than its worst."""

    day: int
    slot: int
    count: int
    lift: float


@dataclass(frozen=True)
class Environment:
    name: str
    about: str
    segments: tuple[str, ...]
    shares: tuple[float, ...]  # share of users per segment
    base: tuple[float, ...]  # reward rate per segment before any effect
    atoms: tuple[int, int, int] = (5, 5, 5)  # atoms per content slot at the start
    channels: tuple[str, ...] = ("push", "email", "in_app")
    spread: float = 0.3  # sd of a main effect, as a share of the segment's base rate
    agreement: float = 0.0  # correlation of main effects between segments
    timing_amp: float = 0.5  # height of the send-hour bump, as a share of the base rate
    timing_by_segment: bool = True  # each segment has its own best hour
    interactions: tuple[Interaction, ...] = ()
    drift: tuple[int, int] | None = None  # content/channel effects move between these days
    new_atoms: tuple[NewAtoms, ...] = ()
    days: int = 60
    batch: int = 5000
    seed: int = 0
    held_out: bool = False

    def __post_init__(self) -> None:
        p = []
        S = len(self.segments)
        if S == 0 or len(self.shares) != S or len(self.base) != S:
            p.append(Problem("segments, shares and base must have the same length (>= 1)",
                             field="segments"))
        elif abs(sum(self.shares) - 1) > 1e-9 or min(self.shares) <= 0:
            p.append(Problem("shares must be positive and sum to 1", field="shares"))
        if any(not 0 < b < P_MAX for b in self.base):
            p.append(Problem(f"base rates must be in (0, {P_MAX})", field="base"))
        if len(self.atoms) != len(SLOTS) or min(self.atoms) < 2:
            p.append(Problem("three slots of at least 2 atoms", field="atoms"))
        for i in self.interactions:
            if i.slots[0] == i.slots[1] or not (i.first < self.atoms[i.slots[0]]
                                                and i.second < self.atoms[i.slots[1]]):
                p.append(Problem("needs two different slots and existing atoms",
                                 field="interactions"))
        if self.drift is not None and not 0 <= self.drift[0] <= self.drift[1]:
            p.append(Problem("must be (start day, end day)", field="drift"))
        if self.days < 1 or self.batch < 1:
            p.append(Problem("days and batch must be >= 1", field="days"))
        if p:
            raise ValidationError(p, f"Invalid environment '{self.name}'")

    # -- structure -------------------------------------------------------------------------

    @property
    def slot_sizes(self) -> tuple[int, int, int]:
        """Atoms per slot at the end of the run (new atoms included)."""
        extra = [0, 0, 0]
        for n in self.new_atoms:
            extra[n.slot] += n.count
        return tuple(a + e for a, e in zip(self.atoms, extra))

    def available(self, day: int) -> tuple[int, int, int]:
        """How many atoms of each slot exist on ``day`` (new atoms are appended)."""
        k = list(self.atoms)
        for n in self.new_atoms:
            if day >= n.day:
                k[n.slot] += n.count
        return tuple(k)

    @property
    def shape(self) -> tuple[int, ...]:
        """Options per dimension: three slots (final sizes), 24 hours, channels."""
        return (*self.slot_sizes, len(HOURS), len(self.channels))

    def scaled(self, days: int, batch: int) -> Environment:
        """The same environment on a shorter horizon and smaller batches (quick mode): the
        event days (drift, new atoms) keep their place relative to the horizon."""
        f = days / self.days
        return replace(self, days=days, batch=batch,
                       drift=None if self.drift is None else
                       (int(self.drift[0] * f), int(self.drift[1] * f)),
                       new_atoms=tuple(replace(n, day=max(1, int(n.day * f)))
                                       for n in self.new_atoms))

    # -- effects ---------------------------------------------------------------------------

    @cached_property
    def _tables(self) -> dict[str, np.ndarray]:
        """Effects drawn once from the seed: ``slotN``/``channel`` (S x K) at the start,
        ``slotN_late``/``channel_late`` after drift, ``hour`` (S x 24)."""
        rng = np.random.default_rng([self.seed, 7919])
        S = len(self.segments)
        base = np.asarray(self.base)[:, None]

        def draw(k: int) -> np.ndarray:
            shared = rng.standard_normal(k)
            own = rng.standard_normal((S, k))
            a = self.agreement
            return self.spread * base * (np.sqrt(a) * shared + np.sqrt(1 - a) * own)

        out: dict[str, np.ndarray] = {}
        for j, k in enumerate(self.atoms):
            out[f"slot{j}"] = draw(k)
        out["channel"] = draw(len(self.channels))
        for j, k in enumerate(self.atoms):
            out[f"slot{j}_late"] = draw(k)
        out["channel_late"] = draw(len(self.channels))
        hours = np.asarray(HOURS, float)
        day_hours = np.arange(8, 22)
        peaks = (rng.choice(day_hours, S) if self.timing_by_segment
                 else np.full(S, rng.choice(day_hours)))
        dist = np.minimum(np.abs(hours[None, :] - peaks[:, None]),
                          24 - np.abs(hours[None, :] - peaks[:, None]))
        bump = np.exp(-dist ** 2 / (2 * 2.0 ** 2)) - 0.5
        bump[:, list(NIGHT)] = -0.6  # nobody reads a message at night
        out["hour"] = self.timing_amp * base * bump
        out["peaks"] = peaks
        return out

    def effects(self, day: int) -> list[np.ndarray]:
        """Main effects of each dimension on ``day`` (S x options, final slot sizes; atoms not
        yet added are present with their future effect)."""
        t = self._tables
        w = 0.0
        if self.drift is not None:
            a, b = self.drift
            w = float(day >= b) if a == b else float(np.clip((day - a) / (b - a), 0, 1))
        slots = []
        for j in range(len(SLOTS)):
            e = (1 - w) * t[f"slot{j}"] + w * t[f"slot{j}_late"]
            for i in self.interactions:
                if i.slots[0] == j:  # alone, the interacting atom is the slot's worst
                    e = e.copy()
                    e[:, i.first] = e.min(axis=1) - 0.1 * self.spread * np.asarray(self.base)
            for n in self.new_atoms:
                if n.slot == j:
                    base = np.asarray(self.base)[:, None]
                    better = e.max(axis=1, keepdims=True) + n.lift * base
                    worse = e.min(axis=1, keepdims=True) - self.spread * base * (
                        1 + np.arange(n.count - 1)[None, :])
                    e = np.concatenate([e, better, worse], axis=1)
            slots.append(e)
        channel = (1 - w) * t["channel"] + w * t["channel_late"]
        return [*slots, t["hour"], channel]

    def expected(self, day: int) -> np.ndarray:
        """Expected reward of every composite action on ``day``: an array of shape
        ``(segments, *shape)``; atoms not yet added are ``nan``."""
        e = self.effects(day)
        S = len(self.segments)
        dims = len(e)
        p = np.asarray(self.base, float).reshape((S,) + (1,) * dims)
        for d, eff in enumerate(e):
            shape = [S] + [1] * dims
            shape[d + 1] = eff.shape[1]
            p = p + eff.reshape(shape)
        for i in self.interactions:
            idx = [slice(None)] * (dims + 1)
            idx[i.slots[0] + 1], idx[i.slots[1] + 1] = i.first, i.second
            p[tuple(idx)] += i.bonus * np.asarray(self.base).reshape((S,) + (1,) * (dims - 2))
        p = np.clip(p, P_MIN, P_MAX)
        avail = self.available(day)
        for j, k in enumerate(avail):
            idx = [slice(None)] * (dims + 1)
            idx[j + 1] = slice(k, None)
            p[tuple(idx)] = np.nan
        return p

    def best(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Best expected reward per segment and its action (segments x 5 option indices)."""
        p = self.expected(day)
        S = len(self.segments)
        flat = np.nanargmax(p.reshape(S, -1), axis=1)
        return (p.reshape(S, -1)[np.arange(S), flat],
                np.column_stack(np.unravel_index(flat, p.shape[1:])))

    @property
    def actions(self) -> int:
        """Number of composite actions at the end of the run."""
        return int(np.prod(self.shape))

    # -- users -----------------------------------------------------------------------------

    def users(self, day: int, rng: np.random.Generator) -> pd.DataFrame:
        """One day's batch: segment drawn by share; the user state the agent sees (which does
        not change the reward) drawn as in a plausible audience; consent to every channel."""
        n = self.batch
        seg = rng.choice(len(self.segments), n, p=np.asarray(self.shares))
        frame = pd.DataFrame({
            "user_id": np.arange(day * n, (day + 1) * n, dtype=np.int64),
            "segment": pd.Categorical.from_codes(seg, categories=list(self.segments)),
            "days_inactive": 14 + rng.geometric(1 / 40, n),
            "platform": pd.Categorical.from_codes(rng.choice(3, n, p=[0.35, 0.55, 0.10]),
                                                  categories=["ios", "android", "web"]),
            "past_engagement": rng.poisson(3, n),
            "habitual_hour": rng.integers(8, 23, n),
            "sends_7d": np.zeros(n, np.int64),
            "arm": "agent",
        })
        for ch in ("push", "email", "sms", "in_app"):
            frame[f"consent_{ch}"] = True
        return frame


def _segments(n: int) -> tuple[str, ...]:
    return tuple(f"seg_{i}" for i in range(n))


SUITE: tuple[Environment, ...] = (
    Environment(
        "neutral", "4 segments that disagree, rewards 3-10%, no interaction, stationary",
        _segments(4), (0.4, 0.3, 0.2, 0.1), (0.03, 0.05, 0.07, 0.10), spread=0.2, seed=11),
    Environment(
        "rare-skewed", "rare rewards (0.5-2%); one large segment and five small ones that "
                       "half agree",
        _segments(6), (0.5, 0.1, 0.1, 0.1, 0.1, 0.1), (0.01, 0.005, 0.02, 0.01, 0.015, 0.008),
        agreement=0.5, spread=0.4, seed=12),
    Environment(
        "common-interaction", "common rewards (15-30%); 2 segments; an offer that pays only "
                              "with one call to action",
        _segments(2), (0.6, 0.4), (0.15, 0.30), atoms=(4, 6, 6), spread=0.15,
        interactions=(Interaction((1, 2), first=2, second=4, bonus=1.0),), seed=13),
    Environment(
        "timing-drift", "8 segments with their own best hour (strong timing), content "
                        "preferences drift between days 25 and 35",
        _segments(8), tuple([0.125] * 8), (0.04, 0.05, 0.06, 0.03, 0.08, 0.05, 0.04, 0.07),
        timing_amp=1.0, drift=(25, 35), seed=14),
    Environment(
        "new-atoms", "4 segments; atoms join mid-run (day 20: a better offer and a worse one; "
                     "day 40: a better CTA and two worse)",
        _segments(4), (0.25, 0.25, 0.25, 0.25), (0.05, 0.04, 0.08, 0.06), agreement=0.3,
        new_atoms=(NewAtoms(20, 1, 2, 0.3), NewAtoms(40, 2, 3, 0.3)), seed=15),
)

#: For honest reporting only: never tune the agent on these (see the module docstring).
HELD_OUT: tuple[Environment, ...] = (
    Environment(
        "heldout-three", "3 segments 70/20/10, rewards 5-12%, greeting x CTA interaction",
        _segments(3), (0.7, 0.2, 0.1), (0.05, 0.12, 0.08), atoms=(6, 5, 4), spread=0.25,
        agreement=0.2, interactions=(Interaction((0, 2), first=1, second=3, bonus=0.5),),
        channels=("push", "email", "sms", "in_app"), seed=101, held_out=True),
    Environment(
        "heldout-rare-drift", "5 segments, rewards 1-3%, slow drift from day 15 to day 45, "
                              "one shared best hour",
        _segments(5), (0.3, 0.25, 0.2, 0.15, 0.1), (0.02, 0.01, 0.03, 0.015, 0.025),
        spread=0.35, timing_by_segment=False, drift=(15, 45), seed=102, held_out=True),
    Environment(
        "heldout-many", "10 segments, 7 atoms per slot, own best hours, new greeting atoms on "
                        "day 30",
        _segments(10), tuple([0.1] * 10), tuple(0.03 + 0.006 * i for i in range(10)),
        atoms=(7, 7, 7), spread=0.3, timing_amp=0.8, new_atoms=(NewAtoms(30, 0, 2, 0.25),),
        seed=103, held_out=True),
    # Written on 2026-11-23 after the agent's last change, run once before they were added.
    Environment(
        "heldout-agree-common", "3 segments that agree (0.9), common rewards 30-40%, small "
                                "effects, weak timing",
        _segments(3), (0.5, 0.3, 0.2), (0.30, 0.35, 0.40), agreement=0.9, spread=0.1,
        timing_amp=0.1, seed=901, held_out=True),
    Environment(
        "heldout-weak-effects", "4 equal segments, rewards 4-7%, effects of 8% of the base "
                                "rate, two channels",
        _segments(4), (0.25,) * 4, (0.04, 0.05, 0.06, 0.07), spread=0.08, timing_amp=0.15,
        channels=("push", "email"), seed=902, held_out=True),
    Environment(
        "heldout-twenty", "20 small segments that mostly agree (0.6), rewards 2-8%, slots of "
                          "3, 8 and 3 atoms",
        _segments(20), tuple([0.05] * 20), tuple(0.02 + 0.003 * i for i in range(20)),
        agreement=0.6, spread=0.3, atoms=(3, 8, 3), seed=903, held_out=True),
    Environment(
        "heldout-one-segment", "one segment, rewards 6%, 6 atoms per slot, greeting x offer "
                               "interaction",
        _segments(1), (1.0,), (0.06,), spread=0.25, atoms=(6, 6, 6),
        interactions=(Interaction((0, 1), first=0, second=2, bonus=0.4),), seed=904,
        held_out=True),
)

ENVIRONMENTS = {e.name: e for e in SUITE + HELD_OUT}


def environment(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise ValidationError([Problem(f"unknown environment '{name}'; one of "
                                       f"{', '.join(ENVIRONMENTS)}", field="env")],
                              "Invalid benchmark") from None
