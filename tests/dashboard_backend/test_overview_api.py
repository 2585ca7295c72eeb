"""``GET /api/v1/overview`` through a real server: shape, permission, isolation, validation."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_and_deploy,
    start_run,
    transform_spec,
    wait_run,
)
from tests.support.server import LiveApp

from quantum_orchestrator.api.deps import WORKSPACE_HEADER

TOP_LEVEL = {
    "generated_at",
    "workspace_id",
    "window_hours",
    "since",
    "agents",
    "runs",
    "steps",
    "queue_depth",
    "llm",
    "chart",
}


async def test_overview_counts_a_finished_run(server: LiveApp, http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("overview-run"))
    run = await start_run(http, "overview-run", {"who": "dashboard"})
    assert (await wait_run(http, run["id"]))["state"] == "succeeded"

    response = await http.get(f"{API}/overview")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TOP_LEVEL
    assert body["window_hours"] == 24
    assert body["runs"]["created"] == 1
    assert body["runs"]["by_state"]["succeeded"] == 1
    assert body["runs"]["success_rate"] == 1.0
    assert body["runs"]["duration"]["p50_ms"] is not None
    assert body["steps"]["finished"] >= 1
    assert body["steps"]["duration"]["p95_ms"] is not None
    assert body["queue_depth"] == 0
    # The built-in agents serve every category and belong to the default workspace.
    assert body["agents"]["online"] >= 1
    assert all(
        count >= 1
        for name, count in body["agents"]["online_by_category"].items()
        if name != "custom"
    )
    assert len(body["chart"]) == 24
    assert (
        body["chart"][-1]["runs"]["succeeded"] == 1 or body["chart"][-2]["runs"]["succeeded"] == 1
    )
    assert set(body["llm"]) == {"prompt_tokens", "completion_tokens", "cost", "calls"}


async def test_another_workspace_runs_do_not_count(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    created = await http.post(f"{API}/workspaces", json={"name": "elsewhere"})
    assert created.status_code == 201, created.text
    other = {WORKSPACE_HEADER: created.json()["id"]}
    spec = transform_spec("elsewhere-run")
    assert (
        await http.post(f"{API}/workflows", json={"spec": spec}, headers=other)
    ).status_code == 201
    deployed = await http.post(f"{API}/workflows/elsewhere-run/deploy", headers=other)
    assert deployed.status_code == 201, deployed.text
    started = await http.post(
        f"{API}/workflows/elsewhere-run/runs", json={"inputs": {"who": "x"}}, headers=other
    )
    assert started.status_code == 201, started.text

    mine = (await http.get(f"{API}/overview")).json()
    assert mine["runs"]["created"] == 0
    theirs = (await http.get(f"{API}/overview", headers=other)).json()
    assert theirs["runs"]["created"] == 1
    assert theirs["workspace_id"] == created.json()["id"]
    # Agents are counted in their own workspace: the built-in ones are the default one's.
    assert theirs["agents"]["online"] == 0


@pytest.mark.parametrize("value", ["0", "169", "-1", "abc", "1.5"])
async def test_window_hours_out_of_range_is_a_clear_422(
    http: httpx.AsyncClient, value: str
) -> None:
    problem = assert_problem(await http.get(f"{API}/overview", params={"window_hours": value}), 422)
    assert "window_hours" in str(problem), problem


async def test_window_hours_bounds_are_accepted(http: httpx.AsyncClient) -> None:
    for hours in (1, 168):
        body = (await http.get(f"{API}/overview", params={"window_hours": hours})).json()
        assert body["window_hours"] == hours
        assert len(body["chart"]) == hours


async def test_overview_needs_credentials(server: LiveApp) -> None:
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert_problem(await anonymous.get(f"{API}/overview"), 401)
