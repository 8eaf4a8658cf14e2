"""A real OpenAI-compatible HTTP server whose answers are scripted, for deterministic tests.

    with ScriptedServer(replies=['{"score": 4}', 500, Reply(delay=2.0)]) as server:
        config = BackendConfig("rewrite", base_url=server.base_url, model="scripted")
        ...
        server.requests   # every /v1/chat/completions request body (parsed JSON), in order

It listens on 127.0.0.1 on a free port (stdlib ``http.server`` in a thread). Each request to
``POST /v1/chat/completions`` takes the next reply from the queue:

- ``str``: a 200 answer whose message content is that string;
- ``int``: that HTTP status with an OpenAI-style error body (``500``, ``429``, ``401``, ...);
- ``float``: wait that many seconds, then answer ``"{}"`` (for client timeouts);
- ``Reply(content=..., status=..., delay=..., usage=..., error=..., headers=...)`` for
  combinations (``headers``: extra response headers, e.g. ``{"Retry-After": "2"}``);
  ``content`` may be any JSON value (a list of content parts, a number) for hostile servers;
- ``Reply(body=...)``: a 200 whose whole JSON body is ``body`` (no choices, ``choices: []``,
  ``message: null``, a garbage ``usage``); ``Reply(raw=..., content_type=...)``: a 200 whose
  body is that text as is (an HTML page, an SSE stream); ``Reply(trickle=0.5)``: the body
  sent one byte every 0.5 s (headers at once), to hold a client that has no deadline;
- a callable ``f(request_json) -> reply`` (any of the above), to answer from the prompt.

When the queue is empty the ``default`` reply is used (itself any of the above), or a 500
saying the script ran out. ``GET /v1/models`` lists one model, ``scripted``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["Reply", "ScriptedServer"]


@dataclass
class Reply:
    """One scripted answer. ``status != 200`` answers an error with ``error`` as its message."""

    content: Any = "{}"
    status: int = 200
    delay: float = 0.0
    usage: dict[str, int] | None = None
    error: str | None = None
    finish_reason: str = "stop"
    headers: dict[str, str] | None = None
    body: Any = None
    raw: str | bytes | None = None
    content_type: str = "application/json"
    trickle: float = 0.0


ReplyLike = str | int | float | Reply | Callable[[dict], Any]


def _as_reply(item: Any, request: dict) -> Reply:
    if callable(item) and not isinstance(item, Reply):
        item = item(request)
    if isinstance(item, Reply):
        return item
    if isinstance(item, bool):
        raise TypeError("a scripted reply cannot be a bool")
    if isinstance(item, str):
        return Reply(content=item)
    if isinstance(item, int):
        return Reply(content=None, status=item)
    if isinstance(item, float):
        return Reply(delay=item)
    if item is None:
        return Reply(content=None)
    raise TypeError(f"unsupported scripted reply: {item!r}")


def _words(text: Any) -> int:
    return len(str(text or "").split())


class ScriptedServer:
    """See the module docstring. Use as a context manager, or call ``start()``/``close()``."""

    def __init__(self, replies: list[ReplyLike] | None = None, *,
                 default: ReplyLike | None = None, model: str = "scripted"):
        self.queue: deque = deque(replies or [])
        self.default = default
        self.model = model
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []  # per request, names in lower case
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
                      content_type: str = "application/json", trickle: float = 0.0) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if not trickle:
                        self.wfile.write(data)
                        return
                    self.wfile.flush()
                    for i in range(len(data)):
                        if server._closing.wait(trickle):
                            return
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                except OSError:  # the client gave up (timeout) and closed the socket
                    pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": server.model, "object": "model", "owned_by": "tests"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    request = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                self._send(*server._answer(
                    request, {k.lower(): v for k, v in self.headers.items()}))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True, name="scripted-openai-server")
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- script ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._port is not None, "start the server first"
        return self._port  # kept after close(), for messages that name the address

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: ReplyLike) -> Self:
        """Append replies to the queue."""
        with self._lock:
            self.queue.extend(replies)
        return self

    @property
    def remaining(self) -> int:
        return len(self.queue)

    def _answer(self, request: dict, headers: dict[str, str]) -> tuple:
        """``(status, body, headers, content_type, trickle)`` for ``Handler._send``."""
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            item = self.queue.popleft() if self.queue else self.default
        if item is None:
            return 500, {"error": {"message": "scripted server: no reply left in the script",
                                   "type": "server_error"}}, None
        reply = _as_reply(item, request)
        if reply.delay:
            self._closing.wait(reply.delay)
        extra = (reply.headers, reply.content_type, reply.trickle)
        if reply.status != 200:
            return reply.status, {"error": {
                "message": reply.error or f"scripted HTTP {reply.status}",
                "type": "invalid_request_error" if reply.status < 500 else "server_error",
                "code": reply.status}}, *extra
        if reply.raw is not None:
            raw = reply.raw.encode() if isinstance(reply.raw, str) else reply.raw
            return 200, raw, *extra
        if reply.body is not None:
            return 200, reply.body, *extra
        prompt = sum(_words(m.get("content")) for m in request.get("messages", []))
        usage = reply.usage or {"prompt_tokens": prompt,
                                "completion_tokens": _words(reply.content)}
        usage = {**usage, "total_tokens": usage.get("prompt_tokens", 0)
                 + usage.get("completion_tokens", 0)}
        return 200, {
            "id": f"chatcmpl-scripted-{len(self.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                         "message": {"role": "assistant", "content": reply.content}}],
            "usage": usage}, *extra


def clear_llm_env(monkeypatch, *, keys: bool = False) -> None:
    """Unset every ``WORKBENCH_LLM_*`` variable (and, with ``keys``, ``OPENAI_API_KEY``), so a
    test's configuration is only what it sets."""
    import os
    for name in list(os.environ):
        if name.startswith("WORKBENCH_LLM_") or keys and name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
