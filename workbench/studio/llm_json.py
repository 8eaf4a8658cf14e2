"""What the rewrite studio's model calls ask for and how their answers are read.

:class:`workbench.studio.llm.LLMClient` does the HTTP side (retries, backoff, cache, call log);
this module holds what does not depend on a server being there, so it can be read and tested
on its own:

- the ``response_format`` values to negotiate, best first, and per server the one it accepted
  (so only the first call to a server that refuses JSON-schema output pays for the refusal);
- the system prompt's schema suffix, the JSON extraction from prose or code fences and the
  ``jsonschema`` validation that decides whether an answer needs its one repair request;
- :func:`scrub`, applied to whatever a server answers before it reaches an error message, the
  call log or the cache, and :func:`excerpt`, how an answer is quoted in an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import jsonschema

from workbench.studio.llm_config import NO_KEY

EXCERPT = 160

#: Credentials that are scrubbed even when they are not this client's key: OpenAI-style secret
#: keys and the token of an ``Authorization: Bearer`` header a server echoes back.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}")


def scrub(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """``value`` with every secret replaced by ``***``: a string, or every string (keys too) of
    a JSON-like value. Applied to whatever a server answers before it reaches an error
    message, the call log or the cache, so a hostile or careless server that echoes the API
    key (as typed, JSON-escaped or URL-encoded) cannot make the workbench show or store it."""
    if isinstance(value, str):
        for secret in secrets:
            if not secret or secret == NO_KEY or len(secret) < 6:
                continue  # too short to replace without mangling ordinary words
            for form in dict.fromkeys((secret, json.dumps(secret)[1:-1], quote(secret, safe=""))):
                value = value.replace(form, "***")
        value = _KEY_LIKE.sub("***", value)
        return _BEARER.sub(lambda m: m.group(1) + "***", value)
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    return value


def excerpt(text: str | None, n: int = EXCERPT) -> str:
    """``text`` on one line, quoted and cut to ``n`` characters, for an error message."""
    text = " ".join((text or "").split())
    if not text:
        return "(an empty answer)"
    return json.dumps(text[:n] + ("..." if len(text) > n else ""), ensure_ascii=False)


# -- asking --------------------------------------------------------------------------------

def system_prompt(system: str, schema: dict) -> str:
    """The agent's system prompt with the schema its answer must match appended."""
    return (f"{system.rstrip()}\n\nAnswer with one JSON object that matches this JSON "
            f"schema, and nothing else:\n{json.dumps(schema, ensure_ascii=False)}")


def formats(schema: dict, purpose: str) -> list[dict | None]:
    """``response_format`` values to try, best first; the next is used when a server refuses."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", purpose or "answer")[:64] or "answer"
    return [
        # OpenAI, vLLM, Ollama, LM Studio and llama.cpp's own server: JSON-schema output.
        {"type": "json_schema", "json_schema": {"name": name, "schema": schema,
                                                "strict": False}},
        # llama-cpp-python's server: a grammar built from "schema" constrains the answer.
        {"type": "json_object", "schema": schema},
        {"type": "json_object"},
        None,
    ]


#: Per base URL, the index in :func:`formats` of the first response_format the server accepted
#: (so that only the first call to a server that refuses JSON-schema output pays for it).
_ACCEPTED_FORMAT: dict[str, int] = {}


def accepted_format(base_url: str) -> int:
    """The index in :func:`formats` to start from for this server (0 until one was accepted)."""
    return _ACCEPTED_FORMAT.get(base_url, 0)


def remember_format(base_url: str, index: int) -> None:
    """Record that the server at ``base_url`` answered a request with ``formats(...)[index]``."""
    _ACCEPTED_FORMAT[base_url] = index


# -- reading -------------------------------------------------------------------------------

def extract_json(text: str | None) -> Any:
    """The first JSON object in ``text`` (code fences and prose around it are ignored).

    Raises ``ValueError`` with a short reason when there is none.
    """
    if not text or not text.strip():
        raise ValueError("the answer was empty")
    body = text.strip()
    fence = re.search(r"```(?:json|JSON)?\s*(.*?)```", body, re.DOTALL)
    candidates = [fence.group(1)] if fence else []
    candidates.append(body)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for m in re.finditer(r"\{", candidate):
            try:
                value, _ = decoder.raw_decode(candidate, m.start())
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("the answer contains no complete JSON object")


def schema_error(value: Any, schema: dict) -> str | None:
    """Why ``value`` does not match ``schema`` (the best-matching error, with its path)."""
    cls = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(cls(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return (f"at '{where}': " if where else "") + error.message


def known(value: Any, schema: dict) -> Any:
    """``value`` without the keys ``schema`` does not name (when it names its properties): an
    extra ``"order"`` from the judge overwrote the label the studio stores beside its choice."""
    props = schema.get("properties")
    if not isinstance(value, dict) or not isinstance(props, dict):
        return value
    return {k: v for k, v in value.items() if k in props}


def parse(content: str | None, schema: dict) -> tuple[Any, str | None]:
    """``(value, None)`` for an answer holding a JSON object matching ``schema`` (keys the
    schema does not name are dropped), else ``(None, reason)``; the reason is what the repair
    request tells the model."""
    try:
        value = extract_json(content)
    except ValueError as e:
        return None, str(e)
    problem = schema_error(value, schema)
    return (known(value, schema), None) if problem is None else (
        None, "it does not match the schema " + problem)
