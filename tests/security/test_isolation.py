"""Workspaces are tenants: nothing of workspace B is visible or reachable from workspace A.

B is made by another user, with one object of every kind. From A, every route that names an
object answers 404 for B's ids (not 403: existence is not disclosed), listings never show B's
objects, and B's objects are unchanged afterwards. Agents of A never receive B's steps.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    ServerFactory,
    add_member,
    api_routes,
    assert_problem,
    bearer,
    create_agent_token,
    create_api_key,
    deployed,
    fill,
    register_agent,
    registration,
    session_token,
    start_run,
    transform_spec,
    wait_run,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.auth import Role

POOL = "iso"
CAPABILITY = "iso.work"
B_ONLY_CAPABILITY = "bonly.thing"


@dataclass
class Tenant:
    """A workspace and the credentials and objects made in it."""

    workspace: dict[str, Any]
    headers: dict[str, str]
    objects: dict[str, str]
    agent_token: str
    api_key: str


async def _workspace_b(server: LiveApp, http: httpx.AsyncClient) -> Tenant:
    # Another user, member of nothing in A, makes workspace B.
    await server.engine.accounts.create_user(email="bee@example.com", password=PASSWORD, name="B")
    user_b = bearer(await session_token(server.url, "bee@example.com"))
    created = await http.post(f"{API}/workspaces", json={"name": "Bee Corp"}, headers=user_b)
    assert created.status_code == 201, created.text
    workspace = created.json()
    headers = {**user_b, "X-QO-Workspace": workspace["id"]}
    workflow = await deployed(http, transform_spec("bee-flow"), headers=headers)
    run = await wait_run(
        http,
        (await start_run(http, "bee-flow", {"who": "b"}, headers=headers))["id"],
        headers=headers,
    )
    assert run["state"] == "succeeded", run
    secret = await http.post(
        f"{API}/secrets", json={"name": "BEE_SECRET", "value": "b-value"}, headers=headers
    )
    assert secret.status_code == 201, secret.text
    token = await create_agent_token(http, POOL, headers=headers)
    agent_id = await register_agent(http, token["token"], POOL, CAPABILITY, B_ONLY_CAPABILITY)
    key = await create_api_key(http, Role.VIEWER, name="bee-key", headers=headers)
    member = await add_member(
        http, "bee-member@example.com", Role.VIEWER, workspace=workspace["id"], headers=headers
    )
    trigger = await http.post(
        f"{API}/workflows/bee-flow/triggers",
        json={"kind": "schedule", "name": "bee-schedule", "schedule": {"interval": 3600}},
        headers=headers,
    )
    assert trigger.status_code == 201, trigger.text
    return Tenant(
        workspace=workspace,
        headers=headers,
        agent_token=token["token"],
        api_key=key["key"],
        objects={
            "workspace_id": workspace["id"],
            "workspace_slug": workspace["slug"],
            "workflow_id": workflow["id"],
            "workflow_name": "bee-flow",
            "run_id": run["id"],
            "secret": "BEE_SECRET",
            "agent_id": agent_id,
            "key_id": key["id"],
            "token_id": token["id"],
            "member_id": member["user_id"],
            "member_email": "bee-member@example.com",
            "capability": B_ONLY_CAPABILITY,
            "trigger_id": trigger.json()["id"],
        },
    )


def _b_values(b: Tenant) -> dict[str, str]:
    return {
        "workspace_id": b.objects["workspace_id"],
        "user_id": b.objects["member_id"],
        "key_id": b.objects["key_id"],
        "token_id": b.objects["token_id"],
        "ref": b.objects["workflow_id"],
        "number": "1",
        "run_id": b.objects["run_id"],
        "node_id": "any-node",
        "agent_id": b.objects["agent_id"],
        "name": b.objects["secret"],
        "trigger_id": b.objects["trigger_id"],
    }


def _body(method: str, path: str) -> dict[str, Any]:
    bodies: dict[str, Any] = {
        f"{API}/workspaces/{{workspace_id}}/http-allow": {"networks": ["10.0.0.0/8"]},
        f"{API}/workspaces/{{workspace_id}}/members": {
            "email": "intruder@example.com",
            "role": "viewer",
            "password": PASSWORD,
        },
        f"{API}/workspaces/{{workspace_id}}/members/{{user_id}}": {"role": "admin"},
        f"{API}/api-keys/{{key_id}}/rotate": {"grace_hours": 0},
        f"{API}/workflows/{{ref}}": {"spec": transform_spec("bee-flow")},
        f"{API}/workflows/{{ref}}/runs": {"inputs": {"who": "a"}},
        f"{API}/workflows/{{ref}}/triggers": {"kind": "webhook", "name": "intruder"},
        f"{API}/agent/{{agent_id}}/heartbeat": {"running": []},
        f"{API}/agent/{{agent_id}}/claim": {"max": 1, "wait": 0},
        f"{API}/agent/{{agent_id}}/results": {"results": []},
        f"{API}/agent/{{agent_id}}/progress": {"step_id": "0" * 32, "attempt": 1, "data": {}},
        f"{API}/agent/{{agent_id}}/logs": {
            "step_id": "0" * 32,
            "attempt": 1,
            "lines": [{"at": "2026-12-06T06:00:00+00:00", "level": "info", "message": "x"}],
        },
        f"{API}/secrets/{{name}}": {"value": "overwritten-by-a"},
    }
    if method in ("GET", "DELETE"):
        return {}
    return {"json": bodies.get(path, {})}


@pytest.mark.timeout(180)
async def test_workspace_a_cannot_reach_or_see_workspace_b(
    start_server: ServerFactory, database_url: str
) -> None:
    async with (
        start_server(database_url=database_url) as server,
        httpx.AsyncClient(base_url=server.url, auth=server.auth, timeout=60) as http,
    ):
        await _cross_workspace_walk(server, http)


async def _cross_workspace_walk(server: LiveApp, http: httpx.AsyncClient) -> None:
    b = await _workspace_b(server, http)
    a_token = await create_agent_token(http, POOL)
    a_agent = await register_agent(http, a_token["token"], POOL, CAPABILITY)
    a_key = await create_api_key(http, Role.OWNER)
    values = _b_values(b)
    wrong: list[str] = []
    tried = 0
    for route in api_routes(server.app):
        if route.public or not route.params:
            continue
        path = fill(route.path, values)
        # The agent protocol is spoken with A's agent token; everything else as A's owner,
        # as A's owner API key, both acting in workspace A.
        if route.path.startswith(f"{API}/agent/"):
            credentials = [bearer(a_token["token"])]
        else:
            credentials = [server.headers, bearer(a_key["key"])]
        for headers in credentials:
            response = await http.request(
                route.method, path, headers=headers, **_body(route.method, route.path)
            )
            tried += 1
            if response.status_code != 404:
                wrong.append(f"{route} on B's ids: {response.status_code} {response.text}")
            else:
                assert_problem(response, 404)
    # Members of B through A's own workspace path are not A's members either.
    member_path = f"{API}/workspaces/{DEFAULT_WS}/members/{b.objects['member_id']}"
    for method, body in (("PUT", {"json": {"role": "viewer"}}), ("DELETE", {})):
        response = await http.request(method, member_path, **body)
        if response.status_code != 404:
            wrong.append(f"{method} {member_path}: {response.status_code} {response.text}")
    assert tried > 40
    assert not wrong, "\n".join(wrong)
    await _assert_b_unchanged(http, b)
    del a_agent


async def _assert_b_unchanged(http: httpx.AsyncClient, b: Tenant) -> None:
    headers = b.headers
    objects = b.objects
    workflow = (await http.get(f"{API}/workflows/{objects['workflow_id']}", headers=headers)).json()
    assert workflow["latest_version"] == 1, workflow
    assert workflow["spec"]["name"] == "bee-flow"
    run = (await http.get(f"{API}/runs/{objects['run_id']}", headers=headers)).json()
    assert run["state"] == "succeeded", run
    secrets = (await http.get(f"{API}/secrets", headers=headers)).json()["items"]
    assert [row["name"] for row in secrets] == ["BEE_SECRET"]
    agent = (await http.get(f"{API}/agents/{objects['agent_id']}", headers=headers)).json()
    assert agent["state"] != "draining", agent
    members = (
        await http.get(f"{API}/workspaces/{objects['workspace_id']}/members", headers=headers)
    ).json()["items"]
    assert {row["email"]: row["role"] for row in members} == {
        "bee@example.com": "owner",
        "bee-member@example.com": "viewer",
    }
    workspace = (
        await http.get(f"{API}/workspaces/{objects['workspace_id']}", headers=headers)
    ).json()
    assert workspace["http_allow"] == []
    # B's API key and agent token were neither rotated nor revoked.
    assert (await http.get(f"{API}/workflows", headers=bearer(b.api_key))).status_code == 200
    keys = (await http.get(f"{API}/api-keys", headers=headers)).json()["items"]
    assert [row["id"] for row in keys] == [objects["key_id"]]
    assert keys[0]["expires_at"] is None
    tokens = (await http.get(f"{API}/agent-tokens", headers=headers)).json()["items"]
    assert [row["id"] for row in tokens] == [objects["token_id"]]


LISTINGS = [
    f"{API}/workflows",
    f"{API}/runs",
    f"{API}/agents",
    f"{API}/secrets",
    f"{API}/api-keys",
    f"{API}/agent-tokens",
    f"{API}/node-types",
    f"{API}/workspaces",
    f"{API}/workspaces/{{workspace_id}}/members",
    f"{API}/auth/me",
    f"{API}/audit",
]


async def test_listings_never_show_the_other_workspace(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    b = await _workspace_b(server, http)
    a_workflow = await deployed(http, transform_spec("aye-flow"))
    await wait_run(http, (await start_run(http, "aye-flow", {"who": "a"}))["id"])
    b_marks = [value for name, value in b.objects.items() if name != "workspace_slug"]
    for listing in LISTINGS:
        seen_by_a = await http.get(fill(listing, {"workspace_id": DEFAULT_WS}))
        assert seen_by_a.status_code == 200, (listing, seen_by_a.text)
        leaked = [mark for mark in b_marks if mark in seen_by_a.text]
        assert not leaked, (listing, leaked)
        seen_by_b = await http.get(
            fill(listing, {"workspace_id": b.objects["workspace_id"]}), headers=b.headers
        )
        assert seen_by_b.status_code == 200, (listing, seen_by_b.text)
        assert a_workflow["id"] not in seen_by_b.text
        assert "aye-flow" not in seen_by_b.text
    # Positive control: B does see its own objects in the same listings.
    for listing, mark in (
        (f"{API}/workflows", "workflow_id"),
        (f"{API}/runs", "run_id"),
        (f"{API}/agents", "agent_id"),
        (f"{API}/secrets", "secret"),
        (f"{API}/api-keys", "key_id"),
        (f"{API}/agent-tokens", "token_id"),
        (f"{API}/node-types", "capability"),
    ):
        response = await http.get(listing, headers=b.headers)
        assert b.objects[mark] in response.text, listing
    # Filters and searches do not cross either.
    by_name = await http.get(f"{API}/runs", params={"workflow": b.objects["workflow_id"]})
    assert by_name.status_code in (200, 404), by_name.text
    assert b.objects["run_id"] not in by_name.text
    search = await http.get(f"{API}/workflows", params={"search": "bee"})
    assert search.status_code == 200
    assert search.json()["items"] == []
    # A spec in A cannot use a node type only B's agents offer.
    spec = {
        "name": "borrowed",
        "nodes": [{"id": "x", "type": B_ONLY_CAPABILITY, "params": {}}],
    }
    assert_problem(await http.post(f"{API}/workflows", json={"spec": spec}), 422)


async def test_naming_another_workspace_is_404(server: LiveApp, http: httpx.AsyncClient) -> None:
    b = await _workspace_b(server, http)
    a_key = await create_api_key(http, Role.OWNER)
    a_agent = await create_agent_token(http, POOL)
    for workspace in (b.objects["workspace_id"], b.objects["workspace_slug"], "no-such-workspace"):
        named = {"X-QO-Workspace": workspace}
        # A user who is not a member of it.
        assert_problem(await http.get(f"{API}/workflows", headers=named), 404)
        assert_problem(await http.get(f"{API}/workspaces/{workspace}"), 404)
        # An API key and an agent token of A, bound to A.
        for token in (a_key["key"], a_agent["token"]):
            response = await http.get(f"{API}/workflows", headers={**bearer(token), **named})
            assert_problem(response, 404)
        response = await http.post(
            f"{API}/agent/register",
            json=registration(POOL, CAPABILITY),
            headers={**bearer(a_agent["token"]), **named},
        )
        assert_problem(response, 404)
    # B's member does not reach A by naming it.
    member_b = bearer(await session_token(server.url, "bee-member@example.com"))
    assert_problem(
        await http.get(f"{API}/workflows", headers={**member_b, "X-QO-Workspace": DEFAULT_WS}), 404
    )
    assert_problem(await http.get(f"{API}/workspaces/{DEFAULT_WS}", headers=member_b), 404)
    # Naming one's own workspace by id or slug works, for users and keys alike.
    for workspace in (DEFAULT_WS, "default"):
        ok = await http.get(f"{API}/workflows", headers={"X-QO-Workspace": workspace})
        assert ok.status_code == 200, ok.text
    own = await http.get(
        f"{API}/workflows", headers={**bearer(a_key["key"]), "X-QO-Workspace": DEFAULT_WS}
    )
    assert own.status_code == 200, own.text


@pytest.mark.timeout(120)
async def test_an_agent_of_a_never_claims_the_steps_of_b(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    b = await _workspace_b(server, http)
    spec = {"name": "bee-work", "nodes": [{"id": "w", "type": CAPABILITY, "params": {"n": 1}}]}
    await deployed(http, spec, headers=b.headers)
    run = await start_run(http, "bee-work", headers=b.headers)
    a_token = await create_agent_token(http, POOL)
    a_agent = await register_agent(http, a_token["token"], POOL, CAPABILITY)
    for _ in range(3):
        claimed = await http.post(
            f"{API}/agent/{a_agent}/claim",
            json={"max": 10, "wait": 0.3},
            headers=bearer(a_token["token"]),
        )
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["tasks"] == [], claimed.text
    # A's agent token cannot speak for B's agent either.
    stolen = await http.post(
        f"{API}/agent/{b.objects['agent_id']}/claim",
        json={"max": 10, "wait": 0},
        headers=bearer(a_token["token"]),
    )
    assert_problem(stolen, 404)
    # Positive control: B's own agent gets the step that was there all along.
    b_agent = await register_agent(http, b.agent_token, POOL, CAPABILITY)
    tasks: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not tasks:
        assert loop.time() < deadline, "B's agent never got B's step"
        claimed = await http.post(
            f"{API}/agent/{b_agent}/claim",
            json={"max": 10, "wait": 1},
            headers=bearer(b.agent_token),
        )
        assert claimed.status_code == 200, claimed.text
        tasks = claimed.json()["tasks"]
    assert [task["run_id"] for task in tasks] == [run["id"]], json.dumps(tasks)


async def test_a_workspace_named_like_another_id_captures_nothing(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    # Mallory names a workspace after the id of the workspace her victim works in, invites the
    # victim there first, and hopes requests naming that id land in hers.
    await server.engine.accounts.create_user(email="mallory@example.com", password=PASSWORD)
    mallory = bearer(await session_token(server.url, "mallory@example.com"))
    trap = await http.post(f"{API}/workspaces", json={"name": DEFAULT_WS}, headers=mallory)
    assert trap.status_code == 201, trap.text
    assert trap.json()["slug"] != DEFAULT_WS, "a slug must never read as another workspace's id"
    await add_member(
        http, "victim@example.com", Role.EDITOR, workspace=trap.json()["id"], headers=mallory
    )
    await add_member(http, "victim@example.com", Role.EDITOR, password=None)
    victim = bearer(await session_token(server.url, "victim@example.com"))
    me = await http.get(f"{API}/auth/me", headers={**victim, "X-QO-Workspace": DEFAULT_WS})
    assert me.json()["workspace_id"] == DEFAULT_WS, me.json()
    members = await http.get(f"{API}/workspaces/{DEFAULT_WS}/members", headers=victim)
    assert "mallory@example.com" not in members.text
    assert "admin@example.com" in members.text
