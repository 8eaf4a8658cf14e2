"""Configuration of the rewrite studio's LLM agents: where each agent's model lives.

Configuration of each agent comes from, field by field, the first that sets it:

1. ``WORKBENCH_LLM_<AGENT>_{BASE_URL,MODEL,API_KEY,TEMPERATURE,TIMEOUT,MAX_RETRIES}``
2. ``WORKBENCH_LLM_{BASE_URL,MODEL,API_KEY,TEMPERATURE,TIMEOUT,MAX_RETRIES}``
3. the agent's row of ``llm_settings`` (written by the LLM settings page; it has no key column)
4. the defaults: offline.

API keys are never written anywhere: they come from the environment (then ``OPENAI_API_KEY``)
or from a key typed on the settings page and kept in that browser session only.

The calls themselves are in :mod:`workbench.studio.llm`, which re-exports everything here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from store import Store
from store import llm as llm_store
from workbench import Problem, ValidationError, WorkbenchError

__all__ = [
    "AGENTS",
    "ENV_FIELDS",
    "NO_KEY",
    "BackendConfig",
    "LLMError",
    "load_configs",
    "save_settings",
    "saved_settings",
    "validate_settings",
]

AGENTS = ("diagnosis", "rewrite", "evaluation")
#: The key sent to servers that need none (local llama.cpp, Ollama, vLLM without --api-key).
NO_KEY = "not-needed"
#: Environment variable suffixes, per field of :class:`BackendConfig`.
ENV_FIELDS = {"base_url": "BASE_URL", "model": "MODEL", "api_key": "API_KEY",
              "temperature": "TEMPERATURE", "timeout_s": "TIMEOUT", "max_retries": "MAX_RETRIES"}
KINDS = ("unreachable", "timeout", "http", "invalid_json", "too_long", "config")


class LLMError(WorkbenchError):
    """A model call failed; the message is a sentence a marketer can act on.

    ``agent`` is the agent whose model failed, ``kind`` one of ``unreachable``, ``timeout``,
    ``http``, ``invalid_json`` (an answer that is not the JSON asked for, or not a chat
    completion at all), ``too_long`` (an answer over the size cap) or ``config``;
    ``status_code`` the HTTP status when there was one.
    """

    def __init__(self, message: str, *, agent: str, kind: str,
                 status_code: int | None = None, attempts: int = 0):
        assert kind in KINDS, kind
        super().__init__(message)
        self.message = message
        self.agent = agent
        self.kind = kind
        self.status_code = status_code
        self.attempts = attempts


@dataclass(frozen=True)
class BackendConfig:
    """Where one agent's model lives and how to call it. ``base_url=""`` means offline."""

    agent: str
    base_url: str = ""
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.2
    timeout_s: float = 30.0
    max_retries: int = 2
    structured: bool = True
    source: str = "default"

    @property
    def offline(self) -> bool:
        return not self.base_url

    @property
    def label(self) -> str:
        return "Offline rules engine" if self.offline else f"{self.model} at {self.base_url}"

    def public(self) -> dict[str, Any]:
        """Everything but the key, for display and logs."""
        return {"agent": self.agent, "base_url": self.base_url, "model": self.model,
                "temperature": self.temperature, "timeout_s": self.timeout_s,
                "max_retries": self.max_retries, "structured": self.structured,
                "source": self.source, "offline": self.offline, "label": self.label,
                "has_key": bool(self.api_key) and self.api_key != NO_KEY}


# -- configuration -------------------------------------------------------------------------

def _env_value(env: Mapping[str, str], agent: str, suffix: str) -> tuple[str, str] | None:
    """(variable name, value) of the first non-empty of the per-agent and general variables."""
    for name in (f"WORKBENCH_LLM_{agent.upper()}_{suffix}", f"WORKBENCH_LLM_{suffix}"):
        value = env.get(name)
        if value is not None and value.strip() != "":
            return name, value.strip()
    return None


