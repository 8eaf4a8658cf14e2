"""Assembly of messages from templates with slots and atoms of the component library.

A template is a set of text fields (title, preheader, body, image) in which ``{kind}`` marks a
slot that takes one atom of that kind. The same slot used twice in a template takes the same
atom both times, so the number of distinct messages is the product, over the distinct slots, of
the number of atoms available for each. That number is computed, never enumerated: a library of
tens of atoms already yields thousands of messages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from workbench import Problem

#: Fields of a template, in the order a channel shows them.
TEMPLATE_TEXT_FIELDS = ("title", "preheader", "body", "image")
#: Fields whose length the channel limits (the image is an asset, not text).
LIMITED_FIELDS = {"title": "title_max", "preheader": "preheader_max", "body": "body_max"}
#: Channels that show no image. The channel table limits text fields only (a limit of 0 means
#: the channel has no such field); an image is shown by every channel but plain-text SMS.
NO_IMAGE_CHANNELS = frozenset({"sms"})


def channel_fields(channel: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The template fields ``channel`` shows, in order; every field when no channel is given.

    A slot only in fields the channel drops (an SMS has no title or image) does not make two
    messages differ, so counts and samples for a channel vary only the slots it shows."""
    if channel is None:
        return TEMPLATE_TEXT_FIELDS
    return tuple(f for f in TEMPLATE_TEXT_FIELDS
                 if (int(channel.get(LIMITED_FIELDS[f]) or 0) > 0 if f in LIMITED_FIELDS
                     else channel.get("id") not in NO_IMAGE_CHANNELS))


class SlotSyntaxError(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


def parse_slots(pattern: str) -> list[str]:
    """Slot names in ``pattern`` in order of appearance (repeats kept).

    Raises :class:`SlotSyntaxError` naming the 1-based character position of an unbalanced brace
    or an empty/ill-formed slot name.
    """
    slots: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "}":
            raise SlotSyntaxError(f"unbalanced '}}' at character {i + 1}", i + 1)
        if ch == "{":
            end = pattern.find("}", i + 1)
            nxt = pattern.find("{", i + 1)
            if end == -1 or (nxt != -1 and nxt < end):
                raise SlotSyntaxError(f"unbalanced '{{' at character {i + 1}", i + 1)
            name = pattern[i + 1:end].strip()
            if not name or not all(c.isalnum() or c == "_" for c in name):
                raise SlotSyntaxError(
                    f"slot '{{{pattern[i + 1:end]}}}' at character {i + 1} is not a slot name "
                    "(letters, digits and _ only)", i + 1)
            slots.append(name)
            i = end + 1
            continue
        i += 1
    return slots


@dataclass(frozen=True)
class Template:
    """The text fields of a message template; empty fields are absent from the channel."""

    body: str
    title: str = ""
    preheader: str = ""
    image: str = ""
    name: str = ""
    id: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Template:
        return cls(**{f: row.get(f) or "" for f in TEMPLATE_TEXT_FIELDS},
                   name=row.get("name") or "", id=row.get("id"))

    def fields(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in TEMPLATE_TEXT_FIELDS}

    @cached_property
    def slots(self) -> list[str]:
        """Distinct slot names across all fields, in first-appearance order."""
        return self.slots_in(TEMPLATE_TEXT_FIELDS)

    def field_of(self, slot: str) -> str:
        """The first field where ``slot`` appears (where a person would fix it)."""
        return next((f for f, text in self.fields().items() if slot in parse_slots(text)),
                    "body")

    def slots_in(self, fields: Sequence[str]) -> list[str]:
        """Distinct slot names across ``fields`` only, in first-appearance order."""
        seen: dict[str, None] = {}
        for f in fields:
            for s in parse_slots(getattr(self, f)):
                seen.setdefault(s, None)
        return list(seen)


@dataclass(frozen=True)
class Message:
    """One assembled message, with the atoms (by id) that filled each slot."""

    title: str
    preheader: str
    body: str
    image: str
    atoms: dict[str, int] = field(default_factory=dict)

    def field(self, name: str) -> str:
        return getattr(self, name)


def fill(pattern: str, texts: Mapping[str, str]) -> str:
    """Replace each ``{slot}`` of a well-formed pattern by ``texts[slot]``."""
    out, i = [], 0
    for name in parse_slots(pattern):
        start = pattern.index("{", i)
        end = pattern.index("}", start)
        out.append(pattern[i:start])
        out.append(texts[name])
        i = end + 1
    out.append(pattern[i:])
    return "".join(out).strip()


Pool = Mapping[str, Sequence[Mapping[str, Any]]]
"""Atoms available per kind: ``{kind: [component rows]}`` (each row has ``id`` and ``text``)."""


def pool_from_components(components: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping]]:
    """Group active component rows by kind."""
    pool: dict[str, list[Mapping[str, Any]]] = {}
    for c in components:
        if c.get("status", "active") == "active":
            pool.setdefault(c["kind"], []).append(c)
    return pool


