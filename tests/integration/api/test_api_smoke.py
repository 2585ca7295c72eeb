"""The API end to end over real HTTP: deploy, run with the built-in agents, read the run."""

from __future__ import annotations

import asyncio

import httpx


async def test_deploy_and_run(http: httpx.AsyncClient) -> None:
    spec = {
        "name": "hello",
        "inputs": {
            "type": "object",
            "properties": {"who": {"type": "string"}},
            "required": ["who"],
        },
        "nodes": [
            {
                "id": "greet",
                "type": "specialized.transform",
                "params": {"value": "hi {{ inputs.who }}"},
            }
        ],
        "outputs": {"greeting": "{{ nodes.greet.output }}"},
    }
    assert (await http.post("/api/v1/workflows", json={"spec": spec})).status_code == 201
    version = await http.post("/api/v1/workflows/hello/deploy")
    assert version.status_code == 201
    assert version.json()["number"] == 1
    started = await http.post("/api/v1/workflows/hello/runs", json={"inputs": {"who": "you"}})
    assert started.status_code == 201
    run_id = started.json()["id"]
    for _ in range(200):
        run = (await http.get(f"/api/v1/runs/{run_id}")).json()
        if run["state"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.02)
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"greeting": "hi you"}
