"""LLM backend layer: configuration, validation, calls against a scripted OpenAI-compatible
server (retries, repair, cache, log), and against the real local llama.cpp server."""

from __future__ import annotations

import email.utils
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from store import open_store
from tests.conftest import ROOT
from tests.scripted_server import Reply, ScriptedServer
from workbench.studio import llm_server
from workbench.cli import main
from workbench import ValidationError, WorkbenchError
from workbench.studio.llm import (
    AGENTS,
    NO_KEY,
    BackendConfig,
    LLMClient,
    LLMError,
    call_log,
    check_backend,
    load_configs,
    save_settings,
    usage_summary,
)

SECRET = "sk-test-0123456789abcdef-SECRET"
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1,
                                                     "maximum": 5},
                                           "reason": {"type": "string"}},
          "required": ["score", "reason"]}
GOOD = '{"score": 4, "reason": "clear offer"}'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(server: ScriptedServer, store=None, sleeps: list | None = None, **kw) -> LLMClient:
    cfg = BackendConfig(agent=kw.pop("agent", "evaluation"), base_url=server.base_url,
                        model="scripted", **kw)
    return LLMClient(cfg, store, sleep=(sleeps.append if sleeps is not None
                                        else lambda s: None))


def ask(c: LLMClient, user: str = "Rate this message.", **kw) -> dict:
    return c.complete_json(system="You judge CRM messages.", user=user, schema=SCHEMA,
                           purpose=kw.pop("purpose", "judge"), max_tokens=kw.pop("max_tokens",
                                                                                  60), **kw)


# -- configuration -------------------------------------------------------------------------

def test_nothing_configured_is_offline(empty_store):
    configs = load_configs(empty_store, env={})
    assert tuple(configs) == AGENTS
    for cfg in configs.values():
        assert cfg.offline and cfg.source == "default" and cfg.api_key is None
        assert cfg.label == "Offline rules engine"


def test_precedence_agent_env_over_general_env_over_settings(empty_store):
    save_settings(empty_store, "diagnosis", base_url="http://settings:1/v1", model="m-set",
                  temperature=0.7, timeout_s=12, max_retries=1, actor="t")
    save_settings(empty_store, "rewrite", base_url="http://settings:2/v1", model="m-set2",
                  temperature=0.1, timeout_s=9, max_retries=0, actor="t")
    env = {"WORKBENCH_LLM_BASE_URL": "http://general:3/v1/", "WORKBENCH_LLM_MODEL": "m-gen",
           "WORKBENCH_LLM_REWRITE_MODEL": "m-agent", "WORKBENCH_LLM_REWRITE_TIMEOUT": "3.5",
           "WORKBENCH_LLM_EVALUATION_TEMPERATURE": "0"}
    c = load_configs(empty_store, env=env)
    assert (c["diagnosis"].base_url, c["diagnosis"].model, c["diagnosis"].temperature,
            c["diagnosis"].timeout_s, c["diagnosis"].source) == (
        "http://general:3/v1", "m-gen", 0.7, 12.0, "environment")
    assert (c["rewrite"].model, c["rewrite"].timeout_s, c["rewrite"].max_retries) == (
        "m-agent", 3.5, 0)
    assert (c["evaluation"].model, c["evaluation"].temperature) == ("m-gen", 0.0)
    only_settings = load_configs(empty_store, env={})
    assert only_settings["diagnosis"].source == "settings"
    assert only_settings["diagnosis"].label == "m-set at http://settings:1/v1"
    assert only_settings["evaluation"].offline
    assert only_settings["diagnosis"].api_key == NO_KEY  # local servers need none


