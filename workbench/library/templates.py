"""Message templates: add, edit, archive and restore them, validated and with history.

The same discipline as atoms (:mod:`workbench.library.service`): the whole template is checked
first, under the write lock, and nothing is written when one field is wrong (the problem names
the field); every change keeps the replaced fields as a revision; deleting means archiving, and
an archived template can be restored. An edit carries the version the person opened: a save
over someone else's newer change is refused (:class:`~workbench.StaleEditError`) with who, when
and both texts. In passive management the library is frozen
(:class:`~workbench.LibraryFrozenError`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store import TEMPLATE_FIELDS, NotFoundError, Store
from workbench import Conflict, Problem, StaleEditError, ValidationError
from workbench.library.assembly import (
    LIMITED_FIELDS, Pool, Template, channel_fields, check_channel_limits, count_permutations,
    longest, missing_slots, pool_from_components,
)
from workbench.library.service import ensure_editable
from workbench.library.validation import STATUSES, check_template

#: Longest name and longest text field a template may have (the longest channel limit, an
#: e-mail body, is 1,200 characters; a pasted document is refused, not stored).
MAX_NAME_LENGTH = 120
MAX_FIELD_LENGTH = 2000
#: Fields whose change a stale-save refusal shows, in the order a message shows them.
SHOWN_FIELDS = ("name", "channel", "segment", "title", "preheader", "body", "image")


@dataclass(frozen=True)
class Revision:
    """One change of a template: what it was before and after, by whom and when."""

    version: int
    action: str
    actor: str
    at: str
    changes: dict[str, tuple[str, str]]  # field -> (old, new); every field for a creation

    def summary(self) -> str:
        return "; ".join(f"{f}: {old!r} -> {new!r}" for f, (old, new) in self.changes.items())


def normalize_template(row: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form: every editable field a trimmed text, an empty segment as ``None``."""
    out = {}
    for f in TEMPLATE_FIELDS:
        value = row.get(f)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        out[f] = "" if missing else str(value).strip()
    out["channel"] = out["channel"].lower()
    out["segment"] = out["segment"] or None
    return out


def _problems(store: Store, row: Mapping[str, Any], ref: str | None) -> list[Problem]:
    """Everything wrong with ``row``: lengths first, then the library's template check."""
    p = []
    if len(row["name"]) > MAX_NAME_LENGTH:
        p.append(Problem(f"is {len(row['name'])} characters; a name is at most "
                         f"{MAX_NAME_LENGTH}", field="name", ref=ref))
    for f in TEMPLATE_FIELDS:
        if f != "name" and len(row[f] or "") > MAX_FIELD_LENGTH:
            p.append(Problem(f"is {len(row[f])} characters; a template field is at most "
                             f"{MAX_FIELD_LENGTH}", field=f, ref=ref))
    if p:
        return p
    found = check_template(
        row, kinds=[k["id"] for k in store.kinds()],
        channels={c["id"]: c for c in store.channels()},
        segments=[s["id"] for s in store.segments(include_archived=True)],
        components=store.components(status="active"))
    return [Problem(x.message, field=x.field, ref=ref) for x in found]


def add_template(store: Store, row: Mapping[str, Any], actor: str, *,
                 source: str | None = None, parent_id: int | None = None,
                 meta: Mapping[str, Any] | None = None) -> int:
    """Validate and add one template; returns its id. ``source``, ``parent_id`` and ``meta``
    record where it came from (an accepted rewrite: ``source="rewrite"``, the original)."""
    new = normalize_template(row)
    with store.transaction():
        ensure_editable(store)
        if problems := _problems(store, new, None):
            raise ValidationError(problems, "The template was not added")
        extra = {k: v for k, v in (("source", source), ("parent_id", parent_id),
                                    ("meta", meta)) if v is not None}
        tid = store.insert_template(new, actor, **extra)
        store.audit(actor, "create", "template", tid, {"name": new["name"]})
    return tid


def _current(store: Store, template_id: int) -> dict[str, Any]:
    try:
        return store.template(template_id)
    except NotFoundError:
        raise ValidationError([Problem("no longer exists", ref=f"template #{template_id}")],
                              "Nothing was saved") from None


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if (old.get(k) or None) != (v or None)}


def _texts(row: Mapping[str, Any], fields: list[str]) -> str:
    return " · ".join(f"{f}: {row.get(f) or ''}" for f in fields)


def _stale(current: Mapping[str, Any], based_on: int, new: Mapping[str, Any]) -> Conflict:
    fields = [f for f in SHOWN_FIELDS if (current.get(f) or "") != (new.get(f) or "")]
    fields = fields or ["status"]
    return Conflict(component_id=current["id"], based_on=based_on, version=current["version"],
                    changed_by=current["updated_by"], changed_at=current["updated_at"],
                    your_text=_texts(new, fields), their_text=_texts(current, fields),
                    subject="template")


