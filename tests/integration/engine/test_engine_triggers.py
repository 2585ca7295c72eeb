"""Schedules fire one run per fire time (two engines, restarts), pause, misfire, completion."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from tests.support.engine import WORKSPACE, EngineEnv
from tests.support.engine_tools import OpenEnv

from quantum_orchestrator.domain.triggers import TriggerKind, TriggerState, fire_key
from quantum_orchestrator.store.tables import runs, triggers
from quantum_orchestrator.store.types import utcnow

W = "test.work"


async def quiet(env: EngineEnv) -> EngineEnv:
    """Stop the engine's ticker: the test fires the schedules itself, when it means to."""
    await env.engine.shutdown()
    return env


async def deploy(env: EngineEnv, name: str, **spec: Any) -> None:
    if not env.agent_ids:
        await env.register([W])
    await env.deploy(
        {
            "name": name,
            "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "nodes": [{"id": "a", "type": W, "params": {"n": "{{ inputs.n }}"}}],
            **spec,
        }
    )


async def schedule(env: EngineEnv, config: dict[str, Any], name: str = "every") -> dict[str, Any]:
    row, secret = await env.engine.triggers.create(
        workspace_id=WORKSPACE,
        ref="job",
        kind=TriggerKind.SCHEDULE,
        name=name,
        config=config,
        inputs={"n": 7},
        created_by=None,
    )
    assert secret is None
    return row


async def rewind(env: EngineEnv, trigger_id: str, seconds: float) -> None:
    """Pretend the platform was down: the schedule's next fire time is ``seconds`` ago."""
    async with env.db.write() as conn:
        row = (await conn.execute(select(triggers).where(triggers.c.id == trigger_id))).one()
        at = utcnow() - timedelta(seconds=seconds)
        config = {**row.config}
        if config.get("interval"):
            config["anchor"] = at.isoformat()
        await conn.execute(
            update(triggers)
            .where(triggers.c.id == trigger_id)
            .values(next_fire_at=at, config=config)
        )


async def schedule_runs(env: EngineEnv) -> list[dict[str, Any]]:
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(runs).where(runs.c.trigger == "schedule").order_by(runs.c.idempotency_key)
        )
        return [dict(r) for r in rows.mappings()]


async def test_a_due_schedule_fires_one_run_then_waits(open_env: OpenEnv) -> None:
    env = await quiet(await open_env())
    await deploy(env, "job")
    row = await schedule(env, {"interval": 60})
    assert row["next_fire_at"] > utcnow()
    assert await env.engine.triggers.fire_due() == 0
    await rewind(env, row["id"], 1)
    assert await env.engine.triggers.fire_due() == 1
    assert await env.engine.triggers.fire_due() == 0
    (run,) = await schedule_runs(env)
    assert run["inputs"] == {"n": 7}
    assert run["idempotency_key"].startswith(f"schedule:{row['id']}:")
    stored = await env.engine.triggers.get(workspace_id=WORKSPACE, trigger_id=row["id"])
    assert stored["last_fire_at"] is not None
    assert stored["next_fire_at"] > utcnow()
    assert "secret_ciphertext" not in stored


async def test_two_engines_firing_the_same_schedule_start_one_run(open_env: OpenEnv) -> None:
    one = await quiet(await open_env())
    two = await quiet(await open_env())
    await deploy(one, "job")
    rows = [await schedule(one, {"interval": 60}, name=f"s{i}") for i in range(5)]
    for row in rows:
        await rewind(one, row["id"], 1)
    created = await asyncio.gather(*(e.engine.triggers.fire_due() for e in (one, two, one, two)))
    assert sum(created) == 5
    fired = await schedule_runs(two)
    assert len(fired) == 5
    assert len({r["idempotency_key"] for r in fired}) == 5


async def test_a_restart_between_the_run_and_the_timer_does_not_fire_twice(
    open_env: OpenEnv, database_url: str
) -> None:
    env = await quiet(await open_env())
    await deploy(env, "job")
    row = await schedule(env, {"interval": 60})
    await rewind(env, row["id"], 1)
    async with env.db.read() as conn:
        due_at = (
            await conn.execute(select(triggers.c.next_fire_at).where(triggers.c.id == row["id"]))
        ).scalar_one()
    assert await env.engine.triggers.fire_due() == 1
    # As if the server died after committing the run but before moving the timer on.
    async with env.db.write() as conn:
        await conn.execute(
            update(triggers).where(triggers.c.id == row["id"]).values(next_fire_at=due_at)
        )
    await env.close()
    restarted = await quiet(await EngineEnv.open(database_url))
    try:
        assert await restarted.engine.triggers.fire_due() == 0
        (run,) = await schedule_runs(restarted)
        assert run["idempotency_key"] == fire_key(row["id"], due_at)
    finally:
        await restarted.close()


