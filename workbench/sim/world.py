"""A simulated reactivation programme: a synthetic user base and its daily behaviour.

Every user is a row of arrays (millions fit in memory). Each day:

1. **Organic return.** A user comes back on their own with a chance that decays with the days
   they have been inactive, scaled by their segment and a personal propensity, by the day of
   the week and a seasonal drift (both arms alike), and lowered by message fatigue.
2. **Messages.** A message sent today is opened with a probability from how well it fits the
   user: the atoms' quality and the user's latent preferences for their offer type, tone and
   product category; the send hour against the user's habitual hour; the channel against the
   user's affinity (inactive users rarely see in-app messages); fatigue from recent messages; a
   penalty for repeating the last content; a novelty bonus for new atoms that wears off; and
   wear-out of atoms the arm has seen a lot. Opening is an engagement (a direct open); being
   messaged also nudges organic return a little (awareness).
3. **Funnel.** Engagement -> intent -> conversion -> conversion in the business's vertical, and
   GMV for conversions. Sessions from a direct open are shallower than organic ones, so messages
   move opens a lot, engagement a little and conversions very little, as in the study.

Along with the random outcomes the world reports their expected values (the probabilities it
drew from), which the tests use to check the programme's shapes without outcome noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from workbench.agent.users import CHANNEL_IDS, PLATFORMS
from workbench.lift.metrics import METRICS  # noqa: F401  (its home is the lift package)

OFFERS = ("percent_off", "amount_off", "free_delivery", "cashback", "bundle", "none")
TONES = ("playful", "caring", "urgent", "premium", "neutral")
CATEGORIES = ("restaurants", "groceries", "retail")


@dataclass(frozen=True)
class WorldParams:
    inactive_days: int = 14  # messageable from this many days without engagement
    base_return: float = 0.075  # daily organic return right after becoming inactive
    decay_days: float = 120.0  # organic return halves roughly every decay_days * ln 2
    return_floor: float = 0.35  # ... but never below this share of base_return
    weekly: tuple[float, ...] = (0.95, 0.95, 0.97, 1.0, 1.07, 1.12, 0.94)  # Mon..Sun
    seasonal_amplitude: float = 0.08
    open_logit: tuple[float, ...] = (-1.9, -2.3, -2.0, -6.0)  # push, email, sms, in-app
    content_weight: float = 0.35
    timing_weight: float = 0.15  # logit lost per hour away from the habitual hour (up to 6)
    fatigue_open: float = 0.45  # logit lost per message in the last week
    fatigue_return: float = 0.03  # organic return lost per message in the last week
    repeat_penalty: float = 0.3
    novelty_bonus: float = 0.8
    novelty_days: float = 45.0
    wearout: float = 2.15  # logit lost by an atom its arm has fully worn out
    wearout_scale: float = 2.6  # sends of the atom per user of the arm to wear it half out
    reserve_quality: float = 0.3  # atoms marketers add from the reserve pool are better
    bau_wear: float = 0.6  # business as usual's message is years old: partly worn out
    awareness: float = 0.12  # relative nudge of organic return on a day with a message
    intent_organic: float = 0.42
    intent_open: float = 0.02
    conversion_given_intent: float = 0.30
    vertical_share: float = 0.30
    vertical_boost: float = 0.35  # extra share when an opened message promoted the vertical
    gmv_mean: float = 48.0
    gmv_sigma: float = 0.55
    segment_return: Mapping[str, float] = field(default_factory=lambda: {
        "abandoned_cart": 1.5, "unpaid_order": 1.6, "frequent_buyers": 1.3, "repeat_buyers": 1.2,
        "post_purchase": 1.1, "price_drop": 1.1, "new_buyers": 1.0, "lapsing_buyers": 0.9,
        "new_followers": 0.8, "active_old_followers": 0.7, "potential_new_customers": 0.6,
        "lapsed_14_30d": 1.0, "lapsed_31_90d": 0.8, "dormant_90d_plus": 0.55})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (dict(v) if isinstance(v := getattr(self, f.name), Mapping) else v)
                for f in fields(self)}


def _unit_hash(*parts: object) -> float:
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2 ** 64


@dataclass
class Population:
    """The users, as arrays. ``holdout`` users get business as usual."""

    segment: np.ndarray  # int8 index into ``segments``
    platform: np.ndarray  # int8
    habitual_hour: np.ndarray  # int8
    consent: np.ndarray  # int8 bits: push, email, sms, in-app
    holdout: np.ndarray  # bool
    propensity: np.ndarray  # float32 personal return multiplier
    affinity: np.ndarray  # float16 (n, 4) channel affinity (logit)
    pref_offer: np.ndarray  # float16 (n, 6)
    pref_tone: np.ndarray  # float16 (n, 5)
    pref_cat: np.ndarray  # float16 (n, 3)
    pre_engagement: np.ndarray  # int16 days with engagement in the 90 days before the trial
    pre_opens: np.ndarray  # int16 direct opens in the 90 days before the trial
    start_inactive: np.ndarray  # int16 days inactive when the trial starts
    segments: list[str]
    #: The per-user part of the organic return and its decay table: they never change during a
    #: run, so :func:`organic_return` computes them once (hundreds of days x millions of users).
    return_cache: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False,
                                                compare=False)

    @property
    def size(self) -> int:
        return len(self.segment)


def generate_population(n: int, segments: Sequence[str], seed: int, holdout_share: float = 0.1,
                        params: WorldParams | None = None) -> Population:
    """A reactivation audience: everyone starts inactive for at least ``inactive_days``."""
    p = params or WorldParams()
    rng = np.random.default_rng([seed, 1])
    segs = list(segments)
    weights = np.array([1.6 if s.startswith(("lapsed", "dormant")) else 1.0 for s in segs])
    seg = rng.choice(len(segs), n, p=weights / weights.sum()).astype(np.int8)
    seg_rng = np.random.default_rng([seed, 2])
    seg_offer = seg_rng.normal(0, 0.6, (len(segs), len(OFFERS)))
    seg_tone = seg_rng.normal(0, 0.5, (len(segs), len(TONES)))
    seg_cat = seg_rng.normal(0, 0.5, (len(segs), len(CATEGORIES)))
    hours = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 2.0, 1.5, 1.2, 1.5, 3.0, 2.5,
                      1.5, 1.2, 1.3, 2.0, 3.5, 4.0, 4.2, 3.8, 2.5, 1.0])
    consent = ((rng.random(n) < 0.85).astype(np.int8)
               | ((rng.random(n) < 0.7).astype(np.int8) << 1)
               | ((rng.random(n) < 0.35).astype(np.int8) << 2)
               | (np.ones(n, np.int8) << 3))
    propensity = rng.lognormal(-0.18, 0.6, n).astype(np.float32)
    seg_mult = np.array([p.segment_return.get(s, 1.0) for s in segs])[seg]
    pre_rate = 0.08 * propensity * seg_mult
    return Population(
        segment=seg,
        platform=rng.choice(len(PLATFORMS), n, p=[0.35, 0.55, 0.10]).astype(np.int8),
        habitual_hour=rng.choice(24, n, p=hours / hours.sum()).astype(np.int8),
        consent=consent,
        holdout=_holdout(seg, propensity, seed, holdout_share),
        propensity=propensity,
        affinity=rng.normal(0, 0.3, (n, len(CHANNEL_IDS))).astype(np.float16),
        pref_offer=(seg_offer[seg] + rng.normal(0, 0.5, (n, len(OFFERS)))).astype(np.float16),
        pref_tone=(seg_tone[seg] + rng.normal(0, 0.4, (n, len(TONES)))).astype(np.float16),
        pref_cat=(seg_cat[seg] + rng.normal(0, 0.5, (n, len(CATEGORIES)))).astype(np.float16),
        pre_engagement=np.minimum(rng.poisson(pre_rate * 90), 90).astype(np.int16),
        pre_opens=np.minimum(rng.poisson(pre_rate * 6), 90).astype(np.int16),
        start_inactive=(p.inactive_days + rng.geometric(1 / 35, n)).clip(max=400).astype(np.int16),
        segments=segs,
    )


def _holdout(segment: np.ndarray, propensity: np.ndarray, seed: int, share: float
             ) -> np.ndarray:
    """Blocked random assignment: users sorted by segment and propensity to engage form
    blocks of ``round(1 / share)``, and one user per block, at random, goes to the holdout.
    The arms are then balanced on what drives the outcomes even in a small demo, and each user's
    arm is fixed for the whole run (it depends only on the seed and the population)."""
    n = len(segment)
    block = max(int(round(1 / share)), 2)
    order = np.lexsort((propensity, segment))
    rng = np.random.default_rng([seed, 4])
    starts = np.arange(0, n, block)
    sizes = np.minimum(block, n - starts)
    pick = starts + (rng.random(len(starts)) * sizes).astype(np.int64)
    keep = rng.random(len(starts)) < sizes * share  # short last block: its fair chance
    out = np.zeros(n, bool)
    out[order[pick[keep]]] = True
    return out


@dataclass
class AtomTable:
    """What the world knows about every atom it has met: its true quality and features."""

    ids: list[int] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    offer: list[int] = field(default_factory=list)
    tone: list[int] = field(default_factory=list)
    category: list[int] = field(default_factory=list)  # -1 for "any"
    intro_day: list[int] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)

    def add(self, atom: Mapping[str, Any], day: int, seed: int, bonus: float = 0.0) -> int:
        if atom["id"] in self.index:
            return self.index[atom["id"]]
        offer_q = {"percent_off": 0.25, "amount_off": 0.3, "free_delivery": 0.2,
                   "cashback": 0.12, "bundle": 0.08, "none": 0.0}
        text_q = 0.35 * (2 * _unit_hash(seed, atom["kind"], atom["text"]) - 1)
        offer = atom.get("offer_type") or "none"
        self.index[atom["id"]] = len(self.ids)
        self.ids.append(atom["id"])
        self.quality.append(offer_q.get(offer, 0.0) + text_q + bonus)
        self.offer.append(OFFERS.index(offer) if offer in OFFERS else OFFERS.index("none"))
        self.tone.append(TONES.index(atom["tone"]) if atom.get("tone") in TONES else 4)
        cat = atom.get("product_category") or "any"
        self.category.append(CATEGORIES.index(cat) if cat in CATEGORIES else -1)
        self.intro_day.append(day)
        return self.index[atom["id"]]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"quality": np.array(self.quality), "offer": np.array(self.offer),
                "tone": np.array(self.tone), "category": np.array(self.category),
                "intro_day": np.array(self.intro_day)}


def organic_return(p: WorldParams, pop: Population, days_inactive: np.ndarray, day: int,
                   weekday: int, fatigue: np.ndarray) -> np.ndarray:
    """Daily chance that each user comes back on their own (float32)."""
    cache = pop.return_cache
    if "static" not in cache:  # the per-user part never changes: compute it once
        seg_mult = np.array([p.segment_return.get(s, 1.0) for s in pop.segments], np.float32)
        cache["static"] = (seg_mult[pop.segment] * pop.propensity).astype(np.float32)
        cache["decay"] = np.maximum(np.exp(-np.arange(721) / p.decay_days),
                                    p.return_floor).astype(np.float32)
    season = 1 + p.seasonal_amplitude * np.sin(2 * np.pi * (day + 40) / 365)
    scale = np.float32(p.base_return * p.weekly[weekday] * season)
    decay = cache["decay"][np.minimum(days_inactive, 720)]
    prob = cache["static"] * decay
    prob *= scale
    prob *= 1 - np.float32(p.fatigue_return) * fatigue
    return np.clip(prob, 0, 0.95, out=prob)


def open_probability(p: WorldParams, pop: Population, users: np.ndarray, atoms: np.ndarray,
                     table: dict[str, np.ndarray], hour: np.ndarray, channel: np.ndarray,
                     fatigue: np.ndarray, repeat: np.ndarray, day: int,
                     wear: np.ndarray) -> np.ndarray:
    """Chance that each messaged user opens their message.

    ``atoms`` is ``len(users) x slots`` of indices into the atom table (-1: slot unused);
    ``wear`` is each atom's wear-out (0 fresh, 1 worn out) for the user's arm.
    """
    used = atoms >= 0
    a = np.where(used, atoms, 0)
    q = table["quality"][a]
    offer, tone, cat = table["offer"][a], table["tone"][a], table["category"][a]
    pref = np.take_along_axis(pop.pref_offer[users].astype(np.float32), offer, axis=1) \
        * (offer != OFFERS.index("none"))
    pref += 0.5 * np.take_along_axis(pop.pref_tone[users].astype(np.float32), tone, axis=1)
    pref += 0.5 * np.take_along_axis(pop.pref_cat[users].astype(np.float32),
                                     np.maximum(cat, 0), axis=1) * (cat >= 0)
    novelty = p.novelty_bonus * np.exp(-np.maximum(day - table["intro_day"][a], 0)
                                       / p.novelty_days)
    per_atom = (q + pref + novelty - p.wearout * wear[a]) * used
    content = per_atom.sum(axis=1) / np.maximum(used.sum(axis=1), 1)
    dist = np.abs(hour.astype(np.int16) - pop.habitual_hour[users])
    dist = np.minimum(np.minimum(dist, 24 - dist), 6)
    logit = (np.asarray(p.open_logit)[channel] + p.content_weight * content
             + pop.affinity[users, channel].astype(np.float32) - p.timing_weight * dist
             - p.fatigue_open * fatigue[users] - p.repeat_penalty * repeat)
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def wear(exposure_per_user: np.ndarray, scale: float) -> np.ndarray:
    """How worn out an atom is (0 fresh, 1 worn) after ``exposure_per_user`` sends per user of
    its arm: habituation sets in slowly, then fast (a Hill curve, half worn at ``scale``)."""
    e3 = np.power(exposure_per_user / scale, 3)
    return e3 / (1 + e3)


def content_signature(atoms: np.ndarray) -> np.ndarray:
    """One number per message that changes when any atom changes (for the repeat penalty)."""
    sig = np.zeros(len(atoms), np.int64)
    for j in range(atoms.shape[1]):
        sig = sig * 1_000_003 + atoms[:, j] + 1
    return sig
