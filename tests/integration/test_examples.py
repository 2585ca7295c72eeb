"""Every example in examples/ runs as the README says, against a real server.

The server has accounts: the requests here are the first admin's (``http`` signs them), the
example agent registers with an agent token of its pool and the builder script finds the
admin's token in ``QO_TOKEN``, as a user's script would after ``qo login`` or with a key.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml
from tests.support.server import LiveApp

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "/api/v1"


def load_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def deploy_and_run(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    spec = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    inputs = json.loads((EXAMPLES / "inputs" / f"{name}.json").read_text())
    checked = (await http.post(f"{API}/workflows/validate", json={"spec": spec})).json()
    assert checked == {"valid": True, "errors": []}
    assert (await http.post(f"{API}/workflows", json={"spec": spec})).status_code == 201
    assert (await http.post(f"{API}/workflows/{name}/deploy")).status_code == 201
    started = await http.post(f"{API}/workflows/{name}/runs", json={"inputs": inputs})
    assert started.status_code == 201, started.text
    async with asyncio.timeout(30):
        while True:
            run: dict[str, Any] = (await http.get(f"{API}/runs/{started.json()['id']}")).json()
            if run["state"] in ("succeeded", "failed", "cancelled"):
                return run
            await asyncio.sleep(0.02)


async def test_hello(http: httpx.AsyncClient) -> None:
    run = await deploy_and_run(http, "hello")
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"message": "HELLO, WORLD!"}


async def test_orders_maps_branches_and_joins(http: httpx.AsyncClient) -> None:
    run = await deploy_and_run(http, "orders")
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"total": 1281, "decision": "review ada's order of 1281"}
    states = {step["node_id"]: step["state"] for step in run["steps"]}
    assert states["ship"] == "skipped"
    assert states["price[0]"] == states["price[1]"] == "succeeded"


async def test_custom_capabilities_on_an_agent(server: LiveApp, http: httpx.AsyncClient) -> None:
    tasks = load_module("tasks")
    # As an operator would: `qo agent-tokens create text-agents --pool text`.
    issued = await http.post(f"{API}/agent-tokens", json={"name": "text-agents", "pool": "text"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    serving = asyncio.create_task(tasks.agent.run(server=server.url, token=token))
    try:
        async with asyncio.timeout(10):
            while not (await http.get(f"{API}/agents", params={"state": "online"})).json()[
                "items"
            ] or "text.words" not in json.dumps((await http.get(f"{API}/node-types")).json()):
                await asyncio.sleep(0.05)
        run = await deploy_and_run(http, "text")
    finally:
        await tasks.agent.shutdown()
        await asyncio.wait_for(serving, 30)
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"words": 7, "loudest": "WORKFLOWS!"}


async def test_builder_script(
    server: LiveApp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("QO_SERVER", server.url)
    monkeypatch.setenv("QO_TOKEN", server.token)
    monkeypatch.delenv("QO_WORKSPACE", raising=False)
    # No stored login of the person running the tests may stand in for the token.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    await load_module("builder").main()
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"version": 1, "state": "succeeded", "message": "HELLO, BUILDER!"}