def save_template(store: Store, template_id: int, changes: Mapping[str, Any], actor: str,
                  based_on: int | None = None) -> list[str]:
    """Apply ``changes`` to a template whole or not at all; returns the fields that changed.

    ``based_on`` is the version the person opened (``None`` skips the check, for scripts).
    Problems name the field; a status in ``changes`` archives or restores (see
    :func:`set_template_status`).
    """
    ref = f"template #{template_id}"
    with store.transaction():
        ensure_editable(store)
        old = _current(store, template_id)
        unknown = sorted(set(changes) - set(TEMPLATE_FIELDS) - {"status"})
        if unknown:
            raise ValidationError([Problem("cannot be edited", field=f, ref=ref)
                                   for f in unknown], "The template was not saved")
        new = normalize_template({**old, **changes})
        new["status"] = str(changes.get("status", old["status"])).strip().lower()
        diff = _changed(old, new)
        stale = based_on is not None and based_on != old["version"]
        if not diff and not (stale and "status" in changes):
            return []  # an archive/restore of a changed version is refused even if now moot
        if stale:
            raise StaleEditError([_stale(old, based_on, new)])
        problems = []
        if new["status"] not in STATUSES:
            problems.append(Problem(f"'{new['status']}' is not one of {', '.join(STATUSES)}",
                                    field="status", ref=ref))
        elif new["status"] == "active":  # an archived template is kept as it was
            problems += _problems(store, new, ref)
        elif old["status"] == "active":
            problems += _last_slot_template(store, old, ref)
        if problems:
            raise ValidationError(problems, "The template was not saved")
        action = "edit"
        if "status" in diff:
            action = "archive" if new["status"] == "archived" else "restore"
        store.update_template(template_id, diff, actor, action=action)
        store.audit(actor, action, "template", template_id, {"fields": sorted(diff)})
    return sorted(diff)


def _last_slot_template(store: Store, old: Mapping[str, Any], ref: str) -> list[Problem]:
    """The agent needs an all-segment slot template: refuse to archive the last one."""
    if old["segment"] or not Template.from_row(old).slots:
        return []
    others = [t for t in store.templates(segment="") if t["id"] != old["id"]
              and Template.from_row(t).slots]
    if others:
        return []
    return [Problem("is the last active all-segment template with slots, which the agent "
                    "needs; add another one before archiving it", field="status", ref=ref)]


def set_template_status(store: Store, template_id: int, status: str, actor: str,
                        based_on: int | None = None) -> list[str]:
    """Archive or restore a template. Restoring checks it again, as the library is now: a
    template whose slot lost its last atom is refused, naming the field, until it is fixed."""
    return save_template(store, template_id, {"status": status}, actor, based_on=based_on)


def template_history(store: Store, template_id: int) -> list[Revision]:
    """Every change of a template, newest first."""
    out = []
    for r in store.template_revisions(template_id):
        new = json.loads(r["new_fields"])
        old = json.loads(r["old_fields"]) if r["old_fields"] else {}
        changes = {f: ("" if old.get(f) is None else str(old.get(f)),
                       "" if new.get(f) is None else str(new.get(f)))
                   for f in new if (old.get(f) or "") != (new.get(f) or "")}
        out.append(Revision(r["version"], r["action"], r["actor"], r["at"], changes))
    return out


@dataclass(frozen=True)
class MessageCount:
    """How many distinct messages a template makes for one segment on its own channel."""

    segment: str
    messages: int
    per_slot: dict[str, int]  # atoms per slot the channel shows


def message_counts(store: Store, template: Mapping[str, Any]) -> list[MessageCount]:
    """Distinct messages per segment the template serves, counting only the slots its
    channel shows (an SMS has no title or image: slots there do not make messages differ)."""
    channel = store.channel(template["channel"])
    tpl = Template.from_row(template)
    segments = [template["segment"]] if template.get("segment") else [
        s["id"] for s in store.segments()]
    shown = tpl.slots_in(channel_fields(channel))
    out = []
    for seg in segments:
        pool = pool_from_components(store.components(for_segment=seg, status="active"))
        out.append(MessageCount(seg, count_permutations(tpl, pool, channel),
                                {s: len(pool.get(s, ())) for s in shown}))
    return out



@dataclass(frozen=True)
class PreviewWarning:
    """Something wrong with the messages a template makes on a channel, and where to fix it:
    the template's field, the atoms that make a text too long, or the kind a slot lacks."""

    message: str
    template_id: int
    field: str
    atom_ids: tuple[int, ...] = ()
    missing_kind: str | None = None


def preview_warnings(template: Mapping[str, Any], channel: Mapping[str, Any], pool: Pool,
                     segment: str | None) -> list[PreviewWarning]:
    """The warnings of a preview of ``template`` on ``channel`` with the atoms of ``pool``
    (one segment's): fields the channel lacks, slots without an atom, and texts that can
    exceed the channel's limits, each naming the template and the atoms behind it."""
    tpl = Template.from_row(template)
    name = f"Template '{template['name']}'"
    out = [PreviewWarning(f"{name}, field '{tpl.field_of(s)}': no active '{s}' atom for "
                          f"{segment or 'any segment'}; add one before using this slot",
                          template["id"], tpl.field_of(s), missing_kind=s)
           for s in missing_slots(tpl, pool)]
    longest_texts = longest(tpl, pool)
    for p in check_channel_limits(tpl, pool, channel):
        limited = int(channel.get(LIMITED_FIELDS[p.field]) or 0) > 0
        atoms = tuple(longest_texts[p.field].atoms.values()) if limited and \
            p.field in longest_texts else ()
        out.append(PreviewWarning(f"{name}, field '{p.field}': {p.message}", template["id"],
                                  p.field, atom_ids=atoms))
    return out
