"""Agent events on the bus, from the engine itself, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.engine import WORKSPACE, EngineEnv

from quantum_orchestrator.domain.agent_protocol import Registration
from quantum_orchestrator.events.bus import Subscription


def _registration(name: str) -> Registration:
    return {
        "name": name,
        "pool": "default",
        "capabilities": [{"name": "generative.write_x", "category": "generative"}],
        "concurrency": 2,
        "version": "1",
        "host": "h",
        "pid": 1,
    }


async def _next_of(subscription: Subscription, kind: str, timeout: float = 10) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await subscription.get(max(0.05, deadline - loop.time()))
        assert event is not None, f"no {kind} event"
        if event["type"] == kind:
            found: dict[str, Any] = event
            return found


async def test_a_silent_agent_is_announced_lost_after_the_commit(engine_env: EngineEnv) -> None:
    engine = engine_env.engine
    async with engine.bus.subscribe(workspace_id=WORKSPACE) as subscription:
        answer = await engine.agents.register(
            workspace_id=WORKSPACE, registration=_registration("quiet")
        )
        registered = await _next_of(subscription, "agent.registered")
        assert registered["agent_id"] == answer["agent_id"]
        assert registered["data"]["category"] == "generative"
        assert registered["run_id"] is None
        # No heartbeat: lost after agent_lost_after (2 s in tests).
        lost = await _next_of(subscription, "agent.lost")
        assert lost["agent_id"] == answer["agent_id"]
        assert lost["state"] == "lost"
        async with engine.uow.read() as conn:
            row = await engine.uow.repos.agents.get(conn, agent_id=answer["agent_id"])
        assert row["state"] == "lost"


async def test_heartbeat_events_are_throttled(engine_env: EngineEnv) -> None:
    engine = engine_env.engine
    async with engine.bus.subscribe(workspace_id=WORKSPACE) as subscription:
        answer = await engine.agents.register(
            workspace_id=WORKSPACE, registration=_registration("beating")
        )
        for _ in range(5):
            await engine.agents.heartbeat(agent_id=answer["agent_id"], running=[])
        await engine.agents.deregister(agent_id=answer["agent_id"])
        kinds = []
        while (event := await subscription.get(0.2)) is not None:
            kinds.append(event["type"])
    assert kinds == ["agent.registered", "agent.heartbeat", "agent.offline"]