def test_key_precedence_and_never_in_repr(empty_store):
    env = {"WORKBENCH_LLM_BASE_URL": "http://x/v1", "WORKBENCH_LLM_MODEL": "m",
           "OPENAI_API_KEY": "from-openai", "WORKBENCH_LLM_API_KEY": "from-general",
           "WORKBENCH_LLM_REWRITE_API_KEY": "from-agent"}
    c = load_configs(empty_store, env=env, keys={"evaluation": "typed"})
    assert c["rewrite"].api_key == "from-agent"
    assert c["diagnosis"].api_key == "from-general"
    assert c["evaluation"].api_key == "typed"
    del env["WORKBENCH_LLM_API_KEY"]
    assert load_configs(empty_store, env=env)["diagnosis"].api_key == "from-openai"
    assert "from-agent" not in repr(c["rewrite"]) and "from-agent" not in str(
        c["rewrite"].public())


def test_bad_number_in_the_environment_names_the_variable(empty_store):
    with pytest.raises(LLMError) as e:
        load_configs(empty_store, env={"WORKBENCH_LLM_REWRITE_TEMPERATURE": "hot"})
    assert e.value.kind == "config" and "WORKBENCH_LLM_REWRITE_TEMPERATURE" in str(e.value)


@pytest.mark.parametrize("env, said", [
    ({"WORKBENCH_LLM_TIMEOUT": "-5"}, "WORKBENCH_LLM_TIMEOUT='-5' is out of range: it must be "
     "more than 0 and at most 3600 seconds; fix or unset it to configure the diagnosis model."),
    ({"WORKBENCH_LLM_MAX_RETRIES": "100000"}, "WORKBENCH_LLM_MAX_RETRIES='100000' is out of "
     "range: it must be a whole number from 0 to 10; fix or unset it to configure the "
     "diagnosis model."),
    ({"WORKBENCH_LLM_REWRITE_TEMPERATURE": "99"}, "WORKBENCH_LLM_REWRITE_TEMPERATURE='99' is "
     "out of range: it must be between 0 and 2; fix or unset it to configure the rewrite "
     "model."),
    ({"WORKBENCH_LLM_BASE_URL": "http://127.0.0.1:1/v1", "WORKBENCH_LLM_MODEL": " "},
     "diagnosis: a base URL with no model; set WORKBENCH_LLM_MODEL (or "
     "WORKBENCH_LLM_DIAGNOSIS_MODEL), e.g. smollm2-135m for the bundled local server, or unset "
     "the base URL."),
], ids=["timeout -5", "100000 retries", "temperature 99", "no model"])
def test_the_environment_is_held_to_the_settings_pages_ranges(empty_store, env, said):
    """A timeout of -5 failed at every request, 100000 retries hung past 100 s, a temperature
    of 99 went to the server, and an empty model was accepted."""
    with pytest.raises(LLMError) as e:
        load_configs(empty_store, env=env)
    assert e.value.kind == "config" and str(e.value) == said


@pytest.mark.parametrize("kwargs, field", [
    ({"base_url": "ftp://x"}, "base_url"),
    ({"base_url": "127.0.0.1:8081"}, "base_url"),
    ({"base_url": "http://user:pw@host/v1"}, "base_url"),
    ({"model": "  "}, "model"),
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": "warm"}, "temperature"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": 1.5}, "max_retries"),
])
def test_save_settings_rejects_bad_fields_and_writes_nothing(empty_store, kwargs, field):
    values = {"base_url": "http://127.0.0.1:8081/v1", "model": "smollm2-135m",
              "temperature": 0.2, "timeout_s": 30, "max_retries": 2} | kwargs
    with pytest.raises(ValidationError) as e:
        save_settings(empty_store, "rewrite", actor="t", **values)
    assert [p.field for p in e.value.problems] == [field]
    assert empty_store.query("SELECT * FROM llm_settings") == []
    assert not empty_store.query("SELECT * FROM audit_log WHERE entity = 'llm_settings'")


URL_RULE = ("must be an http:// or https:// address such as http://127.0.0.1:8081/v1, or empty "
            "for the offline rules engine")
PORT_RULE = "must have a port from 1 to 65535 after the host, such as http://127.0.0.1:8081/v1"


