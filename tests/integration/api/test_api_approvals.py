"""Approvals over real HTTP: who may decide, what is recorded and audited, 409 and 404."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from tests.conftest import make_settings
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_and_deploy,
    start_run,
    wait_run,
    walk_pages,
)
from tests.support.server import live_app
from typer.testing import CliRunner

from quantum_orchestrator.cli.main import app

PASSWORD = "correct-staple-battery-7"


def _gate_spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "ask", "type": "core.approval", "params": {"message": "deploy {{ inputs.v }}?"}},
            {"id": "after", "type": "core.noop", "params": {}},
        ],
        "connections": [{"from": "ask", "to": "after"}],
    }


async def _member_client(
    server: Any, http: httpx.AsyncClient, role: str, *, workspace: str | None = None
) -> httpx.AsyncClient:
    email = f"approvals-{role}-{workspace or 'default'}@example.com"
    ws = workspace or "00000000000000000000000000000001"
    added = await http.post(
        f"{API}/workspaces/{ws}/members",
        json={"email": email, "role": role, "password": PASSWORD},
    )
    assert added.status_code == 201, added.text
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        login = await anonymous.post(
            f"{API}/auth/token", json={"email": email, "password": PASSWORD}
        )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    if workspace:
        headers["X-QO-Workspace"] = workspace
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)


async def _waiting_run(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    await create_and_deploy(http, _gate_spec(name))
    run = await start_run(http, name, {"v": "1.2"})
    return await wait_run(http, run["id"], states={"waiting"})


@pytest.fixture
async def any_db_http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a server on SQLite, then on PostgreSQL."""
    async with (
        live_app(make_settings(tmp_path, database_url)) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as client,
    ):
        yield client


