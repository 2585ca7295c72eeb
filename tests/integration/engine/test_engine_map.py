"""``core.map``: one child step per item, a concurrency limit, ordered outputs, fail fast."""

from __future__ import annotations

import random
from typing import Any

from tests.support.engine import EngineEnv, steps_by_node
from tests.support.engine_tools import claim_until, fail, ok, step_rows, timeline

from quantum_orchestrator.domain.agent_protocol import Task

W = "test.work"


async def deploy_map(
    env: EngineEnv, items: Any, *, concurrency: int | None = None, retry: Any = None
) -> str:
    agent = await env.register([W])
    inner: dict[str, Any] = {
        "type": W,
        "params": {"item": "{{ item }}", "index": "{{ index }}", "tag": "{{ inputs.tag }}"},
    }
    if retry:
        inner["retry"] = retry
    params: dict[str, Any] = {"items": items, "node": inner}
    if concurrency is not None:
        params["concurrency"] = concurrency
    await env.deploy(
        {
            "name": "mapper",
            "nodes": [
                {"id": "m", "type": "core.map", "params": params},
                {"id": "after", "type": W, "params": {"all": "{{ nodes.m.output }}"}},
            ],
            "connections": [{"from": "m", "to": "after"}],
            "outputs": {"results": "{{ nodes.m.output }}"},
        }
    )
    return agent


def active_children(rows: dict[str, dict[str, Any]]) -> list[str]:
    return [n for n, r in rows.items() if r["parent_id"] and r["state"] in ("queued", "running")]


async def test_map_respects_concurrency_and_keeps_item_order(engine_env: EngineEnv) -> None:
    items = [{"v": i} for i in range(7)]
    agent = await deploy_map(engine_env, "{{ inputs.things }}", concurrency=3)
    run = await engine_env.start("mapper", {"things": items, "tag": "t"})
    rows = await step_rows(engine_env, run["id"])
    assert rows["m"]["state"] == "running"
    assert len([r for r in rows.values() if r["parent_id"]]) == 7
    assert sorted(active_children(rows)) == ["m[0]", "m[1]", "m[2]"]
    shuffle = random.Random(7)
    held: list[Task] = []
    peak = 0
    while rows["m"]["state"] == "running":
        held += await engine_env.claim(agent, max_tasks=64)
        rows = await step_rows(engine_env, run["id"])
        peak = max(peak, len(active_children(rows)))
        assert len(active_children(rows)) <= 3
        assert held
        # Finish a random one of the held tasks, so items end out of order.
        task = held.pop(shuffle.randrange(len(held)))
        index = int(task["node_id"][2:-1])
        assert task["params"] == {"item": items[index], "index": index, "tag": "t"}
        await engine_env.report(agent, [ok(task, task["params"]["item"]["v"] * 10)])
        rows = await step_rows(engine_env, run["id"])
    assert not held
    assert peak == 3
    assert rows["m"]["state"] == "succeeded"
    (after,) = await claim_until(engine_env, agent)
    assert after["params"] == {"all": [0, 10, 20, 30, 40, 50, 60]}
    await engine_env.report(agent, [ok(after)])
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"results": [0, 10, 20, 30, 40, 50, 60]}
    steps = steps_by_node(done)
    assert [steps[f"m[{i}]"]["map_index"] for i in range(7)] == list(range(7))
    assert all(steps[f"m[{i}]"]["parent_id"] == steps["m"]["id"] for i in range(7))


async def test_map_over_an_empty_list_succeeds_at_once(engine_env: EngineEnv) -> None:
    agent = await deploy_map(engine_env, [])
    run = await engine_env.start("mapper", {"tag": "t"})
    rows = await step_rows(engine_env, run["id"])
    assert rows["m"]["state"] == "succeeded"
    assert rows["m"]["output"] == []
    assert set(rows) == {"m", "after"}
    assert rows["after"]["state"] == "queued"
    done = await engine_env.work(agent, run["id"])
    assert done["outputs"] == {"results": []}


async def test_map_fails_fast(engine_env: EngineEnv) -> None:
    agent = await deploy_map(engine_env, list(range(6)), concurrency=2)
    run = await engine_env.start("mapper", {"tag": "t"})
    tasks = {t["node_id"]: t for t in await claim_until(engine_env, agent, 2)}
    assert set(tasks) == {"m[0]", "m[1]"}
    await engine_env.report(agent, [fail(tasks["m[1]"], "bad_item")])
    rows = await step_rows(engine_env, run["id"])
    # Items not started never start; the one still running may finish.
    assert [rows[f"m[{i}]"]["state"] for i in range(6)] == [
        "running",
        "failed",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
    ]
    assert rows["m"]["state"] == "running"
    assert await engine_env.claim(agent) == []
    await engine_env.report(agent, [ok(tasks["m[0]"], 0)])
    done = await engine_env.wait_state(run["id"], {"failed"})
    steps = steps_by_node(done)
    assert steps["m"]["state"] == "failed"
    assert steps["m"]["error"]["code"] == "map_item_failed"
    assert "item 1" in steps["m"]["error"]["message"]
    assert steps["after"]["state"] == "skipped"
    assert "step m failed" in done["error"]["message"]


async def test_map_items_retry_on_their_own(engine_env: EngineEnv) -> None:
    agent = await deploy_map(engine_env, [1, 2], retry={"max_attempts": 2, "initial_interval": 0})
    run = await engine_env.start("mapper", {"tag": "t"})
    flaked: set[str] = set()

    def handler(task: Task) -> Any:
        if task["node_id"] == "m[1]" and task["node_id"] not in flaked:
            flaked.add(task["node_id"])
            return fail(task, "flaky", retryable=True)
        return ok(task, task["params"].get("item"))

    done = await engine_env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    steps = steps_by_node(done)
    assert steps["m"]["output"] == [1, 2]
    assert [t["state"] for t in steps["m[1]"]["attempt_rows"]] == ["failed", "succeeded"]


async def test_map_items_that_are_not_a_list_fail_the_step(engine_env: EngineEnv) -> None:
    agent = await deploy_map(engine_env, "{{ inputs.tag }}")
    run = await engine_env.start("mapper", {"tag": "not a list"})
    done = await engine_env.work(agent, run["id"])
    assert done["state"] == "failed"
    assert steps_by_node(done)["m"]["error"]["code"] == "invalid_params"


async def test_retried_map_makes_its_items_anew(engine_env: EngineEnv) -> None:
    from tests.support.engine import WORKSPACE

    agent = await deploy_map(engine_env, [1, 2, 3], concurrency=3)
    run = await engine_env.start("mapper", {"tag": "t"})
    broken = True

    def handler(task: Task) -> Any:
        if broken and task["node_id"] == "m[2]":
            return fail(task)
        return ok(task, task["params"].get("item"))

    first = await engine_env.work(agent, run["id"], handler)
    assert first["state"] == "failed"
    broken = False
    await engine_env.engine.runs.retry(workspace_id=WORKSPACE, run_id=run["id"])
    done = await engine_env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"results": [1, 2, 3]}
    children = [s for s in done["steps"] if s["parent_id"]]
    assert len(children) == 3
    events = await timeline(engine_env, run["id"])
    assert [e["type"] for e in events if e["step_id"] is None][-1] == "run.succeeded"
