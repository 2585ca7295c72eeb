"""The agent protocol over HTTP, for agents that run apart from the server."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

import httpx

from quantum_orchestrator.agents.errors import AgentUnknownError, TransportError
from quantum_orchestrator.domain.agent_protocol import (
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)
from quantum_orchestrator.domain.step_logs import LogLine

API_PREFIX = "/api/v1/agent"
_EXCERPT_CHARS = 300


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    """The RFC 9457 problem document of an error answer, or ``{}`` when there is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class HttpTransport:
    """``AgentTransport`` over HTTP + JSON, with one connection pool per transport.

    Failures raise :class:`TransportError` (``retryable`` for network errors, 5xx, 408 and 429)
    and a 404 on an agent's own endpoints raises :class:`AgentUnknownError`.
    """

    def __init__(self, server: str, *, token: str | None = None, timeout: float = 30) -> None:
        if not server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http(s) URL, not {server!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._server = server.rstrip("/")
        self._timeout = float(timeout)
        self._client = httpx.AsyncClient(
            base_url=self._server, headers=headers, timeout=self._timeout
        )

    @property
    def server(self) -> str:
        """The server's base URL."""
        return self._server

    async def register(self, registration: Registration) -> RegistrationAnswer:
        """``POST /api/v1/agent/register``."""
        body = await self._post(f"{API_PREFIX}/register", registration, agent_scoped=False)
        return cast(RegistrationAnswer, self._require(body, "agent_id", "heartbeat_interval"))

    async def heartbeat(self, agent_id: str, running: list[str]) -> HeartbeatAnswer:
        """``POST /api/v1/agent/{id}/heartbeat``."""
        body = await self._post(self._agent_path(agent_id, "heartbeat"), {"running": running})
        answer = self._require(body, "state")
        answer.setdefault("cancel", [])
        return cast(HeartbeatAnswer, answer)

    async def claim(self, agent_id: str, max_tasks: int, wait: float) -> list[Task]:
        """``POST /api/v1/agent/{id}/claim``; the read timeout outlasts the long-poll."""
        timeout = httpx.Timeout(self._timeout, read=self._timeout + max(0.0, wait))
        body = await self._post(
            self._agent_path(agent_id, "claim"),
            {"max": max_tasks, "wait": wait},
            http_timeout=timeout,
        )
        tasks = self._require(body, "tasks")["tasks"]
        if not isinstance(tasks, list):
            raise TransportError("the claim answer's tasks is not a list", retryable=True)
        return cast(list[Task], tasks)

    async def report(self, agent_id: str, results: list[Result]) -> ResultsAnswer:
        """``POST /api/v1/agent/{id}/results``."""
        body = await self._post(self._agent_path(agent_id, "results"), {"results": results})
        answer = body if isinstance(body, dict) else {}
        answer.setdefault("accepted", [])
        answer.setdefault("rejected", [])
        return cast(ResultsAnswer, answer)

    async def progress(
        self, agent_id: str, step_id: str, attempt: int, data: dict[str, Any]
    ) -> None:
        """``POST /api/v1/agent/{id}/progress``."""
        await self._post(
            self._agent_path(agent_id, "progress"),
            {"step_id": step_id, "attempt": attempt, "data": data},
        )

    async def logs(self, agent_id: str, step_id: str, attempt: int, lines: list[LogLine]) -> None:
        """``POST /api/v1/agent/{id}/logs``."""
        await self._post(
            self._agent_path(agent_id, "logs"),
            {"step_id": step_id, "attempt": attempt, "lines": lines},
        )

    async def deregister(self, agent_id: str) -> None:
        """``POST /api/v1/agent/{id}/deregister``."""
        await self._post(self._agent_path(agent_id, "deregister"), None)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    @staticmethod
    def _agent_path(agent_id: str, action: str) -> str:
        return f"{API_PREFIX}/{quote(agent_id, safe='')}/{action}"

    @staticmethod
    def _require(body: Any, *keys: str) -> dict[str, Any]:
        if not isinstance(body, dict) or any(key not in body for key in keys):
            raise TransportError(
                f"unexpected answer from the server (expected {', '.join(keys)})", retryable=True
            )
        return body

    async def _post(
        self,
        path: str,
        payload: Any,
        *,
        agent_scoped: bool = True,
        http_timeout: httpx.Timeout | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if payload is not None:
            kwargs["json"] = payload
        if http_timeout is not None:
            kwargs["timeout"] = http_timeout
        try:
            response = await self._client.post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"POST {self._server}{path} failed: {type(exc).__name__}: {exc}",
                code="network_error",
                retryable=True,
            ) from exc
        status = response.status_code
        if status >= 400:
            problem = _problem_of(response)
            detail = problem.get("detail") or problem.get("title") or response.text[:_EXCERPT_CHARS]
            message = f"POST {path} answered {status}: {detail}"
            if status == 404 and agent_scoped:
                raise AgentUnknownError(message, status=status)
            code = problem.get("code")
            raise TransportError(
                message,
                code=code if isinstance(code, str) and code else f"http_{status}",
                retryable=status >= 500 or status in (408, 429),
                status=status,
            )
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TransportError(f"POST {path} answered with invalid JSON", retryable=True) from exc
