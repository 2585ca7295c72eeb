"""``/api/v1/usage``: LLM usage summed per group, and the monthly budget with its soft alert and
hard stop, through a real server, its built-in agents and a scripted LLM server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import (
    assert_problem,
    collect_sse,
    create_and_deploy,
    start_run,
    wait_run,
)
from tests.support.llm_server import LlmServer, Reply, llm_server
from tests.support.server import live_app

API = "/api/v1"
PRICES = {
    "small": {"prompt_per_1k": 0.5, "completion_per_1k": 1.5},
    "big-*": {"prompt_per_1k": 10.0, "completion_per_1k": 30.0},
}


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


async def deploy_chat(http: httpx.AsyncClient, name: str, llm: LlmServer, model: str) -> None:
    spec = {
        "name": name,
        "nodes": [
            {
                "id": "chat",
                "type": "generative.llm_chat",
                "params": {"base_url": llm.url, "model": model, "prompt": "Hi"},
                "retry": {"max_attempts": 1},
            }
        ],
    }
    await create_and_deploy(http, spec)


async def run(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    started = await start_run(http, name)
    return await wait_run(http, started["id"], timeout=30)


async def test_usage_is_summed_per_workflow_run_model_and_workspace(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    await deploy_chat(http, "cheap", llm, "small")
    await deploy_chat(http, "dear", llm, "big-2")
    llm.add(
        Reply(prompt_tokens=1000, completion_tokens=1000),
        Reply(prompt_tokens=2000, completion_tokens=0),
        Reply(prompt_tokens=100, completion_tokens=100),
    )
    first = await run(http, "cheap")
    second = await run(http, "cheap")
    third = await run(http, "dear")
    assert {first["state"], second["state"], third["state"]} == {"succeeded"}

    by_workflow = (await http.get(f"{API}/usage", params={"group_by": "workflow"})).json()
    assert by_workflow["group_by"] == "workflow"
    # Largest cost first: big-2 is priced by the `big-*` prefix entry.
    assert [(i["workflow"], i["steps"], i["total_tokens"]) for i in by_workflow["items"]] == [
        ("dear", 1, 200),
        ("cheap", 2, 4000),
    ]
    assert by_workflow["items"][0]["cost"] == pytest.approx(4.0)
    assert by_workflow["items"][1]["cost"] == pytest.approx(0.5 + 1.5 + 1.0)
    assert by_workflow["total"]["cost"] == pytest.approx(7.0)
    assert by_workflow["total"]["prompt_tokens"] == 3100

    by_run = (await http.get(f"{API}/usage", params={"group_by": "run"})).json()
    assert {i["run_id"] for i in by_run["items"]} == {first["id"], second["id"], third["id"]}
    by_model = (await http.get(f"{API}/usage", params={"group_by": "model"})).json()
    assert {i["model"]: i["steps"] for i in by_model["items"]} == {"small": 2, "big-2": 1}
    by_agent = (await http.get(f"{API}/usage", params={"group_by": "agent"})).json()
    assert sum(i["steps"] for i in by_agent["items"]) == 3
    assert all(i["agent_id"] for i in by_agent["items"])
    whole = (await http.get(f"{API}/usage", params={"group_by": "workspace"})).json()
    (workspace,) = whole["items"]
    assert workspace["steps"] == 3

    # from/to bound the period: the future holds nothing, the last hour holds everything.
    now = datetime.now(UTC)
    later = await http.get(f"{API}/usage", params={"from": (now + timedelta(hours=1)).isoformat()})
    assert later.json()["items"] == []
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
    assert (await http.get(f"{API}/usage", params=window)).json()["total"]["steps"] == 3

    assert_problem(await http.get(f"{API}/usage", params={"group_by": "colour"}), 422)
    assert_problem(await http.get(f"{API}/usage", params={"from": "yesterday"}), 422)


async def test_budget_alert_then_hard_stop(http: httpx.AsyncClient, llm: LlmServer) -> None:
    assert (await http.get(f"{API}/usage/budget")).json() == {
        "token_limit": None,
        "cost_limit": None,
        "alert_ratio": 0.8,
        "tokens": 0,
        "cost": 0.0,
        "alert": False,
        "exceeded": False,
    }
    assert_problem(await http.put(f"{API}/usage/budget", json={"token_limit": -1}), 422)
    assert_problem(await http.put(f"{API}/usage/budget", json={"alert_ratio": 2}), 422)
    budget = await http.put(f"{API}/usage/budget", json={"token_limit": 100, "alert_ratio": 0.5})
    assert budget.status_code == 200, budget.text
    assert budget.json()["token_limit"] == 100

    await deploy_chat(http, "spend", llm, "small")
    llm.add(
        Reply(prompt_tokens=30, completion_tokens=10),
        Reply(prompt_tokens=50, completion_tokens=20),
    )
    under = await run(http, "spend")
    assert under["state"] == "succeeded", under
    assert (await http.get(f"{API}/usage/budget")).json()["alert"] is False

    crossing = await run(http, "spend")
    assert crossing["state"] == "succeeded", crossing
    status = (await http.get(f"{API}/usage/budget")).json()
    assert (status["tokens"], status["alert"], status["exceeded"]) == (110, True, True)
    frames = await collect_sse(http, f"{API}/runs/{crossing['id']}/events")
    alerts = [f.json() for f in frames if f.event == "usage.budget_alert"]
    assert len(alerts) == 1, [f.event for f in frames]

    # The hard stop: the next LLM step fails at claim, without calling the endpoint.
    calls = len(llm.seen)
    stopped = await run(http, "spend")
    assert stopped["state"] == "failed", stopped
    (step,) = stopped["steps"]
    assert step["error"]["code"] == "budget_exceeded"
    assert step["error"]["retryable"] is False
    assert "110 tokens used of a limit of 100" in step["error"]["message"]
    assert len(llm.seen) == calls

    # Raising the budget lets LLM steps run again; a cost limit works the same way.
    assert (await http.put(f"{API}/usage/budget", json={"token_limit": 1000})).status_code == 200
    assert (await run(http, "spend"))["state"] == "succeeded"
    assert (await http.put(f"{API}/usage/budget", json={"cost_limit": 0.0001})).status_code == 200
    priced = await run(http, "spend")
    assert priced["steps"][0]["error"]["code"] == "budget_exceeded"
    assert "cost" in priced["steps"][0]["error"]["message"]
