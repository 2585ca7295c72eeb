"""Small helpers for the engine integration suite: results, polling, timers and the timeline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select, update
from tests.support.engine import EngineEnv

from quantum_orchestrator.domain.agent_protocol import Result, Task
from quantum_orchestrator.store.tables import attempts, events, steps

T = TypeVar("T")
# ``await open_env(**engine_settings)`` (the fixture of tests/integration/engine/conftest.py).
OpenEnv = Callable[..., Awaitable[EngineEnv]]


def ok(task: Task, output: Any = None) -> Result:
    """A successful result for ``task``."""
    return {
        "step_id": task["step_id"],
        "attempt": task["attempt"],
        "status": "succeeded",
        "output": output,
    }


def fail(task: Task, code: str = "boom", *, retryable: bool = False) -> Result:
    """A failed result for ``task``."""
    return {
        "step_id": task["step_id"],
        "attempt": task["attempt"],
        "status": "failed",
        "error": {"code": code, "message": f"{code} happened", "retryable": retryable},
    }


def echo(task: Task) -> Result:
    """Succeed with the params as output (what ``core.noop`` does)."""
    return ok(task, task["params"] or None)


async def until(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``accept`` holds for its answer; answers that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s; last value: {value!r}")
        await asyncio.sleep(interval)


async def claim_until(
    env: EngineEnv, agent: str, count: int = 1, *, timeout: float = 10.0
) -> list[Task]:
    """Claim until at least ``count`` tasks were handed out (fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: list[Task] = []
    while len(got) < count:
        if loop.time() > deadline:
            raise AssertionError(f"claimed {len(got)} of {count} tasks in {timeout} s")
        got += await env.claim(agent, max_tasks=count - len(got), wait=0.05)
    return got


async def step_rows(env: EngineEnv, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's steps (without attempts) by node id, read straight from the table."""
    async with env.db.read() as conn:
        rows = await conn.execute(select(steps).where(steps.c.run_id == run_id))
        return {row["node_id"]: dict(row) for row in rows.mappings()}


async def attempt_rows(env: EngineEnv, step_id: str) -> list[dict[str, Any]]:
    """The attempts of a step, by number."""
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(attempts).where(attempts.c.step_id == step_id).order_by(attempts.c.number)
        )
        return [dict(row) for row in rows.mappings()]


async def timeline(env: EngineEnv, run_id: str) -> list[dict[str, Any]]:
    """The run's events, oldest first."""
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(events).where(events.c.run_id == run_id).order_by(events.c.id)
        )
        return [dict(row) for row in rows.mappings()]


async def set_step(env: EngineEnv, step_id: str, **values: Any) -> None:
    """Move a step's timer columns (as if time had passed); never its state."""
    assert "state" not in values
    async with env.db.write() as conn:
        await conn.execute(update(steps).where(steps.c.id == step_id).values(**values))