async def test_pending_approvals_are_paged_oldest_first(any_db_http: httpx.AsyncClient) -> None:
    http = any_db_http
    await create_and_deploy(http, _gate_spec("gate"))
    run_ids = []
    for _ in range(3):
        run = await start_run(http, "gate", {"v": "1"})
        await wait_run(http, run["id"], states={"waiting"})
        run_ids.append(run["id"])
    first = (await http.get(f"{API}/approvals", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await http.get(f"{API}/approvals", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert second.json()["next_cursor"] is None
    paged = first["items"] + second.json()["items"]
    assert sorted(a["step_id"] for a in paged) == sorted({a["step_id"] for a in paged})
    assert sorted(a["run_id"] for a in paged) == sorted(run_ids)
    assert [a["waiting_since"] for a in paged] == sorted(a["waiting_since"] for a in paged)
    # The same rows in the same order as one big page, and as pages of one.
    whole = (await http.get(f"{API}/approvals")).json()
    assert whole["items"] == paged
    assert whole["next_cursor"] is None
    assert await walk_pages(http, f"{API}/approvals", 1) == paged
    for bad in ("garbage", first["next_cursor"][:-2], "WyJ4Il0"):
        answer = await http.get(f"{API}/approvals", params={"cursor": bad})
        assert_problem(answer, 422)
    assert (await http.get(f"{API}/approvals", params={"limit": 0})).status_code == 422


async def test_operator_approves_and_the_decision_is_recorded_and_audited(
    server: Any, http: httpx.AsyncClient
) -> None:
    run = await _waiting_run(http, "gate")
    listed = (await http.get(f"{API}/approvals", params={"state": "pending"})).json()["items"]
    assert [(a["run_id"], a["node_id"], a["message"]) for a in listed] == [
        (run["id"], "ask", "deploy 1.2?")
    ]
    async with await _member_client(server, http, "operator") as operator:
        answer = await operator.post(
            f"{API}/runs/{run['id']}/steps/ask/approve", json={"comment": "release window"}
        )
        assert answer.status_code == 200, answer.text
        decision = answer.json()
        assert decision["decision"] == "approved"
        assert decision["decided_by"] == "approvals-operator-default@example.com"
        assert decision["comment"] == "release window"
        again = await operator.post(f"{API}/runs/{run['id']}/steps/ask/reject", json={})
        assert_problem(again, 409)
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    step = next(s for s in done["steps"] if s["node_id"] == "ask")
    assert step["output"]["decided_at"] == decision["decided_at"]
    assert (await http.get(f"{API}/approvals")).json()["items"] == []

    entries = (await http.get(f"{API}/audit", params={"action": "approval.approve"})).json()[
        "items"
    ]
    (entry,) = entries
    assert entry["actor_label"] == "approvals-operator-default@example.com"
    assert entry["target_type"] == "run"
    assert entry["target_id"] == run["id"]
    assert entry["details"]["comment"] == "release window"
    assert entry["details"]["node_id"] == "ask"
    assert entry["at"]


async def test_reject_fails_the_run(http: httpx.AsyncClient) -> None:
    run = await _waiting_run(http, "gate")
    answer = await http.post(
        f"{API}/runs/{run['id']}/steps/ask/reject", json={"comment": "not now"}
    )
    assert answer.status_code == 200, answer.text
    done = await wait_run(http, run["id"])
    assert done["state"] == "failed"
    step = next(s for s in done["steps"] if s["node_id"] == "ask")
    assert step["error"]["code"] == "approval_rejected"
    entries = (await http.get(f"{API}/audit", params={"action": "approval.reject"})).json()
    assert len(entries["items"]) == 1


async def test_viewer_may_list_but_not_decide(server: Any, http: httpx.AsyncClient) -> None:
    run = await _waiting_run(http, "gate")
    async with await _member_client(server, http, "viewer") as viewer:
        assert (await viewer.get(f"{API}/approvals")).status_code == 200
        denied = await viewer.post(f"{API}/runs/{run['id']}/steps/ask/approve", json={})
        assert_problem(denied, 403)
    assert (await wait_run(http, run["id"], states={"waiting"}))["state"] == "waiting"


async def test_409_when_not_waiting_for_a_decision_and_404_for_unknown(
    http: httpx.AsyncClient,
) -> None:
    run = await _waiting_run(http, "gate")
    not_approval = await http.post(f"{API}/runs/{run['id']}/steps/after/approve", json={})
    assert_problem(not_approval, 409)
    unknown = await http.post(f"{API}/runs/{run['id']}/steps/ghost/approve", json={})
    assert_problem(unknown, 404)
    bad = await http.post(
        f"{API}/runs/{run['id']}/steps/ask/approve", json={"comment": "x", "extra": 1}
    )
    assert bad.status_code in (400, 422)


async def test_other_workspaces_see_and_decide_nothing(
    server: Any, http: httpx.AsyncClient
) -> None:
    run = await _waiting_run(http, "gate")
    created = await http.post(f"{API}/workspaces", json={"name": "Other Corp"})
    assert created.status_code == 201, created.text
    other = created.json()["id"]
    async with await _member_client(server, http, "owner", workspace=other) as outsider:
        assert (await outsider.get(f"{API}/approvals")).json()["items"] == []
        answer = await outsider.post(f"{API}/runs/{run['id']}/steps/ask/approve", json={})
        assert_problem(answer, 404)
    assert (await wait_run(http, run["id"], states={"waiting"}))["state"] == "waiting"


async def test_cli_lists_approves_and_rejects(
    server: Any,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("QO_SERVER", server.url)
    monkeypatch.setenv("QO_TOKEN", server.token)
    monkeypatch.delenv("QO_WORKSPACE", raising=False)
    first = await _waiting_run(http, "gate")
    await start_run(http, "gate", {"v": "2"})
    runner = CliRunner()

    # The CLI runs its own event loop: it is driven from a thread while the server answers here.
    async def qo(*args: str) -> Result:
        return await asyncio.to_thread(runner.invoke, app, list(args))

    listed = await qo("approvals", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert first["id"] in [item["run_id"] for item in json.loads(listed.stdout)]
    table = await qo("approvals", "list")
    assert "deploy 1.2?" in table.stdout

    approved = await qo("approve", first["id"], "ask", "--comment", "ship it")
    assert approved.exit_code == 0, approved.output
    assert "approved by" in approved.stdout
    done = await wait_run(http, first["id"])
    assert done["state"] == "succeeded"
    step = next(s for s in done["steps"] if s["node_id"] == "ask")
    assert step["output"]["comment"] == "ship it"

    again = await qo("reject", first["id"], "ask", "--comment", "too late")
    assert again.exit_code != 0
    assert "not waiting for a decision" in again.output