def render(template: Template, choice: Mapping[str, Mapping[str, Any]]) -> Message:
    """Assemble one message from one atom per slot (``choice[kind]`` is a component row)."""
    texts = {k: str(v["text"]).strip() for k, v in choice.items()}
    parts = {f: fill(v, texts) for f, v in template.fields().items()}
    return Message(**parts, atoms={k: v["id"] for k, v in choice.items()})


def count_permutations(template: Template, pool: Pool,
                       channel: Mapping[str, Any] | None = None) -> int:
    """Number of distinct messages ``channel`` can show (every field when ``None``); 0 when a
    slot it shows has no atom. Slots only in fields the channel lacks are not counted."""
    return math.prod(len(pool.get(s, ())) for s in template.slots_in(channel_fields(channel)))


def missing_slots(template: Template, pool: Pool) -> list[str]:
    return [s for s in template.slots if not pool.get(s)]


def sample_messages(template: Template, pool: Pool, n: int, seed: int = 0,
                    channel: Mapping[str, Any] | None = None) -> list[Message]:
    """Up to ``n`` messages, distinct as ``channel`` shows them, drawn uniformly at random
    under ``seed``. Slots only in fields the channel lacks take their first atom."""
    slots = template.slots_in(channel_fields(channel))
    if any(not pool.get(s) for s in slots):
        return []
    total = count_permutations(template, pool, channel)
    rng = random.Random(seed)
    # Distinct permutation indices, decoded in mixed radix: no enumeration of the space.
    indices = rng.sample(range(total), min(n, total))
    hidden = {s: pool[s][0] if pool.get(s) else {"id": None, "text": ""}
              for s in template.slots if s not in slots}
    messages = []
    for index in indices:
        choice = dict(hidden)
        for s in slots:
            atoms = pool[s]
            index, r = divmod(index, len(atoms))
            choice[s] = atoms[r]
        messages.append(render(template, choice))
    return messages


@dataclass(frozen=True)
class LongestField:
    field: str
    length: int
    atoms: dict[str, int]


def longest(template: Template, pool: Pool) -> dict[str, LongestField]:
    """The longest assembled text of each limited field, and the atoms that produce it.

    Picking the longest atom of each slot gives the longest message (lengths add up), so the
    channel limit is checked against every permutation without enumerating them.
    """
    out = {}
    if missing_slots(template, pool):
        return out
    choice = {s: max(pool[s], key=lambda a: len(str(a["text"]).strip())) for s in template.slots}
    msg = render(template, choice)
    for f in LIMITED_FIELDS:
        used = parse_slots(getattr(template, f))
        out[f] = LongestField(f, len(msg.field(f)), {s: choice[s]["id"] for s in used})
    return out


def check_channel_limits(template: Template, pool: Pool, channel: Mapping[str, Any]
                         ) -> list[Problem]:
    """Problems for fields the channel lacks or that can exceed its limit once assembled."""
    problems = []
    for f, limit_col in LIMITED_FIELDS.items():
        limit = int(channel.get(limit_col) or 0)
        if getattr(template, f).strip() and limit == 0:
            problems.append(Problem(f"{channel['name']} messages have no {f}; leave it empty",
                                    field=f))
    for f, lf in longest(template, pool).items():
        limit = int(channel.get(LIMITED_FIELDS[f]) or 0)
        if limit and lf.length > limit:
            if lf.atoms:
                atoms = ", ".join(f"{k} #{v}" for k, v in lf.atoms.items())
                what = f"assembled {f} can reach {lf.length} characters"
                how = f" (longest with {atoms})"
            else:
                what, how = f"{f} is {lf.length} characters", ""
            problems.append(Problem(
                f"{what}, over the {channel['name']} limit of {limit}{how}", field=f))
    return problems
