"""Stored rewrites and the decisions on them: record, read, dismiss, accept into the library.

:class:`workbench.studio.pipeline.Studio` proposes a rewrite and :func:`record` stores it with
its audit entry in one transaction; the Rewrite studio page lists them (:func:`rewrites`,
:func:`runs`) and a person decides: :func:`dismiss`, or :func:`accept` as a new template (child
of the original, which stays so both can be compared in the field) or as library atoms. Accepting
writes to the library, so it refuses while the library is frozen (``ensure_editable``). Every
decision is on a ``proposed`` rewrite only; a second decision is a :class:`RewriteError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from store import Store, now
from store import studio as studio_store
from workbench import Problem, ValidationError, WorkbenchError
from workbench.library.service import ensure_editable
from workbench.studio import copyrules as rules
from workbench.studio.prompts import message_fields as _fields

__all__ = ["REJECTED_KEEP_CHARS", "OfferUnfit", "RewriteError", "accept", "dismiss", "offer_type",
           "record", "rewrite_row", "rewrites", "runs", "slot_problems", "start_run"]

#: How much of each field of a rejected draft is stored (a 5 MB draft, three times, made one
#: row of 132 MB that the studio page then sent on every render).
REJECTED_KEEP_CHARS = 2000
#: At most this many reasons and checked claims of a rejected draft are stored.
REJECTED_KEEP_ITEMS = 30


class RewriteError(WorkbenchError):
    """A rewrite could not be produced or stored; the message says why."""


class OfferUnfit(RewriteError):
    """The message's offer does not fit its segment, and no wording can change that (a
    first-order voucher sent to readers who already order): the marketer changes the offer.
    A run over a segment skips such a message and says why; it does not stop."""

    def __init__(self, template_id: int, reason: str):
        super().__init__(f"No rewrite of template #{template_id}: {reason}")
        self.template_id, self.reason = template_id, reason


_JSON_COLS = ("diagnosis", "exemplars", "original", "rewrite", "rejected", "evaluation")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load(row: dict[str, Any]) -> dict[str, Any]:
    for c in _JSON_COLS:
        row[c] = json.loads(row[c])
    return row


def slot_problems(draft: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, why)`` for each ``{slot}`` in any field of ``draft`` (or a brace the library
    would read as a broken one): a rewrite is final text. A rewrite with ``{offer}`` in it was
    accepted as an active template, whose messages then appended any offer atom to the
    rewritten offer."""
    from workbench.library.assembly import SlotSyntaxError, parse_slots
    problems = []
    for name in ("title", "preheader", "body"):
        try:
            slots = parse_slots(str(draft.get(name) or ""))
        except SlotSyntaxError as e:
            problems.append((name, f"its {name} has a brace ({e}); a rewrite is final text"))
            continue
        problems += [(name, f"it contains the slot {{{slot}}}; a rewrite is final text")
                     for slot in dict.fromkeys(slots)]
    return problems


def _cut(text: Any) -> Any:
    if not isinstance(text, str) or len(text) <= REJECTED_KEEP_CHARS:
        return text
    return (text[:REJECTED_KEEP_CHARS] + f" [truncated: the first {REJECTED_KEEP_CHARS:,} of "
            f"{len(text):,} characters are stored]")


