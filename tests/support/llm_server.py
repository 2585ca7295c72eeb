"""A scripted OpenAI-compatible server on 127.0.0.1, for the tests of ``generative.llm_chat``.

``POST /v1/chat/completions`` answers the next scripted :class:`Reply` (or, with an empty
script, an echo of the last user message). Replies set the status, the content, the ``usage``,
headers such as ``Retry-After`` or a delay before answering. Every
request is recorded with its arrival time. A request with ``"stream": true`` is answered as
Server-Sent Events: the reply's ``chunks`` (or its whole content), ``chunk_delay`` seconds apart,
then a usage chunk and ``data: [DONE]``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(kw_only=True)
class Reply:
    """One scripted answer."""

    content: str = "ok"
    status: int = 200
    prompt_tokens: int = 10
    completion_tokens: int = 5
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    error: str = "scripted error"
    # OpenAI-format ``tool_calls`` of the answer (``generative.agent``'s tests).
    tool_calls: list[dict[str, Any]] | None = None
    # Streamed answers: the content in these pieces, sent this many seconds apart.
    chunks: list[str] | None = None
    chunk_delay: float = 0.0


@dataclass(kw_only=True)
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float


class LlmServer:
    """The server's script and what it has seen; ``url`` is the OpenAI-style base URL."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.url = ""
        self._lock = threading.Lock()

    def add(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        with self._lock:
            self.script.extend(replies)

    def next_reply(self, body: Any) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        messages = body.get("messages") if isinstance(body, dict) else None
        last = messages[-1].get("content", "") if messages else ""
        return Reply(content=f"echo: {last}")


def _handler(state: LlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            state.seen.append(
                Seen(path=self.path, headers=dict(self.headers), body=body, at=time.monotonic())
            )
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "no such route"}})
                return
            reply = state.next_reply(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.error}}, reply.headers)
                return
            model = body.get("model", "") if isinstance(body, dict) else ""
            usage = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            }
            if isinstance(body, dict) and body.get("stream") is True:
                self._stream(reply, model, usage)
                return
            message: dict[str, Any] = {"role": "assistant", "content": reply.content}
            if reply.tool_calls is not None:
                message["tool_calls"] = reply.tool_calls
            answer = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    }
                ],
                "usage": usage,
            }
            self._send(200, answer, reply.headers)

        def _stream(self, reply: Reply, model: str, usage: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            pieces = reply.chunks if reply.chunks is not None else [reply.content]
            base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model}
            first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
            self._event(first)
            for piece in pieces:
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                self._event({**base, "choices": [delta]})
            done = {"index": 0, "delta": {}, "finish_reason": "stop"}
            self._event({**base, "choices": [done]})
            self._event({**base, "choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, payload: Any) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow reply closes the socket: expected, not news.
        return


@contextmanager
def llm_server() -> Iterator[LlmServer]:
    """Run a scripted server on an ephemeral port of 127.0.0.1 for the block."""
    state = LlmServer()
    server = _Server(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
