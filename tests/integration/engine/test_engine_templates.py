"""Params rendered when a step is queued, run outputs, and the size limit of outputs."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.engine import EngineEnv, steps_by_node
from tests.support.engine_tools import OpenEnv, attempt_rows, claim_until, ok

W = "test.work"


async def run_one(env: EngineEnv, params: dict[str, Any], inputs: dict[str, Any]) -> Any:
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "typed",
            "nodes": [
                {"id": "a", "type": W, "params": {"v": {"n": 2, "items": [1, 2]}}},
                {"id": "b", "type": W, "params": params},
            ],
            "connections": [{"from": "a", "to": "b"}],
        }
    )
    run = await env.start("typed", inputs)
    return await env.work(agent, run["id"])


async def test_whole_expressions_keep_their_type(engine_env: EngineEnv) -> None:
    params = {
        "int": "{{ inputs.n }}",
        "sum": "  {{ nodes.a.output.v.n + inputs.n }}  ",
        "float": "{{ inputs.n / 2 }}",
        "bool": "{{ inputs.n > 1 }}",
        "none": "{{ none }}",
        "list": "{{ nodes.a.output.v['items'] + [3] }}",
        "dict": "{{ {'k': inputs.n} }}",
        "whole": "{{ nodes.a.output.v }}",
        "text": "n={{ inputs.n }}",
        "two": "{{ inputs.n }}{{ inputs.n }}",
        "nested": {"deep": ["{{ inputs.n }}", "x{{ inputs.n }}"]},
        "plain": "no template",
        "number": 5,
        "run": "{{ run.workflow }}/{{ run.version }}",
    }
    done = await run_one(engine_env, params, {"n": 3})
    assert done["state"] == "succeeded"
    got = steps_by_node(done)["b"]["params"]
    assert got == {
        "int": 3,
        "sum": 5,
        "float": 1.5,
        "bool": True,
        "none": None,
        "list": [1, 2, 3],
        "dict": {"k": 3},
        "whole": {"n": 2, "items": [1, 2]},
        "text": "n=3",
        "two": "33",
        "nested": {"deep": [3, "x3"]},
        "plain": "no template",
        "number": 5,
        "run": "typed/1",
    }
    assert isinstance(got["int"], int)
    assert not isinstance(got["bool"], int) or got["bool"] is True


async def test_nested_dict_literal_keeps_its_type(engine_env: EngineEnv) -> None:
    done = await run_one(engine_env, {"d": "{{ {'a': {'b': inputs.n}} }}"}, {"n": 1})
    assert steps_by_node(done)["b"]["params"] == {"d": {"a": {"b": 1}}}


@pytest.mark.parametrize(
    "template",
    ["{{ nope }}", "{{ inputs.missing }}", "x {{ nodes.a.output.nothing.deeper }}", "{{ 1 / 0 }}"],
)
async def test_a_template_that_cannot_render_fails_the_step(
    engine_env: EngineEnv, template: str
) -> None:
    done = await run_one(engine_env, {"bad": template}, {"n": 1})
    assert done["state"] == "failed"
    b = steps_by_node(done)["b"]
    assert b["state"] == "failed"
    assert b["error"]["code"] == "template_error"
    assert b["error"]["retryable"] is False
    assert "params.bad" in b["error"]["message"]
    assert b["attempt_rows"] == []
    assert "step b failed" in done["error"]["message"]


async def test_run_outputs_are_rendered_at_the_end(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "outs",
            "nodes": [{"id": "a", "type": W, "params": {"x": "{{ inputs.x }}"}}],
            "outputs": {
                "x": "{{ nodes.a.output.x }}",
                "label": "x is {{ nodes.a.output.x }}",
                "state": "{{ nodes.a.state }}",
                "static": [1, "{{ inputs.x * 2 }}"],
            },
        }
    )
    run = await engine_env.start("outs", {"x": 21})
    assert run["outputs"] is None
    done = await engine_env.work(agent, run["id"])
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"x": 21, "label": "x is 21", "state": "succeeded", "static": [1, 42]}


async def test_run_outputs_that_cannot_render_fail_the_run(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "badouts",
            "nodes": [{"id": "a", "type": W, "params": {}}],
            "outputs": {"x": "{{ nodes.a.output.missing }}"},
        }
    )
    run = await engine_env.start("badouts")
    done = await engine_env.work(agent, run["id"], lambda task: ok(task, {"y": 1}))
    assert done["state"] == "failed"
    assert done["error"]["code"] == "template_error"
    assert steps_by_node(done)["a"]["state"] == "succeeded"


async def test_output_too_large_fails_without_retry(open_env: OpenEnv) -> None:
    env = await open_env(max_output_bytes=1024)
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "big",
            "nodes": [{"id": "a", "type": W, "params": {}, "retry": {"max_attempts": 3}}],
        }
    )
    run = await env.start("big")
    (task,) = await claim_until(env, agent)
    answer = await env.report(agent, [ok(task, "x" * 2000)])
    assert answer["accepted"] == [task["step_id"]]
    done = await env.wait_state(run["id"], {"failed"})
    a = steps_by_node(done)["a"]
    assert a["state"] == "failed"
    assert a["output"] is None
    assert a["error"]["code"] == "output_too_large"
    assert a["error"]["retryable"] is False
    tries = await attempt_rows(env, task["step_id"])
    assert [t["state"] for t in tries] == ["failed"]
    # Just under the limit is fine.
    run = await env.start("big")
    (task,) = await claim_until(env, agent)
    await env.report(agent, [ok(task, "x" * 1000)])
    assert (await env.wait_state(run["id"], {"succeeded", "failed"}))["state"] == "succeeded"