#: The numeric settings: type, allowed range and its rule in words (the page and the
#: environment are held to the same ranges).
RANGES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], bool], str]] = {
    "temperature": (float, lambda v: 0 <= v <= 2, "must be between 0 and 2"),
    "timeout_s": (float, lambda v: 0 < v <= 3600, "must be more than 0 and at most 3600 seconds"),
    "max_retries": (int, lambda v: 0 <= v <= 10, "must be a whole number from 0 to 10"),
}


#: The longest model name accepted (the page and the environment alike).
MODEL_MAX_CHARS = 200


def _unprintable(text: str) -> str | None:
    """The first control or invisible character of ``text`` as its code point (``U+200B``),
    or None."""
    bad = next((c for c in text if not c.isprintable() and c != " "), None)
    return None if bad is None else f"U+{ord(bad):04X}"


def model_problem(model: str) -> str | None:
    """Why ``model`` cannot be a model name, or None: too long, or a control or invisible
    character in it (a newline, NUL or escape went to the server and into the call log)."""
    if len(model) > MODEL_MAX_CHARS:
        return f"is {len(model):,} characters long; a model name has at most {MODEL_MAX_CHARS}"
    if bad := _unprintable(model):
        return f"must not contain control or invisible characters ({bad} found)"
    return None


def _number(agent: str, name: str, raw: Any, field: str) -> Any:
    """An environment variable's number, in its range (a timeout of -5 failed at every
    request, 100000 retries hung, a temperature of 99 went to the server)."""
    cast, ok, rule = RANGES[field]
    try:
        value = cast(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(raw)
    except (TypeError, ValueError):
        raise LLMError(f"{name}={raw!r} is not a number; fix or unset it to configure the "
                       f"{agent} model.", agent=agent, kind="config") from None
    if not ok(value):
        raise LLMError(f"{name}={raw!r} is out of range: it {rule}; fix or unset it to "
                       f"configure the {agent} model.", agent=agent, kind="config")
    return value


def load_configs(store: Store | None = None, env: Mapping[str, str] | None = None,
                 keys: Mapping[str, str] | None = None) -> dict[str, BackendConfig]:
    """The effective configuration of every agent (see the module docstring for precedence).

    ``keys`` maps an agent to an API key typed in the page (session only). Raises
    :class:`LLMError` (kind ``config``) when an environment variable holds a bad number or
    base URL (see :func:`url_problem`).
    """
    env = os.environ if env is None else env
    keys = keys or {}
    rows: dict[str, dict[str, Any]] = {}
    if store is not None:
        rows = saved_settings(store)
    configs = {}
    for agent in AGENTS:
        values: dict[str, Any] = {}
        source = "default"
        row = rows.get(agent)
        if row is not None:
            source = "settings"
            values.update(base_url=row["base_url"], model=row["model"],
                          temperature=float(row["temperature"]),
                          timeout_s=float(row["timeout_s"]), max_retries=int(row["max_retries"]))
        for fname, suffix in ENV_FIELDS.items():
            if fname == "api_key":
                continue
            found = _env_value(env, agent, suffix)
            if found is None:
                continue
            name, raw = found
            values[fname] = _number(agent, name, raw, fname) if fname in RANGES else raw
            check = {"base_url": url_problem, "model": model_problem}.get(fname)
            if check is not None and (problem := check(raw)):
                shown = raw if len(raw) <= 80 else raw[:80] + "..."
                raise LLMError(f"{name}={shown!r} {problem}; fix or unset it to configure the "
                               f"{agent} model.", agent=agent, kind="config")
            source = "environment"
        values["base_url"] = values.get("base_url", "").rstrip("/")
        if problem := model_problem(values.get("model") or ""):  # saved before names were checked
            raise LLMError(f"{agent}: the saved model name {problem}; fix it on the LLM "
                           "settings page.", agent=agent, kind="config")
        if values["base_url"] and not (values.get("model") or "").strip():
            raise LLMError(f"{agent}: a base URL with no model; set WORKBENCH_LLM_MODEL (or "
                           f"WORKBENCH_LLM_{agent.upper()}_MODEL), e.g. smollm2-135m for the "
                           "bundled local server, or unset the base URL.", agent=agent,
                           kind="config")
        key = (keys.get(agent) or "").strip() or None
        if key is None:
            found = _env_value(env, agent, "API_KEY")
            key = found[1] if found else (env.get("OPENAI_API_KEY") or "").strip() or None
        if values["base_url"]:
            values["api_key"] = key or NO_KEY
        configs[agent] = BackendConfig(agent=agent, source=source, **values)
    return configs


def saved_settings(store: Store) -> dict[str, llm_store.SettingsRow]:
    """The settings saved on the LLM settings page, by agent (environment not applied)."""
    return llm_store.settings(store)


def url_problem(base_url: str) -> str | None:
    """Why ``base_url`` is not an address a model can be asked at, or None (empty is fine: the
    offline rules engine). Never raises: text ``urlsplit`` cannot read (``http://[::1``) is
    refused like any other bad address."""
    base_url = base_url.strip().rstrip("/")
    if not base_url:
        return None
    if len(base_url) > 2000:
        return "is longer than 2000 characters"
    if bad := _unprintable(base_url):
        return f"must not contain control or invisible characters ({bad} found)"
    try:
        parts = urlsplit(base_url)
        hostname = parts.hostname
    except ValueError:  # an unclosed IPv6 bracket, or a host NFKC turns into "/" or "?"
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https"):
        return ("must be an http:// or https:// address such as http://127.0.0.1:8081/v1, or "
                "empty for the offline rules engine")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or above 65535
        port_ok = False
    if not port_ok:
        return "must have a port from 1 to 65535 after the host, such as http://127.0.0.1:8081/v1"
    if parts.username or parts.password:
        return ("must not contain a user name or password: keys are never stored; type the key "
                "in the session field instead")
    if parts.query or parts.fragment:
        return "must not contain a query (?...) or fragment (#...)"
    return None


def validate_settings(agent: str, *, base_url: str, model: str, temperature: Any,
                      timeout_s: Any, max_retries: Any) -> dict[str, Any]:
    """The cleaned settings of one agent, or :class:`ValidationError` naming every bad field."""
    problems: list[Problem] = []
    if agent not in AGENTS:
        problems.append(Problem(f"unknown agent {agent!r}; one of {', '.join(AGENTS)}",
                                field="agent"))
    base_url = (base_url or "").strip().rstrip("/")
    model = (model or "").strip()
    if base_url:
        if problem := url_problem(base_url):
            problems.append(Problem(problem, field="base_url"))
        if not model:
            problems.append(Problem("is required when a base URL is set (for the bundled local "
                                    "server: smollm2-135m)", field="model"))
    if model and (problem := model_problem(model)):
        problems.append(Problem(problem, field="model"))
    cleaned: dict[str, Any] = {"base_url": base_url, "model": model}
    for name, (cast, ok, rule) in RANGES.items():
        raw = {"temperature": temperature, "timeout_s": timeout_s,
               "max_retries": max_retries}[name]
        try:
            if isinstance(raw, bool):
                raise TypeError(raw)
            value = cast(raw)
            if name == "max_retries" and float(raw) != value:
                raise ValueError(raw)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(raw)
        except (TypeError, ValueError):
            problems.append(Problem(f"{raw!r} is not a number; it {rule}", field=name))
            continue
        if not ok(value):
            problems.append(Problem(f"{value:g} {rule.replace('must', 'is out of range: must')}",
                                    field=name))
        cleaned[name] = value
    if problems:
        raise ValidationError(problems, "The LLM settings were not saved")
    return cleaned


def save_settings(store: Store, agent: str, *, base_url: str, model: str, temperature: float,
                  timeout_s: float, max_retries: int, actor: str) -> None:
    """Validate and store one agent's settings (never a key), with an audit entry.

    ``base_url=""`` sets the agent back to the offline rules engine.
    """
    cleaned = validate_settings(agent, base_url=base_url, model=model, temperature=temperature,
                                timeout_s=timeout_s, max_retries=max_retries)
    with store.transaction():
        llm_store.save_settings(store, agent, cleaned, actor)
        store.audit(actor, "configure", "llm_settings", agent, cleaned)
