"""The DAG rules: parallel branches, trigger rules, conditional connections, merge, timeline."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.engine import EngineEnv, steps_by_node
from tests.support.engine_tools import claim_until, echo, fail, ok, step_rows, timeline

from quantum_orchestrator.domain.agent_protocol import Result, Task

W = "test.work"


def node(node_id: str, type_: str = W, **extra: Any) -> dict[str, Any]:
    params = {} if type_ == "core.merge" else {"me": node_id}
    return {"id": node_id, "type": type_, "params": params, **extra}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    conn: dict[str, Any] = {"from": source, "to": target}
    if when is not None:
        conn["when"] = when
    return conn


async def deploy(env: EngineEnv, name: str, nodes: list[Any], connections: list[Any]) -> str:
    agent = await env.register([W, "core.noop", "core.branch", "core.merge"])
    await env.deploy({"name": name, "nodes": nodes, "connections": connections})
    return agent


def by_node(tasks: list[Task]) -> dict[str, Task]:
    return {task["node_id"]: task for task in tasks}


async def test_parallel_branches_are_queued_together(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "fan",
        [node("a"), node("b"), node("c"), node("d")],
        [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")],
    )
    run = await engine_env.start("fan")
    (a,) = await claim_until(engine_env, agent)
    assert a["node_id"] == "a"
    await engine_env.report(agent, [ok(a, 1)])
    rows = await step_rows(engine_env, run["id"])
    assert rows["b"]["state"] == rows["c"]["state"] == "queued"
    # Queued by the one transaction that finished a.
    assert rows["b"]["queued_at"] == rows["c"]["queued_at"] == rows["a"]["finished_at"]
    assert rows["d"]["state"] == "pending"
    tasks = by_node(await claim_until(engine_env, agent, 2))
    assert set(tasks) == {"b", "c"}
    await engine_env.report(agent, [ok(tasks["b"])])
    assert (await step_rows(engine_env, run["id"]))["d"]["state"] == "pending"
    await engine_env.report(agent, [ok(tasks["c"])])
    assert (await step_rows(engine_env, run["id"]))["d"]["state"] == "queued"
    done = await engine_env.work(agent, run["id"])
    assert done["state"] == "succeeded"


async def test_all_success_skips_down_a_chain(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "chain",
        [node("a"), node("b"), node("c"), node("d")],
        [edge("a", "b"), edge("b", "c"), edge("c", "d")],
    )
    run = await engine_env.start("chain")
    (a,) = await claim_until(engine_env, agent)
    await engine_env.report(agent, [fail(a)])
    done = await engine_env.wait_state(run["id"], {"failed"})
    steps = steps_by_node(done)
    assert [steps[n]["state"] for n in "abcd"] == ["failed", "skipped", "skipped", "skipped"]
    assert done["error"]["code"] == "step_failed"
    assert "step a failed" in done["error"]["message"]
    assert all(not steps[n]["attempt_rows"] for n in "bcd")


async def test_all_done_runs_after_a_failure(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "cleanup",
        [node("a"), node("b"), node("cleanup", trigger_rule="all_done")],
        [edge("a", "cleanup"), edge("b", "cleanup")],
    )
    run = await engine_env.start("cleanup")
    tasks = by_node(await claim_until(engine_env, agent, 2))
    await engine_env.report(agent, [fail(tasks["a"])])
    assert (await step_rows(engine_env, run["id"]))["cleanup"]["state"] == "pending"
    await engine_env.report(agent, [ok(tasks["b"])])
    (cleanup,) = await claim_until(engine_env, agent)
    assert cleanup["node_id"] == "cleanup"
    await engine_env.report(agent, [ok(cleanup)])
    done = await engine_env.wait_state(run["id"], {"failed"})
    steps = steps_by_node(done)
    assert steps["cleanup"]["state"] == "succeeded"
    assert (steps["cleanup"]["up_succeeded"], steps["cleanup"]["up_failed"]) == (1, 1)


async def test_one_success_fires_before_the_other_upstreams_finish(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "race",
        [node("fast"), node("slow"), node("first", trigger_rule="one_success")],
        [edge("fast", "first"), edge("slow", "first")],
    )
    run = await engine_env.start("race")
    tasks = by_node(await claim_until(engine_env, agent, 2))
    await engine_env.report(agent, [ok(tasks["fast"], "F")])
    rows = await step_rows(engine_env, run["id"])
    assert rows["first"]["state"] == "queued"
    assert rows["slow"]["state"] == "running"
    (first,) = await claim_until(engine_env, agent)
    await engine_env.report(agent, [ok(first)])
    assert (await engine_env.run(run["id"]))["state"] == "running"
    await engine_env.report(agent, [ok(tasks["slow"])])
    done = await engine_env.wait_state(run["id"], {"succeeded"})
    assert steps_by_node(done)["first"]["up_succeeded"] == 2


async def test_one_success_skips_when_every_upstream_failed(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "none",
        [node("x"), node("y"), node("any", trigger_rule="one_success"), node("after")],
        [edge("x", "any"), edge("y", "any"), edge("any", "after")],
    )
    run = await engine_env.start("none")
    tasks = by_node(await claim_until(engine_env, agent, 2))
    await engine_env.report(agent, [fail(tasks["x"])])
    assert (await step_rows(engine_env, run["id"]))["any"]["state"] == "pending"
    await engine_env.report(agent, [fail(tasks["y"])])
    done = await engine_env.wait_state(run["id"], {"failed"})
    steps = steps_by_node(done)
    assert steps["any"]["state"] == "skipped"
    assert steps["after"]["state"] == "skipped"


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ({"a": "ok", "b": "ok"}, "queued"),
        ({"a": "ok", "b": "not_taken"}, "queued"),
        ({"a": "not_taken", "b": "not_taken"}, "skipped"),
        ({"a": "ok", "b": "fail"}, "skipped"),
    ],
)
async def test_none_failed(engine_env: EngineEnv, outcomes: dict[str, str], expected: str) -> None:
    # a and b feed j through a condition on their own output.
    agent = await deploy(
        engine_env,
        "nf",
        [node("a"), node("b"), node("j", trigger_rule="none_failed")],
        [edge("a", "j", "{{ output.go }}"), edge("b", "j", "{{ output.go }}")],
    )
    run = await engine_env.start("nf")
    tasks = by_node(await claim_until(engine_env, agent, 2))
    results: list[Result] = []
    for node_id, outcome in outcomes.items():
        task = tasks[node_id]
        results.append(fail(task) if outcome == "fail" else ok(task, {"go": outcome == "ok"}))
    await engine_env.report(agent, results)
    rows = await step_rows(engine_env, run["id"])
    assert rows["j"]["state"] == expected


async def test_branch_labels_choose_the_connections(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "branchy",
        [
            {
                "id": "pick",
                "type": "core.branch",
                "params": {
                    "cases": [
                        {"label": "big", "condition": "{{ inputs.n > 10 }}"},
                        {"label": "small", "condition": "{{ inputs.n <= 10 }}"},
                    ]
                },
            },
            node("big"),
            node("small"),
            node("big_next"),
            node("join", "core.merge"),
        ],
        [
            edge("pick", "big", "big"),
            edge("pick", "small", "small"),
            edge("big", "big_next"),
            edge("big_next", "join"),
            edge("small", "join"),
        ],
    )

    def handler(task: Task) -> Result:
        if task["node_type"] == "core.branch":
            cases = task["params"]["cases"]
            assert all(isinstance(case["condition"], bool) for case in cases)
            return ok(task, {"selected": [c["label"] for c in cases if c["condition"]][:1]})
        return echo(task)

    run = await engine_env.start("branchy", {"n": 3})
    done = await engine_env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    steps = steps_by_node(done)
    assert steps["pick"]["output"] == {"selected": ["small"]}
    assert steps["pick"]["skipped_targets"] == ["big"]
    assert steps["small"]["state"] == "succeeded"
    assert steps["big"]["state"] == "skipped"
    assert steps["big_next"]["state"] == "skipped"
    assert steps["join"]["state"] == "succeeded"
    assert steps["join"]["params"]["upstream"] == {"small": {"me": "small"}}


async def test_when_templates_see_output_inputs_and_nodes(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "whens",
        [node("src"), node("ctx"), node("hi"), node("lo"), node("bad"), node("by_node")],
        [
            edge("src", "hi", "{{ output.score > inputs.threshold }}"),
            edge("src", "lo", "{{ output.score <= inputs.threshold }}"),
            edge("src", "bad", "{{ output.missing.deeper }}"),
            edge("src", "ctx"),
            edge("ctx", "by_node", "{{ nodes.src.output.score == 7 and inputs.threshold == 5 }}"),
        ],
    )

    def handler(task: Task) -> Result:
        return ok(task, {"score": 7} if task["node_id"] == "src" else task["params"])

    run = await engine_env.start("whens", {"threshold": 5})
    done = await engine_env.work(agent, run["id"], handler)
    steps = steps_by_node(done)
    assert steps["hi"]["state"] == "succeeded"
    assert steps["lo"]["state"] == "skipped"
    # A condition that cannot be evaluated does not hold, and the timeline says why.
    assert steps["bad"]["state"] == "skipped"
    assert steps["by_node"]["state"] == "succeeded"
    events = await timeline(engine_env, run["id"])
    errors = [e for e in events if e["type"] == "connection.error"]
    assert [(e["node_id"], e["data"]["to"]) for e in errors] == [("src", "bad")]
    assert done["state"] == "succeeded"


async def test_merge_receives_upstream_outputs(engine_env: EngineEnv) -> None:
    agent = await deploy(
        engine_env,
        "merging",
        [node("a"), node("b"), node("c"), node("m", "core.merge")],
        [edge("a", "m"), edge("b", "m"), edge("c", "m", "{{ false }}")],
    )
    run = await engine_env.start("merging")

    def handler(task: Task) -> Result:
        if task["node_type"] == "core.merge":
            return ok(task, task["params"]["upstream"])
        return ok(task, {"from": task["node_id"]})

    done = await engine_env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    m = steps_by_node(done)["m"]
    assert m["trigger_rule"] == "none_failed"
    assert m["params"]["upstream"] == {"a": {"from": "a"}, "b": {"from": "b"}}
    assert m["output"] == {"a": {"from": "a"}, "b": {"from": "b"}}


async def test_timeline_records_transitions_in_order(engine_env: EngineEnv) -> None:
    agent = await deploy(engine_env, "tl", [node("a"), node("b")], [edge("a", "b")])
    run = await engine_env.start("tl")
    done = await engine_env.work(agent, run["id"])
    assert done["state"] == "succeeded"
    events = await timeline(engine_env, run["id"])
    seen = [(e["type"], e["node_id"]) for e in events]
    assert seen == [
        ("run.queued", None),
        ("step.queued", "a"),
        ("run.running", None),
        ("step.running", "a"),
        ("step.succeeded", "a"),
        ("step.queued", "b"),
        ("step.running", "b"),
        ("step.succeeded", "b"),
        ("run.succeeded", None),
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    assert all(e["state"] for e in events)
