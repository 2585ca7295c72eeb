"""How an agent talks to the server: one small interface, two implementations.

``HttpTransport`` speaks the agent protocol over HTTP for agents on other machines; the embedded
server (``qo up``) hands its built-in agents an in-process transport with the same methods.
"""

from __future__ import annotations

from typing import Any, Protocol

from quantum_orchestrator.domain.agent_protocol import (
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)
from quantum_orchestrator.domain.step_logs import LogLine


class AgentTransport(Protocol):
    """The six calls of the agent protocol."""

    async def register(self, registration: Registration) -> RegistrationAnswer:
        """Introduce the agent; answers its id and the heartbeat/lease timings."""
        ...

    async def heartbeat(self, agent_id: str, running: list[str]) -> HeartbeatAnswer:
        """Extend the leases of ``running`` steps; answers the steps to cancel."""
        ...

    async def claim(self, agent_id: str, max_tasks: int, wait: float) -> list[Task]:
        """Claim up to ``max_tasks`` attempts, waiting up to ``wait`` seconds for work."""
        ...

    async def report(self, agent_id: str, results: list[Result]) -> ResultsAnswer:
        """Report finished attempts in one batch."""
        ...

    async def progress(
        self, agent_id: str, step_id: str, attempt: int, data: dict[str, Any]
    ) -> None:
        """Send partial output (a ``step.progress`` event) of an attempt the agent holds."""
        ...

    async def logs(self, agent_id: str, step_id: str, attempt: int, lines: list[LogLine]) -> None:
        """Send lines a running attempt logged so far (the rest go with its result)."""
        ...

    async def deregister(self, agent_id: str) -> None:
        """Say goodbye: the agent is offline and holds nothing."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