@pytest.mark.parametrize("url, problem", [
    ("http://[::1", URL_RULE),             # urlsplit raised ValueError: Invalid IPv6 URL
    ("http://::1]/v1", URL_RULE),
    ("http://host:abc/v1", PORT_RULE),     # accepted, then failed at every request
    ("http://host:70000/v1", PORT_RULE),
    ("http://host:0/v1", PORT_RULE),
])
def test_a_base_url_that_cannot_be_read_is_refused_by_name(empty_store, url, problem):
    with pytest.raises(ValidationError) as e:
        save_settings(empty_store, "diagnosis", base_url=url, model="m", temperature=0.2,
                      timeout_s=30, max_retries=2, actor="t")
    assert [str(p) for p in e.value.problems] == [f"field 'base_url': {problem}"]
    assert empty_store.query("SELECT * FROM llm_settings") == []


@pytest.mark.parametrize("url, problem", [("http://[::1", URL_RULE), ("ftp://x/v1", URL_RULE),
                                          ("http://host:abc/v1", PORT_RULE)])
def test_a_bad_base_url_in_the_environment_names_the_variable(empty_store, monkeypatch,
                                                              capsys, tmp_path, url, problem):
    with pytest.raises(LLMError) as e:
        load_configs(empty_store, env={"WORKBENCH_LLM_DIAGNOSIS_BASE_URL": url})
    message = (f"WORKBENCH_LLM_DIAGNOSIS_BASE_URL={url!r} {problem}; fix or unset it to "
               "configure the diagnosis model.")
    assert (e.value.kind, str(e.value)) == ("config", message)
    for name in list(os.environ):
        if name.startswith("WORKBENCH_LLM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "wb.db"))  # `workbench llm check`
    monkeypatch.setenv("WORKBENCH_LLM_DIAGNOSIS_BASE_URL", url)
    assert main(["llm", "check"]) == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_save_settings_unknown_agent(empty_store):
    with pytest.raises(ValidationError) as e:
        save_settings(empty_store, "copywriter", base_url="", model="", temperature=0.2,
                      timeout_s=30, max_retries=2, actor="t")
    assert e.value.problems[0].field == "agent"


def test_save_settings_audits_and_empty_url_goes_back_offline(empty_store):
    save_settings(empty_store, "rewrite", base_url=" http://127.0.0.1:8081/v1/ ",
                  model="smollm2-135m", temperature=0.3, timeout_s=5, max_retries=1,
                  actor="ana")
    row = empty_store.query("SELECT * FROM llm_settings")[0]
    assert (row["base_url"], row["updated_by"]) == ("http://127.0.0.1:8081/v1", "ana")
    audit = empty_store.query("SELECT * FROM audit_log WHERE entity = 'llm_settings'")
    assert audit[0]["entity_id"] == "rewrite" and audit[0]["actor"] == "ana"
    save_settings(empty_store, "rewrite", base_url="", model="", temperature=0.3, timeout_s=5,
                  max_retries=1, actor="ana")
    cfg = load_configs(empty_store, env={})["rewrite"]
    assert cfg.offline and cfg.source == "settings"
    with pytest.raises(TypeError):
        save_settings(empty_store, "rewrite", base_url="", model="", temperature=0.3,
                      timeout_s=5, max_retries=1, actor="ana", api_key=SECRET)


# -- calls against the scripted server -----------------------------------------------------

def test_valid_answer_is_returned_logged_and_key_sent_but_never_stored(tmp_path):
    db = tmp_path / "w.db"
    with open_store(db) as store, ScriptedServer([GOOD]) as server:
        save_settings(store, "evaluation", base_url=server.base_url, model="scripted",
                      temperature=0, timeout_s=5, max_retries=0, actor="t")
        cfg = load_configs(store, env={}, keys={"evaluation": SECRET})["evaluation"]
        assert ask(LLMClient(cfg, store)) == {"score": 4, "reason": "clear offer"}
        request = server.requests[0]
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
        assert request["model"] == "scripted" and request["max_tokens"] == 60
        assert request["response_format"]["type"] == "json_schema"
        assert request["response_format"]["json_schema"]["schema"] == SCHEMA
        assert "JSON" in request["messages"][0]["content"]
        [row] = call_log(store)
        assert (row["agent"], row["purpose"], row["status"], row["cached"], row["attempts"]) == (
            "evaluation", "judge", "ok", 0, 1)
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] == 5
        assert row["latency_ms"] > 0
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"w.db{suffix}"
        if path.exists():
            assert SECRET.encode() not in path.read_bytes()


