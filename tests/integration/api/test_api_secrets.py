"""``/api/v1/secrets`` and secrets used by a real ``specialized.http_request`` step."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import make_settings
from tests.integration.api.helpers import (
    assert_problem,
    create_and_deploy,
    start_run,
    wait_run,
    walk_pages,
)
from tests.support.server import LiveApp, live_app

from quantum_orchestrator.store.tables import events, secrets, steps

API = "/api/v1"
VALUE = "tok-Very-Secret-42"


@pytest.fixture
async def any_db_http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a server on SQLite, then on PostgreSQL."""
    async with (
        live_app(make_settings(tmp_path, database_url)) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as client,
    ):
        yield client


async def test_the_listing_is_paged_by_name(any_db_http: httpx.AsyncClient) -> None:
    http = any_db_http
    names = ["ZETA", "ALPHA", "MID", "BETA", "OMEGA"]
    for name in names:
        created = await http.post(f"{API}/secrets", json={"name": name, "value": VALUE})
        assert created.status_code == 201, created.text
    first = (await http.get(f"{API}/secrets", params={"limit": 2})).json()
    assert [item["name"] for item in first["items"]] == ["ALPHA", "BETA"]
    assert first["next_cursor"]
    second = (
        await http.get(f"{API}/secrets", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [item["name"] for item in second["items"]] == ["MID", "OMEGA"]
    paged = await walk_pages(http, f"{API}/secrets", 2)
    assert [item["name"] for item in paged] == sorted(names)
    assert all(set(item) == {"name", "created_at", "updated_at", "last_used_at"} for item in paged)
    # A secret deleted between pages neither shifts nor repeats the rest.
    assert (await http.delete(f"{API}/secrets/MID")).status_code == 204
    after = (
        await http.get(f"{API}/secrets", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [item["name"] for item in after["items"]] == ["OMEGA", "ZETA"]
    assert after["next_cursor"] is None
    whole = (await http.get(f"{API}/secrets")).json()
    assert whole == {"items": whole["items"], "next_cursor": None}
    assert VALUE not in json.dumps(whole)
    for bad in ("garbage", "WyJhIiwgImIiXQ"):
        assert_problem(await http.get(f"{API}/secrets", params={"cursor": bad}), 422)
    assert (await http.get(f"{API}/secrets", params={"limit": 10_001})).status_code == 422


async def test_crud_and_errors(http: httpx.AsyncClient) -> None:
    created = await http.post(f"{API}/secrets", json={"name": "TOKEN", "value": VALUE})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"name", "created_at", "updated_at", "last_used_at"}
    assert body["name"] == "TOKEN"
    assert body["last_used_at"] is None

    duplicate = await http.post(f"{API}/secrets", json={"name": "TOKEN", "value": "x"})
    assert duplicate.status_code == 409
    for bad in (
        {"name": "lower", "value": "x"},
        {"name": "1ABC", "value": "x"},
        {"name": "A" * 101, "value": "x"},
        {"name": "OK", "value": ""},
        {"name": "OK", "value": "x" * 65_537},
        {"name": "OK", "value": "x", "extra": 1},
        {"name": "OK"},
    ):
        answer = await http.post(f"{API}/secrets", json=bad)
        assert answer.status_code == 422, (bad, answer.text)

    listing = await http.get(f"{API}/secrets")
    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["items"]] == ["TOKEN"]

    updated = await http.put(f"{API}/secrets/TOKEN", json={"value": "other"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "TOKEN"
    assert (
        await http.put(f"{API}/secrets/TOKEN", json={"value": "x", "name": "B"})
    ).status_code == 422
    missing = await http.put(f"{API}/secrets/NOPE", json={"value": "x"})
    assert_problem(missing, 404)
    assert (await http.put(f"{API}/secrets/bad-name", json={"value": "x"})).status_code == 422

    assert (await http.delete(f"{API}/secrets/TOKEN")).status_code == 204
    assert_problem(await http.delete(f"{API}/secrets/TOKEN"), 404)
    assert (await http.get(f"{API}/secrets")).json() == {"items": [], "next_cursor": None}
    for answer in (created, duplicate, listing, updated, missing):
        assert VALUE not in answer.text
        assert "other" not in answer.text


class _Echo(BaseHTTPRequestHandler):
    """Answers the Authorization header it received, as JSON."""

    seen: list[str] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append(auth)
        data = json.dumps({"authorization": auth, "note": f"you sent {auth}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/echo"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def allowed(
    custom_server: Callable[..., AbstractAsyncContextManager[LiveApp]],
) -> AsyncIterator[tuple[LiveApp, httpx.AsyncClient]]:
    async with (
        custom_server(agents={"http_allow": ["127.0.0.0/8"]}) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=15) as client,
    ):
        yield app, client


def _spec(name: str, url: str, secret: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {
                "id": "call",
                "type": "specialized.http_request",
                "params": {
                    "url": url,
                    "headers": {"Authorization": "Bearer {{ secrets." + secret + " }}"},
                },
                "retry": {"max_attempts": 1},
            }
        ],
        "connections": [],
    }


async def test_a_run_gets_the_value_and_stores_only_placeholders(
    allowed: tuple[LiveApp, httpx.AsyncClient], echo_url: str
) -> None:
    app, http = allowed
    assert (
        await http.post(f"{API}/secrets", json={"name": "TOKEN", "value": VALUE})
    ).status_code == 201
    await create_and_deploy(http, _spec("secret-call", echo_url, "TOKEN"))
    run = await start_run(http, "secret-call")
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    # The real server received the real value.
    assert _Echo.seen == [f"Bearer {VALUE}"]

    answer = await http.get(f"{API}/runs/{run['id']}")
    assert VALUE not in answer.text
    (step,) = answer.json()["steps"]
    assert step["params"]["headers"] == {"Authorization": "Bearer {{ secrets.TOKEN }}"}
    assert step["output"]["body"] == {"authorization": "Bearer ***", "note": "you sent Bearer ***"}

    async with app.engine.db.read() as conn:
        params, output = (
            await conn.execute(
                select(steps.c.params, steps.c.output).where(steps.c.run_id == run["id"])
            )
        ).one()
        data = (
            await conn.execute(select(events.c.data).where(events.c.run_id == run["id"]))
        ).scalars()
        event_text = json.dumps(list(data))
        ciphertext = (await conn.execute(select(secrets.c.ciphertext))).scalar_one()
    assert VALUE not in json.dumps(params)
    assert VALUE not in json.dumps(output)
    assert VALUE not in event_text
    assert VALUE.encode() not in bytes(ciphertext)

    events_answer = await http.get(f"{API}/runs/{run['id']}/events")
    assert VALUE not in events_answer.text
    listing = (await http.get(f"{API}/secrets")).json()["items"]
    assert listing[0]["last_used_at"] is not None


async def test_an_undefined_secret_fails_with_template_error(
    allowed: tuple[LiveApp, httpx.AsyncClient], echo_url: str
) -> None:
    _, http = allowed
    await create_and_deploy(http, _spec("secret-undefined", echo_url, "MISSING"))
    run = await start_run(http, "secret-undefined")
    done = await wait_run(http, run["id"])
    assert done["state"] == "failed"
    (step,) = done["steps"]
    assert step["error"]["code"] == "template_error"
    assert "MISSING" in step["error"]["message"]
    assert _Echo.seen == []