def _kept(rejected: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rejected drafts as stored: each field, reason and claim cut to a readable length."""
    out = []
    for rej in rejected:
        checked = dict(rej.get("grounding") or {})
        for key in ("claims", "lost", "problems"):
            if isinstance(checked.get(key), list):
                checked[key] = [{k: _cut(v) for k, v in c.items()} if isinstance(c, dict)
                                else _cut(c) for c in checked[key][:REJECTED_KEEP_ITEMS]]
        reasons = [_cut(x) for x in rej.get("reasons", [])[:REJECTED_KEEP_ITEMS]]
        out.append({**rej, "draft": {k: _cut(v) for k, v in rej["draft"].items()},
                    "reasons": reasons, "grounding": checked})
    return out


def record(store: Store, msg: Mapping[str, Any], actor: str, run_id: int | None, *,
           diagnosis: Mapping[str, Any], retrieval: Any, written: Mapping[str, Any],
           evaluation: Mapping[str, Any], faithfulness: Mapping[str, float]) -> int:
    """Store one proposed rewrite of ``msg`` and audit it, in one transaction; returns its id.

    ``retrieval`` is the pipeline's ``Retrieval`` (path, exemplars, embedder, why skipped);
    ``written`` is what ``Studio.write`` returned (draft, engine, attempts, rejected drafts,
    notes, grounding). The JSON columns are written sorted so equal rewrites store equal text.
    """
    row = {
        "run_id": run_id, "template_id": msg["id"], "segment": msg["segment"],
        "engine": written["engine"], "path": retrieval.path,
        "error_type": diagnosis["error_type"],
        "diagnosis": _dump({**diagnosis, "retrieval_skipped": retrieval.skipped,
                            "embedder": retrieval.embedder, "notes": written["notes"],
                            "grounding": written["grounding"]}),
        "exemplars": _dump(list(retrieval.exemplars)),
        "original": _dump(_fields(msg)), "rewrite": _dump(written["draft"]),
        "attempts": written["attempts"], "rejected": _dump(_kept(written["rejected"])),
        "evaluation": _dump(evaluation), "chrf": faithfulness["chrf"],
        "cosine": faithfulness["cosine"],
        "status": "proposed", "created_at": now(), "created_by": actor,
    }
    with store.transaction():
        rid = studio_store.insert_rewrite(store, row)
        store.audit(actor, "rewrite", "template", msg["id"],
                    {"rewrite_id": rid, "path": retrieval.path, "engine": written["engine"]})
    return int(rid)


def rewrite_row(store: Store, rewrite_id: int) -> dict[str, Any]:
    """One stored rewrite with its JSON columns decoded; :class:`RewriteError` if none."""
    row = studio_store.rewrite(store, rewrite_id)
    if row is None:
        raise RewriteError(f"no rewrite #{rewrite_id}")
    return _load(row)


def rewrites(store: Store, segment: str | None = None, status: str | None = None
             ) -> list[dict[str, Any]]:
    """Stored rewrites, optionally of one segment and/or in one status, JSON decoded."""
    return [_load(r) for r in studio_store.rewrites(store, segment, status)]


def start_run(store: Store, segment: str, engines: Mapping[str, str], *, total: int,
              actor: str) -> int:
    """Open a recorded run over ``total`` messages of ``segment``; ``engines`` names what each
    agent runs on (the rewrite agent's is the run's engine). Returns the run id."""
    return studio_store.start_run(store, segment=segment, engine=engines["rewrite"],
                                  config=_dump(dict(engines)), total=total, actor=actor)


def runs(store: Store, segment: str | None = None) -> list[dict[str, Any]]:
    """Recorded rewrite runs with their progress and status, optionally of one segment."""
    return studio_store.runs(store, segment)


def _ensure_proposed(r: Mapping[str, Any], outcome: str) -> None:
    """A decision is on a proposed rewrite only: another one (say, in another tab) is refused
    naming who decided it and when, and ``outcome`` (what did not happen)."""
    if r["status"] != "proposed":
        raise RewriteError(f"rewrite #{r['id']} was already {r['status']} by "
                           f"{r['decided_by']} at {r['decided_at']}; {outcome}")


def dismiss(store: Store, rewrite_id: int, actor: str) -> None:
    """Mark a proposed rewrite dismissed (audited); the library is not touched."""
    r = rewrite_row(store, rewrite_id)
    _ensure_proposed(r, "it was not dismissed")
    with store.transaction():
        studio_store.decide(store, rewrite_id, "dismissed", actor)
        store.audit(actor, "dismiss", "rewrite", rewrite_id)


def _atom_kind(sentence: str) -> str:
    if rules.amounts(sentence) or rules.mentions_free(sentence):
        return "offer"
    if rules.has_cta(sentence):
        return "cta"
    return "value_prop"


def offer_type(text: str) -> str:
    """The library's offer type of an offer sentence."""
    low = text.lower()
    if "cashback" in low:
        return "cashback"
    if "free delivery" in low or "ships free" in low:
        return "free_delivery"
    if "%" in low:
        return "percent_off"
    if rules.amounts(text):
        return "amount_off"
    return "bundle" if "free" in low else "none"


def accept(store: Store, rewrite_id: int, actor: str, as_: str = "template") -> list[int]:
    """Put an accepted rewrite into the library, with provenance; returns the new ids.

    ``template``: a new message template whose parent is the original (the original stays, so
    both can be compared in the field). ``atoms``: the rewrite's title and sentences become
    components (greeting, value proposition, offer, call to action) tagged with their source.
    """
    if as_ not in ("template", "atoms"):
        raise ValidationError([Problem("must be 'template' or 'atoms'", field="as")])
    ensure_editable(store)
    r = rewrite_row(store, rewrite_id)
    _ensure_proposed(r, "nothing was added")
    if slots := slot_problems(r["rewrite"]):
        raise ValidationError([Problem(why, field=name, ref=f"rewrite #{rewrite_id}")
                               for name, why in slots], f"Rewrite #{rewrite_id} was not added")
    orig = store.template(r["template_id"])
    provenance = {"rewrite_id": rewrite_id, "original_template_id": orig["id"],
                  "engine": r["engine"], "path": r["path"], "error_type": r["error_type"],
                  "verdict": r["evaluation"].get("verdict")}
    new_ids: list[int] = []
    with store.transaction():
        if as_ == "template":
            fields = {k: orig[k] for k in ("segment", "channel", "image", "merchant",
                                           "product_category", "voucher")}
            fields.update(r["rewrite"], name=f"{orig['name']} (rewrite #{rewrite_id})")
            from workbench.library.templates import add_template

            tid = add_template(store, fields, actor, source="rewrite", parent_id=orig["id"],
                               meta={"provenance": provenance})
            new_ids.append(tid)
            store.audit(actor, "accept", "rewrite", rewrite_id, {"template_id": tid})
        else:
            from workbench.library.fit import template_problems
            from workbench.library.validation import (
                check_component,
                normalize_component,
            )
            pieces = []
            if r["rewrite"].get("title"):
                pieces.append(("greeting", r["rewrite"]["title"]))
            pieces += [(_atom_kind(s), s) for s in rules.sentences(r["rewrite"]["body"])
                       if not s.upper().startswith("STOP")]
            stored = {c["id"]: c for c in store.components()}
            existing = {(c["kind"], c["text"].strip().lower()): c for c in stored.values()}
            rows, already = [], []
            for kind, text in pieces:
                if (same := existing.get((kind, text.strip().lower()))) is not None:
                    already.append(same)
                    continue
                row = normalize_component({
                    "kind": kind, "text": text, "segment": orig["segment"],
                    "product_category": orig["product_category"] or "any",
                    "tone": "neutral", "tags": f"rewrite;rewrite-{rewrite_id}",
                    "offer_type": offer_type(text) if kind == "offer" else "none"})
                problems = check_component(
                    row, kinds=[k["id"] for k in store.kinds()],
                    segments=[s["id"] for s in store.segments(include_archived=True)])
                if problems:
                    raise ValidationError(problems,
                                          f"Rewrite #{rewrite_id}'s atoms were not added")
                rows.append(row)
            # A sentence is often longer than a slot's atoms: it must still fit every
            # template's channel where it can be drawn (see workbench.library.fit).
            if problems := template_problems(
                    [(None, f"{a['kind']} '{a['text']}'", None, a) for a in rows], stored,
                    store.templates(), {c["id"]: c for c in store.channels()}):
                raise ValidationError(problems, (
                    f"Rewrite #{rewrite_id}'s atoms were not added: the agent could combine "
                    "them into messages over a channel's limit (below). Accept it as a "
                    "template instead: it keeps its own channel's limits"))
            if not rows:  # accepted, it would have added nothing: say what is there
                raise RewriteError(
                    f"rewrite #{rewrite_id} was not accepted as atoms: each of its texts is "
                    "already in the library (" + ", ".join(
                        f"{c['kind']} #{c['id']}" + (" archived" if c["status"] != "active"
                                                     else "") for c in already)
                    + "), so nothing would be added. It stays proposed: accept it as a "
                    "template, or dismiss it")
            new_ids += [store.insert_component(row, actor, source="rewrite") for row in rows]
            store.audit(actor, "accept", "rewrite", rewrite_id,
                        {"component_ids": new_ids, **provenance})
        studio_store.decide(store, rewrite_id, "accepted", actor,
                            accepted_template_id=new_ids[0] if as_ == "template" else None)
    return new_ids
