"""LLM backends of the rewrite studio: configuration, calls, repair, cache and call log.

Every model call of the studio's agents (diagnosis, rewrite, evaluation) goes through
:class:`LLMClient`, which speaks the OpenAI chat-completions protocol with the ``openai`` client
to any compatible endpoint: OpenAI, vLLM, Ollama, LM Studio, a llama.cpp server (see
:mod:`workbench.studio.llm_server` for the bundled local one). With nothing configured an agent is
*offline*: the studio uses its deterministic rules engine and no network call is made.

Each agent's configuration (environment, then the LLM settings page, then offline) is read by
:mod:`workbench.studio.llm_config`; its names are re-exported here. API keys are never written
anywhere: error texts, the call log and cached answers are scrubbed of the key (and of anything
that looks like one) whatever the server answers (:func:`scrub`).

A call (:meth:`LLMClient.complete_json`) asks for one JSON object matching a JSON schema:
structured output is requested with ``response_format`` (falling back when a server refuses
it), the answer is parsed and validated with ``jsonschema``, an invalid answer gets one repair
request, transient failures are retried with exponential backoff, valid answers are cached in
``llm_cache`` and every call is logged in ``llm_calls`` (tokens, latency, status). What is
asked for and how an answer is read (format negotiation, JSON extraction, schema check, scrub)
is in :mod:`workbench.studio.llm_json`; one request (the timeout as a deadline for the whole
request, the cap on an answer's size, the body read as a chat completion) is in
:mod:`workbench.studio.llm_http`; this module retries, repairs, caches and logs. A rewrite
draft the studio's check rejects is dropped from the cache (:meth:`LLMClient.forget`), so that
every attempt reaches the model.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from store import Store, StoreBusyError
from store import llm as llm_store
from workbench.studio import llm_http, llm_json
from workbench.studio.llm_config import (
    AGENTS,
    ENV_FIELDS,
    NO_KEY,
    BackendConfig,
    LLMError,
    load_configs,
    save_settings,
    saved_settings,
    validate_settings,
)
from workbench.studio.llm_json import excerpt, extract_json, parse, scrub, system_prompt

__all__ = [
    "AGENTS",
    "ENV_FIELDS",
    "NO_KEY",
    "BackendConfig",
    "LLMClient",
    "LLMError",
    "call_log",
    "check_backend",
    "extract_json",
    "load_configs",
    "save_settings",
    "saved_settings",
    "scrub",
    "usage_summary",
    "validate_settings",
]

RETRY_STATUSES = {408, 409, 429}
BACKOFF_S = 0.5
#: Longest ``Retry-After`` (429/503) the client waits; asked for longer, it gives up at once.
RETRY_AFTER_MAX_S = 30.0


# -- calls ---------------------------------------------------------------------------------

def _fmt_s(seconds: float) -> str:
    return f"{seconds:g} s"


def _cache_key(config: BackendConfig, system: str, user: str, schema: dict,
               max_tokens: int) -> str:
    payload = json.dumps([config.base_url, config.model, config.temperature, system, user,
                          schema, max_tokens], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class _Tally:
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMClient:
    """Calls one agent's model. ``store`` (optional) keeps the cache and the call log.

    The call log is a record of calls already made (and paid for), and the cache a saving: a
    database too busy to take a log line or a cached answer must not turn a model's answer,
    or its failure, into a lost result, so such a line is dropped and counted in
    ``unlogged``, and such an answer is not cached.

    ``sleep`` and ``backoff_s`` are injectable so tests need not wait: retry ``i`` (from 0)
    waits ``backoff_s * 2**i`` seconds, or what a 429/503 answer's ``Retry-After`` asks for.
    """

    def __init__(self, config: BackendConfig, store: Store | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, backoff_s: float = BACKOFF_S):
        self.config = config
        self.store = store
        self.sleep = sleep
        self.backoff_s = backoff_s
        self.unlogged = 0
        self._client = None

    def __repr__(self) -> str:
        return f"LLMClient({self.config!r})"

    @property
    def client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(base_url=self.config.base_url,
                                         api_key=self.config.api_key or NO_KEY,
                                         timeout=self.config.timeout_s, max_retries=0)
        return self._client

    # -- public ----------------------------------------------------------------------------

    def complete_json(self, *, system: str, user: str, schema: dict, purpose: str,
                      max_tokens: int = 600, cache: bool = True) -> dict:
        """One JSON object matching ``schema``, from the cache or the model.

        ``cache=False`` always asks the model (a connection test) and keeps its answer out of
        the cache, but still logs the call.
        Raises :class:`LLMError`, never anything else from the HTTP layer.
        """
        cfg = self.config
        if cfg.offline:
            raise LLMError(f"The {cfg.agent} agent uses the offline rules engine; there is no "
                           "model to call. Set a base URL and model on the LLM settings page.",
                           agent=cfg.agent, kind="config")
        started = time.perf_counter()
        key = _cache_key(cfg, system, user, schema, max_tokens)
        if cache and self.store is not None:
            hit = llm_store.cached_response(self.store, key)
            if hit is not None:
                value = llm_json.known(scrub(json.loads(hit), [cfg.api_key]), schema)
                self._record(purpose, key, cached=True, status="ok", tally=_Tally(),
                             started=started)
                return value
        tally = _Tally()
        messages = [{"role": "system", "content": system_prompt(system, schema)},
                    {"role": "user", "content": user}]
        try:
            content = self._request(messages, schema, purpose, max_tokens, tally)
            value, problem = parse(content, schema)
            status = "ok"
            if problem is not None:
                status = "repaired"
                messages += [
                    {"role": "assistant", "content": content or ""},
                    {"role": "user", "content": (
                        f"That answer is not valid: {problem}. Reply with only the corrected "
                        "JSON object that matches the schema, with no other text.")}]
                content = self._request(messages, schema, purpose, max_tokens, tally)
                value, problem = parse(content, schema)
                if problem is not None:
                    raise LLMError(
                        f"The {cfg.agent} model answered text that is not the JSON asked for, "
                        f"even after one repair request ({problem}): {excerpt(content)}",
                        agent=cfg.agent, kind="invalid_json", attempts=tally.attempts)
        except LLMError as e:
            e.attempts = tally.attempts
            e.message = self._scrub(e.message)
            e.args = (e.message,)
            self._record(purpose, key, cached=False, status="error", tally=tally,
                         started=started, error=f"{e.kind}: {e.message}")
            raise
        value = scrub(value, [cfg.api_key])
        if cache and self.store is not None:
            try:
                llm_store.cache_response(self.store, key, agent=cfg.agent, model=cfg.model,
                                         response=json.dumps(value, ensure_ascii=False))
            except StoreBusyError:  # not cached: the same request later asks the model again
                pass
        self._record(purpose, key, cached=False, status=status, tally=tally, started=started)
        return value

    def forget(self, *, system: str, user: str, schema: dict, max_tokens: int = 600) -> None:
        """Drop the cached answer of this request, so that asking again reaches the model (the
        rewrite agent forgets a draft its check rejected: the same prompt again, or a rerun
        after the server was fixed, was served the rejected draft from the cache)."""
        if self.store is not None:
            llm_store.forget_response(
                self.store, _cache_key(self.config, system, user, schema, max_tokens))

    # -- internals -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, [self.config.api_key])

    def _request(self, messages: list[dict], schema: dict, purpose: str, max_tokens: int,
                 tally: _Tally) -> str | None:
        """One chat completion, retried on transient failures, falling back on formats."""
        import openai

        cfg = self.config
        formats = llm_json.formats(schema, purpose) if cfg.structured else [None]
        index = llm_json.accepted_format(cfg.base_url) if cfg.structured else 0
        retries = 0
        where = f"The {cfg.agent} model at {cfg.base_url}"
        while True:
            kwargs: dict[str, Any] = {}
            if formats[index] is not None:
                kwargs["response_format"] = formats[index]
            tally.attempts += 1
            error: LLMError | None = None
            wait: float | None = None  # the server's Retry-After, when it sent one
            try:
                body, content_type = llm_http.post(
                    self.client, cfg.timeout_s, model=cfg.model, messages=messages,
                    temperature=cfg.temperature, max_tokens=max_tokens, **kwargs)
                if cfg.structured:
                    llm_json.remember_format(cfg.base_url, index)
                answer = llm_http.read(body, content_type)
                tally.prompt_tokens += answer.prompt_tokens
                tally.completion_tokens += answer.completion_tokens
                return answer.content
            except llm_http.AnswerError as e:
                raise LLMError(_sentence(f"{where} {e}"), agent=cfg.agent,
                               kind="invalid_json") from None
            except llm_http.TooLong as e:
                raise LLMError(
                    f"{where} sent {e}; a studio answer has at most "
                    f"{llm_http.MAX_ANSWER_CHARS:,} characters, so it was refused without being "
                    "read. Check the model's settings (a runaway generation?) or use another "
                    "model.", agent=cfg.agent, kind="too_long") from None
            except (openai.APITimeoutError, llm_http.Late):
                error = LLMError(f"{where} did not answer within {_fmt_s(cfg.timeout_s)} "
                                 f"(tried {tally.attempts} time{'s' * (tally.attempts > 1)}).",
                                 agent=cfg.agent, kind="timeout")
            except openai.APIConnectionError as e:
                error = LLMError(
                    f"{where} could not be reached ({_connection_reason(e)}) after "
                    f"{tally.attempts} attempt{'s' * (tally.attempts > 1)}. Check that the "
                    "server is running and the base URL is right, or set the agent back to "
                    "the offline rules engine on the LLM settings page.",
                    agent=cfg.agent, kind="unreachable")
            except openai.APIStatusError as e:
                code = e.status_code
                detail = self._scrub(_status_detail(e))
                if "response_format" in kwargs and index + 1 < len(formats) and (
                        code in (400, 422) or "response_format" in f"{e.body} {e}"):
                    # The server refused this structured-output request: try a simpler one.
                    # (llama-cpp-python answers an unknown "json_schema" type with HTTP 500.)
                    index += 1
                    continue
                if code in (401, 403):
                    raise LLMError(
                        f"{where} refused the API key (HTTP {code}: {detail}). Type a valid "
                        f"key on the LLM settings page or set WORKBENCH_LLM_{cfg.agent.upper()}"
                        "_API_KEY.", agent=cfg.agent, kind="http", status_code=code) from None
                if code == 404:
                    raise LLMError(
                        f"{where} answered HTTP 404 ({detail}). Check the base URL (it usually "
                        f"ends in /v1) and that the model {cfg.model!r} exists there.",
                        agent=cfg.agent, kind="http", status_code=code) from None
                error = LLMError(
                    f"{where} failed with HTTP {code} (tried {tally.attempts} "
                    f"time{'s' * (tally.attempts > 1)}): {detail}",
                    agent=cfg.agent, kind="http", status_code=code)
                if code == 429:
                    error = LLMError(
                        f"{where} is limiting requests (HTTP 429, tried {tally.attempts} "
                        f"time{'s' * (tally.attempts > 1)}): {detail}. Wait a minute or lower "
                        "the batch size.", agent=cfg.agent, kind="http", status_code=code)
                if not (code >= 500 or code in RETRY_STATUSES):
                    raise error from None
                wait, asks = _retry_after(e.response) if code in (429, 503) else (None, "")
                if wait is not None and wait > RETRY_AFTER_MAX_S and retries < cfg.max_retries:
                    raise LLMError(f"{_sentence(str(error))} The server asks to {asks} before "
                                   "trying again; try later.", agent=cfg.agent,
                                   kind="http", status_code=code) from None
            except Exception as e:  # noqa: BLE001 - anything else from the HTTP layer
                raise LLMError(f"{where} failed unexpectedly ({type(e).__name__}: "
                               f"{excerpt(self._scrub(str(e)), 200)}).",
                               agent=cfg.agent, kind="http") from None
            if retries >= cfg.max_retries:
                raise error
            self.sleep(self.backoff_s * 2 ** retries if wait is None else wait)
            retries += 1

    def _record(self, purpose: str, key: str, *, cached: bool, status: str, tally: _Tally,
                started: float, error: str = "") -> None:
        if self.store is None:
            return
        cfg = self.config
        row = {"agent": cfg.agent, "purpose": purpose, "base_url": cfg.base_url,
               "model": cfg.model, "cache_key": key, "cached": int(cached), "status": status,
               "attempts": tally.attempts, "prompt_tokens": tally.prompt_tokens,
               "completion_tokens": tally.completion_tokens,
               "latency_ms": round((time.perf_counter() - started) * 1000, 1),
               "error": self._scrub(error)}
        try:
            llm_store.log_call(self.store, row)
        except StoreBusyError:
            self.unlogged += 1


def _retry_after(response: Any) -> tuple[float | None, str]:
    """Seconds a ``Retry-After`` header asks for (delay-seconds or an HTTP-date), else None;
    with what it asks in words ("wait 3600 s", "wait until 2099-01-01 00:00:00 UTC")."""
    value = str(getattr(response, "headers", {}).get("retry-after") or "").strip()
    if not value:
        return None, ""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None, ""
        if when.tzinfo is None:  # an HTTP-date is GMT by definition
            when = when.replace(tzinfo=timezone.utc)
        when = when.astimezone(timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
        return max(0.0, seconds), f"wait until {when:%Y-%m-%d %H:%M:%S} UTC"
    if not math.isfinite(seconds):
        return None, ""
    seconds = max(0.0, seconds)
    return seconds, f"wait {_fmt_wait(seconds)}"


def _fmt_wait(seconds: float) -> str:
    """A long wait in words: seconds up to two days, then days, then "more than ten years"
    (a Retry-After of 2300840000 printed "wait 2.30084e+09 s")."""
    if seconds <= 2 * 86400:
        return f"{round(seconds)} s"
    days = seconds / 86400
    return f"{days:,.0f} days" if days <= 3650 else "more than ten years"


def _sentence(text: str) -> str:
    """``text`` ending in a full stop (a server's error detail often has none)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _connection_reason(e: Exception) -> str:
    text = " ".join(str(x) for x in (e.__cause__, e.__context__, e) if x)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "name or service not known" in low or "nodename" in low or "getaddrinfo" in low \
            or "name resolution" in low:
        return "unknown host name"
    if "ssl" in low or "certificate" in low:
        return "TLS/certificate error"
    if "reset" in low:
        return "connection reset"
    cause = e.__cause__ or e
    return f"{type(cause).__name__}: {str(cause)[:120]}" if str(cause) else type(cause).__name__


def _status_detail(e: Exception) -> str:
    body = getattr(e, "body", None)
    message = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message is None and "detail" in body:
            message = body["detail"]
    if message is None:
        message = getattr(e, "message", None) or str(e)
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    return " ".join(message.split())[:200]


# -- log and usage -------------------------------------------------------------------------

def call_log(store: Store, limit: int = 200) -> list[dict]:
    """The latest model calls, newest first."""
    return llm_store.calls(store, limit)


def usage_summary(store: Store) -> list[dict]:
    """Per agent and model: calls, cache hits, repairs, errors, tokens and mean latency.

    ``mean_latency_ms`` is over calls that went to the model (cache hits take no time).
    """
    return llm_store.usage(store)


CHECK_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"]}


def check_backend(config: BackendConfig, store: Store | None = None, *,
                  timeout_s: float | None = None) -> dict[str, Any]:
    """A tiny real request to one agent's model (never from the cache).

    Returns ``{"agent", "label", "source", "offline", "ok", "message", "latency_ms"}``; an
    offline agent is ok without a request.
    """
    out = {"agent": config.agent, "label": config.label, "source": config.source,
           "offline": config.offline, "ok": True, "latency_ms": None}
    if config.offline:
        out["message"] = "Offline rules engine (deterministic, no network): nothing to check."
        return out
    if timeout_s is not None:
        config = replace(config, timeout_s=timeout_s)
    started = time.perf_counter()
    client = LLMClient(config, store)
    try:
        client.complete_json(
            system="You are a connection check.", user='Answer exactly {"ok": true}',
            schema=CHECK_SCHEMA, purpose="connection check", max_tokens=20, cache=False)
    except LLMError as e:
        out.update(ok=False, message=str(e) + _unlogged(client), kind=e.kind)
        return out
    out["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    out["message"] = (f"{config.label} answered valid JSON in {out['latency_ms']:.0f} ms."
                      + _unlogged(client))
    return out


def _unlogged(client: LLMClient) -> str:
    return (" The call log could not record this test: the database was busy with another "
            "task.") if client.unlogged else ""
