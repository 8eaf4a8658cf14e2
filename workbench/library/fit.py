"""Whether the library's active templates still make sendable messages after an atom change.

Why: a template is refused when one of its messages could exceed its channel's limits
(:func:`workbench.library.validation.check_template`), but an atom written later changes those
messages too. A 389-character call to action imported into a library whose push template uses
``{cta}`` made the agent send 506-character push bodies (limit 150), and archiving a slot's
last atom left every template that uses the slot unable to make a message, so the agent could
not decide at all. So every atom write (add, edit, archive, restore, import) is checked here
against the active templates, with the change applied, and refused naming the row and field
of the atom that breaks one: the text (with how many characters would fit) or the status.

Only what the change does is judged: an atom is checked when its text, kind or segment
changes or it becomes active (its longest message on each template that uses its slot, the
other slots at their longest atoms); a slot is checked when one of its atoms leaves it (every
template that uses the slot must still find an atom for every segment it served before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench import Problem
from workbench.library.assembly import (
    LIMITED_FIELDS,
    Message,
    Template,
    parse_slots,
    render,
)

#: A changed atom: (row the person edited or the file line, reference text, id or None, the
#: atom as it will be stored).
Change = tuple[int | None, str | None, int | None, Mapping[str, Any]]


def _active(c: Mapping[str, Any]) -> bool:
    return c.get("status", "active") == "active"


def _segments(atoms: Sequence[Mapping[str, Any]]) -> list[str]:
    """The segments that have active atoms of their own."""
    return sorted({a["segment"] for a in atoms if a.get("segment") and _active(a)})


def _scopes(template: Mapping[str, Any], segments: Sequence[str]) -> list[str | None]:
    """The segments a template's messages are made for: its own, or for an all-segment
    template each segment that has atoms of its own (``segments``), and the shared atoms
    alone."""
    if template.get("segment"):
        return [template["segment"]]
    return [None, *segments]


class _Longest:
    """The longest active atom of each slot for each segment's messages, and each template's
    longest message, from the library as it will be. Computed once per batch: an import of
    5,000 rows checks each row against them (rendering a message per row, template and
    segment made such an import take 6 s instead of under 1)."""

    def __init__(self, after: Sequence[Mapping[str, Any]]):
        self.after = after
        self.segments = _segments(after)
        self._by_kind: dict[str, dict[str | None, Mapping[str, Any]]] = {}
        self._messages: dict[tuple[Any, str | None], Message | None] = {}
        self._templates: dict[Any, tuple[Template, dict[str, list[str]]]] = {}

    def _kind(self, kind: str) -> dict[str | None, Mapping[str, Any]]:
        if kind not in self._by_kind:
            best: dict[str | None, Mapping[str, Any]] = {}
            for a in self.after:
                if _active(a) and a["kind"] == kind:
                    seg = a.get("segment")
                    if seg not in best or _length(a) > _length(best[seg]):
                        best[seg] = a
            self._by_kind[kind] = best
        return self._by_kind[kind]

    def atom(self, kind: str, scope: str | None) -> Mapping[str, Any] | None:
        """The longest atom that fills slot ``kind`` in a message for segment ``scope``: a
        shared atom or the segment's own (None: an all-segment message, shared atoms only)."""
        best = self._kind(kind)
        found = [a for a in (best.get(None), best.get(scope) if scope else None) if a]
        return max(found, key=_length) if found else None

    def template(self, t: Mapping[str, Any]) -> tuple[Template, dict[str, list[str]]]:
        """The template and the slots of each of its limited fields (parsed once)."""
        if t["id"] not in self._templates:
            tpl = Template.from_row(t)
            self._templates[t["id"]] = tpl, {f: parse_slots(tpl.fields()[f])
                                             for f in LIMITED_FIELDS}
        return self._templates[t["id"]]

    def message(self, t: Mapping[str, Any], scope: str | None) -> Message | None:
        """The longest message of template ``t`` for segment ``scope``, every slot at its
        longest atom; None when a slot has no atom there. An atom in slot ``k`` changes a
        field's length by its own length minus the longest's, once per ``{k}`` in the field
        (lengths add up; the texts are trimmed, so the template's edges do not move)."""
        key = (t["id"], scope)
        if key not in self._messages:
            tpl, _ = self.template(t)
            choice = {kind: self.atom(kind, scope) for kind in tpl.slots}
            self._messages[key] = (None if any(a is None for a in choice.values())
                                   else render(tpl, choice))
        return self._messages[key]


def _length(atom: Mapping[str, Any]) -> int:
    return len(str(atom["text"]).strip())


def _name(atom: Mapping[str, Any] | None, atom_id: Any) -> str:
    """An atom as a person finds it: its id once stored, else (an atom of the same import or
    rewrite, not stored yet) its text."""
    if atom_id is not None or atom is None:
        return f"#{atom_id}"
    text = str(atom["text"]).strip()
    return f"'{text[:60]}…'" if len(text) > 61 else f"'{text}'"


