"""Hostile strings in every field that is stored: refused cleanly or kept byte for byte, inert.

Each payload goes into every string a client can store (workflow description and node names,
workspace, member, API key and agent token names, secret values, run inputs). The answer is a
4xx problem, or the value comes back exactly as sent, as JSON (never HTML), and templates in
data are never evaluated. Afterwards the database still works. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    ServerFactory,
    assert_problem,
    iter_strings,
    session_token,
    transform_spec,
    unique,
    wait_run,
)
from tests.support.server import LiveApp

PAYLOADS: list[str] = [
    "' OR 1=1 --",
    '"; DROP TABLE users; --',
    "'); DELETE FROM workflows; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "{{ ''.__class__.__mro__ }}",
    "${7*7}",
    "a\x00b",
    "\x00",
    "Ünïcödé ✓ 中文 😀 \u202e\u200b",
    "\ud800 lone surrogate",
    "%s%n%x",
    "../../etc/passwd",
    "x" * 300,
    "y" * 20_000,
]


@asynccontextmanager
async def _serving(start_server: ServerFactory, database_url: str) -> AsyncIterator[LiveApp]:
    async with start_server(database_url=database_url) as app:
        yield app


def _check_answer(response: httpx.Response, what: str) -> bool:
    """True when stored (2xx); a refusal must be a clean 4xx problem. Never HTML, never 5xx."""
    content_type = response.headers.get("content-type", "")
    assert "html" not in content_type, (what, content_type)
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.is_success:
        assert content_type.startswith("application/json"), (what, content_type)
        return True
    assert 400 <= response.status_code < 500, (what, response.status_code)
    assert_problem(response, response.status_code)
    return False


def _raw(response: httpx.Response) -> Any:
    # The exact bytes, decoded by a strict JSON parser (no lenient fallbacks).
    return json.loads(response.content.decode("utf-8"))


async def _send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    """Send ``body`` as ASCII-escaped JSON, so lone surrogates travel as ``\\udXXX`` escapes."""
    return await client.request(
        method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


async def _workflow_fields(client: httpx.AsyncClient, payload: str) -> int:
    stored = 0
    name = unique("inj")
    spec = transform_spec(name, description=payload)
    spec["nodes"][0]["name"] = payload
    response = await _send(client, "POST", f"{API}/workflows", {"spec": spec})
    if _check_answer(response, "workflow"):
        stored += 1
        read = await client.get(f"{API}/workflows/{name}")
        assert _check_answer(read, "workflow read")
        body = _raw(read)
        assert body["description"] == payload
        assert body["spec"]["description"] == payload
        assert body["spec"]["nodes"][0]["name"] == payload
        listed = _raw(await client.get(f"{API}/workflows", params={"search": name}))
        assert [item["description"] for item in listed["items"]] == [payload]
    # As a workflow name (a restricted pattern) it is refused.
    response = await _send(client, "POST", f"{API}/workflows", {"spec": transform_spec(payload)})
    assert not _check_answer(response, "workflow name")
    return stored


async def _run_inputs(client: httpx.AsyncClient, payload: str, flow: str) -> int:
    response = await _send(
        client,
        "POST",
        f"{API}/workflows/{flow}/runs",
        {"inputs": {"who": payload, payload: payload}},
    )
    if not _check_answer(response, "run"):
        # Unknown input keys may be refused; the value alone must then be accepted or refused.
        response = await _send(
            client, "POST", f"{API}/workflows/{flow}/runs", {"inputs": {"who": payload}}
        )
        if not _check_answer(response, "run"):
            return 0
    run = await wait_run(client, _raw(response)["id"])
    assert run["inputs"]["who"] == payload
    # The template renders the input as data: `{{7*7}}` stays those seven characters.
    assert run["state"] == "succeeded", run
    assert run["outputs"]["echo"] == payload, run["outputs"]
    return 1


async def _named_things(client: httpx.AsyncClient, payload: str) -> int:
    stored = 0
    # Workspace name.
    response = await _send(client, "POST", f"{API}/workspaces", {"name": payload})
    if _check_answer(response, "workspace"):
        stored += 1
        workspace = _raw(response)
        assert workspace["name"] == payload
        assert all((c.isalnum() and c.isascii()) or c == "-" for c in workspace["slug"])
        read = await client.get(f"{API}/workspaces/{workspace['id']}")
        assert _check_answer(read, "workspace read")
        assert _raw(read)["name"] == payload
    # Member name (the account is made with it).
    email = f"{unique('named')}@example.com"
    response = await _send(
        client,
        "POST",
        f"{API}/workspaces/{DEFAULT_WS}/members",
        {"email": email, "role": "viewer", "password": PASSWORD, "name": payload},
    )
    if _check_answer(response, "member"):
        stored += 1
        members = _raw(await client.get(f"{API}/workspaces/{DEFAULT_WS}/members"))["items"]
        assert [m["name"] for m in members if m["email"] == email] == [payload]
    # API key and agent token names.
    response = await _send(client, "POST", f"{API}/api-keys", {"name": payload, "role": "viewer"})
    if _check_answer(response, "api key"):
        stored += 1
        key_id = _raw(response)["id"]
        keys = _raw(await client.get(f"{API}/api-keys"))["items"]
        assert [k["name"] for k in keys if k["id"] == key_id] == [payload]
    response = await _send(client, "POST", f"{API}/agent-tokens", {"name": payload, "pool": "inj"})
    if _check_answer(response, "agent token"):
        stored += 1
        token_id = _raw(response)["id"]
        tokens = _raw(await client.get(f"{API}/agent-tokens"))["items"]
        assert [t["name"] for t in tokens if t["id"] == token_id] == [payload]
    return stored


async def _secret_value(client: httpx.AsyncClient, payload: str) -> None:
    name = unique("INJ").replace("-", "_")
    response = await _send(client, "POST", f"{API}/secrets", {"name": name, "value": payload})
    if _check_answer(response, "secret"):
        assert payload not in iter_strings(_raw(response))
        listed = await client.get(f"{API}/secrets")
        assert payload not in iter_strings(_raw(listed))
        update = await _send(client, "PUT", f"{API}/secrets/{name}", {"value": payload + "!"})
        assert _check_answer(update, "secret update")
        assert payload not in update.text or len(payload) < 3
    # As a secret's name (a restricted pattern) it is refused.
    response = await _send(client, "POST", f"{API}/secrets", {"name": payload, "value": "v"})
    assert not _check_answer(response, "secret name")


@pytest.mark.timeout(300)
async def test_hostile_strings_are_refused_or_kept_inert(
    start_server: ServerFactory, database_url: str
) -> None:
    async with (
        _serving(start_server, database_url) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=60) as client,
    ):
        flow = "inject-target"
        created = await _send(client, "POST", f"{API}/workflows", {"spec": transform_spec(flow)})
        assert created.status_code == 201, created.text
        assert (await client.post(f"{API}/workflows/{flow}/deploy")).status_code == 201
        stored = {"workflow": 0, "run": 0, "named": 0}
        for payload in PAYLOADS:
            stored["workflow"] += await _workflow_fields(client, payload)
            stored["run"] += await _run_inputs(client, payload, flow)
            stored["named"] += await _named_things(client, payload)
            await _secret_value(client, payload)
        # The classic payloads are ordinary text: they must have been stored, not just refused.
        assert stored["workflow"] >= 10, stored
        assert stored["run"] >= 10, stored
        assert stored["named"] >= 30, stored
        await _database_intact(app, client)


async def _database_intact(app: LiveApp, client: httpx.AsyncClient) -> None:
    # Users, workflows, members: all still there and usable.
    token = await session_token(app.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert token
    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    workflows = await client.get(f"{API}/workflows", params={"limit": 200})
    assert workflows.status_code == 200
    names = {item["name"] for item in workflows.json()["items"]}
    assert "inject-target" in names
    members = (await client.get(f"{API}/workspaces/{DEFAULT_WS}/members")).json()["items"]
    assert ADMIN_EMAIL in {m["email"] for m in members}
    async with app.engine.uow.read() as conn:
        assert await app.engine.uow.repos.users.count(conn) >= 2


QUERY_PAYLOADS = [
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "*",
    "' UNION SELECT * FROM users --",
    "\x00",
    "a\x00b",
    "\udc80",
    "中文😀",
]


async def test_hostile_query_path_and_login_values_find_nothing(
    start_server: ServerFactory, database_url: str
) -> None:
    async with (
        _serving(start_server, database_url) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=60) as http,
    ):
        created = await http.post(f"{API}/workflows", json={"spec": transform_spec("plain-flow")})
        assert created.status_code == 201
        for payload in QUERY_PAYLOADS:
            quoted = quote(payload.encode("utf-8", "surrogatepass"), safe="")
            nul = "\x00" in payload
            # LIKE wildcards and quotes are matched literally: nothing has them in its name.
            search = await http.get(f"{API}/workflows?search={quoted}")
            if nul:
                # A NUL is refused by name on every database (PostgreSQL cannot compare it).
                problem = assert_problem(search, 422, "invalid_request")
                assert [e["path"] for e in problem["errors"]] == ["query.search"], problem
            else:
                assert search.status_code == 200, (payload, search.text)
                assert search.json()["items"] == [], (payload, search.text)
            runs = await http.get(f"{API}/runs?workflow={quoted}")
            assert_problem(runs, 422 if nul else 404)
            assert_problem(await http.get(f"{API}/workflows?cursor={quoted}"), 422)
            for path in (
                f"{API}/workflows/{quoted}",
                f"{API}/runs/{quoted}",
                f"{API}/agents/{quoted}",
                f"{API}/workflows/{quoted}/versions",
                f"{API}/api-keys/{quoted}/rotate",
            ):
                method = "POST" if path.endswith("/rotate") else "GET"
                problem = assert_problem(await http.request(method, path), 422 if nul else 404)
                if nul:
                    assert problem["errors"][0]["path"].startswith("path."), problem
            if not nul:
                named = await http.get(
                    f"{API}/workflows",
                    headers={"X-QO-Workspace": payload.encode("utf-8", "surrogatepass")},
                )
                assert_problem(named, 404)
        # The login form is no injection point either.
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as anonymous:
            for email in ("' OR 1=1 --", "admin@example.com' --", "admin@example.com\x00"):
                response = await anonymous.post(
                    f"{API}/auth/token",
                    content=json.dumps({"email": email, "password": "' OR '1'='1"}),
                    headers={"Content-Type": "application/json"},
                )
                assert_problem(response, 400 if "\x00" in email else 401)


async def test_an_unexpected_error_leaks_nothing(
    server: LiveApp, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**_: Any) -> Any:
        raise RuntimeError("internal detail: postgresql://qo:hunter2@db/qo")

    monkeypatch.setattr(server.engine.workflows, "page", broken)
    response = await http.get(f"{API}/workflows", headers={"X-Request-ID": "trace-me-1"})
    problem = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    # The answer carries what every answer does: the request id and the security headers.
    assert response.headers["x-request-id"] == problem["request_id"] == "trace-me-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    monkeypatch.undo()
    assert (await http.get(f"{API}/workflows")).status_code == 200
