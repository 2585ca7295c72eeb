"""The role x route matrix: every principal on every route, allowed or denied as the table says.

The expectation of each cell comes from the route's ``Authorize.permission`` and
``ROLE_PERMISSIONS``; a hand-written table of key cells guards that derivation, so the matrix
cannot pass by being empty or by deriving nonsense from a broken table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    Caller,
    RouteInfo,
    add_member,
    api_routes,
    assert_problem,
    bearer,
    create_agent_token,
    create_api_key,
    deployed,
    fill,
    registration,
    session_token,
    start_run,
    transform_spec,
    unique,
    wait_run,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.auth import ROLE_PERMISSIONS, Role

GHOST = "01ghost0000000000000000000000000"
POOL = "matrix"
WORKFLOW = "matrix-flow"


@dataclass
class World:
    """A server with a user and an API key of every role, an agent token and some objects."""

    server: LiveApp
    callers: dict[str, Caller]
    values: dict[str, str]


async def _world(server: LiveApp, http: httpx.AsyncClient) -> World:
    callers: dict[str, Caller] = {}
    for role in Role:
        email = f"matrix-{role.value}@example.com"
        await add_member(http, email, role)
        callers[f"user:{role.value}"] = Caller(
            f"user:{role.value}", "user", await session_token(server.url, email), role
        )
        key = await create_api_key(http, role)
        callers[f"key:{role.value}"] = Caller(f"key:{role.value}", "api_key", key["key"], role)
    token = await create_agent_token(http, POOL)
    callers["agent"] = Caller("agent", "agent", token["token"])
    await deployed(http, transform_spec(WORKFLOW))
    run = await wait_run(http, (await start_run(http, WORKFLOW, {"who": "m"}))["id"])
    dummy = await add_member(http, "matrix-dummy@example.com", Role.VIEWER)
    secret = await http.post(f"{API}/secrets", json={"name": "MATRIX_SECRET", "value": "s"})
    assert secret.status_code == 201, secret.text
    values = {
        "workspace_id": DEFAULT_WS,
        "user_id": dummy["user_id"],
        "key_id": GHOST,
        "token_id": GHOST,
        "ref": WORKFLOW,
        "number": "1",
        "run_id": run["id"],
        "agent_id": GHOST,
        "name": "MATRIX_SECRET",
    }
    return World(server=server, callers=callers, values=values)


# What each route is sent (a callable: some bodies must differ from call to call). Destructive
# routes get ids of nothing (GHOST), so one caller's success does not change the next one's cell.
BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", f"{API}/workspaces"): lambda: {"name": unique("matrix-ws")},
    ("PUT", f"{API}/workspaces/{{workspace_id}}/http-allow"): lambda: {"networks": []},
    ("POST", f"{API}/workspaces/{{workspace_id}}/members"): lambda: {
        "email": f"{unique('invitee')}@example.com",
        "role": "viewer",
        "password": PASSWORD,
    },
    ("PUT", f"{API}/workspaces/{{workspace_id}}/members/{{user_id}}"): lambda: {"role": "viewer"},
    ("POST", f"{API}/api-keys"): lambda: {"name": unique("k"), "role": "viewer"},
    ("POST", f"{API}/agent-tokens"): lambda: {"name": unique("t"), "pool": POOL},
    ("POST", f"{API}/workflows/validate"): lambda: {"spec": transform_spec("validated")},
    ("POST", f"{API}/workflows"): lambda: {"spec": transform_spec(unique("matrix-new"))},
    ("PUT", f"{API}/workflows/{{ref}}"): lambda: {"spec": transform_spec(WORKFLOW)},
    ("POST", f"{API}/workflows/{{ref}}/runs"): lambda: {"inputs": {"who": "m"}},
    ("POST", f"{API}/agent/register"): lambda: registration(POOL, "matrix.work"),
    ("POST", f"{API}/agent/{{agent_id}}/heartbeat"): lambda: {"running": []},
    ("POST", f"{API}/agent/{{agent_id}}/claim"): lambda: {"max": 1, "wait": 0},
    ("POST", f"{API}/agent/{{agent_id}}/results"): lambda: {"results": []},
    ("POST", f"{API}/secrets"): lambda: {"name": "MATRIX_NEW", "value": "v"},
    ("PUT", f"{API}/secrets/{{name}}"): lambda: {"value": "v2"},
}
# Per route path values that differ from the world's (destructive ones act on nothing).
PATHS: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", f"{API}/workspaces/{{workspace_id}}/members/{{user_id}}"): {"user_id": GHOST},
    ("POST", f"{API}/runs/{{run_id}}/cancel"): {"run_id": GHOST},
    ("POST", f"{API}/runs/{{run_id}}/retry"): {"run_id": GHOST},
    ("GET", f"{API}/runs/{{run_id}}/events"): {"run_id": GHOST},
    ("DELETE", f"{API}/secrets/{{name}}"): {"name": "MATRIX_GONE"},
}
# Logging out ends the caller's session: it is tried last.
LAST = {("POST", f"{API}/auth/logout")}


def _request(route: RouteInfo, values: dict[str, str]) -> tuple[str, dict[str, Any]]:
    key = (route.method, route.path)
    path = fill(route.path, {**values, **PATHS.get(key, {})}, default=GHOST)
    body = BODIES.get(key)
    if body is not None:
        return path, {"json": body()}
    return path, ({"json": {}} if route.method in ("POST", "PUT", "PATCH") else {})


# Key cells, written out by hand: (caller, method, path, allowed).
KEY_CELLS: list[tuple[str, str, str, bool]] = [
    ("user:viewer", "GET", f"{API}/workflows", True),
    ("user:viewer", "POST", f"{API}/workflows/{{ref}}/deploy", False),
    ("user:viewer", "POST", f"{API}/workflows/{{ref}}/runs", False),
    ("user:viewer", "GET", f"{API}/secrets", False),
    ("user:viewer", "POST", f"{API}/agent/register", False),
    ("user:operator", "POST", f"{API}/workflows/{{ref}}/runs", True),
    ("user:operator", "POST", f"{API}/runs/{{run_id}}/cancel", True),
    ("user:operator", "POST", f"{API}/workflows/{{ref}}/deploy", False),
    ("user:operator", "POST", f"{API}/agents/{{agent_id}}/drain", False),
    ("user:editor", "POST", f"{API}/workflows/{{ref}}/deploy", True),
    ("user:editor", "GET", f"{API}/secrets", True),
    ("user:editor", "POST", f"{API}/secrets", False),
    ("user:editor", "POST", f"{API}/workspaces/{{workspace_id}}/members", False),
    ("user:editor", "POST", f"{API}/api-keys", False),
    ("user:editor", "GET", "/metrics", False),
    ("user:admin", "PUT", f"{API}/workspaces/{{workspace_id}}/http-allow", False),
    ("user:admin", "POST", f"{API}/api-keys", True),
    ("user:admin", "POST", f"{API}/agents/{{agent_id}}/drain", True),
    ("user:admin", "GET", "/metrics", True),
    ("user:owner", "PUT", f"{API}/workspaces/{{workspace_id}}/http-allow", True),
    ("user:owner", "POST", f"{API}/agent/register", False),
    ("key:admin", "GET", f"{API}/auth/me", False),
    ("key:viewer", "GET", f"{API}/workflows", True),
    ("key:viewer", "POST", f"{API}/workflows", False),
    ("key:owner", "PUT", f"{API}/workspaces/{{workspace_id}}/http-allow", True),
    ("agent", "GET", f"{API}/workflows", False),
    ("agent", "GET", f"{API}/runs", False),
    ("agent", "POST", f"{API}/agent/register", True),
    ("agent", "POST", f"{API}/agent/{{agent_id}}/claim", True),
]


async def _cell(
    client: httpx.AsyncClient, route: RouteInfo, caller: Caller, values: dict[str, str]
) -> httpx.Response:
    path, extra = _request(route, values)
    return await client.request(route.method, path, headers=caller.headers, **extra)


@pytest.mark.timeout(300)
async def test_every_principal_on_every_route_matches_the_permission_table(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    world = await _world(server, http)
    routes = [route for route in api_routes(server.app) if not route.public]
    by_key = {(route.method, route.path): route for route in routes}
    ordered = sorted(routes, key=lambda route: (route.method, route.path) in LAST)
    outcome: dict[tuple[str, str, str], bool] = {}
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for route in ordered:
            for caller in world.callers.values():
                response = await _cell(client, route, caller, world.values)
                expected = caller.may(route.permission)
                allowed = response.status_code not in (401, 403)
                outcome[(caller.label, route.method, route.path)] = allowed
                if response.status_code >= 500:
                    wrong.append(f"{caller.label} {route}: {response.status_code} {response.text}")
                elif expected and not allowed:
                    wrong.append(
                        f"{caller.label} {route} should be allowed: "
                        f"{response.status_code} {response.text}"
                    )
                elif not expected:
                    if response.status_code != 403:
                        wrong.append(
                            f"{caller.label} {route} should be 403: "
                            f"{response.status_code} {response.text}"
                        )
                    else:
                        assert_problem(response, 403)
    assert not wrong, "\n".join(wrong)
    # The hand-written cells agree with the derivation and with what the server did.
    for label, method, path, allowed in KEY_CELLS:
        route = by_key[(method, path)]
        assert world.callers[label].may(route.permission) is allowed, (label, method, path)
        assert outcome[(label, method, path)] is allowed, (label, method, path)
    # Every caller met both answers somewhere, so the walk exercised the table.
    for label in world.callers:
        mine = [value for (who, _, _), value in outcome.items() if who == label]
        assert len(mine) == len(routes)
        assert any(mine), label
        assert not all(mine), label


async def test_api_keys_cannot_outrank_their_creator(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await add_member(http, "keys-admin@example.com", Role.ADMIN)
    admin = bearer(await session_token(server.url, "keys-admin@example.com"))
    refused = await http.post(
        f"{API}/api-keys", json={"name": "too-high", "role": "owner"}, headers=admin
    )
    assert "higher than yours" in assert_problem(refused, 403, "forbidden")["detail"]
    own_level = await create_api_key(http, Role.ADMIN, headers=admin)
    # An admin key cannot mint an owner key either.
    refused = await http.post(
        f"{API}/api-keys",
        json={"name": "via-key", "role": "owner"},
        headers=bearer(own_level["key"]),
    )
    assert_problem(refused, 403, "forbidden")
    below = await create_api_key(http, Role.VIEWER, headers=bearer(own_level["key"]))
    assert below["role"] == "viewer"
    # An owner key made by the owner cannot be rotated by an admin.
    owner_key = await create_api_key(http, Role.OWNER)
    rotated = await http.post(f"{API}/api-keys/{owner_key['id']}/rotate", headers=admin)
    assert_problem(rotated, 403, "forbidden")
    listed = {row["name"] for row in (await http.get(f"{API}/api-keys")).json()["items"]}
    assert "too-high" not in listed
    assert "via-key" not in listed


async def test_members_cannot_be_raised_above_the_inviter(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await add_member(http, "members-admin@example.com", Role.ADMIN)
    admin = bearer(await session_token(server.url, "members-admin@example.com"))
    members = f"{API}/workspaces/{DEFAULT_WS}/members"
    refused = await http.post(
        members,
        json={"email": "would-be-owner@example.com", "role": "owner", "password": PASSWORD},
        headers=admin,
    )
    assert "higher than yours" in assert_problem(refused, 403, "forbidden")["detail"]
    peer = await add_member(http, "peer-admin@example.com", Role.ADMIN, headers=admin)
    viewer = await add_member(http, "plain-viewer@example.com", Role.VIEWER, headers=admin)
    promoted = await http.put(
        f"{members}/{viewer['user_id']}", json={"role": "owner"}, headers=admin
    )
    assert_problem(promoted, 403, "forbidden")
    # The owner (the first admin) is above an admin: neither demoted nor removed by one.
    me = (await http.get(f"{API}/auth/me")).json()["user"]["id"]
    assert_problem(await http.put(f"{members}/{me}", json={"role": "viewer"}, headers=admin), 403)
    assert_problem(await http.delete(f"{members}/{me}", headers=admin), 403)
    # Within its rank, an admin manages members.
    changed = await http.put(
        f"{members}/{viewer['user_id']}", json={"role": "editor"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (await http.delete(f"{members}/{peer['user_id']}", headers=admin)).status_code == 204
    # An editor cannot invite at all; a viewer cannot read the keys.
    editor = bearer(await session_token(server.url, "plain-viewer@example.com"))
    invite = await http.post(
        members, json={"email": "x@example.com", "role": "viewer"}, headers=editor
    )
    assert_problem(invite, 403, "forbidden")
    # The only owner cannot step down: a workspace keeps an owner.
    assert_problem(await http.put(f"{members}/{me}", json={"role": "admin"}), 409)
    roles = {row["email"]: row["role"] for row in (await http.get(members)).json()["items"]}
    assert roles["admin@example.com"] == "owner"
    assert "would-be-owner@example.com" not in roles
    assert roles["plain-viewer@example.com"] == "editor"


async def test_me_lists_exactly_the_permissions_of_the_callers_role(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    # The dashboard hides what a role may not do from this list; it must be the table's.
    for role in (Role.VIEWER, Role.EDITOR):
        email = f"me-{role.value}@example.com"
        await add_member(http, email, role)
        me = await http.get(
            f"{API}/auth/me", headers=bearer(await session_token(server.url, email))
        )
        assert me.status_code == 200, me.text
        assert me.json()["role"] == role.value
        assert me.json()["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[role])
    owner = set((await http.get(f"{API}/auth/me")).json()["permissions"])
    assert "workflows:write" in owner  # the bootstrapped admin owns the default workspace
