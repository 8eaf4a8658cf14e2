"""Validation of components and templates, with messages that name the row and the field.

Every check returns a list of :class:`~workbench.Problem` rather than raising on the first
one, so a person fixing a batch or a file sees everything wrong with it at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workbench.library.assembly import (
    LIMITED_FIELDS, TEMPLATE_TEXT_FIELDS, SlotSyntaxError, Template, check_channel_limits,
    missing_slots, parse_slots, pool_from_components,
)
from workbench import Problem

OFFER_TYPES = ("percent_off", "amount_off", "free_delivery", "cashback", "bundle", "none")
TONES = ("playful", "caring", "urgent", "premium", "neutral")
STATUSES = ("active", "archived")
#: No atom is longer than this: the longest field of any channel is far below it.
MAX_ATOM_LENGTH = 500


#: Unicode's control characters (category Cc) are exactly these code points.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def control_characters(text: str, allow_newlines: bool = False) -> list[int]:
    """1-based positions of control characters (tabs, escapes, NUL...) in ``text``."""
    return [m.start() + 1 for m in _CONTROL.finditer(text)
            if not (allow_newlines and m.group() == "\n")]


#: Characters that show nothing yet change the text: zero-width spaces and byte-order marks
#: (pasted with text from web pages; "Hi\u200bthere" passed as a new atom beside "Hithere")
#: and the bidirectional overrides and isolates that make text display in another order than
#: it is stored. Zero-width joiners stay: emoji sequences and several scripts need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069]")


def character_problem(text: str, allow_newlines: bool = False) -> str | None:
    """Why ``text`` cannot be copy (a control or an invisible character, by position)."""
    if cc := control_characters(text, allow_newlines):
        return f"contains a control character at position {cc[0]}"
    if m := _INVISIBLE.search(text):
        name = unicodedata.name(m.group(), "UNNAMED")
        return (f"contains an invisible character (U+{ord(m.group()):04X} {name}) at position "
                f"{m.start() + 1}; remove it (it often comes with text pasted from a web page)")
    return None


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return str(value).strip()


def normalize_tags(value: Any) -> str:
    """Tags as lower-case words joined by ';' (accepts ',' or ';' as separators)."""
    raw = _clean(value).replace(",", ";")
    tags = [t.strip().lower() for t in raw.split(";") if t.strip()]
    return ";".join(dict.fromkeys(tags))


def normalize_component(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form stored for a component: trimmed text, '' segment as None..."""
    out = {
        "kind": _clean(row.get("kind")).lower(),
        # One form of each accented letter (NFC): "Café" typed with a composed é and pasted
        # with e + combining accent look the same and were stored as two different atoms.
        "text": unicodedata.normalize("NFC", _clean(row.get("text"))),
        "segment": _clean(row.get("segment")) or None,
        "offer_type": _clean(row.get("offer_type")).lower(),
        "product_category": _clean(row.get("product_category")).lower(),
        "tone": _clean(row.get("tone")).lower(),
        "tags": normalize_tags(row.get("tags")),
    }
    if "status" in row:
        out["status"] = _clean(row.get("status")).lower() or "active"
    return out


def text_key(text: str) -> str:
    """What makes two atom texts the same: case, spacing and how an accented letter is
    encoded (composed or with a combining accent) do not count."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def check_component(row: Mapping[str, Any], *, kinds: Iterable[str], segments: Iterable[str],
                    row_no: int | None = None, ref: str | None = None) -> list[Problem]:
    """Problems with one normalized component row on its own (duplicates are checked apart)."""
    kinds, segments = set(kinds), set(segments)
    p = []

    def bad(field: str, message: str) -> None:
        p.append(Problem(message, row=row_no, field=field, ref=ref))

    if not row["kind"]:
        bad("kind", "is required")
    elif row["kind"] not in kinds:
        bad("kind", f"unknown kind '{row['kind']}' (known: {', '.join(sorted(kinds))})")
    text = row["text"]
    if not text:
        bad("text", "must not be empty")
    else:
        if why := character_problem(text):
            bad("text", why)
        if "{" in text or "}" in text:
            bad("text", "must not contain '{' or '}': braces mark slots in templates")
        if len(text) > MAX_ATOM_LENGTH:
            bad("text", f"is {len(text)} characters; an atom is at most {MAX_ATOM_LENGTH}")
    if row["segment"] is not None and row["segment"] not in segments:
        bad("segment", f"unknown segment '{row['segment']}'")
    if row["offer_type"] and row["offer_type"] not in OFFER_TYPES:
        bad("offer_type", f"'{row['offer_type']}' is not one of {', '.join(OFFER_TYPES)}")
    if row["tone"] and row["tone"] not in TONES:
        bad("tone", f"'{row['tone']}' is not one of {', '.join(TONES)}")
    for f in ("product_category", "tags"):
        if why := character_problem(row[f]):
            bad(f, why)
    if "status" in row and row["status"] not in STATUSES:
        bad("status", f"'{row['status']}' is not one of {', '.join(STATUSES)}")
    return p


def check_duplicates(rows: Sequence[tuple[int | None, str | None, int | None, Mapping[str, Any]]],
                     existing: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Active atoms of one kind with the same text for overlapping segment scopes.

    ``rows`` are ``(row_no, ref, component_id or None, normalized row)``; ``existing`` are the
    stored components, of which those being replaced by ``rows`` are ignored. A row is reported
    against the first atom it repeats, stored ones first, then earlier rows.

    Linear in the number of atoms (a 5,000-row import against a large library must not compare
    every pair): atoms are indexed by kind and text key, and per key the first atom of each
    segment scope is kept (``None``, all segments, overlaps every scope).
    """
    replaced = {cid for _, _, cid, _ in rows if cid is not None}
    # (kind, text key) -> {segment or None: (order, where)} for the first atom of each scope
    index: dict[tuple[str, str], dict[str | None, tuple[int, str]]] = {}
    order = 0

    def remember(row: Mapping[str, Any], where: str) -> None:
        nonlocal order
        scopes = index.setdefault((row["kind"], text_key(row["text"])), {})
        scopes.setdefault(row.get("segment"), (order, where))
        order += 1

    def first_clash(row: Mapping[str, Any]) -> str | None:
        scopes = index.get((row["kind"], text_key(row["text"])))
        if not scopes:
            return None
        segment = row.get("segment")
        if segment is None:  # all segments: clashes with every scope
            candidates = scopes.values()
        else:
            candidates = [scopes[s] for s in (None, segment) if s in scopes]
        return min(candidates, default=(0, None))[1]

    for c in existing:
        if c["id"] not in replaced and c.get("status", "active") == "active":
            remember(c, f"component #{c['id']}")
    problems = []
    for row_no, ref, _cid, row in rows:
        if row.get("status", "active") != "active" or not row["text"]:
            continue
        if (where := first_clash(row)) is not None:
            problems.append(Problem(f"duplicate {row['kind']} atom: same text as {where}",
                                    row=row_no, field="text", ref=ref))
        remember(row, f"row {row_no}" if row_no is not None else (ref or ""))
    return problems


