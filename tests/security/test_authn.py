"""Authentication on every route: without valid credentials, 401 with a problem body.

The routes are walked from the real app, so a route added later is covered without editing this
file; the public ones (probes, login) are the only exceptions and are listed in one place.
"""

from __future__ import annotations

from typing import Any

import httpx
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    DOCUMENTATION_ROUTES,
    PUBLIC_ROUTES,
    WWW_AUTHENTICATE,
    RouteInfo,
    add_member,
    api_routes,
    assert_problem,
    create_agent_token,
    create_api_key,
    deployed,
    fill,
    other_routes,
    start_run,
    transform_spec,
    wait_run,
)
from tests.support.server import LiveApp

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.settings import Settings


def test_every_api_route_but_the_public_ones_has_exactly_one_authorize(
    settings: Settings,
) -> None:
    routes = api_routes(create_app(settings))
    wrong = [
        f"{route}: {len(route.authorizations)} Authorize dependencies"
        for route in routes
        if len(route.authorizations) != (0 if route.public else 1)
    ]
    assert not wrong, "every route but the public ones needs exactly one Authorize:\n" + "\n".join(
        wrong
    )
    # The public list names routes that exist, and nothing else is reachable without one.
    assert {(route.method, route.path) for route in routes} >= PUBLIC_ROUTES
    assert set(other_routes(create_app(settings))) == DOCUMENTATION_ROUTES


async def _real_ids(server: LiveApp, http: httpx.AsyncClient) -> dict[str, str]:
    """Ids of objects that exist, so a 401 cannot come from a lookup that found nothing."""
    workflow = await deployed(http, transform_spec("authn-flow"))
    run = await wait_run(http, (await start_run(http, "authn-flow", {"who": "x"}))["id"])
    member = await add_member(http, "authn-member@example.com", Role.VIEWER)
    key = await create_api_key(http, Role.VIEWER)
    token = await create_agent_token(http, "authn")
    secret = await http.post(f"{API}/secrets", json={"name": "AUTHN_SECRET", "value": "v"})
    assert secret.status_code == 201, secret.text
    agents = (await http.get(f"{API}/agents")).json()["items"]
    assert agents, "the built-in agents should be registered"
    return {
        "workspace_id": DEFAULT_WS,
        "user_id": member["user_id"],
        "key_id": key["id"],
        "token_id": token["id"],
        "ref": workflow["id"],
        "number": "1",
        "run_id": run["id"],
        "agent_id": agents[0]["id"],
        "name": "AUTHN_SECRET",
    }


def _body(route: RouteInfo) -> dict[str, Any]:
    return {"json": {}} if route.method in ("POST", "PUT", "PATCH") else {}


def _assert_unauthenticated(response: httpx.Response, route: RouteInfo, secret: str) -> None:
    problem = assert_problem(response, 401, "unauthenticated")
    assert response.headers.get("www-authenticate") == WWW_AUTHENTICATE, (str(route), problem)
    assert problem["instance"] == response.request.url.path
    # A problem never echoes the credential that was refused.
    if secret:
        assert secret not in response.text


async def test_every_route_without_credentials_is_401(
    server: LiveApp, http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    values = await _real_ids(server, http)
    routes = api_routes(server.app)
    checked = 0
    for route in routes:
        path = fill(route.path, values, default="plausible-id")
        response = await anonymous.request(route.method, path, **_body(route))
        if route.public:
            assert response.status_code not in (401, 403), (str(route), response.text)
            assert response.status_code < 500, (str(route), response.text)
            continue
        _assert_unauthenticated(response, route, "")
        checked += 1
    assert checked >= len(routes) - len(PUBLIC_ROUTES)
    # The documentation is public: the schema and the docs page answer without credentials.
    for method, path in sorted(DOCUMENTATION_ROUTES):
        response = await anonymous.request(method, path)
        assert response.status_code == 200, (path, response.status_code)


BAD_CREDENTIALS: list[tuple[str, dict[str, str]]] = [
    ("unknown session token", {"Authorization": "Bearer qo_s_" + "A" * 43}),
    ("unknown API key", {"Authorization": "Bearer qo_k_" + "B" * 43}),
    ("unknown agent token", {"Authorization": "Bearer qo_a_" + "C" * 43}),
    ("not one of our tokens", {"Authorization": "Bearer not-a-token"}),
    ("scheme without a token", {"Authorization": "Bearer"}),
    ("basic scheme", {"Authorization": "Basic YWRtaW5AZXhhbXBsZS5jb206cGFzc3dvcmQ="}),
    ("token without a scheme", {"Authorization": "qo_s_" + "D" * 43}),
    ("overlong token", {"Authorization": "Bearer qo_s_" + "E" * 5000}),
]


async def test_every_route_refuses_bad_credentials_with_401(
    server: LiveApp, http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    values = await _real_ids(server, http)
    failures: list[str] = []
    for route in api_routes(server.app):
        if route.public:
            continue
        path = fill(route.path, values, default="plausible-id")
        for label, headers in BAD_CREDENTIALS:
            response = await anonymous.request(route.method, path, headers=headers, **_body(route))
            if response.status_code != 401:
                failures.append(f"{route} with {label}: {response.status_code} {response.text}")
                continue
            token = headers["Authorization"].rpartition(" ")[2]
            _assert_unauthenticated(response, route, token if len(token) > 8 else "")
    assert not failures, "\n".join(failures)


async def test_a_bogus_session_cookie_is_401_on_reads(
    server: LiveApp, anonymous: httpx.AsyncClient
) -> None:
    for route in api_routes(server.app):
        if route.public or route.method != "GET":
            continue
        path = fill(route.path, {"workspace_id": DEFAULT_WS}, default="plausible-id")
        response = await anonymous.get(path, headers={"Cookie": "qo_session=qo_s_" + "F" * 43})
        _assert_unauthenticated(response, route, "")


async def test_the_scheme_is_case_insensitive_and_the_same_token_works(
    server: LiveApp, anonymous: httpx.AsyncClient
) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = await anonymous.get(
            f"{API}/auth/me", headers={"Authorization": f"{scheme} {server.token}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "owner"
