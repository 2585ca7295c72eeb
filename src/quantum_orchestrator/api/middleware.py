"""ASGI middleware: request ids, body size limit, request timeout, HEAD, security headers, metrics.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming answers (Server-Sent Events)
pass through untouched and the body limit is enforced while the body is read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from quantum_orchestrator.api.dashboard import is_dashboard_path
from quantum_orchestrator.observability.logging import bind_context, unbind_context
from quantum_orchestrator.observability.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("quantum_orchestrator.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,100}$")
# Long-lived answers: an event stream and the agents' long-poll manage their own time.
_NO_TIMEOUT = re.compile(r"^/api/v1/(runs/[^/]+/events|agent/[^/]+/claim)$")
# The API answers JSON (and an event stream): nothing it serves needs to run scripts, load
# resources or be framed, so the policy forbids everything.
_API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's interactive docs page loads Swagger UI from its CDN and starts it with an inline
# script; it gets only what that needs.
_DOCS_CSP = (
    b"default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src https://cdn.jsdelivr.net; img-src data: https://fastapi.tiangolo.com; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The dashboard's pages: its own scripts and styles only (no inline script, no inline <style>;
# style attributes set through the DOM, as React Flow does, are CSSOM and allowed), images
# from itself and data: URLs, and calls (HTTP and WebSocket: CSP3 browsers match ws:/wss: of
# the same host with 'self') to this server only.
UI_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    b"base-uri 'none'; form-action 'self'"
)
_HSTS = b"max-age=31536000; includeSubDomains"
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def _policy(path: str) -> bytes:
    """The CSP of an answer: the docs page's, the dashboard's, or the API's (nothing)."""
    if path == "/docs":
        return _DOCS_CSP
    return UI_CSP if is_dashboard_path(path) else _API_CSP


class _BodyTooLargeError(Exception):
    pass


class RequestContext:
    """One request's id, limits and measurements."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, timeout: float, metrics: Metrics
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        offered = headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = bind_context(request_id=request_id)
        started = time.perf_counter()
        # The status of the answer that reaches the client (set as its start goes out), which
        # the metric records; 500 if nothing was sent at all.
        status_holder = {"status": 500, "started": False}
        too_large = False
        # Measured as the client sent it: a HEAD is served as a GET below, but counted as HEAD.
        method: str = scope.get("method", "")
        head = scope["method"] == "HEAD" and not _NO_TIMEOUT.match(scope.get("path", ""))
        if head:
            # HEAD is answered like GET without the body (RFC 9110 §9.3.2). The scope is copied
            # so the server still knows the request was a HEAD.
            scope = {**scope, "method": "GET"}

        async def send_with_id(message: Message) -> None:
            if too_large:
                # The body went past the limit while the app read it; whatever the app answers
                # (frameworks turn a failing read into a 400), the client gets the 413 instead.
                return
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    *_SECURITY_HEADERS,
                    (b"content-security-policy", _policy(scope.get("path", ""))),
                ]
                if scope.get("scheme") == "https":
                    # Only over TLS: a browser ignores it on plain HTTP, and sending it there
                    # would wrongly suggest the site can be reached by HTTPS.
                    message["headers"].append((b"strict-transport-security", _HSTS))
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    if not status_holder["started"]:
                        await self._problem(
                            send_with_id, scope, 413, "body_too_large", self._too_large()
                        )
                        too_large = True
                    raise _BodyTooLargeError
            return message

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._problem(send_with_id, scope, 413, "body_too_large", self._too_large())
                return
            if _NO_TIMEOUT.match(scope.get("path", "")):
                await self.app(scope, limited_receive, send_with_id)
            else:
                async with asyncio.timeout(self.timeout):
                    await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLargeError:
            pass
        except TimeoutError:
            if not status_holder["started"]:
                await self._problem(
                    send_with_id,
                    scope,
                    504,
                    "timeout",
                    f"the request took longer than {self.timeout:g} s and was stopped",
                )
        except Exception:
            # A bug: the outermost handler logs it, but answers past this middleware, without
            # the request id and security headers. The same problem is answered here instead.
            if not status_holder["started"]:
                await self._problem(
                    send_with_id,
                    scope,
                    500,
                    "internal_error",
                    "an unexpected error happened; the server log has the details under this "
                    "request id",
                )
            raise
        finally:
            route = scope.get("route")
            # The route's template, never the URL: every path no route matched (an unknown API
            # path, a dashboard page) shares one label, so clients cannot grow the metric.
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_duration.labels(
                method, template, str(status_holder["status"])
            ).observe(time.perf_counter() - started)
            unbind_context(tokens)

    def _too_large(self) -> str:
        return f"the request body is larger than the limit of {self.max_body_bytes} bytes"

    async def _problem(self, send: Send, scope: Scope, status: int, code: str, detail: str) -> None:
        titles = {413: "Content Too Large", 500: "Internal Server Error", 504: "Gateway Timeout"}
        body = json.dumps(
            {
                "type": f"https://quantum-orchestrator.dev/problems/{code}",
                "title": titles[status],
                "status": status,
                "detail": detail,
                "code": code,
                "request_id": scope["state"]["request_id"],
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
