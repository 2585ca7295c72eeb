"""``/api/v1/ws`` over a real server with a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.api.helpers import API, create_and_deploy, start_run, transform_spec
from tests.support.server import LiveApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from quantum_orchestrator.api import ws as ws_module
from quantum_orchestrator.api.deps import DEFAULT_WORKSPACE_ID


def _ws_url(server: LiveApp, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + "/api/v1/ws" + query


async def _session_cookie(server: LiveApp) -> tuple[str, str]:
    """Log in like the dashboard: answers the session and CSRF cookies."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            f"{API}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return response.cookies["qo_session"], response.cookies["qo_csrf"]


@asynccontextmanager
async def _socket(
    server: LiveApp, *, query: str = "", headers: dict[str, str] | None = None, origin: bool = True
) -> AsyncIterator[ClientConnection]:
    async with connect(
        _ws_url(server, query),
        additional_headers=headers or {},
        origin=Origin(server.url) if origin else None,
        open_timeout=10,
    ) as socket:
        yield socket


async def _message(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    return body


def _singles(message: dict[str, Any]) -> list[dict[str, Any]]:
    """An ``events`` message as the ``event`` messages of its events; others as they are."""
    if message["type"] == "events":
        return [{"type": "event", "event": event} for event in message["events"]]
    return [message]


async def _until(
    socket: ClientConnection, wanted: Any, timeout: float = 15
) -> list[dict[str, Any]]:
    """Messages (a batch's events one by one) until one for which ``wanted(message)`` is true
    (included)."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for message in _singles(await _message(socket, max(0.1, deadline - loop.time()))):
            seen.append(message)
            if wanted(message):
                return seen


async def _closed_code(socket: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_the_session_cookie_opens_the_workspace_feed(server: LiveApp) -> None:
    session, _ = await _session_cookie(server)
    async with _socket(server, headers={"Cookie": f"qo_session={session}"}) as socket:
        hello = await _message(socket)
        assert hello == {
            "type": "hello",
            "workspace_id": DEFAULT_WORKSPACE_ID,
            "role": "owner",
            "keepalive_seconds": ws_module.KEEPALIVE_SECONDS,
        }


async def test_without_credentials_the_socket_is_closed_4401(server: LiveApp) -> None:
    async with _socket(server) as socket:
        assert await _closed_code(socket) == 4401
    async with _socket(server, headers={"Cookie": "qo_session=qo_s_forged"}) as socket:
        assert await _closed_code(socket) == 4401


async def test_a_token_in_the_url_is_not_a_credential(server: LiveApp) -> None:
    async with _socket(server, query=f"?token={server.token}") as socket:
        assert await _closed_code(socket) == 4401


async def test_another_origin_is_refused_before_the_handshake(server: LiveApp) -> None:
    session, _ = await _session_cookie(server)
    port = server.url.rsplit(":", 1)[1]
    for origin in (
        "https://evil.example",
        "http://127.0.0.1:1",
        "null",
        f"http://127.0.0.1.evil.example:{port}",
        f"ftp://127.0.0.1:{port}",
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                _ws_url(server),
                additional_headers={"Cookie": f"qo_session={session}"},
                origin=Origin(origin),
                open_timeout=10,
            ):
                pass
        assert refused.value.response.status_code == 403


async def test_the_same_host_behind_a_tls_proxy_is_accepted(server: LiveApp) -> None:
    # The page is https (the proxy's), the server sees plain ws: the host is what counts.
    secure_page = server.url.replace("http://", "https://")
    async with connect(
        _ws_url(server),
        additional_headers=server.headers,
        origin=Origin(secure_page),
        open_timeout=10,
    ) as socket:
        assert (await _message(socket))["type"] == "hello"


async def test_a_configured_cors_origin_is_accepted(server: LiveApp) -> None:
    server.settings.api.cors_origins = ["https://ui.example"]
    async with connect(
        _ws_url(server),
        additional_headers=server.headers,
        origin=Origin("https://ui.example"),
        open_timeout=10,
    ) as socket:
        assert (await _message(socket))["type"] == "hello"


async def test_a_workspace_the_caller_is_not_in_is_refused(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    # Another user's workspace: made by a second account, of which the admin is no member.
    created = await http.post(
        f"{API}/workspaces/{DEFAULT_WORKSPACE_ID}/members",
        json={"email": "other@example.com", "role": "viewer", "password": "other-password-123"},
    )
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=server.url) as other:
        token = (
            await other.post(
                f"{API}/auth/token",
                json={"email": "other@example.com", "password": "other-password-123"},
            )
        ).json()["access_token"]
        theirs = await other.post(
            f"{API}/workspaces",
            json={"name": "theirs"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert theirs.status_code == 201, theirs.text
    async with _socket(
        server, query=f"?workspace={theirs.json()['id']}", headers=server.headers
    ) as s:
        assert await _closed_code(s) == 4404
    # The viewer reads runs of the default workspace: allowed.
    async with _socket(server, headers={"Authorization": f"Bearer {token}"}) as socket:
        hello = await _message(socket)
        assert hello["workspace_id"] == DEFAULT_WORKSPACE_ID
        assert hello["role"] == "viewer"


async def test_a_run_started_through_the_api_streams_its_events(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await create_and_deploy(http, transform_spec("ws-run"))
    async with _socket(server, headers=server.headers) as socket:
        assert (await _message(socket))["type"] == "hello"
        run = await start_run(http, "ws-run", {"who": "socket"})
        seen = await _until(
            socket,
            lambda m: (
                m["type"] == "event"
                and m["event"]["type"] == "run.succeeded"
                and m["event"]["run_id"] == run["id"]
            ),
        )
    events = [
        m["event"] for m in seen if m["type"] == "event" and m["event"]["run_id"] == run["id"]
    ]
    types = [event["type"] for event in events]
    assert "step.running" in types
    assert "step.succeeded" in types
    step = next(event for event in events if event["type"] == "step.succeeded")
    assert step["node_id"] == "greet"
    assert step["workspace_id"] == DEFAULT_WORKSPACE_ID
    assert isinstance(step["id"], int)
    assert step["ts"].endswith("+00:00")


async def test_agents_registering_draining_and_leaving_are_announced(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    async with _socket(server, headers=server.headers) as socket:
        assert (await _message(socket))["type"] == "hello"
        registered = await http.post(
            f"{API}/agent/register",
            json={
                "name": "announced",
                "pool": "ext",
                "capabilities": [
                    {"name": "ml.sentiment_x", "category": "ml", "description": ""},
                    {"name": "core.other_x", "category": "core", "description": ""},
                ],
                "concurrency": 3,
                "version": "9.9",
                "host": "box",
                "pid": 42,
            },
        )
        assert registered.status_code == 201, registered.text
        agent_id = registered.json()["agent_id"]

        def about(kind: str) -> Any:
            return lambda m: (
                m["type"] == "event"
                and m["event"]["type"] == kind
                and (m["event"]["agent_id"] == agent_id)
            )

        (*_, message) = await _until(socket, about("agent.registered"))
        event = message["event"]
        assert event["state"] == "online"
        assert event["workspace_id"] == DEFAULT_WORKSPACE_ID
        assert event["data"]["category"] == "mixed"
        assert event["data"]["concurrency"] == 3
        beat = await http.post(f"{API}/agent/{agent_id}/heartbeat", json={"running": []})
        assert beat.status_code == 200, beat.text
        (*_, message) = await _until(socket, about("agent.heartbeat"))
        assert message["event"]["data"]["running"] == 0
        drained = await http.post(f"{API}/agents/{agent_id}/drain")
        assert drained.status_code == 200, drained.text
        await _until(socket, about("agent.draining"))
        left = await http.post(f"{API}/agent/{agent_id}/deregister")
        assert left.status_code == 204
        (*_, message) = await _until(socket, about("agent.offline"))
        assert message["event"]["state"] == "offline"

    listed = (await http.get(f"{API}/agents", params={"limit": 50})).json()["items"]
    mine = next(agent for agent in listed if agent["id"] == agent_id)
    assert mine["category"] == "mixed"
    assert mine["categories"] == ["core", "ml"]
    assert {"pool", "capabilities", "state", "host", "version", "running", "concurrency"} <= set(
        mine
    )
    assert {"last_heartbeat_at", "steps_done"} <= set(mine)
    pooled = (await http.get(f"{API}/agents", params={"pool": "ext"})).json()["items"]
    assert [agent["id"] for agent in pooled] == [agent_id]
    builtin = [agent for agent in listed if agent["builtin"]]
    assert builtin
    assert builtin[0]["category"] == "mixed"


async def test_a_silent_agent_is_announced_lost(server: LiveApp, http: httpx.AsyncClient) -> None:
    async with _socket(server, headers=server.headers) as socket:
        assert (await _message(socket))["type"] == "hello"
        registered = await http.post(
            f"{API}/agent/register",
            json={
                "name": "silent",
                "pool": "ext",
                "capabilities": [{"name": "custom.quiet", "category": "custom"}],
                "concurrency": 1,
                "version": "1",
                "host": "box",
                "pid": 7,
            },
        )
        agent_id = registered.json()["agent_id"]
        # The test server marks an agent lost after 2 s without a heartbeat.
        (*_, message) = await _until(
            socket,
            lambda m: (
                m["type"] == "event"
                and m["event"]["type"] == "agent.lost"
                and m["event"]["agent_id"] == agent_id
            ),
        )
        assert message["event"]["state"] == "lost"


async def test_events_published_together_share_one_frame_in_order(server: LiveApp) -> None:
    async with _socket(server, headers=server.headers) as socket:
        assert (await _message(socket))["type"] == "hello"
        # As a transaction that finished many steps publishes them: one frame, not one each.
        server.engine.bus.publish(
            {"workspace_id": DEFAULT_WORKSPACE_ID, "type": "test.burst", "id": n} for n in range(5)
        )
        message = await _message(socket)
        while message["type"] == "event" and message["event"]["type"] != "test.burst":
            message = await _message(socket)  # an agent's event that came first
        assert message["type"] == "events"
        assert [event["id"] for event in message["events"]] == [0, 1, 2, 3, 4]
        assert message["events"][0]["type"] == "test.burst"
        assert message["events"][0]["workspace_id"] == DEFAULT_WORKSPACE_ID
        # A lone event keeps the single form.
        server.engine.bus.publish([{"workspace_id": DEFAULT_WORKSPACE_ID, "type": "test.one"}])
        message = await _message(socket)
        while message["type"] != "event" or message["event"]["type"] != "test.one":
            assert "test.one" not in json.dumps(message)
            message = await _message(socket)


async def test_a_listener_that_fell_behind_is_told_to_resync(server: LiveApp) -> None:
    async with _socket(server, headers=server.headers) as socket:
        assert (await _message(socket))["type"] == "hello"
        # More events at once than a listener's queue holds (published in one go, as a large
        # transaction would): the oldest are dropped and the client must refetch.
        server.engine.bus.publish(
            {"workspace_id": DEFAULT_WORKSPACE_ID, "type": "test.flood", "id": n}
            for n in range(10_050)
        )
        messages = await _until(socket, lambda m: m["type"] == "resync")
        assert len(messages) < 10_000


async def test_keepalive_pings_and_a_revoked_session_closes_the_socket(
    server: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "KEEPALIVE_SECONDS", 0.3)
    session, csrf = await _session_cookie(server)
    cookie = f"qo_session={session}; qo_csrf={csrf}"
    async with _socket(server, headers={"Cookie": cookie}) as socket:
        assert (await _message(socket))["type"] == "hello"
        assert (await _message(socket))["type"] == "ping"
        async with httpx.AsyncClient(base_url=server.url) as browser:
            out = await browser.post(
                f"{API}/auth/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf}
            )
            assert out.status_code == 204, out.text
        assert await _closed_code(socket) == 4401
