"""The rewrite studio against a hostile or broken model server, through the real ``openai``
client: slot injection, content that is not text, huge drafts, the cache serving rejected
drafts, a forged pairwise label, and Ctrl-C during a run (QA probe of the LLM backends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from store import open_store
from tests.conftest import ROOT
from tests.scripted_server import Reply, ScriptedServer, clear_llm_env
from tests.test_rewrite import DROPS_OFFER, GOOD, LEX, Script, _model_studio, _role, by_key
from workbench import ValidationError
from workbench.studio import llm_http
from workbench.studio.llm import LLMError
from workbench.studio.pipeline import RULES_LABEL, Studio, accept, rewrite_row, runs
from workbench.studio.rewrites import REJECTED_KEEP_CHARS

SLOT = {"title": "Thanks for your first order!", "preheader": "",
        "body": "Your next Bros burger is RM4 off over RM20. {offer}"}


def rewrite_requests(server: ScriptedServer) -> int:
    return sum(1 for q in server.requests if _role(q) == "rewrite")


def nb04(store) -> int:
    return by_key(store, "msg-nb-04")["id"]


# -- slot injection (defect 2) ------------------------------------------------------------------

def test_a_draft_with_a_slot_is_rejected_naming_the_slot(store):
    """The draft passed the check and, accepted, became an active template whose messages
    appended any offer atom."""
    with ScriptedServer(default=Script([SLOT, GOOD])) as server:
        r = _model_studio(store, server).rewrite_one(nb04(store), "t")
        prompts = [q["messages"][-1]["content"] for q in server.requests
                   if _role(q) == "rewrite"]
    assert r["attempts"] == 2 and r["rewrite"] == GOOD
    assert r["rejected"][0]["reasons"] == [
        "it contains the slot {offer}; a rewrite is final text"]
    assert "it contains the slot {offer}" in prompts[1]


@pytest.mark.parametrize("field", ["title", "preheader", "body"])
def test_the_check_finds_a_slot_in_any_field(store, field):
    msg = by_key(store, "msg-nb-04")
    draft = dict(GOOD, **{field: GOOD[field] + " { cta }"})
    assert "it contains the slot {cta}; a rewrite is final text" in Studio(
        store, configs={}, embedder=LEX).check(msg, draft)


def test_every_draft_with_a_slot_falls_back_to_the_rules_engine(store):
    with ScriptedServer(default=Script([SLOT])) as server:
        r = _model_studio(store, server).rewrite_one(nb04(store), "t")
    assert r["engine"] == RULES_LABEL and not any("{" in v for v in r["rewrite"].values())


@pytest.mark.parametrize("as_", ["template", "atoms"])
def test_accept_refuses_a_stored_rewrite_with_a_slot_and_adds_nothing(store, as_):
    with ScriptedServer(default=Script([GOOD])) as server:
        rid = _model_studio(store, server).rewrite_one(nb04(store), "t")["id"]
    store.db.execute("UPDATE rewrites SET rewrite = ? WHERE id = ?",
                     [json.dumps(SLOT), rid])  # e.g. stored before the check knew slots
    templates, components = len(store.templates()), len(store.components())
    with pytest.raises(ValidationError) as e:
        accept(store, rid, "t", as_=as_)
    [problem] = e.value.problems
    assert problem.field == "body"
    assert problem.message == "it contains the slot {offer}; a rewrite is final text"
    assert (len(store.templates()), len(store.components())) == (templates, components)
    assert rewrite_row(store, rid)["status"] == "proposed"


# -- content that is not text (defect 3) ----------------------------------------------------------

def test_a_rewrite_answer_that_is_not_text_fails_the_run_with_a_clear_message(store):
    """The run recorded "'list' object has no attribute 'strip'"."""
    def answer(request):
        return Reply(content=[{"type": "image_url", "image_url": {"url": "x"}}]) \
            if _role(request) == "rewrite" else Script([GOOD])(request)
    with ScriptedServer(default=answer) as server, pytest.raises(LLMError) as e:
        _model_studio(store, server).run_segment("new_buyers", "t", template_ids=[nb04(store)])
    assert "the answer's content is not text" in str(e.value)
    run = runs(store, "new_buyers")[0]
    assert run["status"] == "failed" and "content is not text" in run["message"]
    assert "AttributeError" not in run["message"]


def test_the_studio_page_says_the_content_is_not_text_not_attribute_error(db_path, monkeypatch):
    """The page showed "The rewrite stopped: AttributeError: 'list' object has no attribute
    'strip'"."""
    from tests.test_studio_page import rewrite_all, studio
    with ScriptedServer(default=Reply(content=[{"type": "image_url"}])) as server:
        clear_llm_env(monkeypatch)
        monkeypatch.setenv("WORKBENCH_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_LLM_MODEL", "scripted")
        monkeypatch.setenv("WORKBENCH_LLM_MAX_RETRIES", "0")
        at = rewrite_all(studio())
    assert not at.exception
    assert at.error and "The rewrite stopped" in at.error[0].value
    assert "content is not text" in at.error[0].value
    assert "AttributeError" not in at.error[0].value


# -- size (defect 5) -----------------------------------------------------------------------------

