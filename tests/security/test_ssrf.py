"""SSRF: ``specialized.http_request`` reaches internal addresses only where allowed.

Through a real server (built-in agents) and a real HTTP server on 127.0.0.1: loopback is
refused by default, reachable for a workspace whose owner allowed it, and still refused for
every other workspace, even while the allowed one holds a kept-alive connection to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.server import LiveApp, live_app

from quantum_orchestrator.agents import HttpTransport, build_runtime
from quantum_orchestrator.agents.netguard import AddressPolicy

API = "/api/v1"


class _Hello(BaseHTTPRequestHandler):
    """Answers every GET with a small JSON body, keeping the connection alive."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        data = json.dumps({"hello": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def target() -> Iterator[int]:
    """A real HTTP server on 127.0.0.1; answers its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hello.seen = []
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def app(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[LiveApp, httpx.AsyncClient]]:
    """A server with the default agent settings: no internal network allowed server-wide."""
    settings = make_settings(tmp_path, database_url)
    assert settings.agents.http_allow == []
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        yield live, client


def _call(name: str, urls: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {
                "id": node_id,
                "type": "specialized.http_request",
                "params": {"url": url, "timeout": 2},
                "retry": {"max_attempts": 1},
            }
            for node_id, url in urls.items()
        ],
        "connections": [],
    }


async def _run(
    http: httpx.AsyncClient, spec: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Deploy ``spec`` (in the workspace of ``headers``), run it, answer the finished run."""
    http.headers.update(headers or {})
    try:
        existing = await http.get(f"{API}/workflows/{spec['name']}")
        if existing.status_code == 404:
            await create_and_deploy(http, spec)
        run = await start_run(http, spec["name"])
        return await wait_run(http, run["id"])
    finally:
        for name in headers or {}:
            del http.headers[name]


def _errors(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["node_id"]: step["error"] for step in run["steps"]}


async def _default_workspace(http: httpx.AsyncClient) -> str:
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    return str(workspace["id"])


async def test_loopback_needs_the_workspace_allowance(
    app: tuple[LiveApp, httpx.AsyncClient], target: int
) -> None:
    _, http = app
    spec = _call("loopback", {"call": f"http://127.0.0.1:{target}/hello"})
    home = await _default_workspace(http)

    refused = await _run(http, spec)
    assert refused["state"] == "failed", refused
    error = _errors(refused)["call"]
    assert error["code"] == "ssrf_blocked"
    assert error["retryable"] is False
    assert "refusing to connect to 127.0.0.1" in error["message"]
    assert "http-allow" in error["message"]
    assert _Hello.seen == []

    allowed = await http.put(
        f"{API}/workspaces/{home}/http-allow", json={"networks": ["127.0.0.0/8"]}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["http_allow"] == ["127.0.0.0/8"]
    ok = await _run(http, spec)
    assert ok["state"] == "succeeded", ok
    assert ok["steps"][0]["output"]["body"] == {"hello": "/hello"}
    assert _Hello.seen == ["/hello"]

    # Another workspace of the same owner, served by the same built-in agent, while the first
    # one's pooled connection to the target is still open: refused all the same.
    other = await http.post(f"{API}/workspaces", json={"name": "Other team"})
    assert other.status_code == 201, other.text
    other_headers = {"X-QO-Workspace": other.json()["id"]}
    elsewhere = await _run(http, spec, other_headers)
    assert elsewhere["state"] == "failed", elsewhere
    assert _errors(elsewhere)["call"]["code"] == "ssrf_blocked"
    assert _Hello.seen == ["/hello"]

    # Taking the allowance back takes effect for the next step.
    revoked = await http.put(f"{API}/workspaces/{home}/http-allow", json={"networks": []})
    assert revoked.status_code == 200, revoked.text
    again = await _run(http, spec)
    assert _errors(again)["call"]["code"] == "ssrf_blocked"
    assert _Hello.seen == ["/hello"]


async def test_internal_targets_are_refused(
    app: tuple[LiveApp, httpx.AsyncClient], target: int
) -> None:
    _, http = app
    urls = {
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "ipv6_loopback": f"http://[::1]:{target}/",
        "mapped": f"http://[::ffff:127.0.0.1]:{target}/",
        "name": f"http://localhost:{target}/",
        "private": "http://10.0.0.1/",
        "unspecified": f"http://0.0.0.0:{target}/",
        "sixtofour": f"http://[2002:7f00:1::]:{target}/",
    }
    run = await _run(http, _call("internal", urls))
    assert run["state"] == "failed"
    errors = _errors(run)
    assert set(errors) == set(urls)
    for node_id, error in errors.items():
        assert error["code"] == "ssrf_blocked", (node_id, error)
        assert error["retryable"] is False
    assert "localhost (127.0.0.1)" in errors["name"]["message"] or (
        "localhost (::1)" in errors["name"]["message"]
    )
    assert _Hello.seen == []


async def test_a_remote_agent_gets_the_allowance_with_each_task(
    tmp_path: Path, sqlite_url: str, target: int
) -> None:
    # No built-in agents: the step goes over HTTP to a `qo agent`-like runtime.
    settings = make_settings(tmp_path, sqlite_url)
    settings = settings.model_copy(
        update={"agents": settings.agents.model_copy(update={"enabled": False})}
    )
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        home = await _default_workspace(http)
        allowed = await http.put(
            f"{API}/workspaces/{home}/http-allow", json={"networks": ["127.0.0.1/32"]}
        )
        assert allowed.status_code == 200, allowed.text
        token = await http.post(f"{API}/agent-tokens", json={"name": "remote", "pool": "remote"})
        assert token.status_code == 201, token.text
        transport = HttpTransport(live.url, token=token.json()["token"])
        try:
            runtime = build_runtime([], transport=transport, pool="remote", concurrency=2)
            async with runtime:
                ok = await _run(http, _call("remote", {"call": f"http://127.0.0.1:{target}/r"}))
                refused = await _run(http, _call("remote-meta", {"call": "http://10.1.2.3/"}))
        finally:
            await transport.aclose()
    assert ok["state"] == "succeeded", ok
    assert _Hello.seen == ["/r"]
    assert _errors(refused)["call"]["code"] == "ssrf_blocked"


async def test_a_bad_allowance_is_a_422(app: tuple[LiveApp, httpx.AsyncClient]) -> None:
    _, http = app
    home = await _default_workspace(http)
    answer = await http.put(
        f"{API}/workspaces/{home}/http-allow", json={"networks": ["127.0.0.0/8", "nope"]}
    )
    assert answer.status_code == 422, answer.text
    assert "nope" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("100.64.0.1", False),
        # IPv6 forms that lead to an IPv4 address are judged by that address.
        ("2002:7f00:1::", False),
        ("2002:5db8:d822::", True),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::5db8:d822", True),
        ("::127.0.0.1", False),
    ],
)
def test_the_default_policy(address: str, allowed: bool) -> None:
    assert AddressPolicy().permits(ip_address(address)) is allowed


def test_a_workspace_network_widens_the_policy() -> None:
    policy = AddressPolicy(allow=["127.0.0.0/8"])
    assert policy.permits(ip_address("127.0.0.1"))
    assert policy.permits(ip_address("::ffff:127.0.0.1"))
    assert not policy.permits(ip_address("::1"))
    assert not policy.permits(ip_address("169.254.169.254"))
