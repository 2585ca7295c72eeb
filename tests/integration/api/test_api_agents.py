"""Agents over real HTTP: the agent protocol end to end, the agent listing, draining."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_and_deploy,
    start_run,
    wait_run,
    walk_pages,
)

AGENT_KEYS = {
    "id",
    "name",
    "pool",
    "capabilities",
    "concurrency",
    "running",
    "steps_done",
    "version",
    "host",
    "pid",
    "state",
    "builtin",
    "category",
    "categories",
    "registered_at",
    "last_heartbeat_at",
}


def registration(name: str, pool: str = "ext") -> dict[str, Any]:
    return {
        "name": name,
        "pool": pool,
        "capabilities": [
            {
                "name": "custom.echo",
                "category": "custom",
                "description": "answers its params",
                "params_schema": {"type": "object"},
            }
        ],
        "concurrency": 2,
        "version": "1.0.0",
        "host": "test-host",
        "pid": 4242,
    }


async def register(http: httpx.AsyncClient, name: str, pool: str = "ext") -> str:
    response = await http.post(f"{API}/agent/register", json=registration(name, pool))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"agent_id", "heartbeat_interval", "lease_seconds", "max_output_bytes"}
    assert answer["heartbeat_interval"] > 0
    assert answer["lease_seconds"] > 0
    agent_id: str = answer["agent_id"]
    return agent_id


async def test_agent_protocol_end_to_end(http: httpx.AsyncClient) -> None:
    agent_id = await register(http, "echoer")
    spec = {
        "name": "external",
        "nodes": [{"id": "echo", "type": "custom.echo", "pool": "ext", "params": {"say": "hi"}}],
        "outputs": {"said": "{{ nodes.echo.output.say }}"},
    }
    await create_and_deploy(http, spec)
    run = await start_run(http, "external")

    claimed = await http.post(f"{API}/agent/{agent_id}/claim", json={"max": 5, "wait": 5})
    assert claimed.status_code == 200, claimed.text
    (task,) = claimed.json()["tasks"]
    assert task["run_id"] == run["id"]
    assert task["node_type"] == "custom.echo"
    assert task["params"] == {"say": "hi"}
    assert task["attempt"] == 1
    assert task["idempotency_key"] == f"{run['id']}:echo"

    agent = (await http.get(f"{API}/agents/{agent_id}")).json()
    assert set(agent) == AGENT_KEYS
    assert agent["running"] == 1
    assert agent["builtin"] is False
    assert agent["state"] == "online"

    beat = await http.post(f"{API}/agent/{agent_id}/heartbeat", json={"running": [task["step_id"]]})
    assert beat.status_code == 200
    assert beat.json() == {"state": "online", "cancel": []}

    reported = await http.post(
        f"{API}/agent/{agent_id}/results",
        json={
            "results": [
                {
                    "step_id": task["step_id"],
                    "attempt": 1,
                    "status": "succeeded",
                    "output": task["params"],
                }
            ]
        },
    )
    assert reported.status_code == 200, reported.text
    assert reported.json() == {"accepted": [task["step_id"]], "rejected": []}
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    assert done["outputs"] == {"said": "hi"}
    assert done["steps"][0]["attempts"][0]["agent_id"] == agent_id

    again = await http.post(
        f"{API}/agent/{agent_id}/results",
        json={
            "results": [
                {
                    "step_id": task["step_id"],
                    "attempt": 1,
                    "status": "failed",
                    "error": {"code": "late", "message": "too late"},
                }
            ]
        },
    )
    assert again.status_code == 200
    assert again.json()["rejected"] == [task["step_id"]]
    assert (await http.get(f"{API}/runs/{run['id']}")).json()["state"] == "succeeded"

    empty = await http.post(f"{API}/agent/{agent_id}/claim", json={"max": 1, "wait": 0})
    assert empty.json() == {"tasks": []}
    left = await http.post(f"{API}/agent/{agent_id}/deregister")
    assert left.status_code == 204
    assert left.content == b""
    assert (await http.get(f"{API}/agents/{agent_id}")).json()["state"] == "offline"
    assert_problem(await http.post(f"{API}/agent/{agent_id}/claim", json={}), 404)


async def test_claim_long_poll_wakes_on_new_work(http: httpx.AsyncClient) -> None:
    agent_id = await register(http, "poller")
    await create_and_deploy(
        http, {"name": "later", "nodes": [{"id": "e", "type": "custom.echo", "pool": "ext"}]}
    )
    waiting = asyncio.create_task(
        http.post(f"{API}/agent/{agent_id}/claim", json={"max": 1, "wait": 10})
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()
    started = asyncio.get_running_loop().time()
    await start_run(http, "later")
    answer = await asyncio.wait_for(waiting, 8)
    assert answer.status_code == 200
    assert len(answer.json()["tasks"]) == 1
    assert asyncio.get_running_loop().time() - started < 5


async def test_drain_an_agent(http: httpx.AsyncClient) -> None:
    agent_id = await register(http, "drainee")
    drained = await http.post(f"{API}/agents/{agent_id}/drain")
    assert drained.status_code == 200, drained.text
    assert set(drained.json()) == AGENT_KEYS
    assert drained.json()["state"] == "draining"
    beat = await http.post(f"{API}/agent/{agent_id}/heartbeat", json={})
    assert beat.json()["state"] == "draining"
    listing = (await http.get(f"{API}/agents", params={"state": "draining"})).json()
    assert [a["id"] for a in listing["items"]] == [agent_id]
    await http.post(f"{API}/agent/{agent_id}/deregister")
    gone = await http.post(f"{API}/agents/{agent_id}/drain")
    assert_problem(gone, 409)


async def test_agents_listing_and_pagination(http: httpx.AsyncClient) -> None:
    builtin = (await http.get(f"{API}/agents")).json()["items"]
    assert builtin, "the server runs built-in agents"
    assert all(set(agent) == AGENT_KEYS for agent in builtin)
    assert all(agent["builtin"] for agent in builtin)
    ids = {agent["id"] for agent in builtin}
    for i in range(11):
        ids.add(await register(http, f"agent-{i}", pool=f"pool-{i % 3}"))
    for limit in (1, 4, 50):
        items = await walk_pages(http, f"{API}/agents", limit)
        assert [a["id"] for a in items] == sorted(ids, reverse=True), limit
    online = await walk_pages(http, f"{API}/agents", 3, {"state": "online"})
    assert {a["id"] for a in online} == ids


async def test_registration_is_validated(http: httpx.AsyncClient) -> None:
    before = [a["id"] for a in (await http.get(f"{API}/agents")).json()["items"]]
    bad = registration("x")
    for field, value in (
        ("pool", "has space"),
        ("concurrency", 0),
        ("capabilities", []),
        ("pid", -1),
        ("name", ""),
    ):
        response = await http.post(f"{API}/agent/register", json={**bad, field: value})
        body = assert_problem(response, 422, "invalid_request")
        assert field in [e["path"] for e in body["errors"]], body
    assert [a["id"] for a in (await http.get(f"{API}/agents")).json()["items"]] == before
