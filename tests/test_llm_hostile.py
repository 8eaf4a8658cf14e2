"""A hostile or broken OpenAI-compatible server, through the real ``openai`` client: answers
that are not text, not a chat completion, too slow to finish or too long to read, far-future
Retry-After dates, and model names that are not names. Each case crashed, hung, stored megabytes
or said something misleading before (QA probe of the LLM backends)."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT
from tests.scripted_server import Reply, ScriptedServer, clear_llm_env
from workbench import ValidationError
from workbench.cli import main
from workbench.studio import llm_http
from workbench.studio.llm import (
    BackendConfig,
    LLMClient,
    LLMError,
    call_log,
    check_backend,
    load_configs,
    validate_settings,
)

SCHEMA = {"type": "object", "properties": {"score": {"type": "integer"},
                                           "reason": {"type": "string"}},
          "required": ["score", "reason"]}
GOOD = '{"score": 4, "reason": "clear offer"}'


def client(server: ScriptedServer, store=None, **kw) -> LLMClient:
    cfg = BackendConfig(agent=kw.pop("agent", "evaluation"), base_url=server.base_url,
                        model="scripted", **{"max_retries": 0, **kw})
    return LLMClient(cfg, store, sleep=lambda s: None)


def ask(c: LLMClient, **kw) -> dict:
    return c.complete_json(system="You judge CRM messages.", user="Rate this message.",
                           schema=SCHEMA, purpose="judge", max_tokens=60, **kw)


def fails(reply, store=None, **kw) -> tuple[LLMError, int]:
    """The error a call answered ``reply`` raises, and how many requests the server saw."""
    with ScriptedServer([reply], default=GOOD) as server:
        with pytest.raises(LLMError) as e:
            ask(client(server, store, **kw))
        return e.value, len(server.requests)


# -- content that is not text (defect 3) -----------------------------------------------------

def test_content_as_a_list_of_text_parts_is_joined():
    parts = [{"type": "text", "text": '{"score": 4, '}, {"type": "text", "text": '"reason": "ok"}'}]
    with ScriptedServer([Reply(content=parts)]) as server:
        assert ask(client(server)) == {"score": 4, "reason": "ok"}


@pytest.mark.parametrize("content, what", [
    (42, "a JSON number"),
    ([{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
     "a list that is not only text parts"),
    ({"score": 4}, "a JSON object"),
])
def test_content_that_is_not_text_is_a_clear_logged_error(store, content, what):
    """A list or a number crashed in extract_json ('list' object has no attribute 'strip'),
    with no call logged."""
    error, requests = fails(Reply(content=content), store)
    assert error.kind == "invalid_json" and requests == 1  # no repair request
    assert "the answer's content is not text" in str(error) and what in str(error)
    assert str(error).startswith("The evaluation model at http://127.0.0.1:")
    [row] = call_log(store)
    assert row["status"] == "error" and "content is not text" in row["error"]


def test_check_backend_and_cli_llm_check_report_content_that_is_not_text(db_path, monkeypatch,
                                                                         capsys):
    with ScriptedServer(default=Reply(content=42)) as server:
        cfg = BackendConfig("rewrite", base_url=server.base_url, model="scripted",
                            max_retries=0)
        result = check_backend(cfg)
        assert not result["ok"] and "content is not text" in result["message"]
        clear_llm_env(monkeypatch)
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_MODEL", "scripted")
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_MAX_RETRIES", "0")
        assert main(["llm", "check"]) == 1  # a traceback before
    out = capsys.readouterr().out
    assert "FAILED" in out and "the answer's content is not text (a JSON number" in out


def test_the_settings_pages_connection_test_reports_content_that_is_not_text(db_path,
                                                                            monkeypatch):
    clear_llm_env(monkeypatch, keys=True)
    with ScriptedServer(default=Reply(content=[{"type": "refusal", "refusal": "no"}])) as server:
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
        at.switch_page("pages/6_LLM_settings.py").run()
        at.text_input(key="llm_rewrite_base_url").set_value(server.base_url)
        at.text_input(key="llm_rewrite_model").set_value("scripted")
        at.number_input(key="llm_rewrite_retries").set_value(0)
        next(b for b in at.button if b.label == "Save rewrite settings").click().run()
        next(b for b in at.button if b.label == "Test connection" and not b.disabled
             ).click().run()
    assert not at.exception, at.exception  # the page raised before
    assert len(at.error) == 1 and "content is not text" in at.error[0].value


# -- answers that are not a chat completion (minor) ------------------------------------------

@pytest.mark.parametrize("reply, said", [
    (Reply(body={"id": "x", "object": "chat.completion"}), "the server's answer has no choices"),
    (Reply(body={"id": "x", "choices": []}), "the server's answer has no choices"),
    (Reply(body={"id": "x", "choices": "abc"}), "the server's answer has no choices"),
    (Reply(body={"error": {"message": "model overloaded"}}), "model overloaded"),
    (Reply(body={"id": "x", "choices": [{"index": 0, "message": None}]}),
     "the server's answer has no message in its first choice"),
    (Reply(raw="<html><body>Welcome to nginx</body></html>", content_type="text/html"),
     "is not JSON from an OpenAI-compatible API (text/html): \"<html><body>Welcome"),
    (Reply(raw='data: {"choices": [{"delta": {"content": "{}"}}]}\n\ndata: [DONE]\n\n',
           content_type="text/event-stream"),
     "is not JSON from an OpenAI-compatible API (text/event-stream)"),
])
def test_an_answer_that_is_not_a_chat_completion_says_what_came_back(store, reply, said):
    """These said "(the answer was empty): (an empty answer)" after a pointless repair
    request, or "failed unexpectedly (AttributeError ...)"."""
    error, requests = fails(reply, store)
    assert requests == 1, "no repair request for an answer that is not a chat completion"
    assert error.kind == "invalid_json" and said in str(error), str(error)
    assert "empty" not in str(error) and "unexpectedly" not in str(error)
    assert str(error).endswith(".")
    assert call_log(store)[0]["status"] == "error"


@pytest.mark.parametrize("usage", [{"prompt_tokens": "lots"}, "garbage", [1, 2],
                                   {"prompt_tokens": -5, "completion_tokens": True}])
def test_a_garbage_usage_field_keeps_a_valid_answer(store, usage):
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": GOOD}}], "usage": usage}
    with ScriptedServer([Reply(body=body)]) as server:
        assert ask(client(server, store)) == {"score": 4, "reason": "clear offer"}
    [row] = call_log(store)
    assert (row["status"], row["prompt_tokens"], row["completion_tokens"]) == ("ok", 0, 0)


# -- the timeout is a deadline (defect 4) ----------------------------------------------------

def test_a_trickled_answer_is_cut_off_at_the_timeout(store):
    """A valid answer sent a byte every 0.1 s (about 25 s in all) with a timeout of 1 s: the
    check took the whole 25 s and reported OK (100 s at 0.5 s a byte)."""
    with ScriptedServer(default=Reply(content='{"ok": true}', trickle=0.1)) as server:
        cfg = BackendConfig("diagnosis", base_url=server.base_url, model="scripted",
                            timeout_s=1, max_retries=0)
        started = time.monotonic()
        result = check_backend(cfg, store)
        took = time.monotonic() - started
    assert took < 3, took
    assert not result["ok"] and result["kind"] == "timeout"
    assert result["message"] == (f"The diagnosis model at {server.base_url} did not answer "
                                 "within 1 s (tried 1 time).")
    assert call_log(store)[0]["error"].startswith("timeout")


def test_the_deadline_holds_for_every_retry(store):
    with ScriptedServer(default=Reply(content=GOOD, trickle=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(LLMError) as e:
            ask(client(server, store, timeout_s=0.5, max_retries=2))
        took = time.monotonic() - started
        assert len(server.requests) == 3
    assert took < 4, took
    assert e.value.kind == "timeout" and "within 0.5 s (tried 3 times)" in str(e.value)


# -- the answer's size is capped (defect 5) ---------------------------------------------------

def test_a_huge_answer_is_refused_unread_quickly(store):
    """A 5 MB rewrite took 14 minutes and filled the database."""
    huge = json.dumps({"score": 4, "reason": "A" * 5_000_000})
    started = time.monotonic()
    error, requests = fails(Reply(content=huge), store, timeout_s=30)
    assert time.monotonic() - started < 10
    assert requests == 1 and error.kind == "too_long"
    assert str(error).startswith("The evaluation model at http://127.0.0.1:")
    assert " sent a body of " in str(error)
    assert (f"bytes (at most {llm_http.MAX_BODY_BYTES:,} are read); a studio answer has at "
            f"most {llm_http.MAX_ANSWER_CHARS:,} characters, so it was refused without being "
            "read." in str(error))
    assert store.query("SELECT COUNT(*) AS n FROM llm_cache")[0]["n"] == 0
    [row] = call_log(store)
    assert row["status"] == "error" and row["error"].startswith("too_long")


def test_an_answer_over_the_character_cap_is_refused_before_parsing(store):
    long = json.dumps({"score": 4, "reason": "é" * (llm_http.MAX_ANSWER_CHARS + 10)},
                      ensure_ascii=False)
    error, requests = fails(Reply(content=long), store)
    assert requests == 1 and error.kind == "too_long"
    assert f"an answer of {len(long):,} characters" in str(error)


class _Chunked:
    """A streamed response with no Content-Length, its body 1 MB at a time, without end."""

    headers: dict = {"content-type": "application/json"}

    def __init__(self):
        self.read = 0

    def iter_bytes(self):
        while True:
            self.read += 1 << 20
            yield b" " * (1 << 20)


def test_a_body_with_no_length_is_read_only_up_to_the_cap():
    response = _Chunked()
    with pytest.raises(llm_http.TooLong) as e:
        llm_http._body(response, time.monotonic() + 60)
    assert response.read == 1 << 20  # the first chunk is over the cap: nothing more is read
    assert f"more than {llm_http.MAX_BODY_BYTES:,} bytes" in str(e.value)


def test_an_answer_just_under_the_cap_is_read():
    reason = "x" * (llm_http.MAX_ANSWER_CHARS - 40)
    with ScriptedServer([json.dumps({"score": 4, "reason": reason})]) as server:
        assert ask(client(server))["reason"] == reason


# -- Retry-After far away (minor) -------------------------------------------------------------

def test_a_far_future_retry_after_date_says_until_when():
    error, requests = fails(Reply(status=503, error="hostile HTTP 503",
                                  headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}),
                            max_retries=2)
    assert requests == 1
    assert str(error).endswith("(tried 1 time): hostile HTTP 503. The server asks to wait until "
                               "2100-01-01 00:00:00 UTC before trying again; try later.")


def test_a_huge_retry_after_in_seconds_is_said_in_words():
    error, _ = fails(Reply(status=429, headers={"Retry-After": "2300840000"}), max_retries=1)
    assert "e+" not in str(error)
    assert str(error).endswith("The server asks to wait more than ten years before trying "
                               "again; try later.")
    error, _ = fails(Reply(status=503, headers={"Retry-After": "864000"}), max_retries=1)
    assert "asks to wait 10 days before" in str(error)


# -- model names (minor) ----------------------------------------------------------------------

SETTINGS = {"base_url": "http://127.0.0.1:8081/v1", "temperature": 0.2, "timeout_s": 30,
            "max_retries": 1}


@pytest.mark.parametrize("model, said", [
    ("smol\nlm", "U+000A"), ("smol\x00lm", "U+0000"), ("smol\x1b[31mlm", "U+001B"),
    ("smol\u200blm", "U+200B"), ("m" * 100_000, "100,000 characters long"),
])
def test_a_model_name_with_control_characters_or_too_long_is_refused(empty_store, model, said):
    with pytest.raises(ValidationError) as e:
        validate_settings("rewrite", model=model, **SETTINGS)
    [problem] = e.value.problems
    assert problem.field == "model" and said in problem.message
    with pytest.raises(LLMError) as e:
        load_configs(empty_store, env={"WORKBENCH_LLM_BASE_URL": SETTINGS["base_url"],
                                       "WORKBENCH_LLM_MODEL": model})
    assert e.value.kind == "config" and "WORKBENCH_LLM_MODEL=" in str(e.value)
    assert said in str(e.value) and len(str(e.value)) < 400


def test_a_bad_model_name_saved_before_the_check_is_refused_when_read(empty_store):
    from store import llm as llm_store
    llm_store.save_settings(empty_store, "rewrite", {
        "base_url": SETTINGS["base_url"], "model": "smol\nlm", "temperature": 0.2,
        "timeout_s": 30, "max_retries": 1}, "t")
    with pytest.raises(LLMError) as e:
        load_configs(empty_store, env={})
    assert e.value.kind == "config" and str(e.value) == (
        "rewrite: the saved model name must not contain control or invisible characters "
        "(U+000A found); fix it on the LLM settings page.")


def test_an_ordinary_model_name_is_kept():
    assert validate_settings("rewrite", model=" qwen2.5:7b-instruct Q4_K_M ",
                             **SETTINGS)["model"] == "qwen2.5:7b-instruct Q4_K_M"


def test_the_settings_page_refuses_a_model_name_with_a_newline(db_path, monkeypatch):
    clear_llm_env(monkeypatch)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    at.switch_page("pages/6_LLM_settings.py").run()
    at.text_input(key="llm_rewrite_base_url").set_value("http://127.0.0.1:8081/v1")
    at.text_input(key="llm_rewrite_model").set_value("smollm2\x1b[2J")
    next(b for b in at.button if b.label == "Save rewrite settings").click().run()
    assert not at.exception
    assert any("control or invisible characters" in e.value for e in at.error)
    with open_store(db_path) as s:
        assert s.query("SELECT * FROM llm_settings") == []
