"""LLM settings: where each agent of the rewrite studio gets its model, and what the calls cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from workbench.studio import llm

OFFLINE = "Offline rules engine (deterministic, no network)"
SOURCES = {
    "environment": "from environment variables (WORKBENCH_LLM_...), which override the settings "
                   "saved here",
    "settings": "from the settings saved on this page",
    "default": "nothing configured",
}
HELP = {
    "diagnosis": "Reads a weak message and its performance and says what is wrong with it.",
    "rewrite": "Writes the improved message.",
    "evaluation": "Judges the rewrite against the original.",
}


def effective(store, agent: str) -> llm.BackendConfig | None:
    with ui.reported():
        return llm.load_configs(store, keys=ui.llm_keys())[agent]
    return None


def settings_form(store, agent: str, row: dict) -> None:
    with st.form(f"llm_form_{agent}", border=True):
        st.markdown("**Saved settings** (shared by everyone using this database)")
        base_url = st.text_input(
            "Base URL", value=row.get("base_url", ""), key=f"llm_{agent}_base_url",
            placeholder="empty = offline rules engine; e.g. http://127.0.0.1:8081/v1",
            help="An OpenAI-compatible endpoint: OpenAI (https://api.openai.com/v1), vLLM, "
                 "Ollama (http://127.0.0.1:11434/v1), LM Studio, llama.cpp server, or the "
                 "bundled local model (`workbench llm serve`).")
        model = st.text_input("Model", value=row.get("model", ""), key=f"llm_{agent}_model",
                              placeholder="e.g. smollm2-135m, gpt-4o-mini, llama3.1")
        c1, c2, c3 = st.columns(3)
        temperature = c1.number_input("Temperature", 0.0, 2.0,
                                      float(row.get("temperature", 0.2)), 0.1,
                                      key=f"llm_{agent}_temperature")
        timeout_s = c2.number_input("Timeout (seconds)", 0.5, 3600.0,
                                    float(row.get("timeout_s", 30.0)), 5.0,
                                    key=f"llm_{agent}_timeout")
        retries = c3.number_input("Retries", 0, 10, int(row.get("max_retries", 2)), 1,
                                  key=f"llm_{agent}_retries",
                                  help="On timeouts, connection errors, HTTP 429 and 5xx, with "
                                       "exponential backoff (0.5 s, 1 s, 2 s, ...).")
        if st.form_submit_button(f"Save {agent} settings", type="primary"):
            with ui.reported():
                llm.save_settings(store, agent, base_url=base_url, model=model,
                                  temperature=temperature, timeout_s=timeout_s,
                                  max_retries=int(retries), actor=ui.actor())
                st.session_state["llm_flash"] = (
                    f"Saved the {agent} settings: "
                    + (f"{model.strip()} at {base_url.strip()}" if base_url.strip()
                       else "offline rules engine") + ".")
                st.rerun()


def agent_panel(store, agent: str, rows: dict) -> None:
    st.caption(HELP[agent])
    st.text_input(
        "API key (this browser session only)", type="password", key=f"llm_key_{agent}",
        persist_state="session", placeholder="not needed for local servers",
        help="Kept in this browser session's memory only: never written to disk or to the "
             f"database. Or set WORKBENCH_LLM_{agent.upper()}_API_KEY, WORKBENCH_LLM_API_KEY or "
             "OPENAI_API_KEY where the app runs.")
    ui.remember_llm_key(agent)
    cfg = effective(store, agent)
    if cfg is not None:
        label = OFFLINE if cfg.offline else cfg.label
        st.markdown(f"**In use:** {ui.plain(label)}")
        st.caption(f"{SOURCES[cfg.source].capitalize()}"
                   + ("" if cfg.offline else
                      f" · temperature {cfg.temperature:g} · timeout {cfg.timeout_s:g} s · "
                      f"{cfg.max_retries} retries · key: "
                      + ("given" if cfg.public()["has_key"] else "none (local server)")))
        if cfg.source == "environment":
            st.info("Environment variables set where the app runs override the saved settings "
                    "below; unset them to use what is saved here.", icon=":material/info:")
        if st.button("Test connection", key=f"llm_test_{agent}", disabled=cfg.offline,
                     help="A tiny real request to the model (never served from the cache)."):
            # the call is logged in the database: a busy file is said, not a traceback
            with ui.reported("The connection test could not finish: "):
                with st.spinner(f"Asking {cfg.label}..."):
                    result = llm.check_backend(cfg, store)
                (st.success if result["ok"] else st.error)(result["message"])
    settings_form(store, agent, rows.get(agent, {}))


def calls(store) -> None:
    st.subheader("Usage by agent and model")
    summary = llm.usage_summary(store)
    if not summary:
        st.info("No model calls yet. The rewrite studio's calls (and connection tests) appear "
                "here with their tokens, latency and cache hits.")
        return
    st.dataframe(pd.DataFrame(summary), hide_index=True, width="stretch", column_config={
        "mean_latency_ms": st.column_config.NumberColumn("mean latency (ms)", format="%.0f",
                                                         help="Calls that went to the model; "
                                                              "cache hits take no time.")})
    st.subheader("Recent calls")
    log = pd.DataFrame(llm.call_log(store, 200)).drop(columns=["cache_key"])
    st.dataframe(log, hide_index=True, width="stretch")


def main() -> None:
    store = ui.page("LLM settings", "Where the rewrite studio's agents get their model. "
                    "With nothing configured each agent uses the " + OFFLINE.lower()[0] +
                    OFFLINE[1:] + ".")
    if flash := st.session_state.pop("llm_flash", None):
        st.success(flash)
    rows = llm.saved_settings(store)
    # A keyed tab bar keeps its tab through the rerun after Save or Test, so the result shows.
    tabs = st.tabs([a.title() for a in llm.AGENTS], key="llm_tab", on_change="rerun")
    for tab, agent in zip(tabs, llm.AGENTS, strict=True):
        with tab:
            agent_panel(store, agent, rows)
    st.caption("Answers are cached by prompt, model and temperature: an identical request is "
               "answered from the database without calling the model again. Keys are never "
               "stored; base URLs and models are, with an entry in the audit log.")
    calls(store)


main()