def test_code_fences_and_prose_around_the_object_are_ignored():
    with ScriptedServer([f"Sure! Here it is:\n```json\n{GOOD}\n```\nAnything else?"]) as server:
        assert ask(client(server))["score"] == 4


def test_invalid_answer_gets_one_repair_request(store):
    with ScriptedServer(['{"score": 9, "reason": "x"}', GOOD]) as server:
        assert ask(client(server, store)) == {"score": 4, "reason": "clear offer"}
        repair = server.requests[1]["messages"]
        assert repair[-2] == {"role": "assistant", "content": '{"score": 9, "reason": "x"}'}
        assert "score" in repair[-1]["content"] and "maximum" in repair[-1]["content"]
    [row] = call_log(store)
    assert (row["status"], row["attempts"]) == ("repaired", 2)


def test_invalid_twice_is_an_invalid_json_error(store):
    with ScriptedServer(["I think it is a four.", "Really, a four!"]) as server:
        with pytest.raises(LLMError) as e:
            ask(client(server, store))
        assert len(server.requests) == 2
    assert e.value.kind == "invalid_json" and e.value.agent == "evaluation"
    assert str(e.value).startswith("The evaluation model answered text that is not the JSON "
                                   "asked for, even after one repair request")
    assert "Really, a four!" in str(e.value)
    [row] = call_log(store)
    assert row["status"] == "error" and row["error"].startswith("invalid_json")
    assert store.query("SELECT COUNT(*) AS n FROM llm_cache")[0]["n"] == 0


def test_identical_call_is_served_from_the_cache(store):
    with ScriptedServer([GOOD]) as server:
        c = client(server, store)
        first = ask(c)
        assert ask(client(server, store)) == first  # a new client, same store
        assert len(server.requests) == 1
        server.push(GOOD)
        ask(c, cache=False)
        assert len(server.requests) == 2
    rows = call_log(store)
    assert [r["cached"] for r in rows] == [0, 1, 0]
    assert rows[1]["attempts"] == 0 and rows[1]["cache_key"] == rows[2]["cache_key"]
    summary = usage_summary(store)
    assert [(s["agent"], s["calls"], s["cached"], s["errors"]) for s in summary] == [
        ("evaluation", 3, 1, 0)]
    assert summary[0]["prompt_tokens"] > 0 and summary[0]["mean_latency_ms"] > 0


def test_an_answer_is_not_lost_when_the_call_log_is_busy(store, monkeypatch):
    """The call was made and paid for: a database too busy for its log line or its cached
    answer costs the line (counted on the client) and the cache entry, not the answer."""
    from store import StoreBusyError
    from store import llm as llm_store

    def busy(*_a, **_k):
        raise StoreBusyError()

    monkeypatch.setattr(llm_store, "log_call", busy)
    monkeypatch.setattr(llm_store, "cache_response", busy)
    with ScriptedServer([GOOD, GOOD]) as server:
        c = client(server, store)
        assert ask(c) == {"score": 4, "reason": "clear offer"}
        assert c.unlogged == 1
        monkeypatch.undo()
        assert ask(c) == {"score": 4, "reason": "clear offer"}  # not cached: asked again
        assert len(server.requests) == 2
    assert [r["cached"] for r in call_log(store)] == [0]


def test_a_different_prompt_or_model_is_not_a_cache_hit(store):
    with ScriptedServer([GOOD, GOOD, GOOD]) as server:
        ask(client(server, store))
        ask(client(server, store), user="Rate this other message.")
        ask(client(server, store, temperature=0.9))
        assert len(server.requests) == 3


def test_server_error_then_ok_is_retried_with_exponential_backoff(store):
    sleeps: list[float] = []
    with ScriptedServer([500, 503, GOOD]) as server:
        assert ask(client(server, store, sleeps, max_retries=2))["score"] == 4
        assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert call_log(store)[0]["attempts"] == 3


