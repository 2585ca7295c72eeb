"""A 429 with ``Retry-After``: the engine waits at least that long before the next attempt."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run

API = "/api/v1"


def busy_once_app() -> Starlette:
    """429 with ``Retry-After: 2`` on the first call, 200 afterwards."""
    calls = itertools.count()

    async def busy(request: Request) -> Response:
        if next(calls) == 0:
            return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "2"})
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/busy", busy)])


async def test_the_retry_waits_for_retry_after(
    http: httpx.AsyncClient, live_server: Callable[[Any], Any]
) -> None:
    url = live_server(busy_once_app()).url
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
    )
    assert allowed.status_code == 200, allowed.text
    spec = {
        "name": "busy",
        "nodes": [
            {
                "id": "call",
                "type": "specialized.http_request",
                "params": {"url": f"{url}/busy"},
                "retry": {"max_attempts": 2, "initial_interval": 0.05},
            }
        ],
    }
    await create_and_deploy(http, spec)
    run = await start_run(http, "busy")
    done = await wait_run(http, run["id"], timeout=30)
    assert done["state"] == "succeeded", done
    (step,) = done["steps"]
    assert step["attempt_count"] == 2
    first, second = step["attempts"]
    assert first["error"]["code"] == "http_429"
    assert first["error"]["retry_after"] == 2.0
    waited = datetime.fromisoformat(second["started_at"]) - datetime.fromisoformat(
        first["started_at"]
    )
    assert waited.total_seconds() >= 1.95, waited