def _too_long(atom: Mapping[str, Any], row: int | None, ref: str | None,
              templates: Sequence[Mapping[str, Any]], channels: Mapping[str, Mapping[str, Any]],
              longest: _Longest) -> list[Problem]:
    """The tightest limit ``atom`` breaks (one problem: the room it names is the most the
    atom may have on every template and segment)."""
    worst = None
    kind, own = atom["kind"], _length(atom)
    for t in templates:
        channel = channels.get(t["channel"])
        tpl, slots_of = longest.template(t)
        if channel is None or kind not in tpl.slots:
            continue
        for scope in _scopes(t, longest.segments):
            if atom.get("segment") not in (None, scope):
                continue
            msg = longest.message(t, scope)
            if msg is None:
                continue
            grow = own - _length(longest.atom(kind, scope))  # the slot's longest may be it
            for f, col in LIMITED_FIELDS.items():
                limit, n = int(channel.get(col) or 0), slots_of[f].count(kind)
                if not limit or not n:
                    continue
                length = len(msg.field(f)) + n * grow
                room = own - math.ceil((length - limit) / n)
                if length > limit and (worst is None or room < worst[0]):
                    worst = (room, t, channel, scope, f, length, limit, msg)
    if worst is None:
        return []
    room, t, channel, scope, f, length, limit, msg = worst
    beside = ", ".join(f"{k} {_name(longest.atom(k, scope), msg.atoms[k])}"
                       for k in dict.fromkeys(longest.template(t)[1][f]) if k != kind)
    beside = f" beside the longest {beside}" if beside else ""
    fits = (f"at most {room} characters fit here{beside}" if room > 0 else
            f"the template's own text{beside} fills it already")
    where = f" for segment {scope}" if scope and not t.get("segment") else ""
    return [Problem(f"with this text, template '{t['name']}' ({channel['name']}) can make a "
                    f"{f} of {length} characters{where}, over the limit of {limit}; {fits}",
                    row=row, field="text", ref=ref)]


def _slot_emptied(old: Mapping[str, Any], row: int | None, ref: str | None,
                  templates: Sequence[Mapping[str, Any]], before: _Longest, after: _Longest,
                  others: int) -> list[Problem]:
    """``others``: how many more atoms of the slot this change's batch takes out."""
    kind = old["kind"]
    what = (f"is the last active '{kind}' atom" if not others else
            f"with the {others} other '{kind}' atom(s) taken out here, leaves no active one")
    for t in templates:
        tpl = Template.from_row(t)
        if kind not in tpl.slots:
            continue
        for scope in _scopes(t, before.segments):
            if before.atom(kind, scope) is not None and after.atom(kind, scope) is None:
                where = f" for segment {scope}" if scope and not t.get("segment") else ""
                return [Problem(
                    f"{what} that template '{t['name']}' can use (its {tpl.field_of(kind)})"
                    f"{where}; keep one or add another '{kind}' atom first, or change the "
                    "template", row=row, field="status", ref=ref)]
    return []


def _leaves(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether a change takes an active atom out of its slot (archived, or moved to another
    kind or segment)."""
    return old is not None and _active(old) and (
        not _active(new) or (old["kind"], old.get("segment")) != (new["kind"], new.get("segment")))


def template_problems(changes: Sequence[Change], existing: Mapping[int, Mapping[str, Any]],
                      templates: Sequence[Mapping[str, Any]],
                      channels: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """What ``changes`` would break in the active ``templates``: an atom text that makes a
    message over its channel's limit, or the last atom of a slot a template needs leaving."""
    if not changes:
        return []
    before = list(existing.values())
    changed_ids = {cid for _, _, cid, _ in changes if cid is not None}
    after = [c for c in before if c["id"] not in changed_ids] + [
        {**new, "id": cid} for _, _, cid, new in changes]
    problems = []
    leaving: dict[str, int] = {}  # atoms taken out of each slot by the batch
    for row, ref, cid, new in changes:
        old = existing.get(cid) if cid is not None else None
        if _leaves(old, new):
            leaving[old["kind"]] = leaving.get(old["kind"], 0) + 1
    judged: set[str] = set()  # each slot once, on the first row that takes an atom out
    longest, had = _Longest(after), _Longest(before)
    for row, ref, cid, new in changes:
        old = existing.get(cid) if cid is not None else None
        if _leaves(old, new) and old["kind"] not in judged:
            judged.add(old["kind"])
            if found := _slot_emptied(old, row, ref, templates, had, longest,
                                      leaving[old["kind"]] - 1):
                problems += found
                continue
        shown = ("text", "kind", "segment", "status")
        if _active(new) and (old is None or any(old.get(k) != new.get(k) for k in shown)):
            problems += _too_long(new, row, ref, templates, channels, longest)
    return problems
