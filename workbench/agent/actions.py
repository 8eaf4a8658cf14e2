"""The composite action space: content (one atom per slot), timing, channel and send/skip.

The space is never enumerated. It is a list of :class:`Dimension`, each a short list of options
with features, decided separately (a factored policy): 6 slots of 8 atoms, 168 send slots and 4
channels are 8^6 x 168 x 4 x 2 = 352 million composite actions, but only 6 x 8 + 168 + 4 + 2
options to learn about.

Each dimension conditions on the part of the user state that matters to it, so users who share
those buckets share a context (and the agent's probabilities for them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from store import Store
from workbench.library.assembly import Template
from workbench import Problem, ValidationError, WorkbenchError
from workbench.agent.contexts import DEFAULT_CONTEXTS
from workbench.agent.users import CHANNEL_IDS, DAYPART_OF_HOUR, DAYPARTS

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: What user state each kind of dimension conditions on by default (configurable:
#: :class:`workbench.agent.policy.AgentConfig` ``contexts``).
CONTEXT_OF = DEFAULT_CONTEXTS


class ActionSpaceError(WorkbenchError):
    """The library cannot make an action space (e.g. a slot has no active atom)."""


@dataclass(frozen=True)
class Option:
    value: Any  # atom id, weekday*24+hour, channel id, or True/False for send
    label: str
    features: tuple[str, ...]  # identity first, then shared tags
    segment: str | None = None  # atoms scoped to one segment are only offered there


@dataclass(frozen=True)
class Dimension:
    name: str  # "slot:greeting", "timing", "channel", "send"
    kind: str  # key of CONTEXT_OF
    options: tuple[Option, ...]

    @property
    def context(self) -> tuple[str, ...]:
        """The default context of this kind (an agent's own is in its configuration)."""
        return CONTEXT_OF[self.kind]

    def index_of(self, value: Any) -> int:
        for i, o in enumerate(self.options):
            if o.value == value:
                return i
        raise KeyError(f"{value!r} is not an option of {self.name}")


def _length_bucket(text: str) -> str:
    n = len(text)
    return "short" if n <= 25 else ("medium" if n <= 60 else "long")


def atom_option(atom: Mapping[str, Any]) -> Option:
    feats = [f"atom:{atom['id']}"]
    for col, prefix in (("offer_type", "offer"), ("tone", "tone"),
                        ("product_category", "category")):
        if atom.get(col):
            feats.append(f"{prefix}:{atom[col]}")
    feats.append(f"length:{_length_bucket(atom['text'])}")
    feats += [f"tag:{t}" for t in (atom.get("tags") or "").split(";") if t]
    return Option(atom["id"], atom["text"], tuple(feats), atom.get("segment"))


def _listed(values: Any, what: str) -> list:
    """``values`` as a list, refusing one value or a mapping where a list of them was meant."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ActionSpaceError(f"must be a list of {what}, not {type(values).__name__}")
    return list(values)


def _tags_ok(tags: Any) -> bool:
    """Whether an atom's tags are none, a text (``a;b``) or a list of texts."""
    return tags is None or isinstance(tags, str) or (
        isinstance(tags, (list, tuple)) and all(isinstance(t, str) for t in tags))


def timing_options() -> tuple[Option, ...]:
    """The 168 send slots of a week. Besides its hour, weekday and daypart, each slot carries
    the three overlapping ``near:`` windows around its hour (h-1, h, h+1): response to a send
    time changes smoothly over the day, so neighbouring hours share what they learn."""
    out = []
    for d, day in enumerate(WEEKDAYS):
        for h in range(24):
            near = tuple(f"near:{(h + k) % 24}" for k in (-1, 0, 1))
            out.append(Option(d * 24 + h, f"{day} {h:02d}:00",
                              (f"hour:{h}", f"weekday:{day}", f"daypart:{DAYPARTS[DAYPART_OF_HOUR[h]]}",
                               "weekend" if d >= 5 else "weekday") + near))
    return tuple(out)


@dataclass(frozen=True)
class ActionSpace:
    dimensions: tuple[Dimension, ...]
    templates: Mapping[str, Mapping[str, Any]]  # channel id -> slot template row
    atoms: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def slot_names(self) -> list[str]:
        return [d.name.split(":", 1)[1] for d in self.dimensions if d.kind == "slot"]

    @property
    def size(self) -> int:
        """Number of composite actions (never enumerated)."""
        n = 1
        for d in self.dimensions:
            n *= len(d.options)
        return n

    def with_atoms(self, atoms: Iterable[Mapping[str, Any]],
                   segments: Sequence[str] | None = None) -> ActionSpace:
        """The same space with these atoms (library rows) offered in their slots; an atom
        already offered is replaced by the new row (e.g. new tags). With ``segments`` (an
        agent's), an atom scoped to another segment is refused: it would never be offered."""
        rows, problems = {}, []
        for n, a in enumerate(_listed(atoms, "atom rows (mappings of id, kind, text...)"), 1):
            if not isinstance(a, Mapping):
                problems.append(f"row {n}: a mapping of id, kind, text..., not "
                                f"{type(a).__name__}")
                continue
            missing = [f for f in ("id", "kind", "text") if f not in a]
            try:
                rows[int(a["id"])] = dict(a)
            except (KeyError, TypeError, ValueError):
                missing = missing or ["id"]
            if missing:
                problems.append(f"row {n}: {', '.join(missing)} missing or not valid")
            elif not _tags_ok(tags := a.get("tags")):
                problems.append(f"row {n}: tags must be a text ('a;b') or a list of texts, "
                                f"not {tags!r}")
            elif segments is not None and a.get("segment") and a["segment"] not in segments:
                problems.append(f"row {n}: segment {a['segment']!r} is not one of this "
                                f"agent's ({', '.join(segments)})")
            elif isinstance(tags, (list, tuple)):  # kept as the library keeps them
                rows[int(a["id"])]["tags"] = ";".join(tags)
        problems += [f"atom {i}: no slot '{{{a['kind']}}}' in this space"
                     for i, a in rows.items() if "kind" in a and f"slot:{a['kind']}" not in
                     {d.name for d in self.dimensions}]
        # an id is one atom: offered in another slot it would show the new text there
        problems += [f"atom {i} is already the {self.atoms[i]['kind']} atom '{self.atoms[i]['text']}'"
                     f"; a new {a['kind']} atom needs a new id"
                     for i, a in rows.items() if i in self.atoms and "kind" in a
                     and self.atoms[i].get("kind") != a["kind"]]
        if problems:
            raise ActionSpaceError("; ".join(problems))
        dims = []
        for d in self.dimensions:
            new = [atom_option(a) for a in rows.values() if d.kind == "slot"
                   and f"slot:{a['kind']}" == d.name]
            if new:
                ids = {o.value for o in new}
                d = Dimension(d.name, d.kind, tuple(o for o in d.options if o.value not in ids)
                              + tuple(new))
            dims.append(d)
        return replace(self, dimensions=tuple(dims), atoms={**self.atoms, **rows})

    def without_atoms(self, atom_ids: Iterable[int]) -> ActionSpace:
        """The same space without these atoms (a slot must keep at least one)."""
        try:
            gone = {int(i) for i in _listed(atom_ids, "atom ids")}
        except (TypeError, ValueError):
            raise ActionSpaceError(f"atom ids must be whole numbers, not {atom_ids!r}") from None
        offered = {o.value for d in self.dimensions if d.kind == "slot" for o in d.options}
        if gone - offered:  # a typo would have retired nothing, without a word
            raise ActionSpaceError(f"atom {', '.join(map(str, sorted(gone - offered)))} is not "
                                   "offered in this space")
        dims = []
        for d in self.dimensions:
            if d.kind == "slot":
                d = Dimension(d.name, d.kind, tuple(o for o in d.options if o.value not in gone))
                if not d.options:
                    raise ActionSpaceError(f"slot '{{{d.name[5:]}}}' would have no atom left")
            dims.append(d)
        return replace(self, dimensions=tuple(dims),
                       atoms={k: v for k, v in self.atoms.items() if k not in gone})

    def template_for(self, channel: str) -> Template:
        return Template.from_row(self.templates[channel])

    @classmethod
    def from_library(cls, store: Store, template_ids: Sequence[int] | None = None,
                     atom_ids: Sequence[int] | None = None) -> ActionSpace:
        """Build the space from the active library: one slot template per channel (the given
        ones, or the first active all-segment slot template of each channel). ``atom_ids``
        pins the atoms instead (as they were when a past batch was decided)."""
        rows = [store.template(i) for i in template_ids] if template_ids else [
            t for t in store.templates() if Template.from_row(t).slots and not t["segment"]]
        templates: dict[str, Mapping[str, Any]] = {}
        for t in rows:
            templates.setdefault(t["channel"], t)
        if not templates:
            raise ActionSpaceError("no active template with slots: add one on the Components "
                                   "page")
        if atom_ids is None:
            atoms = {a["id"]: a for a in store.components(status="active")}
        else:
            wanted = set(atom_ids)
            atoms = {a["id"]: a for a in store.components() if a["id"] in wanted}
        slots: dict[str, None] = {}
        for t in templates.values():
            for s in Template.from_row(t).slots:
                slots.setdefault(s, None)
        dims = []
        for s in slots:
            opts = tuple(atom_option(a) for a in atoms.values() if a["kind"] == s)
            if not opts:
                raise ActionSpaceError(f"slot '{{{s}}}' has no active atom")
            dims.append(Dimension(f"slot:{s}", "slot", opts))
        dims += _fixed_dimensions([c for c in CHANNEL_IDS if c in templates])
        return cls(tuple(dims), templates, atoms)

    @classmethod
    def plain(cls, slots: Mapping[str, int], channels: Sequence[str] = ("push", "email", "in_app"),
              *, skip: bool = True) -> ActionSpace:
        """A space without a library, for your own environment or simulator: ``slots`` maps
        each content slot's name to its number of untagged atoms, then the 168 send slots,
        ``channels`` (some of ``push, email, sms, in_app``) and send-or-skip (``skip=False``:
        "send" is the only option, every agent user gets a message).

        Atom ``i`` (from 0) of the ``j``-th slot has id ``1000 * (j + 1) + i``, so a space
        built again with more atoms keeps the ids (and ``Agent(..., models=agent.models)`` what
        was learnt about them). A decision's ``choice_slot:<name>`` is the atom's index ``i``,
        ``choice_timing`` is ``weekday * 24 + hour`` and ``choice_channel`` indexes
        ``channels``. Invalid arguments raise :class:`workbench.ValidationError` naming each.
        """
        p = []
        if not isinstance(slots, Mapping) or not slots:
            p.append(Problem("must map at least one slot name to its number of atoms",
                             field="slots"))
            slots = {}
        for name, k in slots.items():
            if not isinstance(name, str) or not name or not all(
                    c.isalnum() or c == "_" for c in name):
                p.append(Problem("a slot name has letters, digits and _ only", field="slots"))
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 999:
                p.append(Problem("must be a whole number of atoms from 1 to 999",
                                 field=f"slots.{name}"))
        chans = list(channels) if not isinstance(channels, str) else [channels]
        if not chans or len(set(chans)) != len(chans) or not set(chans) <= set(CHANNEL_IDS):
            p.append(Problem(f"must be distinct channels among {', '.join(CHANNEL_IDS)}",
                             field="channels"))
        if p:
            raise ValidationError(p, "Invalid action space")
        atoms: dict[int, dict[str, Any]] = {}
        dims = []
        for j, (name, k) in enumerate(slots.items()):
            opts = []
            for i in range(k):
                a = {"id": 1000 * (j + 1) + i, "kind": name, "text": f"{name} {i}",
                     "offer_type": None, "tone": None, "product_category": None, "tags": "",
                     "segment": None, "status": "active"}
                atoms[a["id"]] = a
                opts.append(atom_option(a))
            dims.append(Dimension(f"slot:{name}", "slot", tuple(opts)))
        dims += _fixed_dimensions(chans, skip)
        return cls(tuple(dims), _slot_templates(list(slots), chans), atoms)

    @classmethod
    def synthetic(cls, slots: int = 6, atoms_per_slot: int = 8, seed: int = 0) -> ActionSpace:
        """A space of the benchmark's size, with tagged atoms, for benchmarks and tests."""
        import random

        rng = random.Random(seed)
        dims, atoms, next_id = [], {}, 1
        names = [f"s{i}" for i in range(slots)]
        for s in names:
            opts = []
            for _ in range(atoms_per_slot):
                a = {"id": next_id, "kind": s, "text": f"{s} atom {next_id}",
                     "offer_type": rng.choice(["amount_off", "percent_off", "none"]),
                     "tone": rng.choice(["playful", "caring", "urgent"]),
                     "product_category": rng.choice(["restaurants", "groceries", "retail"]),
                     "tags": "", "segment": None}
                atoms[next_id] = a
                opts.append(atom_option(a))
                next_id += 1
            dims.append(Dimension(f"slot:{s}", "slot", tuple(opts)))
        dims += _fixed_dimensions(CHANNEL_IDS)
        return cls(tuple(dims), _slot_templates(names, CHANNEL_IDS, "synthetic "), atoms)


def _fixed_dimensions(channels: Sequence[str], skip: bool = True) -> list[Dimension]:
    """The dimensions every space ends with: the send time, the channel and send-or-skip
    (``skip=False``: "send" is the only option)."""
    send = (Option(True, "send", ("send:yes",)),)
    if skip:
        send += (Option(False, "skip", ("send:no",)),)
    return [Dimension("timing", "timing", timing_options()),
            Dimension("channel", "channel",
                      tuple(Option(c, c, (f"channel:{c}",)) for c in channels)),
            Dimension("send", "send", send)]


def _slot_templates(slots: Sequence[str], channels: Sequence[str], prefix: str = ""
                    ) -> dict[str, dict[str, Any]]:
    """One template row per channel whose body is every slot in turn (spaces without a
    library)."""
    body = " ".join(f"{{{s}}}" for s in slots)
    return {c: {"id": i + 1, "name": f"{prefix}{c}", "channel": c, "title": "", "preheader": "",
                "body": body, "image": "", "segment": None} for i, c in enumerate(channels)}