async def test_a_paused_schedule_does_not_fire_and_resumes_from_now(open_env: OpenEnv) -> None:
    env = await quiet(await open_env())
    await deploy(env, "job")
    row = await schedule(env, {"interval": 60})
    paused = await env.engine.triggers.set_state(
        workspace_id=WORKSPACE, trigger_id=row["id"], state=TriggerState.PAUSED
    )
    assert paused["state"] == "paused"
    assert paused["next_fire_at"] is None
    assert await env.engine.triggers.fire_due() == 0
    resumed = await env.engine.triggers.set_state(
        workspace_id=WORKSPACE, trigger_id=row["id"], state=TriggerState.ACTIVE
    )
    assert resumed["state"] == "active"
    assert resumed["next_fire_at"] > utcnow()
    assert await env.engine.triggers.fire_due() == 0
    assert await schedule_runs(env) == []


async def test_misfire_policy_after_downtime(open_env: OpenEnv) -> None:
    env = await quiet(await open_env())
    await deploy(env, "job")
    skip = await schedule(env, {"interval": 60, "misfire": "skip", "grace": 0}, name="skip")
    catch = await schedule(
        env, {"interval": 60, "misfire": "catch_up", "catch_up": 3, "grace": 0}, name="catch"
    )
    for row in (skip, catch):
        await rewind(env, row["id"], 600)
    assert await env.engine.triggers.fire_due() == 3
    keys = [run["idempotency_key"] for run in await schedule_runs(env)]
    assert all(key.startswith(f"schedule:{catch['id']}:") for key in keys)
    for row in (skip, catch):
        stored = await env.engine.triggers.get(workspace_id=WORKSPACE, trigger_id=row["id"])
        assert stored["next_fire_at"] > utcnow()


async def test_a_schedule_of_an_undeployed_workflow_moves_on(open_env: OpenEnv) -> None:
    env = await quiet(await open_env())
    await env.register([W])
    await env.engine.workflows.create(
        workspace_id=WORKSPACE, document={"name": "job", "nodes": [{"id": "a", "type": W}]}
    )
    row = await schedule(env, {"interval": 60})
    await rewind(env, row["id"], 1)
    assert await env.engine.triggers.fire_due() == 0
    stored = await env.engine.triggers.get(workspace_id=WORKSPACE, trigger_id=row["id"])
    assert stored["next_fire_at"] > utcnow()


async def test_a_finished_run_triggers_its_listener_with_its_outputs(open_env: OpenEnv) -> None:
    env = await open_env()
    await deploy(env, "source", outputs={"n": "{{ nodes.a.output.n }}"})
    agent = env.agent_ids[0]
    await deploy(env, "job")
    for name, states in (("on-success", ["succeeded"]), ("on-failure", ["failed"])):
        await env.engine.triggers.create(
            workspace_id=WORKSPACE,
            ref="job",
            kind=TriggerKind.RUN_COMPLETION,
            name=name,
            config={"source": "source", "states": states},
            inputs={},
            created_by=None,
        )
    source = await env.start("source", {"n": 3})
    finished = await env.work(agent, source["id"])
    assert finished["state"] == "succeeded"
    async with env.db.read() as conn:
        triggered = (
            (await conn.execute(select(runs).where(runs.c.trigger == "run_completion")))
            .mappings()
            .all()
        )
    assert len(triggered) == 1
    assert triggered[0]["workflow_name"] == "job"
    assert triggered[0]["inputs"] == {"n": 3}
    assert triggered[0]["idempotency_key"].startswith(f"run:{source['id']}:")


async def test_the_ticker_fires_schedules_by_itself(open_env: OpenEnv) -> None:
    env = await open_env(tick_interval=0.05)
    await deploy(env, "job")
    await schedule(env, {"interval": 1})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await schedule_runs(env):
        assert loop.time() < deadline, "the ticker never fired the schedule"
        await asyncio.sleep(0.05)


async def test_a_cancelled_run_triggers_its_listener(open_env: OpenEnv) -> None:
    env = await open_env()
    await deploy(env, "source")
    await deploy(env, "job")
    await env.engine.triggers.create(
        workspace_id=WORKSPACE,
        ref="job",
        kind=TriggerKind.RUN_COMPLETION,
        name="on-cancel",
        config={"source": "source", "states": ["cancelled"]},
        inputs={"why": "cancelled"},
        created_by=None,
    )
    source = await env.start("source", {"n": 1})
    await env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=source["id"])
    async with env.db.read() as conn:
        triggered = (
            (await conn.execute(select(runs).where(runs.c.trigger == "run_completion")))
            .mappings()
            .all()
        )
    assert len(triggered) == 1
    assert triggered[0]["workflow_name"] == "job"
    assert triggered[0]["idempotency_key"].startswith(f"run:{source['id']}:")
