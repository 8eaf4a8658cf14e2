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
engine (``workbench.studio.copyrules``). :class:`Studio` is the one front door; the evaluation
itself is computed in :mod:`workbench.studio.evaluation`, and stored rewrites and the decisions
on them (dismiss, accept into the library) are in :mod:`workbench.studio.rewrites`, whose names
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from store import Store, StoreBusyError
from store import studio as studio_store
from workbench import Problem, ValidationError
from workbench.studio import copyrules as rules
from workbench.studio import diagnosis as diag
from workbench.studio import evaluation, grounding
from workbench.studio import rewrites as stored
from workbench.studio.evaluation import pair_verdict
from workbench.studio.llm import BackendConfig, LLMClient, load_configs
from workbench.studio.performance import Thresholds, template_scores
from workbench.studio.prompts import (
    DIAGNOSIS_SCHEMA,
    REWRITE_SCHEMA,
    diagnosis_prompt,
    rewrite_prompt,
)
from workbench.studio.prompts import message_fields as _fields
from workbench.studio.rewrites import (
    OfferUnfit,
    RewriteError,
    accept,
    dismiss,
    offer_type,
    rewrite_row,
    rewrites,
    runs,
)

__all__ = ["PATHS", "RULES_LABEL", "OfferUnfit", "Retrieval", "RewriteError", "Studio", "accept",
           "dismiss", "metadata_text", "offer_type", "pair_verdict", "rewrite_row", "rewrites",
           "run_segment", "runs"]

PATHS = ("in_group", "retrieved", "rule_based")
RULES_LABEL = "Offline rules engine"
MAX_ATTEMPTS = 3          # a rejected draft is retried with its reasons, twice
RETRIEVE_K = 2
RETRIEVE_MIN_SCORE = 0.2


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
        """Why a draft cannot stand: a ``{slot}`` in it (a rewrite is final text), dropped
        intent, an unsupported claim (grounding), a lost code or date, channel overflow, empty
        body."""
        problems = [why for _, why in stored.slot_problems(draft)]
        problems += [f"it dropped {m}" for m in rules.Intent.of(msg).missing(draft)]
        problems += [p for p in grounding.check(draft, msg, msg.get("segment")).problems()
                     if not p.startswith("it dropped or changed the amount")]
        problems += rules.fit_check(draft, self._limits(msg))
        if not str(draft.get("body") or "").strip():
            problems.append("the body is empty")
        return problems

    def write(self, msg: Mapping[str, Any], diagnosis: Mapping[str, Any],
              retrieval: Retrieval) -> dict[str, Any]:
        """A draft that keeps the intent and fits the channel, with every rejected attempt."""
        unfit = rules.unfit_offer(msg)
        if unfit:  # no draft, model's or rules', can pass: say why before asking anyone
            raise OfferUnfit(msg["id"], unfit)
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
                # A rejected draft leaves the cache: the next attempt (whose prompt may be
                # this one's again) and a later run ask the model, not the cache.
                client.forget(system=system, user=user, schema=REWRITE_SCHEMA, max_tokens=400)
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

    def evaluate(self, msg: Mapping[str, Any], draft: Mapping[str, str]) -> dict[str, Any]:
        """Scores and the both-orders blind comparison (:mod:`workbench.studio.evaluation`)."""
        client = self._client("evaluation")
        if client is None:
            return evaluation.by_heuristic(msg, draft, self._band(msg["segment"], "strong"),
                                           self.embedder, self._limits(msg))
        return evaluation.by_model(client, msg, draft, self.segment(msg["segment"]),
                                   self.engine("evaluation"))

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
        rid = stored.record(self.store, msg, actor, run_id, diagnosis=diagnosis,
                            retrieval=retrieval, written=written,
                            evaluation=self.evaluate(msg, written["draft"]),
                            faithfulness=evaluation.faithfulness_scores(msg, written["draft"],
                                                                        self.embedder))
        return rewrite_row(self.store, rid)

    def run_segment(self, segment: str, actor: str, template_ids: Sequence[int] | None = None,
                    progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
        """Rewrite every weak message of a segment (or the given ones) as one recorded run
        (:func:`run_segment`)."""
        return run_segment(self, segment, actor, template_ids, progress)


def run_segment(studio: Studio, segment: str, actor: str,
                template_ids: Sequence[int] | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Rewrite every weak message of a segment (or the given ones) as one recorded run.

    A backend failure stops the run with its message recorded; rewrites already made stay. A
    message whose offer no wording fits to the segment (:class:`OfferUnfit`) is skipped with
    its reason, in the result's ``skipped`` and the run's message; the run goes on.
    """
    studio.segment(segment)
    ids = list(template_ids) if template_ids is not None else [
        int(i) for i in studio.weak_messages(segment)["template_id"]]
    engines = {a: studio.engine(a) for a in ("diagnosis", "rewrite", "evaluation")}
    run_id = stored.start_run(studio.store, segment, engines, total=len(ids), actor=actor)
    made: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    try:
        for n, tid in enumerate(ids, 1):
            if progress:
                progress(n - 1, len(ids), f"Rewriting template #{tid}")
            try:
                made.append(studio.rewrite_one(tid, actor, run_id))
            except OfferUnfit as e:  # the marketer's to fix; the others still get done
                skipped.append({"template_id": tid, "reason": e.reason})
            studio_store.update_run(studio.store, run_id, done=n)
    except BaseException as e:  # any failure ends the run, Ctrl-C too (one left "running"
        # showed forever)
        why = str(e) if isinstance(e, Exception) else (
            "interrupted" if isinstance(e, KeyboardInterrupt) else
            f"stopped ({type(e).__name__})")
        try:
            studio_store.update_run(studio.store, run_id, status="failed", message=why)
        except StoreBusyError:  # the reason to show is the first failure, not this one
            pass
        raise
    studio_store.update_run(studio.store, run_id, status="done", message="; ".join(
        f"template #{s['template_id']} skipped: {s['reason']}" for s in skipped))
    if progress:
        progress(len(ids), len(ids), "Done")
    return {"run_id": run_id, "segment": segment, "rewrites": made, "skipped": skipped,
            "engines": engines}