def test_a_huge_draft_fails_the_run_quickly_and_stores_nothing_big(store):
    huge = json.dumps(dict(GOOD, body="Burgers! " * 600_000))  # 5.4 MB
    def answer(request):
        return huge if _role(request) == "rewrite" else Script([GOOD])(request)
    started = time.monotonic()
    with ScriptedServer(default=answer) as server, pytest.raises(LLMError) as e:
        _model_studio(store, server).run_segment("new_buyers", "t", template_ids=[nb04(store)])
    assert time.monotonic() - started < 20  # 861 s before
    assert e.value.kind == "too_long"
    assert runs(store, "new_buyers")[0]["status"] == "failed"
    assert store.query("SELECT COUNT(*) AS n FROM rewrites")[0]["n"] == 0
    assert store.query("SELECT MAX(LENGTH(response)) AS n FROM llm_cache")[0]["n"] < 10_000


def test_a_long_rejected_draft_is_stored_truncated_and_says_so(store):
    long = dict(GOOD, body=GOOD["body"] + " Really tasty." * 1500)  # 21 kB: over the push cap
    assert len(json.dumps(long)) < llm_http.MAX_ANSWER_CHARS
    with ScriptedServer(default=Script([long, GOOD])) as server:
        r = _model_studio(store, server).rewrite_one(nb04(store), "t")
    assert r["attempts"] == 2 and r["rewrite"] == GOOD
    body = r["rejected"][0]["draft"]["body"]
    assert body.startswith(long["body"][:REJECTED_KEEP_CHARS])
    assert body.endswith(f"[truncated: the first {REJECTED_KEEP_CHARS:,} of "
                         f"{len(long['body']):,} characters are stored]")
    assert len(store.query("SELECT rejected FROM rewrites")[0]["rejected"]) < 10_000


# -- the cache and rejected drafts (defect 6) -----------------------------------------------------

def test_every_attempt_reaches_the_model_and_rejected_drafts_leave_the_cache(store):
    """Attempt 3 had attempt 2's prompt and was served from the cache (the model was asked
    twice); after the server was fixed a rerun sent no request and fell back again."""
    script = Script([DROPS_OFFER])
    with ScriptedServer(default=script) as server:
        r = _model_studio(store, server).rewrite_one(nb04(store), "t")
        assert r["engine"] == RULES_LABEL and len(r["rejected"]) == 3
        assert rewrite_requests(server) == 3
        cached = [json.loads(x["response"]) for x in
                  store.query("SELECT response FROM llm_cache WHERE agent = 'rewrite'")]
        assert cached == []
        script.rewrites = [GOOD]  # the server is fixed
        again = _model_studio(store, server).rewrite_one(nb04(store), "t")
        assert rewrite_requests(server) == 4
        assert again["engine"] == "scripted at " + server.base_url and again["rewrite"] == GOOD
        script.rewrites = [DROPS_OFFER]  # an accepted draft stays cached
        third = _model_studio(store, server).rewrite_one(nb04(store), "t")
        assert rewrite_requests(server) == 4 and third["rewrite"] == GOOD


# -- a forged label from the judge (minor) --------------------------------------------------------

def test_an_extra_order_key_from_the_judge_does_not_overwrite_the_stored_label(store):
    script = Script([GOOD], compare=["B", "A"])

    def forging(request):
        out = json.loads(script(request))
        if _role(request) == "compare":
            out.update(order="FORGED", verdict="original")
        return json.dumps(out)
    with ScriptedServer(default=forging) as server:
        r = _model_studio(store, server).rewrite_one(nb04(store), "t")
    ev = r["evaluation"]
    assert [p["order"] for p in ev["pairwise"]] == ["original as A", "rewrite as A"]
    assert ev["pairwise"][0] == {"order": "original as A", "choice": "B", "reason": "because"}
    assert ev["verdict"] == "rewrite" and "FORGED" not in json.dumps(ev)


# -- Ctrl-C (defect 7) ---------------------------------------------------------------------------

def test_ctrl_c_during_a_rewrite_marks_the_run_failed_interrupted(db_path):
    """SIGINT while the model hangs left the rewrite_runs row 'running' for ever."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_LLM_")}
    with ScriptedServer(default=Reply(content="{}", delay=60)) as server:
        env.update(WORKBENCH_DB=str(db_path), WORKBENCH_LLM_BASE_URL=server.base_url,
                   WORKBENCH_LLM_MODEL="scripted", WORKBENCH_LLM_TIMEOUT="120",
                   WORKBENCH_LLM_MAX_RETRIES="0", OPENBLAS_NUM_THREADS="1")
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "rewrite", "--segment",
                                 "new_buyers"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.requests, "the rewrite never asked the model"
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1 and "interrupted" in err and "Traceback" not in err
    with open_store(db_path) as s:
        [run] = runs(s, "new_buyers")
    assert (run["status"], run["message"]) == ("failed", "interrupted")


def test_an_interrupt_is_recorded_and_raised_again(store, monkeypatch):
    studio = Studio(store, configs={}, embedder=LEX)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(studio, "rewrite_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        studio.run_segment("new_buyers", "t", template_ids=[nb04(store)])
    run = runs(store, "new_buyers")[0]
    assert (run["status"], run["message"]) == ("failed", "interrupted")
