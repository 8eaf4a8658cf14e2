"""The rewrite studio's model rows: each agent's settings (never a key), the answer cache and
the log of every call.

API keys are never written here: settings hold a base URL and model only, and every call's
error text is scrubbed of the key by the caller before it is logged.
"""

from __future__ import annotations

from typing import Any, TypedDict

from store import Store, now

__all__ = [
    "SettingsRow",
    "CallRow",
    "UsageRow",
    "settings",
    "save_settings",
    "cached_response",
    "cache_response",
    "log_call",
    "calls",
    "usage",
]


class SettingsRow(TypedDict):
    """One agent's saved model settings; an empty ``base_url`` means the offline rules engine."""

    agent: str
    base_url: str
    model: str
    temperature: float
    timeout_s: float
    max_retries: int
    updated_at: str
    updated_by: str


class CallRow(TypedDict):
    """One model call: ``cached`` is 1 for an answer from the cache; ``status`` is ok,
    repaired (valid after one repair request) or error (with ``error``)."""

    id: int
    at: str
    agent: str
    purpose: str
    base_url: str
    model: str
    cache_key: str | None
    cached: int
    status: str
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    error: str


class UsageRow(TypedDict):
    """Calls of one agent and model: counts, tokens and the mean latency of uncached calls."""

    agent: str
    model: str
    base_url: str
    calls: int
    cached: int
    repaired: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    mean_latency_ms: float | None
    last_at: str


def settings(store: Store) -> dict[str, SettingsRow]:
    """Each configured agent's settings, by agent (empty in a file that predates the studio)."""
    if not store.db["llm_settings"].exists():
        return {}
    return {r["agent"]: r for r in store.query("SELECT * FROM llm_settings")}


def save_settings(store: Store, agent: str, values: dict[str, Any], actor: str) -> None:
    """Insert or replace one agent's settings, stamped with who saved them and when."""
    store.db["llm_settings"].upsert(
        {"agent": agent, **values, "updated_at": now(), "updated_by": actor}, pk="agent")


def cached_response(store: Store, key: str) -> str | None:
    """The JSON text cached under ``key``, ``None`` on a miss."""
    hit = store.query("SELECT response FROM llm_cache WHERE key = ?", [key])
    return hit[0]["response"] if hit else None


def cache_response(store: Store, key: str, *, agent: str, model: str, response: str) -> None:
    """Cache (or replace) the JSON text answered for ``key``."""
    store.db["llm_cache"].insert(
        {"key": key, "agent": agent, "model": model, "response": response,
         "created_at": now()}, replace=True)


def forget_response(store: Store, key: str) -> None:
    """Remove the answer cached under ``key`` (nothing when there is none)."""
    store.db.execute("DELETE FROM llm_cache WHERE key = ?", [key])


def log_call(store: Store, call: dict[str, Any]) -> None:
    """Append one call (a :class:`CallRow` without ``id`` and ``at``), stamped now."""
    store.db["llm_calls"].insert({"at": now(), **call})


def calls(store: Store, limit: int = 200) -> list[CallRow]:
    """The latest calls, newest first."""
    return store.query(
        "SELECT * FROM llm_calls ORDER BY id DESC LIMIT ?", [int(limit)])


def usage(store: Store) -> list[UsageRow]:
    """Per agent, model and base URL: calls, cache hits, repairs, errors, tokens, the mean
    latency of the calls that went to the model (cache hits take no time) and the last call."""
    return store.query(
        """SELECT agent, model, base_url, COUNT(*) AS calls, SUM(cached) AS cached,
                  SUM(status = 'repaired') AS repaired, SUM(status = 'error') AS errors,
                  SUM(prompt_tokens) AS prompt_tokens,
                  SUM(completion_tokens) AS completion_tokens,
                  ROUND(AVG(CASE WHEN cached = 0 THEN latency_ms END), 1) AS mean_latency_ms,
                  MAX(at) AS last_at
           FROM llm_calls GROUP BY agent, model, base_url ORDER BY agent, model, base_url""")