def test_rate_limit_is_retried_but_a_bad_key_is_not(store):
    with ScriptedServer([429, GOOD]) as server:
        assert ask(client(server, store, max_retries=1))["score"] == 4
    with ScriptedServer([Reply(status=401, error=f"Incorrect API key provided: {SECRET}")]) \
            as server:
        with pytest.raises(LLMError) as e:
            ask(client(server, store, max_retries=3, api_key=SECRET))
        assert len(server.requests) == 1
    assert e.value.kind == "http" and e.value.status_code == 401
    assert "refused the API key" in str(e.value) and SECRET not in str(e.value)
    assert SECRET not in json.dumps(call_log(store))


def test_retry_after_in_seconds_on_429_and_503_replaces_the_backoff(store):
    sleeps: list[float] = []
    with ScriptedServer([Reply(status=429, headers={"Retry-After": "3"}),
                         Reply(status=503, headers={"Retry-After": "0"}),
                         Reply(status=500, headers={"Retry-After": "7"}),  # only 429/503
                         Reply(status=503, headers={"Retry-After": "soon"}),  # unreadable
                         GOOD]) as server:
        assert ask(client(server, store, sleeps, max_retries=4))["score"] == 4
        assert len(server.requests) == 5
    assert sleeps == [3.0, 0.0, 0.5 * 2 ** 2, 0.5 * 2 ** 3]


def test_retry_after_as_an_http_date_waits_until_then(store):
    sleeps: list[float] = []
    when = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20),
                                       usegmt=True)
    with ScriptedServer([Reply(status=429, headers={"Retry-After": when}), GOOD]) as server:
        assert ask(client(server, store, sleeps, max_retries=1))["score"] == 4
    (wait,) = sleeps
    assert 17.0 <= wait <= 20.0  # the date has whole seconds; the request took a moment


def test_retry_after_beyond_the_cap_gives_up_at_once_and_says_how_long(store):
    sleeps: list[float] = []
    with ScriptedServer([Reply(status=429, headers={"Retry-After": "3600"}), GOOD]) as server:
        with pytest.raises(LLMError) as e:
            ask(client(server, store, sleeps, max_retries=2))
        assert len(server.requests) == 1
    assert sleeps == [] and (e.value.kind, e.value.status_code) == ("http", 429)
    assert str(e.value).endswith("The server asks to wait 3600 s before trying again; try "
                                 "later.")
    assert "is limiting requests (HTTP 429, tried 1 time)" in str(e.value)


def test_persistent_server_error_names_the_status(store):
    with ScriptedServer(default=Reply(status=500, error="CUDA out of memory")) as server:
        with pytest.raises(LLMError) as e:
            ask(client(server, store, max_retries=2))
        assert len(server.requests) == 3
    assert e.value.kind == "http" and "HTTP 500 (tried 3 times)" in str(e.value)
    assert "CUDA out of memory" in str(e.value)


def test_refused_response_format_falls_back_to_simpler_ones():
    def picky(request):
        fmt = request.get("response_format")
        if fmt and fmt["type"] == "json_schema":
            return Reply(status=400, error="response_format json_schema is not supported")
        if fmt and "schema" not in fmt:
            return Reply(status=422, error="unknown type")
        return GOOD
    with ScriptedServer(default=picky) as server:
        c = client(server, max_retries=0)
        ask(c)
        assert [r.get("response_format", {}).get("type") for r in server.requests] == [
            "json_schema", "json_object"]
        assert server.requests[1]["response_format"]["schema"] == SCHEMA
        ask(c, user="again")  # the accepted format is remembered
        assert len(server.requests) == 3
        assert server.requests[2]["response_format"]["type"] == "json_object"


