"""Shared helpers of the security suite: servers with chosen settings, callers, the route walk.

Helpers are plain functions (import them with ``from tests.security.conftest import ...``);
the fixtures here start real servers.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from tests.conftest import make_settings
from tests.support.server import LiveApp, live_app

from quantum_orchestrator.api.deps import DEFAULT_WORKSPACE_ID, Authorize
from quantum_orchestrator.domain.auth import (
    AGENT_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
)

API = "/api/v1"
DEFAULT_WS = DEFAULT_WORKSPACE_ID
# Passwords of the accounts the tests make (the policy wants 12+ characters, not common ones).
PASSWORD = "correct-staple-battery-7"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id", "instance"}
WWW_AUTHENTICATE = 'Bearer realm="quantum-orchestrator"'

# API routes anyone may call: the probes and the two ways to log in.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", f"{API}/auth/login"),
        ("POST", f"{API}/auth/token"),
        # Webhooks: authenticated by their HMAC signature, not by a credential.
        ("POST", f"{API}/hooks/{{hook_id}}"),
    }
)
# Routes FastAPI itself serves (not API routes): the schema and the interactive docs.
DOCUMENTATION_ROUTES = frozenset(
    {
        ("GET", f"{API}/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
    }
)

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """A name not used before in this process."""
    return f"{prefix}-{next(_ids)}"


# Routes


@dataclass(frozen=True)
class RouteInfo:
    """One method of one API route and the permissions its ``Authorize`` dependencies name."""

    method: str
    path: str
    authorizations: tuple[Authorize, ...]

    @property
    def public(self) -> bool:
        """Whether the route is on the public list."""
        return (self.method, self.path) in PUBLIC_ROUTES

    @property
    def permission(self) -> Permission | None:
        """The one permission the route needs (None: any signed-in user)."""
        assert len(self.authorizations) == 1, self
        return self.authorizations[0].permission

    @property
    def params(self) -> list[str]:
        """The names of the path parameters."""
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def authorizations(dependant: Dependant) -> list[Authorize]:
    """Every ``Authorize`` instance among a route's dependencies, however deep."""
    found: list[Authorize] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, Authorize):
            found.append(current.call)
        stack.extend(current.dependencies)
    return found


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every method of every API route of ``app`` (included routers walked through)."""
    routes: list[RouteInfo] = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        dependant = context.dependant
        assert dependant is not None, context.path
        found = tuple(authorizations(dependant))
        for method in sorted(context.methods or ()):
            if method == "HEAD":
                continue
            routes.append(RouteInfo(method=method, path=str(context.path), authorizations=found))
    assert len(routes) > 30, "the route walk found too few routes: did FastAPI change?"
    return routes


def other_routes(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path)`` of the routes that are not API routes (schema, docs)."""
    found: list[tuple[str, str]] = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            continue
        found.extend(
            (method, str(context.path))
            for method in sorted(context.methods or ())
            if method != "HEAD"
        )
    return found


def fill(path: str, values: dict[str, str], *, default: str | None = None) -> str:
    """``path`` with each ``{param}`` replaced by ``values[param]`` (or ``default``)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        assert default is not None, f"no value for the path parameter {name!r} of {path}"
        return default

    return re.sub(r"{(\w+)(?::\w+)?}", one, path)


# Callers


@dataclass(frozen=True)
class Caller:
    """Someone calling the API: a user, an API key or an agent token, with its credential."""

    label: str
    kind: str
    token: str
    role: Role | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header of this caller."""
        return bearer(self.token)

    @property
    def permissions(self) -> frozenset[Permission]:
        """What ``ROLE_PERMISSIONS`` (or the agent table) grants this caller."""
        if self.kind == "agent":
            return AGENT_PERMISSIONS
        assert self.role is not None
        return ROLE_PERMISSIONS[self.role]

    def may(self, permission: Permission | None) -> bool:
        """Whether a route needing ``permission`` must let this caller through."""
        if permission is None:
            return self.kind == "user"
        return permission in self.permissions


