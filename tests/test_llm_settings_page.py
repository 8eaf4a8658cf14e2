"""The LLM settings page (AppTest): save, validation, session-only keys, connection test."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT
from tests.scripted_server import ScriptedServer

PAGE = "pages/6_LLM_settings.py"
SECRET = "sk-page-test-SECRET-42"


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("WORKBENCH_LLM_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)


def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def save(at: AppTest, agent: str) -> None:
    next(b for b in at.button if b.label == f"Save {agent} settings").click().run()
    assert not at.exception, at.exception


def settings(db_path) -> list[dict]:
    with open_store(db_path) as s:
        return s.query("SELECT * FROM llm_settings")


def test_every_agent_starts_offline(db_path):
    at = app()
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # labels are escaped
    assert text.count("Offline rules engine (deterministic, no network)") == 3
    assert all(b.disabled for b in at.button if b.label == "Test connection")


def test_valid_settings_are_saved_and_audited(db_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "page-test")
    at = app()
    at.text_input(key="llm_rewrite_base_url").set_value("http://127.0.0.1:8081/v1")
    at.text_input(key="llm_rewrite_model").set_value("smollm2-135m")
    at.number_input(key="llm_rewrite_temperature").set_value(0.7)
    save(at, "rewrite")
    assert any("Saved the rewrite settings" in s.value for s in at.success)
    [row] = settings(db_path)
    assert (row["agent"], row["base_url"], row["model"], row["temperature"],
            row["updated_by"]) == ("rewrite", "http://127.0.0.1:8081/v1", "smollm2-135m", 0.7,
                                   "page-test")
    assert any("smollm2-135m at http://127.0.0.1:8081/v1" in m.value.replace("\\", "")
               for m in at.markdown)
    with open_store(db_path) as s:
        assert s.query("SELECT actor FROM audit_log WHERE entity = 'llm_settings'") == [
            {"actor": "page-test"}]


def test_bad_settings_name_the_field_and_write_nothing(db_path):
    at = app()
    at.text_input(key="llm_diagnosis_base_url").set_value("localhost:8081")
    at.text_input(key="llm_diagnosis_model").set_value("")
    save(at, "diagnosis")
    assert len(at.error) == 1
    message = at.error[0].value.replace("\\", "")
    assert "The LLM settings were not saved" in message
    assert "field 'base_url'" in message and "field 'model'" in message
    assert settings(db_path) == []


def test_a_base_url_that_cannot_be_read_is_named_not_a_traceback(db_path):
    import ui

    at = app()
    at.text_input(key="llm_diagnosis_base_url").set_value("http://[::1")  # bracket not closed
    at.text_input(key="llm_diagnosis_model").set_value("m")
    save(at, "diagnosis")
    assert [e.value for e in at.error] == [
        "The LLM settings were not saved:\n\n- " + ui.plain(
            "field 'base_url': must be an http:// or https:// address such as "
            "http://127.0.0.1:8081/v1, or empty for the offline rules engine")]
    assert at.text_input(key="llm_diagnosis_base_url").value == "http://[::1"  # kept
    assert settings(db_path) == []


def test_key_stays_in_the_session_and_the_connection_test_uses_it(db_path):
    with ScriptedServer(['{"ok": true}']) as server:
        at = app()
        at.text_input(key="llm_key_evaluation").set_value(SECRET)
        at.text_input(key="llm_evaluation_base_url").set_value(server.base_url)
        at.text_input(key="llm_evaluation_model").set_value("scripted")
        save(at, "evaluation")
        assert at.session_state["llm_session_keys"] == {"evaluation": SECRET}
        test = next(b for b in at.button if b.label == "Test connection" and not b.disabled)
        test.click().run()
        assert not at.exception and not at.error
        assert any(s.value.startswith("scripted at") for s in at.success)
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert "key: given" in " ".join(c.value for c in at.caption)
    assert "llm_key" not in " ".join(settings(db_path)[0])
    for path in db_path.parent.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
    # the key survives a page switch (the rewrite studio reads it with ui.llm_keys())
    at.switch_page("Home.py").run()
    assert at.session_state["llm_session_keys"] == {"evaluation": SECRET}


def test_failed_connection_test_shows_the_message_not_a_traceback(db_path):
    with ScriptedServer() as server:
        url = server.base_url
    at = app()  # the server above is closed: nothing listens on its port
    at.text_input(key="llm_rewrite_base_url").set_value(url)
    at.text_input(key="llm_rewrite_model").set_value("m")
    at.number_input(key="llm_rewrite_retries").set_value(0)
    save(at, "rewrite")
    next(b for b in at.button if b.label == "Test connection" and not b.disabled).click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith(f"The rewrite model at {url} could not be reached "
                                        "(connection refused)")
    assert any(df.value["status"].tolist() == ["error"] for df in at.dataframe
               if "status" in df.value)


def test_environment_overrides_are_shown(db_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LLM_BASE_URL", "http://127.0.0.1:9999/v1")
    monkeypatch.setenv("WORKBENCH_LLM_MODEL", "env-model")
    at = app()
    assert sum("env-model at http://127.0.0.1:9999/v1" in m.value.replace("\\", "")
               for m in at.markdown) == 3
    assert len(at.info) >= 3 and "override the saved settings" in at.info[0].value
