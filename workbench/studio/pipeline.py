"""The rewrite studio's pipeline: four agents that turn a segment's weak messages into better ones.

Following the CRMAgent study, a weak message (bottom band of engagement within its segment) goes
through:

1. **Diagnosis** (ContentAgent): contrasts the segment's strong and weak messages and gives the
   message one of the study's five error types with a short reason.
2. **Retrieval** (RetrievalAgent): only when the message has no strong exemplars of its own
   (same segment, same merchant), finds the segment's strong messages from other merchants whose
   product category and voucher metadata embed nearest; skipped when both are missing.
3. **Rewrite** (TemplateAgent), by one of three paths: ``in_group`` exemplars, ``retrieved``
   exemplars or the ``rule_based`` fallback. The offer and its numbers must survive and the copy
   must fit the channel; a draft that fails either is rejected and retried with the reason.
4. **Evaluation** (EvaluateAgent): 1/3/5 scores for audience match and marketing effectiveness,
   and a blind pairwise choice asked in both orders, where a verdict that flips with the order
   counts as a tie. chrF and embedding cosine measure faithfulness to the original.

Each agent runs on its configured model (``workbench.studio.llm``) or, with none, on the offline rules
engine (``workbench.studio.copyrules``). :class:`Studio` is the one front door.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from store import Store, now
from store import studio as studio_store
from workbench.studio import copyrules as rules
from workbench.studio import diagnosis as diag
from workbench.studio import grounding
from workbench.studio import judge as heuristic
from workbench import Problem, ValidationError, WorkbenchError
from workbench.library.service import ensure_editable
from workbench.studio.llm import BackendConfig, LLMClient, LLMError, load_configs
from workbench.studio.prompts import (
    COMPARE_SCHEMA, DIAGNOSIS_SCHEMA, REWRITE_SCHEMA, SCORE_SCHEMA, compare_prompt,
    diagnosis_prompt, rewrite_prompt, score_prompt)
from workbench.studio.prompts import message_fields as _fields
from workbench.studio.performance import Thresholds, template_scores

PATHS = ("in_group", "retrieved", "rule_based")
RULES_LABEL = "Offline rules engine"
MAX_ATTEMPTS = 3          # a rejected draft is retried with its reasons, twice
RETRIEVE_K = 2
RETRIEVE_MIN_SCORE = 0.2


class RewriteError(WorkbenchError):
    """A rewrite could not be produced or stored; the message says why."""


def metadata_text(msg: Mapping[str, Any]) -> str:
    """What RetrievalAgent embeds: the product category and the voucher, as the study does."""
    return (f"product category: {msg.get('product_category') or 'none'} | "
            f"voucher: {msg.get('voucher') or 'none'}")


# -- results of one message ---------------------------------------------------------------------

@dataclass(frozen=True)
class Retrieval:
    path: str
    exemplars: tuple[dict[str, Any], ...]
    embedder: str = ""
    skipped: str = ""   # why retrieval did not run, when it did not


def pair_verdict(first: str, second: str) -> tuple[str, bool]:
    """Combine the two orders of a blind comparison.

    ``first`` is the choice with the original as A and the rewrite as B; ``second`` with the
    rewrite as A. Returns the verdict (``rewrite``/``original``/``tie``) and whether the judge's
    pick flipped with the order (position bias), which makes it a tie.
    """
    def who(choice: str, rewrite_pos: str) -> str:
        if choice == "tie":
            return "tie"
        return "rewrite" if choice == rewrite_pos else "original"
    v1, v2 = who(first, "B"), who(second, "A")
    if v1 == v2:
        return v1, False
    flipped = "tie" not in (v1, v2)
    return "tie", flipped


class Studio:
    """The rewrite studio's front door: weak messages, diagnoses, rewrites and their evaluation.

    ``configs`` maps each agent (``diagnosis``, ``rewrite``, ``evaluation``) to its backend;
    missing or offline ones use the rules engine. ``embedder`` defaults to MiniLM when installed
    and the lexical fallback otherwise. ``by_merchant`` ranks engagement within segment and
    merchant rather than within the segment alone.
    """

    def __init__(self, store: Store, configs: Mapping[str, BackendConfig] | None = None, *,
                 embedder: Any = None, thresholds: Thresholds | None = None,
                 keys: Mapping[str, str] | None = None, by_merchant: bool = False):
        self.store = store
        self.configs = dict(configs) if configs is not None else load_configs(store, keys=keys)
        self._embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self.by_merchant = by_merchant
        self._scores: pd.DataFrame | None = None

    # -- engines ---------------------------------------------------------------------------

    def engine(self, agent: str) -> str:
        cfg = self.configs.get(agent)
        return RULES_LABEL if cfg is None or cfg.offline else cfg.label

    def _client(self, agent: str) -> LLMClient | None:
        cfg = self.configs.get(agent)
        return None if cfg is None or cfg.offline else LLMClient(cfg, self.store)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from workbench.studio.embeddings import get_embedder
            self._embedder = get_embedder()
        return self._embedder

    # -- messages --------------------------------------------------------------------------

    def scores(self) -> pd.DataFrame:
        if self._scores is None:
            self._scores = template_scores(self.store, by_merchant=self.by_merchant,
                                           thresholds=self.thresholds)
        return self._scores

    def segment(self, segment_id: str) -> dict[str, Any]:
        for s in self.store.segments(include_archived=True):
            if s["id"] == segment_id:
                return s
        raise ValidationError([Problem(f"unknown segment '{segment_id}'", field="segment")],
                              "No such segment")

    def _band(self, segment: str, band: str) -> list[dict[str, Any]]:
        df = self.scores()
        ids = df.loc[(df["segment"] == segment) & (df["band"] == band), "template_id"].tolist()
        return [self.store.template(int(i)) for i in ids]

    def weak_messages(self, segment: str) -> pd.DataFrame:
        """The segment's weak messages with their score, percentile and (rules) diagnosis."""
        self.segment(segment)
        df = self.scores()
        df = df[(df["segment"] == segment) & (df["band"] == "weak")].copy()
        strong = self._band(segment, "strong")
        rows = []
        for _, r in df.iterrows():
            t = self.store.template(int(r["template_id"]))
            d = diag.diagnose(t, segment, strong)
            rows.append({"template_id": int(t["id"]), "name": t["name"], "channel": t["channel"],
                         "merchant": t["merchant"], "score": float(r["score"]),
                         "percentile": float(r["percentile"]), "error_type": d["error_type"],
                         "reason": d["reason"]})
        return pd.DataFrame(rows, columns=["template_id", "name", "channel", "merchant", "score",
                                           "percentile", "error_type", "reason"])

    # -- agent 1: diagnosis ----------------------------------------------------------------

    def diagnose(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        segment = msg["segment"]
        strong = self._band(segment, "strong")
        weak = self._band(segment, "weak")
        contrast = diag.contrast(strong, weak)
        client = self._client("diagnosis")
        if client is None:
            d = diag.diagnose(msg, segment, strong)
            d["insights"] = list(contrast.reasons)
        else:
            system, user = diagnosis_prompt(msg, self.segment(segment), strong, weak)
            d = client.complete_json(system=system, user=user, schema=DIAGNOSIS_SCHEMA,
                                     purpose=f"diagnose template #{msg['id']}")
            d.setdefault("insights", [])
            d["findings"] = [{"error_type": f.error_type, "reason": f.reason}
                             for f in diag.findings(msg, segment)]
        d["engine"] = self.engine("diagnosis")
        return d

    # -- agent 2: retrieval ----------------------------------------------------------------

    def retrieve(self, msg: Mapping[str, Any]) -> Retrieval:
        """In-group exemplars when the segment has strong messages of the same merchant;
        otherwise the nearest strong messages of other merchants by metadata embedding."""
        segment = msg["segment"]
        strong = [t for t in self._band(segment, "strong") if t["id"] != msg["id"]]
        own = [t for t in strong if (t["merchant"] or "") == (msg.get("merchant") or "")]
        if own:
            return Retrieval("in_group", tuple(
                {"id": t["id"], "name": t["name"], **_fields(t),
                 "product_category": t["product_category"], "similarity": None}
                for t in own[:RETRIEVE_K]))
        if not msg.get("product_category") and not msg.get("voucher"):
            return Retrieval("rule_based", (), skipped="no product category and no voucher to "
                             "match on")
        others = [t for t in strong if (t["merchant"] or "") != (msg.get("merchant") or "")]
        if not others:
            return Retrieval("rule_based", (), skipped="the segment has no strong messages")
        emb = self.embedder
        matrix = emb.encode([metadata_text(t) for t in others])
        query = emb.encode([metadata_text(msg)])[0]
        from workbench.studio.embeddings import search
        hits = search(query, matrix, RETRIEVE_K, min_score=RETRIEVE_MIN_SCORE)
        if not hits:
            return Retrieval("rule_based", (), embedder=emb.name,
                             skipped=f"no strong message within similarity "
                             f"{RETRIEVE_MIN_SCORE} of its metadata")
        return Retrieval("retrieved", tuple(
            {"id": others[i]["id"], "name": others[i]["name"], **_fields(others[i]),
             "product_category": others[i]["product_category"],
             "voucher": others[i]["voucher"], "similarity": round(float(s), 4)}
            for i, s in hits), embedder=emb.name)

    # -- agent 3: rewrite ------------------------------------------------------------------

    def _limits(self, msg: Mapping[str, Any]) -> dict[str, int | None]:
        return rules.channel_limits(self.store.channel(msg["channel"]))

    def check(self, msg: Mapping[str, Any], draft: Mapping[str, Any]) -> list[str]:
        """Why a draft cannot stand: dropped intent, an unsupported claim (grounding), a lost
        code or date, channel overflow, empty body."""
        problems = [f"it dropped {m}" for m in rules.Intent.of(msg).missing(draft)]
        problems += [p for p in grounding.check(draft, msg, msg.get("segment")).problems()
                     if not p.startswith("it dropped or changed the amount")]
        problems += rules.fit_check(draft, self._limits(msg))
        if not str(draft.get("body") or "").strip():
            problems.append("the body is empty")
        return problems

    def write(self, msg: Mapping[str, Any], diagnosis: Mapping[str, Any],
              retrieval: Retrieval) -> dict[str, Any]:
        """A draft that keeps the intent and fits the channel, with every rejected attempt."""
        limits = self._limits(msg)
        client = self._client("rewrite")
        rejected: list[dict[str, Any]] = []
        if client is not None:
            intent = rules.Intent.of(msg)
            feedback: list[str] = []
            seg = self.segment(msg["segment"])
            for attempt in range(1, MAX_ATTEMPTS + 1):
                system, user = rewrite_prompt(msg, seg, diagnosis, retrieval.exemplars,
                                              diagnosis.get("insights") or [], limits, intent,
                                              feedback)
                out = client.complete_json(system=system, user=user, schema=REWRITE_SCHEMA,
                                           purpose=f"rewrite template #{msg['id']}",
                                           max_tokens=400)
                draft = _fields(out)
                feedback = self.check(msg, draft)
                checked = grounding.check(draft, msg, msg.get("segment")).as_dict()
                if not feedback:
                    return {"draft": draft, "attempts": attempt, "rejected": rejected,
                            "engine": self.engine("rewrite"), "notes": [],
                            "grounding": checked}
                rejected.append({"draft": draft, "reasons": feedback, "grounding": checked})
        atoms = self.store.components()
        d = rules.rewrite(msg, msg["segment"], diagnosis, retrieval.exemplars, atoms, limits)
        draft = d.as_dict()
        notes = list(d.notes)
        if rejected:
            notes.insert(0, f"the model's {len(rejected)} drafts were rejected; the rules "
                         "engine wrote this one")
        problems = self.check(msg, draft)
        if problems:  # the rules engine keeps intent by construction; say so loudly if not
            raise RewriteError(f"No acceptable rewrite of template #{msg['id']}: "
                               + "; ".join(problems))
        return {"draft": draft, "attempts": len(rejected) + 1, "rejected": rejected,
                "engine": RULES_LABEL, "notes": notes,
                "grounding": grounding.check(draft, msg, msg.get("segment")).as_dict()}

    # -- agent 4: evaluation ---------------------------------------------------------------

    def _judge_view(self, msg: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
        return {**{k: msg.get(k) for k in ("id", "channel", "voucher", "product_category",
                                           "merchant", "segment")}, **fields}

    def evaluate(self, msg: Mapping[str, Any], draft: Mapping[str, str]) -> dict[str, Any]:
        segment = msg["segment"]
        original = self._judge_view(msg, _fields(msg))
        rewritten = self._judge_view(msg, draft)
        client = self._client("evaluation")
        if client is None:
            ref = heuristic.Reference.of(self._band(segment, "strong"), self.embedder)
            lim = self._limits(msg)
            s_o = heuristic.score(original, msg, segment, ref, lim)
            s_r = heuristic.score(rewritten, msg, segment, ref, lim)
            c1 = heuristic.compare(original, rewritten, msg, segment, ref, lim)
            c2 = heuristic.compare(rewritten, original, msg, segment, ref, lim)
        else:
            seg = self.segment(segment)
            ask = lambda p, schema, what: client.complete_json(
                system=p[0], user=p[1], schema=schema, purpose=what, max_tokens=300)
            s_o = ask(score_prompt(original, seg), SCORE_SCHEMA, f"score original #{msg['id']}")
            s_r = ask(score_prompt(rewritten, seg), SCORE_SCHEMA, f"score rewrite #{msg['id']}")
            c1 = ask(compare_prompt(original, rewritten, seg), COMPARE_SCHEMA,
                     f"compare #{msg['id']} original first")
            c2 = ask(compare_prompt(rewritten, original, seg), COMPARE_SCHEMA,
                     f"compare #{msg['id']} rewrite first")
        verdict, flipped = pair_verdict(c1["choice"], c2["choice"])
        engine = heuristic.LABEL if client is None else self.engine("evaluation")
        return {"engine": engine, "original": s_o, "rewrite": s_r,
                "pairwise": [{"order": "original as A", **c1}, {"order": "rewrite as A", **c2}],
                "verdict": verdict, "position_flip": flipped}

    # -- the pipeline ----------------------------------------------------------------------

    def rewrite_one(self, template_id: int, actor: str, run_id: int | None = None
                    ) -> dict[str, Any]:
        """Diagnose, retrieve, rewrite and evaluate one message; stores and returns the rewrite."""
        msg = self.store.template(template_id)
        if not msg.get("segment"):
            raise ValidationError([Problem("the message has no audience segment",
                                           field="segment", ref=f"template #{template_id}")],
                                  "Cannot rewrite this message")
        diagnosis = self.diagnose(msg)
        retrieval = self.retrieve(msg)
        written = self.write(msg, diagnosis, retrieval)
        evaluation = self.evaluate(msg, written["draft"])
        fa = self._faithfulness(msg, written["draft"])
        row = {
            "run_id": run_id, "template_id": template_id, "segment": msg["segment"],
            "engine": written["engine"], "path": retrieval.path,
            "error_type": diagnosis["error_type"],
            "diagnosis": _dump({**diagnosis, "retrieval_skipped": retrieval.skipped,
                                "embedder": retrieval.embedder, "notes": written["notes"],
                                "grounding": written["grounding"]}),
            "exemplars": _dump(list(retrieval.exemplars)),
            "original": _dump(_fields(msg)), "rewrite": _dump(written["draft"]),
            "attempts": written["attempts"], "rejected": _dump(written["rejected"]),
            "evaluation": _dump(evaluation), "chrf": fa["chrf"], "cosine": fa["cosine"],
            "status": "proposed", "created_at": now(), "created_by": actor,
        }
        with self.store.transaction():
            rid = studio_store.insert_rewrite(self.store, row)
            self.store.audit(actor, "rewrite", "template", template_id,
                             {"rewrite_id": rid, "path": retrieval.path,
                              "engine": written["engine"]})
        return rewrite_row(self.store, int(rid))

    def _faithfulness(self, msg: Mapping[str, Any], draft: Mapping[str, str]) -> dict[str, float]:
        from workbench.studio.faithfulness import faithfulness
        f = faithfulness(rules.message_text(msg), rules.message_text(draft), self.embedder)
        return {"chrf": round(f.chrf, 2), "cosine": round(f.cosine, 4)}

    def run_segment(self, segment: str, actor: str, template_ids: Sequence[int] | None = None,
                    progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
        """Rewrite every weak message of a segment (or the given ones) as one recorded run.

        A backend failure stops the run with its message recorded; rewrites already made stay.
        """
        self.segment(segment)
        ids = list(template_ids) if template_ids is not None else [
            int(i) for i in self.weak_messages(segment)["template_id"]]
        engines = {a: self.engine(a) for a in ("diagnosis", "rewrite", "evaluation")}
        run_id = studio_store.start_run(self.store, segment=segment, engine=engines["rewrite"],
                                        config=_dump(engines), total=len(ids), actor=actor)
        made: list[dict[str, Any]] = []
        try:
            for n, tid in enumerate(ids, 1):
                if progress:
                    progress(n - 1, len(ids), f"Rewriting template #{tid}")
                made.append(self.rewrite_one(tid, actor, run_id))
                studio_store.update_run(self.store, run_id, done=n)
        except (LLMError, RewriteError) as e:
            studio_store.update_run(self.store, run_id, status="failed", message=str(e))
            raise
        studio_store.update_run(self.store, run_id, status="done")
        if progress:
            progress(len(ids), len(ids), "Done")
        return {"run_id": run_id, "segment": segment, "rewrites": made, "engines": engines}


# -- stored rewrites -----------------------------------------------------------------------------

_JSON_COLS = ("diagnosis", "exemplars", "original", "rewrite", "rejected", "evaluation")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load(row: dict[str, Any]) -> dict[str, Any]:
    for c in _JSON_COLS:
        row[c] = json.loads(row[c])
    return row


def rewrite_row(store: Store, rewrite_id: int) -> dict[str, Any]:
    row = studio_store.rewrite(store, rewrite_id)
    if row is None:
        raise RewriteError(f"no rewrite #{rewrite_id}")
    return _load(row)


def rewrites(store: Store, segment: str | None = None, status: str | None = None
             ) -> list[dict[str, Any]]:
    return [_load(r) for r in studio_store.rewrites(store, segment, status)]


def runs(store: Store, segment: str | None = None) -> list[dict[str, Any]]:
    return studio_store.runs(store, segment)


def dismiss(store: Store, rewrite_id: int, actor: str) -> None:
    r = rewrite_row(store, rewrite_id)
    if r["status"] != "proposed":
        raise RewriteError(f"rewrite #{rewrite_id} is already {r['status']}")
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
    if r["status"] != "proposed":
        raise RewriteError(f"rewrite #{rewrite_id} is already {r['status']}")
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
            tid = store.insert_template(fields, actor, source="rewrite", parent_id=orig["id"],
                                        meta={"provenance": provenance})
            new_ids.append(tid)
            store.audit(actor, "accept", "rewrite", rewrite_id, {"template_id": tid})
        else:
            from workbench.library.validation import check_component, normalize_component
            pieces = []
            if r["rewrite"].get("title"):
                pieces.append(("greeting", r["rewrite"]["title"]))
            pieces += [(_atom_kind(s), s) for s in rules.sentences(r["rewrite"]["body"])
                       if not s.upper().startswith("STOP")]
            existing = {(c["kind"], c["text"].strip().lower()) for c in store.components()}
            for kind, text in pieces:
                if (kind, text.strip().lower()) in existing:
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
                    raise ValidationError(problems, "The rewrite's atoms were not added")
                new_ids.append(store.insert_component(row, actor, source="rewrite"))
            store.audit(actor, "accept", "rewrite", rewrite_id,
                        {"component_ids": new_ids, **provenance})
        studio_store.decide(store, rewrite_id, "accepted", actor,
                            accepted_template_id=new_ids[0] if as_ == "template" else None)
    return new_ids
