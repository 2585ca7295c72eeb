"""``generative.agent``: the tool-using agent loop, through a real server, its built-in agents
and a scripted OpenAI-compatible server on 127.0.0.1 (real HTTP, tool calls, usage)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.llm_server import LlmServer, Reply, llm_server
from tests.support.server import live_app

from quantum_orchestrator.domain.node_types import NodeType

API = "/api/v1"
PRICES = {"small": {"prompt_per_1k": 1.0, "completion_per_1k": 1.0}}


@pytest.fixture
def llm() -> Iterator[LlmServer]:
    with llm_server() as server:
        yield server


@pytest.fixture
async def http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, database_url, llm_prices=PRICES)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        (workspace,) = (await client.get(f"{API}/workspaces")).json()["items"]
        allowed = await client.put(
            f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
        )
        assert allowed.status_code == 200, allowed.text
        yield client


def call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


async def run_agent(
    http: httpx.AsyncClient, llm: LlmServer, name: str, **params: Any
) -> dict[str, Any]:
    spec = {
        "name": name,
        "nodes": [
            {
                "id": "agent",
                "type": "generative.agent",
                "params": {
                    "base_url": llm.url,
                    "model": "small",
                    "system": "You use tools.",
                    "prompt": "What is the answer?",
                    "tools": ["specialized.transform", "specialized.http_request"],
                    **params,
                },
                "retry": {"max_attempts": 1},
            }
        ],
        "outputs": {"answer": "{{ nodes.agent.output.answer }}"},
    }
    await create_and_deploy(http, spec)
    started = await start_run(http, name)
    return await wait_run(http, started["id"], timeout=30)


def children(run: dict[str, Any]) -> list[dict[str, Any]]:
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    found = [s for s in run["steps"] if s["parent_id"] == agent["id"]]
    return sorted(found, key=lambda s: s["map_index"])


async def test_agent_calls_tools_then_answers(http: httpx.AsyncClient, llm: LlmServer) -> None:
    llm.add(
        Reply(
            content="",
            tool_calls=[call("c1", "specialized__transform", {"value": {"n": 20}})],
            prompt_tokens=100,
            completion_tokens=10,
        ),
        Reply(
            content="",
            tool_calls=[call("c2", "specialized__transform", {"value": {"n": 22}})],
            prompt_tokens=200,
            completion_tokens=10,
        ),
        Reply(content="42", prompt_tokens=300, completion_tokens=5),
    )
    run = await run_agent(http, llm, "agent-ok")
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"answer": "42"}
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["output"]["iterations"] == 3
    assert agent["output"]["tool_calls"] == 2
    assert agent["output"]["usage"]["total_tokens"] == 625
    assert agent["output"]["usage"]["cost"] == pytest.approx(0.625)
    steps = children(run)
    assert [s["node_type"] for s in steps] == [
        "generative.llm_chat",
        "specialized.transform",
        "generative.llm_chat",
        "specialized.transform",
        "generative.llm_chat",
    ]
    assert [s["map_index"] for s in steps] == [0, 1, 2, 3, 4]
    assert all(s["state"] == "succeeded" and len(s["attempts"]) == 1 for s in steps)
    assert steps[1]["output"] == {"n": 20}
    # The model was offered the tools and saw each result answering its call.
    first = llm.seen[0].body
    assert {t["function"]["name"] for t in first["tools"]} == {
        "specialized__transform",
        "specialized__http_request",
    }
    last = llm.seen[2].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert last[3] == {"role": "tool", "tool_call_id": "c1", "content": '{"n": 20}'}
    # Every turn is an LLM step: its usage is recorded.
    usage = (await http.get(f"{API}/usage", params={"group_by": "run"})).json()
    assert usage["total"]["total_tokens"] == 625


async def test_disallowed_tool_is_told_to_the_model(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    llm.add(
        Reply(content="", tool_calls=[call("c1", "core__noop", {})]),
        Reply(content="done"),
    )
    run = await run_agent(http, llm, "agent-disallowed")
    assert run["state"] == "succeeded", run
    # No step was made for the refused call: only the two turns.
    assert [s["node_type"] for s in children(run)] == ["generative.llm_chat"] * 2
    answer = llm.seen[1].body["messages"][-1]
    assert answer["role"] == "tool"
    assert "not allowed" in json.loads(answer["content"])["error"]["message"]


async def test_failed_tool_step_is_a_tool_error_for_the_model(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    url = llm.url + "/no-such-route"
    llm.add(
        Reply(
            content="",
            tool_calls=[call("c1", "specialized__http_request", {"url": url, "method": "POST"})],
        ),
        Reply(content="the service is down"),
    )
    run = await run_agent(http, llm, "agent-tool-fails")
    assert run["state"] == "succeeded", run
    steps = children(run)
    assert steps[1]["node_type"] == "specialized.http_request"
    assert steps[1]["state"] == "failed"
    assert run["outputs"] == {"answer": "the service is down"}
    answer = llm.seen[-1].body["messages"][-1]
    assert answer["role"] == "tool"
    assert json.loads(answer["content"])["error"]["code"] == "http_404"


async def test_iteration_limit_fails_the_step(http: httpx.AsyncClient, llm: LlmServer) -> None:
    llm.add(
        *[
            Reply(
                content="",
                tool_calls=[call(f"c{i}", "specialized__transform", {"value": i})],
            )
            for i in range(3)
        ]
    )
    run = await run_agent(http, llm, "agent-loops", max_iterations=2)
    assert run["state"] == "failed", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["error"]["code"] == "agent_iteration_limit"
    assert agent["error"]["retryable"] is False
    assert len(llm.seen) == 2


async def test_token_limit_fails_the_step(http: httpx.AsyncClient, llm: LlmServer) -> None:
    llm.add(
        Reply(
            content="",
            tool_calls=[call("c1", "specialized__transform", {"value": 1})],
            prompt_tokens=500,
            completion_tokens=10,
        )
    )
    run = await run_agent(http, llm, "agent-tokens", max_tokens=100)
    assert run["state"] == "failed", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["error"]["code"] == "agent_token_limit"


async def test_failing_model_turn_fails_the_step(http: httpx.AsyncClient, llm: LlmServer) -> None:
    llm.add(Reply(status=401, error="bad key"))
    run = await run_agent(http, llm, "agent-bad-key")
    assert run["state"] == "failed", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["error"]["code"] == "agent_turn_failed"
    assert "bad key" in agent["error"]["message"]


async def test_unknown_tool_type_is_refused(http: httpx.AsyncClient, llm: LlmServer) -> None:
    run = await run_agent(http, llm, "agent-unknown", tools=["core.delay"])
    assert run["state"] == "failed", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["error"]["code"] == "invalid_params"
    assert llm.seen == []


async def test_agent_loop_survives_a_server_restart(
    tmp_path: Path, database_url: str, llm: LlmServer
) -> None:
    settings = make_settings(tmp_path, database_url, llm_prices=PRICES)
    llm.add(
        # The first turn is in flight when the server stops: the draining agent reports it,
        # which queues the tool call; the next server carries the loop on from the database.
        Reply(
            content="",
            tool_calls=[call("c1", "specialized__transform", {"value": 7})],
            delay=1.5,
        ),
        Reply(content="42"),
    )
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        (workspace,) = (await client.get(f"{API}/workspaces")).json()["items"]
        await client.put(
            f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
        )
        spec = {
            "name": "agent-restart",
            "nodes": [
                {
                    "id": "agent",
                    "type": "generative.agent",
                    "params": {
                        "base_url": llm.url,
                        "model": "small",
                        "prompt": "go",
                        "tools": ["specialized.transform"],
                    },
                }
            ],
        }
        await create_and_deploy(client, spec)
        started = await start_run(client, "agent-restart")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not llm.seen:
            assert loop.time() < deadline, "the first turn never started"
            await asyncio.sleep(0.02)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        run = await wait_run(client, started["id"], timeout=30)
    assert run["state"] == "succeeded", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["output"]["answer"] == "42"
    steps = children(run)
    assert [s["node_type"] for s in steps] == [
        "generative.llm_chat",
        "specialized.transform",
        "generative.llm_chat",
    ]
    assert steps[1]["output"] == 7
    # The first turn ran on the first server's agent, the rest on the next server's.
    assert steps[0]["attempts"][0]["agent_id"] != steps[1]["attempts"][0]["agent_id"]
    assert len(llm.seen) == 2


def lookup_agent(capability: str) -> dict[str, Any]:
    return {
        "name": "lookup-agent",
        "pool": "ext",
        "capabilities": [
            {
                "name": capability,
                "category": "custom",
                "description": "looks a key up",
                "params_schema": {
                    "type": "object",
                    "required": ["key"],
                    "properties": {"key": {"type": "string"}},
                    "additionalProperties": False,
                },
            }
        ],
        "concurrency": 1,
        "version": "1.0.0",
        "host": "tests",
        "pid": 1,
    }


async def test_agent_calls_a_capability_of_its_workspace(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    # An external agent of this workspace offers ``custom.lookup``.
    registered = await http.post(f"{API}/agent/register", json=lookup_agent("custom.lookup"))
    assert registered.status_code == 201, registered.text
    agent_id = registered.json()["agent_id"]
    # One of another workspace offers ``other.secret``: never a tool here.
    created = await http.post(f"{API}/workspaces", json={"name": "Elsewhere"})
    assert created.status_code == 201, created.text
    token = await http.post(
        f"{API}/agent-tokens",
        json={"name": "elsewhere", "pool": "ext"},
        headers={"X-QO-Workspace": created.json()["id"]},
    )
    assert token.status_code == 201, token.text
    stranger = await http.post(
        f"{API}/agent/register",
        json=lookup_agent("other.secret"),
        headers={"Authorization": f"Bearer {token.json()['token']}"},
    )
    assert stranger.status_code == 201, stranger.text

    llm.add(
        Reply(
            content="",
            tool_calls=[
                call("c1", "custom__lookup", {"key": "answer"}),
                call("c2", "other__secret", {"key": "answer"}),
                call("c3", "custom__lookup", {"key": 7}),
            ],
        ),
        Reply(content="42"),
    )
    spec = {
        "name": "agent-capability",
        "nodes": [
            {
                "id": "agent",
                "type": "generative.agent",
                "params": {
                    "base_url": llm.url,
                    "model": "small",
                    "prompt": "What is the answer?",
                    "tools": ["custom.lookup", "specialized.transform"],
                },
                "retry": {"max_attempts": 1},
            }
        ],
        "outputs": {"answer": "{{ nodes.agent.output.answer }}"},
    }
    await create_and_deploy(http, spec)
    started = await start_run(http, "agent-capability")
    # The test plays the agent: it claims the tool call's step and reports its result.
    claimed = await http.post(f"{API}/agent/{agent_id}/claim", json={"max": 5, "wait": 15})
    assert claimed.status_code == 200, claimed.text
    (task,) = claimed.json()["tasks"]
    assert task["run_id"] == started["id"]
    assert task["node_type"] == "custom.lookup"
    assert task["params"] == {"key": "answer"}
    reported = await http.post(
        f"{API}/agent/{agent_id}/results",
        json={
            "results": [
                {
                    "step_id": task["step_id"],
                    "attempt": task["attempt"],
                    "status": "succeeded",
                    "output": {"value": 42},
                }
            ]
        },
    )
    assert reported.json()["accepted"] == [task["step_id"]], reported.text
    run = await wait_run(http, started["id"], timeout=30)
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"answer": "42"}
    steps = children(run)
    # Only the valid call became a step; it ran on the agent that offers the capability.
    assert [s["node_type"] for s in steps] == [
        "generative.llm_chat",
        "custom.lookup",
        "generative.llm_chat",
    ]
    assert steps[1]["attempts"][0]["agent_id"] == agent_id
    # The capability was offered with its schema; the other workspace's was not.
    offered = {t["function"]["name"]: t["function"] for t in llm.seen[0].body["tools"]}
    assert set(offered) == {"custom__lookup", "specialized__transform"}
    assert offered["custom__lookup"]["parameters"]["required"] == ["key"]
    assert offered["custom__lookup"]["description"] == "looks a key up"
    answers = {
        m["tool_call_id"]: json.loads(m["content"])
        for m in llm.seen[1].body["messages"]
        if m["role"] == "tool"
    }
    assert answers["c1"] == {"value": 42}
    assert answers["c2"]["error"]["code"] == "invalid_tool_call"
    assert "not allowed" in answers["c2"]["error"]["message"]
    # Arguments are checked against the capability's schema.
    assert answers["c3"]["error"]["code"] == "invalid_tool_call"
    assert "invalid arguments" in answers["c3"]["error"]["message"]


async def test_capability_of_another_workspace_is_not_a_tool(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    created = await http.post(f"{API}/workspaces", json={"name": "Elsewhere"})
    assert created.status_code == 201, created.text
    token = await http.post(
        f"{API}/agent-tokens",
        json={"name": "elsewhere", "pool": "ext"},
        headers={"X-QO-Workspace": created.json()["id"]},
    )
    assert token.status_code == 201, token.text
    stranger = await http.post(
        f"{API}/agent/register",
        json=lookup_agent("other.secret"),
        headers={"Authorization": f"Bearer {token.json()['token']}"},
    )
    assert stranger.status_code == 201, stranger.text
    run = await run_agent(http, llm, "agent-foreign-tool", tools=["other.secret"])
    assert run["state"] == "failed", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["error"]["code"] == "invalid_params"
    assert "unknown node type" in agent["error"]["message"]
    assert llm.seen == []


async def test_node_pack_types_are_tools(tmp_path: Path, database_url: str, llm: LlmServer) -> None:
    settings = make_settings(tmp_path, database_url, llm_prices=PRICES)
    schema = {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}
    llm.add(
        Reply(content="", tool_calls=[call("c1", "pack__stock", {"sku": "A-1"})]),
        Reply(content="3 left"),
    )
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        live.engine.catalog.add_node_types(
            [
                NodeType(
                    name="pack.stock",
                    category="pack",
                    description="stock of a SKU (from a node pack)",
                    params_schema=schema,
                )
            ]
        )
        (workspace,) = (await client.get(f"{API}/workspaces")).json()["items"]
        await client.put(
            f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
        )
        # An agent with the pack installed: it announces the type (the pack's schema wins).
        registration = lookup_agent("pack.stock")
        registered = await client.post(f"{API}/agent/register", json=registration)
        assert registered.status_code == 201, registered.text
        agent_id = registered.json()["agent_id"]
        spec = {
            "name": "agent-pack",
            "nodes": [
                {
                    "id": "agent",
                    "type": "generative.agent",
                    "params": {
                        "base_url": llm.url,
                        "model": "small",
                        "prompt": "How many?",
                        "tools": ["pack.stock"],
                    },
                }
            ],
        }
        await create_and_deploy(client, spec)
        started = await start_run(client, "agent-pack")
        claimed = await client.post(f"{API}/agent/{agent_id}/claim", json={"max": 1, "wait": 15})
        (task,) = claimed.json()["tasks"]
        assert (task["node_type"], task["params"]) == ("pack.stock", {"sku": "A-1"})
        result = {"step_id": task["step_id"], "attempt": task["attempt"], "status": "succeeded"}
        reported = await client.post(
            f"{API}/agent/{agent_id}/results", json={"results": [{**result, "output": 3}]}
        )
        assert reported.json()["accepted"] == [task["step_id"]], reported.text
        run = await wait_run(client, started["id"], timeout=30)
    assert run["state"] == "succeeded", run
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    assert agent["output"]["answer"] == "3 left"
    (tool,) = llm.seen[0].body["tools"]
    assert tool["function"] == {
        "name": "pack__stock",
        "description": "stock of a SKU (from a node pack)",
        "parameters": schema,
    }
