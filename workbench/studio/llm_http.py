"""One chat-completion request under a deadline and a size cap, and how its answer is read.

:class:`workbench.studio.llm.LLMClient` retries, repairs, caches and logs; this module makes one
request through the ``openai`` client and reads what came back:

- the configured timeout is a **deadline for the whole request** (connecting, the headers and
  the body): the request runs in a worker thread and the caller stops waiting at the deadline
  (:class:`Late`). A server trickling a valid answer a byte every half second used to hold a
  2-second connection check for 100 s, because the client's timeout applies to each read;
- the body is read as a stream and refused past :data:`MAX_BODY_BYTES`, and an answer's text
  past :data:`MAX_ANSWER_CHARS` (:class:`TooLong`), before any parsing: a 5 MB rewrite took 14
  minutes and stored 132 MB of rejected drafts;
- the body is read as an OpenAI chat completion by :func:`read`, which says plainly what is wrong
  with one that is not (:class:`AnswerError`): not JSON (an HTML page, an event stream), no
  choices, no message, content that is not text. A list of text parts (the OpenAI content-parts
  shape) is joined; a ``usage`` that cannot be read counts no tokens and keeps the answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_ANSWER_CHARS", "MAX_BODY_BYTES", "Answer", "AnswerError", "Late", "TooLong",
           "post", "read"]

#: The longest answer (the message's text) a studio call accepts. Its answers are a short JSON
#: object (a rewrite's title and body, scores and reasons): a few hundred characters.
MAX_ANSWER_CHARS = 32_000
#: The most of an HTTP body read: an answer at the cap, every character JSON-escaped (``\\u200b``
#: is 6 bytes), plus the envelope. A longer body is refused without reading the rest.
MAX_BODY_BYTES = 6 * MAX_ANSWER_CHARS + 64 * 1024


class Late(Exception):
    """The request did not finish before its deadline."""


class TooLong(Exception):
    """The answer is over the size cap; ``str()`` says how long, as a clause."""


class AnswerError(Exception):
    """The body is not a usable chat completion; ``str()`` says why, as a clause."""


@dataclass(frozen=True)
class Answer:
    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0


# -- the request ---------------------------------------------------------------------------

def post(client: Any, timeout_s: float, **kwargs: Any) -> tuple[bytes, str]:
    """POST one chat completion with ``client`` (an ``openai.OpenAI``); the body and its content
    type. Raises :class:`Late` at ``timeout_s`` after the call however the server answers,
    :class:`TooLong`, or what the ``openai`` client raised (status, connection, timeout errors).

    The worker thread is a daemon that gives up on its own at the deadline (the ``openai``
    client's per-read timeout bounds a read that blocks), so an abandoned request does not
    outlive it for long; Ctrl-C interrupts the wait at once.
    """
    deadline = time.monotonic() + timeout_s
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            with client.chat.completions.with_streaming_response.create(
                    timeout=timeout_s, **kwargs) as response:
                box["value"] = _body(response, deadline)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name="llm-request", daemon=True).start()
    if not done.wait(timeout_s):
        raise Late()
    if "error" in box:
        raise box.pop("error")
    return box["value"]


def _body(response: Any, deadline: float) -> tuple[bytes, str]:
    headers = response.headers
    declared = str(headers.get("content-length") or "").strip()
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLong(f"a body of {int(declared):,} bytes (at most {MAX_BODY_BYTES:,} are read)")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLong(f"a body of more than {MAX_BODY_BYTES:,} bytes (the most read)")
        if time.monotonic() > deadline:
            raise Late()
        chunks.append(chunk)
    return b"".join(chunks), str(headers.get("content-type") or "")


# -- the answer ----------------------------------------------------------------------------

def read(body: bytes, content_type: str = "") -> Answer:
    """The answer in a chat-completion body, or :class:`AnswerError` / :class:`TooLong`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        kind = content_type.split(";")[0].strip() or "no content type"
        raise AnswerError(f"answered something that is not JSON from an OpenAI-compatible API "
                          f"({kind}): {_quote(body)}")
    prompt, completion = _usage(data.get("usage"))
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        said = f" It said: {_quote(json.dumps(error, ensure_ascii=False))}" if error else ""
        raise AnswerError(f"answered, but the server's answer has no choices (no message from "
                          f"the model).{said}")
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise AnswerError("answered, but the server's answer has no message in its first "
                          "choice")
    return Answer(content_text(message.get("content")), prompt, completion)


def content_text(content: Any) -> str | None:
    """A message's content as text: a string, ``None``, or a list of text parts joined (the
    OpenAI content-parts shape); anything else is an :class:`AnswerError`. :class:`TooLong`
    past :data:`MAX_ANSWER_CHARS`."""
    if isinstance(content, list) and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in content):
        content = "".join(p["text"] for p in content)
    if content is not None and not isinstance(content, str):
        what = ("a list that is not only text parts" if isinstance(content, list)
                else f"a JSON {_json_type(content)}")
        raise AnswerError(f"answered, but the answer's content is not text ({what}: "
                          f"{_quote(json.dumps(content, ensure_ascii=False))})")
    if content is not None and len(content) > MAX_ANSWER_CHARS:
        raise TooLong(f"an answer of {len(content):,} characters")
    return content


def _usage(usage: Any) -> tuple[int, int]:
    """Prompt and completion tokens; 0 for what is missing or not a count."""
    if not isinstance(usage, dict):
        return 0, 0

    def count(name: str) -> int:
        v = usage.get(name)
        return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**12 else 0
    return count("prompt_tokens"), count("completion_tokens")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array"}.get(type(value), type(value).__name__)


def _quote(text: str | bytes, n: int = 120) -> str:
    if isinstance(text, bytes):
        text = text[:4 * n].decode("utf-8", "replace")
    text = " ".join(text.split())
    if not text:
        return "(an empty answer)"
    return json.dumps(text[:n] + ("..." if len(text) > n else ""), ensure_ascii=False)
