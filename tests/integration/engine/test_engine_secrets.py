"""Workspace secrets in the engine: encrypted at rest, bound at claim, redacted in results."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from tests.support.engine import WORKSPACE, EngineEnv, steps_by_node
from tests.support.engine_tools import timeline

from quantum_orchestrator.domain.agent_protocol import Result, Task
from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import current_revision, downgrade, upgrade
from quantum_orchestrator.store.tables import secrets, steps

W = "test.work"
VALUE = "tok-Very-Secret-42"


async def test_crud_and_ciphertext_at_rest(engine_env: EngineEnv) -> None:
    service = engine_env.engine.secrets
    row = await service.create(workspace_id=WORKSPACE, name="TOKEN", value=VALUE)
    assert set(row) == {"name", "created_at", "updated_at", "last_used_at"}
    with pytest.raises(ConflictError):
        await service.create(workspace_id=WORKSPACE, name="TOKEN", value="x")
    async with engine_env.db.read() as conn:
        stored = (await conn.execute(select(secrets))).mappings().one()
    assert VALUE.encode() not in bytes(stored["ciphertext"])
    assert stored["key_id"] == engine_env.engine.secrets._require_box().key_id
    updated = await service.update(workspace_id=WORKSPACE, name="TOKEN", value="new")
    assert updated["updated_at"] >= row["updated_at"]
    async with engine_env.db.read() as conn:
        assert await service.resolve(conn, WORKSPACE, ["TOKEN", "GONE"]) == {"TOKEN": "new"}
        # Bound to its workspace: another workspace sees nothing.
        assert await service.resolve(conn, "f" * 32, ["TOKEN"]) == {}
    assert [r["name"] for r in await service.list(workspace_id=WORKSPACE)] == ["TOKEN"]
    with pytest.raises(NotFoundError):
        await service.update(workspace_id=WORKSPACE, name="GONE", value="x")
    await service.delete(workspace_id=WORKSPACE, name="TOKEN")
    with pytest.raises(NotFoundError):
        await service.delete(workspace_id=WORKSPACE, name="TOKEN")
    assert await service.list(workspace_id=WORKSPACE) == []


async def test_values_are_bound_late_and_redacted(engine_env: EngineEnv) -> None:
    env = engine_env
    await env.engine.secrets.create(workspace_id=WORKSPACE, name="TOKEN", value=VALUE)
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "secret-use",
            "nodes": [
                {
                    "id": "a",
                    "type": W,
                    "params": {
                        "headers": {"Authorization": "Bearer {{ secrets.TOKEN }}"},
                        "list": ["{{ secrets.TOKEN }}"],
                        "n": "{{ inputs.n }}",
                    },
                }
            ],
            "connections": [],
        }
    )
    run = await env.start("secret-use", {"n": 1})
    seen: list[Task] = []

    def handler(task: Task) -> Result:
        seen.append(task)
        return {
            "step_id": task["step_id"],
            "attempt": task["attempt"],
            "status": "succeeded",
            "output": {"echo": task["params"]["headers"]["Authorization"], VALUE: [VALUE]},
        }

    done = await env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    assert seen[0]["params"]["headers"] == {"Authorization": f"Bearer {VALUE}"}
    assert seen[0]["params"]["list"] == [VALUE]
    step = steps_by_node(done)["a"]
    assert step["output"] == {"echo": "Bearer ***", "***": ["***"]}
    async with env.db.read() as conn:
        params, output = (
            await conn.execute(
                select(steps.c.params, steps.c.output).where(steps.c.run_id == run["id"])
            )
        ).one()
        used = (await conn.execute(select(secrets.c.last_used_at))).scalar_one()
    assert VALUE not in json.dumps(params)
    assert VALUE not in json.dumps(output)
    assert "secrets.TOKEN" not in json.dumps(params)  # a marker, not the template
    assert used is not None
    assert VALUE not in json.dumps([e["data"] for e in await timeline(env, run["id"])])


async def test_failure_messages_are_redacted(engine_env: EngineEnv) -> None:
    env = engine_env
    await env.engine.secrets.create(workspace_id=WORKSPACE, name="TOKEN", value=VALUE)
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "secret-fail",
            "nodes": [{"id": "a", "type": W, "params": {"t": "{{ secrets.TOKEN }}"}}],
            "connections": [],
        }
    )
    run = await env.start("secret-fail")

    def handler(task: Task) -> Result:
        return {
            "step_id": task["step_id"],
            "attempt": task["attempt"],
            "status": "failed",
            "error": {"code": "boom", "message": f"bad token {task['params']['t']}"},
        }

    done = await env.work(agent, run["id"], handler)
    step = steps_by_node(done)["a"]
    assert step["state"] == "failed"
    assert step["error"]["message"] == "bad token ***"
    events = json.dumps([e["data"] for e in await timeline(env, run["id"])])
    assert VALUE not in events
    assert "bad token ***" in events


async def test_undefined_secret_fails_the_step(engine_env: EngineEnv) -> None:
    env = engine_env
    await env.register([W])
    await env.deploy(
        {
            "name": "secret-missing",
            "nodes": [{"id": "a", "type": W, "params": {"t": "x{{ secrets.NOPE }}"}}],
            "connections": [],
        }
    )
    run = await env.start("secret-missing")
    done = await env.wait_state(run["id"], {"failed"})
    error = steps_by_node(done)["a"]["error"]
    assert error["code"] == "template_error"
    assert "NOPE" in error["message"]


async def test_a_secret_deleted_after_queueing_fails_at_claim(engine_env: EngineEnv) -> None:
    env = engine_env
    await env.engine.secrets.create(workspace_id=WORKSPACE, name="TOKEN", value=VALUE)
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "secret-gone",
            "nodes": [{"id": "a", "type": W, "params": {"t": "{{ secrets.TOKEN }}"}}],
            "connections": [],
        }
    )
    run = await env.start("secret-gone")
    await env.engine.secrets.delete(workspace_id=WORKSPACE, name="TOKEN")
    assert await env.claim(agent) == []
    done = await env.run(run["id"])
    assert done["state"] == "failed"
    assert steps_by_node(done)["a"]["error"]["code"] == "secret_missing"


async def test_migration_0002_goes_down_and_up(database_url: str) -> None:
    db = Database(options=DatabaseOptions(url=database_url))
    try:
        await upgrade(db, "0002")
        assert await current_revision(db) == "0002"
        await downgrade(db, "0001")
        assert await current_revision(db) == "0001"
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(
                lambda sync: set(sync.dialect.get_table_names(sync))  # type: ignore[no-any-return]
            )
        assert "secrets" not in tables
        assert "steps" in tables
        await upgrade(db)
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT count(*) FROM secrets"))
    finally:
        await db.dispose()
