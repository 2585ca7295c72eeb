"""Authentication for test clients: the admin's token, and agent tokens where agents speak.

``AdminAuth`` signs every request as the first admin, except the agent protocol: a
registration gets a token for its pool (created on first use through the API, as an operator
would) and later calls for that agent carry the same token. A request that sets its own
``Authorization`` header keeps it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

_POOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_AGENT_CALL = re.compile(r"^/api/v1/agent/([^/]+)/")
_FALLBACK_POOL = "tests"


class AdminAuth(httpx.Auth):
    """The admin's bearer token, and agent tokens for the agent protocol."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.pool_tokens: dict[str, str] = {}
        self.agent_tokens: dict[str, str] = {}

    def _bearer(self, token: str) -> str:
        return f"Bearer {token}"

    def _create(self, request: httpx.Request, pool: str) -> httpx.Request:
        return httpx.Request(
            "POST",
            request.url.copy_with(path="/api/v1/agent-tokens", query=None),
            json={"name": f"tests-{pool}", "pool": pool},
            headers={"Authorization": self._bearer(self.token)},
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Pick the credential for this request."""
        if "Authorization" in request.headers:
            yield request
            return
        path = request.url.path
        if path == "/api/v1/agent/register":
            pool = _pool_of(request)
            wanted = pool if pool is not None else _FALLBACK_POOL
            token = self.pool_tokens.get(wanted)
            if token is None:
                created = yield self._create(request, wanted)
                token = self.pool_tokens[wanted] = created.json()["token"]
            request.headers["Authorization"] = self._bearer(token)
            response = yield request
            if response.status_code == 201:
                self.agent_tokens[response.json()["agent_id"]] = token
            return
        match = _AGENT_CALL.match(path)
        if match is not None:
            token = self.agent_tokens.get(match.group(1)) or next(
                iter(self.pool_tokens.values()), None
            )
            if token is None:
                created = yield self._create(request, _FALLBACK_POOL)
                token = self.pool_tokens[_FALLBACK_POOL] = created.json()["token"]
            request.headers["Authorization"] = self._bearer(token)
        else:
            request.headers["Authorization"] = self._bearer(self.token)
        yield request

    # Bodies are read only for the answers this flow looks into, so that streamed answers
    # (server-sent events) still stream.
    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """``auth_flow``, reading the answers it needs."""
        flow = self.auth_flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if _needs_body(sent):
                response.read()
            try:
                sent = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """``auth_flow``, reading the answers it needs."""
        flow = self.auth_flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if _needs_body(sent):
                await response.aread()
            try:
                sent = flow.send(response)
            except StopIteration:
                return


def _needs_body(request: httpx.Request) -> bool:
    return request.url.path in ("/api/v1/agent/register", "/api/v1/agent-tokens")


def _pool_of(request: httpx.Request) -> str | None:
    try:
        body: Any = json.loads(request.content or b"{}")
    except (ValueError, RecursionError, httpx.RequestNotRead):
        # Malformed, absurdly nested or streamed: the test is about the body, not the pool.
        return None
    pool = body.get("pool") if isinstance(body, dict) else None
    return pool if isinstance(pool, str) and _POOL.match(pool) else None