def test_llama_cpp_python_refusing_json_schema_with_a_500_is_not_retried_but_falls_back():
    def like_llama_cpp_python(request):
        if request["response_format"]["type"] == "json_schema":
            return Reply(status=500, error="1 validation error: {'type': 'literal_error', 'loc':"
                         " ('body', 'response_format', 'type'), 'msg': \"Input should be 'text'"
                         " or 'json_object'\"}")
        return GOOD
    sleeps: list[float] = []
    with ScriptedServer(default=like_llama_cpp_python) as server:
        ask(client(server, sleeps=sleeps, max_retries=2))
        assert [r["response_format"]["type"] for r in server.requests] == [
            "json_schema", "json_object"]
    assert sleeps == []


def test_unstructured_config_sends_no_response_format():
    with ScriptedServer([GOOD]) as server:
        ask(client(server, structured=False))
        assert "response_format" not in server.requests[0]


def test_timeout_is_a_clear_error_after_the_retries(store):
    sleeps: list[float] = []
    with ScriptedServer(default=2.0) as server:
        started = time.monotonic()
        with pytest.raises(LLMError) as e:
            ask(client(server, store, sleeps, agent="rewrite", timeout_s=0.2, max_retries=2))
        assert time.monotonic() - started < 1.5
        assert len(server.requests) == 3
    assert e.value.kind == "timeout" and e.value.agent == "rewrite"
    assert str(e.value) == (f"The rewrite model at {server.base_url} did not answer within "
                            "0.2 s (tried 3 times).")
    assert sleeps == [0.5, 1.0]
    row = call_log(store)[0]
    assert (row["status"], row["attempts"]) == ("error", 3) and row["error"].startswith("timeout")


def test_connection_refused_is_unreachable(store):
    cfg = BackendConfig("diagnosis", base_url=f"http://127.0.0.1:{_free_port()}/v1", model="m",
                        max_retries=1)
    with pytest.raises(LLMError) as e:
        LLMClient(cfg, store, sleep=lambda s: None).complete_json(
            system="s", user="u", schema=SCHEMA, purpose="p")
    assert e.value.kind == "unreachable"
    assert "could not be reached (connection refused)" in str(e.value)
    assert call_log(store)[0]["attempts"] == 2


def test_offline_config_refuses_to_call():
    with pytest.raises(LLMError) as e:
        LLMClient(BackendConfig("rewrite")).complete_json(system="s", user="u", schema=SCHEMA,
                                                          purpose="p")
    assert e.value.kind == "config" and "offline rules engine" in str(e.value)


def test_check_backend_reports_ok_and_failure():
    assert check_backend(BackendConfig("rewrite"))["ok"]
    with ScriptedServer(['{"ok": true}', 404]) as server:
        cfg = BackendConfig("rewrite", base_url=server.base_url, model="scripted",
                            max_retries=0)
        assert check_backend(cfg)["ok"]
        bad = check_backend(cfg)
    assert not bad["ok"] and bad["kind"] == "http" and "HTTP 404" in bad["message"]


def test_scripted_server_answers_from_a_callable_and_records_requests():
    with ScriptedServer() as server:
        server.push(lambda req: json.dumps({"score": 1, "reason": req["messages"][-1]
                                            ["content"]}))
        assert ask(client(server), user="echo me")["reason"] == "echo me"
        assert server.remaining == 0 and len(server.requests) == 1