def bearer(token: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header."""
    return {"Authorization": f"Bearer {token}"}


async def add_member(
    http: httpx.AsyncClient,
    email: str,
    role: Role | str,
    *,
    workspace: str = DEFAULT_WS,
    password: str | None = PASSWORD,
    name: str = "",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Add a member (creating the account when a password is given); answers the member."""
    body: dict[str, Any] = {"email": email, "role": str(role), "name": name}
    if password is not None:
        body["password"] = password
    response = await http.post(f"{API}/workspaces/{workspace}/members", json=body, headers=headers)
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


async def session_token(url: str, email: str, password: str = PASSWORD) -> str:
    """A bearer session token from ``POST /api/v1/auth/token`` (no other credential sent)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
        response = await anonymous.post(
            f"{API}/auth/token", json={"email": email, "password": password}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def create_api_key(
    http: httpx.AsyncClient,
    role: Role | str,
    *,
    name: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A new API key (the answer, with ``key``)."""
    body = {"name": name or unique(f"key-{role}"), "role": str(role), **extra}
    response = await http.post(f"{API}/api-keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_agent_token(
    http: httpx.AsyncClient, pool: str, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A new agent token for ``pool`` (the answer, with ``token``)."""
    response = await http.post(
        f"{API}/agent-tokens",
        json={"name": unique(f"agents-{pool}"), "pool": pool},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def registration(pool: str, *capabilities: str, name: str = "sec-agent") -> dict[str, Any]:
    """An agent registration body offering ``capabilities``."""
    return {
        "name": name,
        "pool": pool,
        "concurrency": 1,
        "version": "1.0",
        "host": "tests",
        "pid": 1,
        "capabilities": [
            {"name": capability, "category": capability.split(".", 1)[0]}
            for capability in capabilities
        ],
    }


async def register_agent(http: httpx.AsyncClient, token: str, pool: str, *capabilities: str) -> str:
    """Register an agent with ``token``; answers its id."""
    response = await http.post(
        f"{API}/agent/register", json=registration(pool, *capabilities), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["agent_id"]
    return agent_id


# Workflows


def transform_spec(name: str, **extra: Any) -> dict[str, Any]:
    """A one-node workflow answering its input ``who`` as its output ``echo``."""
    spec: dict[str, Any] = {
        "name": name,
        "inputs": {
            "type": "object",
            "properties": {"who": {"type": "string"}},
            "additionalProperties": False,
        },
        "nodes": [
            {"id": "echo", "type": "specialized.transform", "params": {"value": "{{ inputs.who }}"}}
        ],
        "outputs": {"echo": "{{ nodes.echo.output }}"},
    }
    spec.update(extra)
    return spec


async def deployed(
    http: httpx.AsyncClient, spec: dict[str, Any], *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Create and deploy ``spec``; answers the workflow as read afterwards."""
    created = await http.post(f"{API}/workflows", json={"spec": spec}, headers=headers)
    assert created.status_code == 201, created.text
    deploy = await http.post(f"{API}/workflows/{spec['name']}/deploy", headers=headers)
    assert deploy.status_code == 201, deploy.text
    workflow: dict[str, Any] = (
        await http.get(f"{API}/workflows/{spec['name']}", headers=headers)
    ).json()
    return workflow


async def start_run(
    http: httpx.AsyncClient,
    ref: str,
    inputs: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start a run of ``ref``; answers it."""
    response = await http.post(
        f"{API}/workflows/{ref}/runs", json={"inputs": inputs or {}}, headers=headers
    )
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


async def wait_run(
    http: httpx.AsyncClient,
    run_id: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """Poll a run until it has finished (deadline ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await http.get(f"{API}/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        assert loop.time() < deadline, f"run {run_id} did not finish: {run}"
        await asyncio.sleep(0.05)


# Answers


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with this status (and code); answers its body."""
    assert response.status_code == status, (
        response.request.method,
        str(response.request.url),
        response.status_code,
        response.text[:500],
    )
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code, body
    return body


def iter_strings(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a JSON value."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            yield current
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


# Fixtures

ServerFactory = Callable[..., AbstractAsyncContextManager[LiveApp]]


@pytest.fixture
def start_server(tmp_path: Path) -> ServerFactory:
    """Start a server with other settings: ``async with start_server(auth={...}) as app``.

    ``database_url=`` picks another database (default: a fresh SQLite file).
    """
    counter = itertools.count()

    @asynccontextmanager
    async def start(database_url: str | None = None, **groups: Any) -> AsyncIterator[LiveApp]:
        data = tmp_path / f"server-{next(counter)}"
        url = database_url or f"sqlite+aiosqlite:///{data / 'qo.db'}"
        data.mkdir(parents=True)
        settings = make_settings(data, url)
        settings = settings.model_copy(
            update={
                name: getattr(settings, name).model_copy(update=values)
                for name, values in groups.items()
            }
        )
        async with live_app(settings) as app:
            yield app

    return start


@pytest.fixture
async def anonymous(server: LiveApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``server`` that sends no credentials unless a request adds them."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client
