"""The built-in agent pool of ``qo up``: the ordinary agent runtime, without HTTP.

The in-process transport calls the engine's agent service directly, so built-in agents follow
exactly the protocol (leases, heartbeats, batched results) that remote agents speak over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from quantum_orchestrator.agents.errors import AgentUnknownError as TransportAgentUnknownError
from quantum_orchestrator.agents.runtime import AgentRuntime, RuntimeOptions
from quantum_orchestrator.agents.serve import build_runtime
from quantum_orchestrator.domain.agent_protocol import (
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)
from quantum_orchestrator.domain.step_logs import LogLine
from quantum_orchestrator.engine.agents import AgentUnknownError
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.settings import AgentPoolSettings

logger = logging.getLogger("quantum_orchestrator.agents")


class LocalTransport:
    """The agent protocol as direct calls into the engine of this process."""

    def __init__(self, *, engine: Engine, workspace_id: str) -> None:
        self._engine = engine
        self._workspace_id = workspace_id

    async def register(self, registration: Registration) -> RegistrationAnswer:
        """Register as a built-in agent."""
        return await self._engine.agents.register(
            workspace_id=self._workspace_id, registration=registration, builtin=True
        )

    async def heartbeat(self, agent_id: str, running: list[str]) -> HeartbeatAnswer:
        """Extend leases."""
        try:
            return await self._engine.agents.heartbeat(agent_id=agent_id, running=running)
        except AgentUnknownError as exc:
            raise TransportAgentUnknownError(exc.message) from exc

    async def claim(self, agent_id: str, max_tasks: int, wait: float) -> list[Task]:
        """Claim work, long-polling on the engine's work signal."""
        try:
            return await self._engine.agents.claim(
                agent_id=agent_id, max_tasks=max_tasks, wait=wait
            )
        except AgentUnknownError as exc:
            raise TransportAgentUnknownError(exc.message) from exc

    async def report(self, agent_id: str, results: list[Result]) -> ResultsAnswer:
        """Report results."""
        try:
            return await self._engine.agents.report(agent_id=agent_id, results=results)
        except AgentUnknownError as exc:
            raise TransportAgentUnknownError(exc.message) from exc

    async def progress(
        self, agent_id: str, step_id: str, attempt: int, data: dict[str, Any]
    ) -> None:
        """Record partial output."""
        try:
            await self._engine.agents.progress(
                agent_id=agent_id, step_id=step_id, attempt=attempt, data=data
            )
        except AgentUnknownError as exc:
            raise TransportAgentUnknownError(exc.message) from exc

    async def logs(self, agent_id: str, step_id: str, attempt: int, lines: list[LogLine]) -> None:
        """Store lines of a running attempt."""
        try:
            await self._engine.agents.append_logs(
                agent_id=agent_id, step_id=step_id, attempt=attempt, lines=lines
            )
        except AgentUnknownError as exc:
            raise TransportAgentUnknownError(exc.message) from exc

    async def deregister(self, agent_id: str) -> None:
        """Leave."""
        with contextlib.suppress(AgentUnknownError):
            await self._engine.agents.deregister(agent_id=agent_id)

    async def aclose(self) -> None:
        """Nothing to release."""


class EmbeddedAgents:
    """Runs the built-in node types inside the server; ``start()`` / ``shutdown()``."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: AgentPoolSettings,
        workspace_id: str,
        drain_grace: float = 10.0,
    ) -> None:
        self._runtime: AgentRuntime = build_runtime(
            [],
            transport=LocalTransport(engine=engine, workspace_id=workspace_id),
            pool=settings.pool,
            concurrency=settings.concurrency,
            name=f"builtin@{socket.gethostname()}",
            include_builtin=True,
            options=RuntimeOptions(claim_wait=5.0, drain_grace=drain_grace),
            http_allow=settings.http_allow,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register and start serving."""
        if self._task is None:
            self._task = asyncio.create_task(self._runtime.run(), name="qo-builtin-agents")

    async def shutdown(self) -> None:
        """Drain: in-flight steps finish (or are handed back), then the agent leaves."""
        if self._task is None:
            return
        await self._runtime.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