def test_cli_llm_check_reports_each_agent_and_fails_on_a_bad_one(db_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("WORKBENCH_LLM_"):
            monkeypatch.delenv(name)
    assert main(["llm", "check"]) == 0
    assert capsys.readouterr().out.count("Offline rules engine (from default)") == 3
    with ScriptedServer(['{"ok": true}', 503]) as server:
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_MODEL", "scripted")
        monkeypatch.setenv("WORKBENCH_LLM_REWRITE_MAX_RETRIES", "0")
        assert main(["llm", "check"]) == 0
        out = capsys.readouterr().out
        assert f"rewrite     scripted at {server.base_url} (from environment)" in out
        assert "OK: scripted at" in out
        assert main(["llm", "check", "--json"]) == 1
        report = {r["agent"]: r for r in json.loads(capsys.readouterr().out)}
    assert report["rewrite"]["ok"] is False and "HTTP 503" in report["rewrite"]["message"]
    assert report["diagnosis"]["ok"] and report["diagnosis"]["offline"]
    with open_store(db_path) as s:
        assert [r["purpose"] for r in call_log(s)] == ["connection check"] * 2


# -- the real local llama.cpp server -------------------------------------------------------

def local(url: str, **kw) -> LLMClient:
    cfg = BackendConfig(kw.pop("agent", "evaluation"), base_url=url,
                        model=llm_server.DEFAULT_ALIAS, temperature=0, **kw)
    return LLMClient(cfg, kw.pop("store", None), sleep=lambda s: None)


def test_real_server_structured_json_validates(local_server, store):
    schema = {"type": "object", "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative"]},
        "urgent": {"type": "boolean"}}, "required": ["sentiment", "urgent"]}
    cfg = BackendConfig("diagnosis", base_url=local_server, model=llm_server.DEFAULT_ALIAS,
                        temperature=0, timeout_s=30)
    value = LLMClient(cfg, store).complete_json(
        system="You classify customer messages.",
        user="Message: 'Your order is late again, I want a refund now!'", schema=schema,
        purpose="classify", max_tokens=40)
    assert value["sentiment"] in ("positive", "negative") and isinstance(value["urgent"], bool)
    [row] = call_log(store)
    assert row["status"] in ("ok", "repaired") and row["prompt_tokens"] > 0
    assert row["completion_tokens"] > 0 and row["latency_ms"] > 0


def test_real_server_down_is_unreachable():
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    with pytest.raises(LLMError) as e:
        local(url, max_retries=1).complete_json(system="s", user="u", schema=SCHEMA,
                                                purpose="p", max_tokens=5)
    assert e.value.kind == "unreachable" and url in str(e.value)


def test_real_server_invalid_json_is_repaired_once_then_an_error(local_server):
    # Unconstrained (no response_format), SmolLM2 answers prose or a wrong object; the schema
    # asks for an arithmetic it cannot do, so the repair request fails too.
    schema = {"type": "object", "properties": {"code": {"type": "integer",
                                                        "multipleOf": 7919,
                                                        "minimum": 1000000000}},
              "required": ["code"], "additionalProperties": False}
    c = local(local_server, structured=False, max_retries=0, timeout_s=30)
    with pytest.raises(LLMError) as e:
        c.complete_json(system="You are a poet.", user="Write two lines about the sea.",
                        schema=schema, purpose="poem", max_tokens=24)
    assert e.value.kind == "invalid_json" and e.value.attempts == 2
    assert "even after one repair request" in str(e.value)


def test_real_server_slow_answer_times_out_after_retries(local_server):
    c = local(local_server, timeout_s=0.05, max_retries=1, structured=False)
    with pytest.raises(LLMError) as e:
        c.complete_json(system="You are a storyteller.", user="Tell a long story about a cat.",
                        schema=SCHEMA, purpose="story", max_tokens=48)
    assert e.value.kind == "timeout" and e.value.attempts == 2
    assert "did not answer within 0.05 s (tried 2 times)" in str(e.value)


def test_real_server_start_failure_is_a_clear_error(local_server):
    port = int(local_server.rsplit(":", 1)[1].split("/")[0])  # already taken
    with pytest.raises(WorkbenchError) as e:
        llm_server.start_server(port=port, wait_s=20)
    assert f"port {port} is already in use" in str(e.value)


def test_cli_llm_serve_prints_the_base_url_and_stops_cleanly(local_server):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "llm", "serve", "--port",
                             str(port), "--threads", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        out = "".join(lines)
        url = f"http://127.0.0.1:{port}/v1"
        assert f"WORKBENCH_LLM_BASE_URL={url} WORKBENCH_LLM_MODEL=smollm2-135m" in out
        cfg = BackendConfig("rewrite", base_url=url, model="smollm2-135m", temperature=0)
        assert check_backend(cfg)["ok"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    with pytest.raises(LLMError):  # the server went with it
        LLMClient(BackendConfig("rewrite", base_url=url, model="m", max_retries=0)
                  ).complete_json(system="s", user="u", schema=SCHEMA, purpose="p")
