"""Live events about agents (``agent.registered``, ``agent.heartbeat``, ``agent.draining``,
``agent.offline``, ``agent.lost``) for the dashboard's agent board.

They are not part of any run's timeline: nothing is persisted, they are only published to the
agent's workspace on the event bus (built-in agents belong to the default workspace).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from quantum_orchestrator.domain.states import AgentState
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.store.types import utcnow

Row = dict[str, Any]
# At most one ``agent.heartbeat`` event per agent this often: live load for the dashboard
# without an event per heartbeat of every agent.
HEARTBEAT_EVENT_SECONDS = 5.0

logger = logging.getLogger("quantum_orchestrator.engine")


def agent_event(row: Row, type: str, **data: Any) -> dict[str, Any]:
    """A bus event of ``type`` about the agent ``row``; ``data`` adds to what it carries."""
    return {
        "id": None,
        "workspace_id": row["workspace_id"],
        "run_id": None,
        "step_id": None,
        "node_id": None,
        "agent_id": row["id"],
        "type": type,
        "state": data.pop("state", row.get("state")),
        "data": {"agent_id": row["id"], "name": row.get("name"), "pool": row.get("pool"), **data},
        "ts": utcnow(),
    }


class AgentEvents:
    """Publishes agent events, throttling heartbeats and announcing lost agents after commit."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow
        self._heartbeats: dict[str, float] = {}
        self._announcements: set[asyncio.Task[None]] = set()

    def publish(self, row: Row, type: str, **data: Any) -> None:
        """Hand one agent event to the bus now (the change it reports is committed)."""
        self._uow.bus.publish([agent_event(row, type, **data)])

    def heartbeat(self, agent: Row, *, state: str, running: int) -> None:
        """An ``agent.heartbeat`` with the agent's load, unless one went out moments ago."""
        now = time.monotonic()
        last = self._heartbeats.get(agent["id"])
        if last is not None and now - last < HEARTBEAT_EVENT_SECONDS:
            return
        self._heartbeats[agent["id"]] = now
        self.publish(
            agent, "agent.heartbeat", state=state, running=running, concurrency=agent["concurrency"]
        )

    def forget(self, agent_id: str) -> None:
        """Stop throttling an agent that left."""
        self._heartbeats.pop(agent_id, None)

    def announce_lost(self, agent_id: str) -> None:
        """Publish ``agent.lost`` once the transaction marking the agent lost has committed."""
        task = asyncio.get_running_loop().create_task(self._announce_lost(agent_id))
        self._announcements.add(task)
        task.add_done_callback(self._announcements.discard)

    async def _announce_lost(self, agent_id: str) -> None:
        # Called inside the ticker's transaction: a write transaction of our own waits for it
        # (the single writer on SQLite, the row lock on PostgreSQL), so the event goes out only
        # if the agent really is lost, and never before the change is committed.
        try:
            async with self._uow.write() as tx:
                row = await self._uow.repos.agents.locked(tx.conn, agent_id=agent_id)
        except Exception:  # the server may be stopping: the event is only a notification
            logger.debug("could not announce lost agent %s", agent_id, exc_info=True)
            return
        if row is not None and row["state"] == AgentState.LOST:
            self.publish(row, "agent.lost")
