"""Control nodes carried out by the engine: approvals and waiting until a point in time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.support.engine import WORKSPACE, EngineEnv, steps_by_node
from tests.support.engine_tools import OpenEnv, timeline

from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.store.tables import workspaces


def _approval_spec(name: str, **params: Any) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "ask", "type": "core.approval", "params": {"message": "ship it?", **params}},
            {"id": "after", "type": "core.delay", "params": {"seconds": 0}},
        ],
        "connections": [{"from": "ask", "to": "after"}],
        "outputs": {"decision": "{{ nodes.ask.output.decision }}"},
    }


async def _decide(env: EngineEnv, run_id: str, decision: str, **kwargs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "node_id": "ask",
        "comment": "looks fine",
        "decided_by": "ops@example.com",
        **kwargs,
    }
    return await env.engine.approvals.decide(
        workspace_id=WORKSPACE, run_id=run_id, decision=decision, **values
    )


async def test_approved_step_succeeds_with_who_when_and_why(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_approval_spec("gate"))
    run = await engine_env.start("gate")
    waiting = await engine_env.wait_state(run["id"], {"waiting"})
    assert steps_by_node(waiting)["ask"]["state"] == "waiting"
    pending = await engine_env.engine.approvals.pending(workspace_id=WORKSPACE)
    assert [(p["run_id"], p["node_id"]) for p in pending] == [(run["id"], "ask")]
    assert pending[0]["params"]["message"] == "ship it?"

    record = await _decide(engine_env, run["id"], "approved")
    assert record["decision"] == "approved"
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"decision": "approved"}
    steps = steps_by_node(done)
    output = steps["ask"]["output"]
    assert output["comment"] == "looks fine"
    assert output["decided_by"] == "ops@example.com"
    assert datetime.fromisoformat(output["decided_at"]) <= datetime.now(UTC)
    assert steps["after"]["state"] == "succeeded"
    assert await engine_env.engine.approvals.pending(workspace_id=WORKSPACE) == []
    types = [event["type"] for event in await timeline(engine_env, run["id"])]
    assert "step.decided" in types


async def test_rejected_step_fails_for_good_and_skips_nothing_silently(
    engine_env: EngineEnv,
) -> None:
    await engine_env.deploy(_approval_spec("gate"))
    run = await engine_env.start("gate")
    await engine_env.wait_state(run["id"], {"waiting"})
    await _decide(engine_env, run["id"], "rejected", comment="not today")
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    assert done["state"] == "failed"
    steps = steps_by_node(done)
    assert steps["ask"]["state"] == "failed"
    assert steps["ask"]["error"]["code"] == "approval_rejected"
    assert steps["ask"]["error"]["retryable"] is False
    assert "not today" in steps["ask"]["error"]["message"]
    assert steps["ask"]["output"]["decision"] == "rejected"
    assert steps["after"]["state"] == "skipped"


async def test_an_all_done_node_still_runs_after_a_rejection(engine_env: EngineEnv) -> None:
    spec = _approval_spec("gate")
    spec["nodes"].append(
        {
            "id": "cleanup",
            "type": "core.delay",
            "trigger_rule": "all_done",
            "params": {"seconds": "{{ 0 if nodes.ask.output.decision == 'rejected' else 1 }}"},
        }
    )
    spec["connections"].append({"from": "ask", "to": "cleanup"})
    await engine_env.deploy(spec)
    run = await engine_env.start("gate")
    await engine_env.wait_state(run["id"], {"waiting"})
    await _decide(engine_env, run["id"], "rejected")
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    steps = steps_by_node(done)
    assert steps["after"]["state"] == "skipped"
    assert steps["cleanup"]["state"] == "succeeded"
    assert steps["cleanup"]["output"] == {"waited": 0}


async def test_a_decision_needs_a_waiting_approval_in_the_workspace(
    engine_env: EngineEnv,
) -> None:
    await engine_env.deploy(_approval_spec("gate"))
    run = await engine_env.start("gate")
    await engine_env.wait_state(run["id"], {"waiting"})
    with pytest.raises(ConflictError):
        await _decide(engine_env, run["id"], "approved", node_id="after")
    with pytest.raises(NotFoundError):
        await _decide(engine_env, run["id"], "approved", node_id="nope")
    with pytest.raises(NotFoundError):
        await engine_env.engine.approvals.decide(
            workspace_id="0" * 31 + "9",
            run_id=run["id"],
            node_id="ask",
            decision="approved",
            comment=None,
            decided_by="someone",
        )
    await _decide(engine_env, run["id"], "approved")
    # Decided once: a second decision is refused rather than counted twice.
    with pytest.raises(ConflictError):
        await _decide(engine_env, run["id"], "rejected")


async def test_timeout_applies_the_default_decision(open_env: OpenEnv) -> None:
    env = await open_env(tick_interval=0.02)
    await env.deploy(
        _approval_spec("late", timeout=0.2, default_decision="approved"),
    )
    run = await env.start("late")
    done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "succeeded"
    output = steps_by_node(done)["ask"]["output"]
    assert output["decision"] == "approved"
    assert output["decided_by"] == "system:timeout"

    await env.deploy(_approval_spec("late-reject", timeout=0.2))
    run = await env.start("late-reject")
    done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    assert steps_by_node(done)["ask"]["error"]["code"] == "approval_rejected"


async def test_cancel_ends_a_waiting_approval(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_approval_spec("gate"))
    run = await engine_env.start("gate")
    await engine_env.wait_state(run["id"], {"waiting"})
    await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    with pytest.raises(ConflictError):
        await _decide(engine_env, run["id"], "approved")


async def test_approval_and_its_timeout_survive_a_restart(database_url: str) -> None:
    env = await EngineEnv.open(database_url)
    try:
        await env.deploy(_approval_spec("durable-gate"))
        await env.deploy(_approval_spec("durable-timeout", timeout=0.4))
        asked = await env.start("durable-gate")
        timed = await env.start("durable-timeout")
        await env.wait_state(asked["id"], {"waiting"})
    finally:
        await env.close()
    # While no server is up the timeout passes; the timer is a timestamp in the database.
    await asyncio.sleep(0.5)
    env = await EngineEnv.open(database_url)
    try:
        done = await env.wait_state(timed["id"], {"succeeded", "failed"}, timeout=10)
        assert steps_by_node(done)["ask"]["output"]["decided_by"] == "system:timeout"
        assert (await env.run(asked["id"]))["state"] == "waiting"
        await _decide(env, asked["id"], "approved")
        done = await env.wait_state(asked["id"], {"succeeded", "failed"}, timeout=10)
        assert done["state"] == "succeeded"
    finally:
        await env.close()


def _wait_until_spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "inputs": {"type": "object", "properties": {"at": {"type": "string"}}},
        "nodes": [
            {"id": "wait", "type": "core.wait_until", "params": {"until": "{{ inputs.at }}"}},
            {"id": "after", "type": "core.delay", "params": {"seconds": 0}},
        ],
        "connections": [{"from": "wait", "to": "after"}],
    }


async def test_wait_until_a_past_time_goes_on_at_once(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_wait_until_spec("past"))
    run = await engine_env.start("past", {"at": "2000-01-01T00:00:00+02:00"})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "succeeded"
    assert steps_by_node(done)["wait"]["output"] == {"until": "1999-12-31T22:00:00+00:00"}


async def test_wait_until_a_future_time_waits_durably(database_url: str) -> None:
    env = await EngineEnv.open(database_url)
    at = datetime.now(UTC) + timedelta(seconds=0.6)
    try:
        await env.deploy(_wait_until_spec("future"))
        run = await env.start("future", {"at": at.isoformat()})
        waiting = await env.wait_state(run["id"], {"waiting"})
        assert steps_by_node(waiting)["wait"]["state"] == "waiting"
    finally:
        await env.close()
    env = await EngineEnv.open(database_url)
    try:
        done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
        assert done["state"] == "succeeded"
        assert steps_by_node(done)["wait"]["finished_at"] >= at
    finally:
        await env.close()


@pytest.mark.parametrize("at", ["2030-01-01T09:00:00", "tomorrow"])
async def test_wait_until_refuses_a_time_without_zone_or_not_a_time(
    engine_env: EngineEnv, at: str
) -> None:
    await engine_env.deploy(_wait_until_spec("bad"))
    run = await engine_env.start("bad", {"at": at})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    step = steps_by_node(done)["wait"]
    assert step["error"]["code"] == "invalid_params"
    assert step["error"]["retryable"] is False


def _child_spec(name: str = "child", *, seconds: float = 0, fail: bool = False) -> dict[str, Any]:
    # A wait until "never" fails at run time (invalid_params), which fails the child run.
    nap: dict[str, Any] = (
        {"id": "nap", "type": "core.wait_until", "params": {"until": "never"}}
        if fail
        else {"id": "nap", "type": "core.delay", "params": {"seconds": seconds}}
    )
    return {
        "name": name,
        "inputs": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        "nodes": [nap],
        "outputs": {"double": "{{ inputs.n * 2 }}", "waited": "{{ nodes.nap.output.waited }}"},
    }


def _parent_spec(name: str = "parent", **params: Any) -> dict[str, Any]:
    return {
        "name": name,
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "nodes": [
            {
                "id": "sub",
                "type": "core.subworkflow",
                "params": {"workflow": "child", "inputs": {"n": "{{ inputs.n }}"}, **params},
            },
            {"id": "after", "type": "core.delay", "params": {"seconds": 0}},
        ],
        "connections": [{"from": "sub", "to": "after"}],
        "outputs": {"child": "{{ nodes.sub.output }}"},
    }


async def _children(env: EngineEnv, run_id: str) -> list[dict[str, Any]]:
    async with env.engine.uow.read() as conn:
        return await env.engine.uow.repos.runs.active_children(conn, run_id)


async def test_subworkflow_succeeds_with_the_child_outputs(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(seconds=0.1))
    await engine_env.deploy(_parent_spec())
    run = await engine_env.start("parent", {"n": 21})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "succeeded", done
    assert done["outputs"] == {"child": {"double": 42, "waited": 0.1}}
    page = await engine_env.engine.runs.page(
        workspace_id=WORKSPACE, limit=10, cursor=None, workflow="child"
    )
    (child,) = page.items
    assert child["trigger"] == "subworkflow"
    assert child["parent_run_id"] == run["id"]
    assert child["parent_step_id"] == steps_by_node(done)["sub"]["id"]
    assert child["depth"] == 1
    assert child["state"] == "succeeded"


async def test_subworkflow_pins_a_version(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(seconds=0))
    await engine_env.deploy(_child_spec(seconds=0.05))
    await engine_env.deploy(_parent_spec(version=1))
    run = await engine_env.start("parent", {"n": 1})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["outputs"] == {"child": {"double": 2, "waited": 0}}


async def test_subworkflow_fails_with_the_child_error(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(fail=True))
    await engine_env.deploy(_parent_spec())
    run = await engine_env.start("parent", {"n": 1})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    steps = steps_by_node(done)
    assert steps["sub"]["error"]["code"] == "subworkflow_failed"
    assert steps["sub"]["error"]["retryable"] is False
    assert steps["after"]["state"] == "skipped"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"workflow": "nowhere"}, "not_found"),
        ({"workflow": "child", "version": 9}, "not_found"),
        ({"workflow": "child", "inputs": {"n": "not a number"}}, "inputs_invalid"),
    ],
)
async def test_subworkflow_refuses_unknown_workflows_and_bad_inputs(
    engine_env: EngineEnv, params: dict[str, Any], code: str
) -> None:
    await engine_env.deploy(_child_spec())
    spec = _parent_spec()
    spec["nodes"][0]["params"] = params
    await engine_env.deploy(spec)
    run = await engine_env.start("parent", {"n": 1})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    assert steps_by_node(done)["sub"]["error"]["code"] == code


async def test_cancelling_the_parent_cancels_the_child(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(seconds=60))
    await engine_env.deploy(_parent_spec())
    run = await engine_env.start("parent", {"n": 1})
    await engine_env.wait_state(run["id"], {"waiting"})
    (child,) = await _children(engine_env, run["id"])
    await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    assert (await engine_env.run(child["id"]))["state"] == "cancelled"
    assert steps_by_node(await engine_env.run(run["id"]))["sub"]["state"] == "cancelled"


async def test_cancelling_the_child_fails_the_parent_step(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(seconds=60))
    await engine_env.deploy(_parent_spec())
    run = await engine_env.start("parent", {"n": 1})
    await engine_env.wait_state(run["id"], {"waiting"})
    (child,) = await _children(engine_env, run["id"])
    await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=child["id"])
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    assert "cancelled" in steps_by_node(done)["sub"]["error"]["message"]


async def test_a_workflow_calling_itself_stops_at_the_depth_limit(open_env: OpenEnv) -> None:
    env = await open_env(max_subworkflow_depth=3)
    await env.deploy(
        {
            "name": "loop",
            "nodes": [{"id": "again", "type": "core.subworkflow", "params": {"workflow": "loop"}}],
        }
    )
    run = await env.start("loop")
    done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert done["state"] == "failed"
    page = await env.engine.runs.page(workspace_id=WORKSPACE, limit=10, cursor=None)
    assert sorted(r["depth"] for r in page.items) == [0, 1, 2, 3]
    deepest = next(r for r in page.items if r["depth"] == 3)
    error = steps_by_node(await env.run(deepest["id"]))["again"]["error"]
    assert error["code"] == "subworkflow_depth_exceeded"
    assert all(r["state"] == "failed" for r in page.items)


async def test_a_workflow_of_another_workspace_cannot_be_called(engine_env: EngineEnv) -> None:
    other = "0" * 31 + "7"
    async with engine_env.db.write() as conn:
        await conn.execute(
            workspaces.insert().values(
                id=other, slug="other", name="Other", http_allow=[], created_at=datetime.now(UTC)
            )
        )
    workflows = engine_env.engine.workflows
    await workflows.create(workspace_id=other, document=_child_spec("hidden"))
    await workflows.deploy(workspace_id=other, ref="hidden")
    await engine_env.deploy(_parent_spec())
    spec = _parent_spec()
    spec["nodes"][0]["params"]["workflow"] = "hidden"
    await engine_env.deploy(spec)
    run = await engine_env.start("parent", {"n": 1})
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    assert steps_by_node(done)["sub"]["error"]["code"] == "not_found"


async def test_a_subworkflow_survives_a_restart(database_url: str) -> None:
    env = await EngineEnv.open(database_url)
    try:
        await env.deploy(_child_spec(seconds=0.4))
        await env.deploy(_parent_spec())
        run = await env.start("parent", {"n": 2})
        await env.wait_state(run["id"], {"waiting"})
    finally:
        await env.close()
    await asyncio.sleep(0.5)
    env = await EngineEnv.open(database_url)
    try:
        done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
        assert done["state"] == "succeeded"
        assert done["outputs"] == {"child": {"double": 4, "waited": 0.4}}
    finally:
        await env.close()


async def test_cancelling_reaches_grandchildren(engine_env: EngineEnv) -> None:
    await engine_env.deploy(_child_spec(seconds=60))
    await engine_env.deploy(
        {
            "name": "middle",
            "inputs": {"type": "object"},
            "nodes": [
                {
                    "id": "sub",
                    "type": "core.subworkflow",
                    "params": {"workflow": "child", "inputs": {"n": 1}},
                }
            ],
        }
    )
    spec = _parent_spec()
    spec["nodes"][0]["params"] = {"workflow": "middle"}
    await engine_env.deploy(spec)
    run = await engine_env.start("parent", {"n": 1})
    await engine_env.wait_state(run["id"], {"waiting"})
    (middle,) = await _children(engine_env, run["id"])
    await engine_env.wait_state(middle["id"], {"waiting"})
    (child,) = await _children(engine_env, middle["id"])
    await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    for run_id in (run["id"], middle["id"], child["id"]):
        assert (await engine_env.run(run_id))["state"] == "cancelled"