def check_template(template: Mapping[str, Any], *, kinds: Iterable[str],
                   channels: Mapping[str, Mapping[str, Any]], segments: Iterable[str],
                   components: Sequence[Mapping[str, Any]] | None = None,
                   row_no: int | None = None) -> list[Problem]:
    """Problems with a template: syntax, unknown slots, channel fields and limits.

    ``components`` (all stored atoms) lets the check assemble the longest message for the
    template's segment and compare it with the channel's limits.
    """
    kinds = set(kinds)
    p: list[Problem] = []
    if not _clean(template.get("name")):
        p.append(Problem("must not be empty", row=row_no, field="name"))
    if not _clean(template.get("body")):
        p.append(Problem("must not be empty", row=row_no, field="body"))
    channel = channels.get(_clean(template.get("channel")))
    if channel is None:
        p.append(Problem(f"unknown channel '{_clean(template.get('channel'))}' (known: "
                         f"{', '.join(channels)})", row=row_no, field="channel"))
    segment = _clean(template.get("segment")) or None
    if segment is not None and segment not in set(segments):
        p.append(Problem(f"unknown segment '{segment}'", row=row_no, field="segment"))
    syntax_ok = True
    for f in TEMPLATE_TEXT_FIELDS:
        text = template.get(f) or ""
        if why := character_problem(text, allow_newlines=(f == "body")):
            p.append(Problem(why, row=row_no, field=f))
        try:
            slots = parse_slots(text)
        except SlotSyntaxError as e:
            p.append(Problem(str(e), row=row_no, field=f))
            syntax_ok = False
            continue
        for s in dict.fromkeys(slots):
            if s not in kinds:
                p.append(Problem(f"unknown slot '{{{s}}}' (known: "
                                 f"{', '.join('{' + k + '}' for k in sorted(kinds))})",
                                 row=row_no, field=f))
                syntax_ok = False
    if p or channel is None or not syntax_ok:
        return p
    tpl = Template.from_row(template)
    if components is not None:
        usable = [c for c in components if segment is None or c.get("segment") in (None, segment)]
        for s in missing_slots(tpl, pool_from_components(usable)):
            p.append(Problem(f"no active '{s}' atom for {segment or 'any segment'}: add one "
                             "before using this slot", row=row_no, field=tpl.field_of(s)))
        # An all-segment template meets each segment's own atoms plus the shared ones, never
        # the atoms of two different segments together: check each scope apart.
        scopes = [segment] if segment else [None, *sorted(
            {c.get("segment") for c in usable if c.get("segment")})]
        reported: set[str] = set()
        for scope in ([] if p else scopes):
            pool = pool_from_components([c for c in usable if c.get("segment") in (None, scope)])
            if missing_slots(tpl, pool):
                continue
            for x in check_channel_limits(tpl, pool, channel):
                if x.field not in reported:
                    reported.add(x.field)
                    where = f" in segment {scope}" if scope and not segment else ""
                    p.append(Problem(x.message + where, row=row_no, field=x.field))
    elif not tpl.slots:
        p += [Problem(x.message, row=row_no, field=x.field)
              for x in check_channel_limits(tpl, {}, channel)]
    return p


__all__ = [
    "OFFER_TYPES", "TONES", "STATUSES", "LIMITED_FIELDS", "check_component", "check_duplicates",
    "check_template", "character_problem", "control_characters", "normalize_component", "normalize_tags", "text_key",
]
