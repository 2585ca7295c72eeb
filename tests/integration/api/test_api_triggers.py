"""Triggers over HTTP: CRUD, audit, schedule preview, and signed webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from tests.integration.api.helpers import (
    assert_problem,
    create_and_deploy,
    transform_spec,
    walk_pages,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.triggers import sign_webhook

API = "/api/v1"


@pytest.fixture
async def anonymous(server: LiveApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no credentials: webhook senders have only the secret."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def audit_actions(http: httpx.AsyncClient, target_id: str) -> list[tuple[str, str]]:
    answer = await http.get(f"{API}/audit", params={"target_id": target_id})
    assert answer.status_code == 200, answer.text
    return sorted((e["action"], e["outcome"]) for e in answer.json()["items"])


async def create(http: httpx.AsyncClient, ref: str, **body: Any) -> dict[str, Any]:
    answer = await http.post(f"{API}/workflows/{ref}/triggers", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def signed(secret: str, payload: Any, *, age: float = 0) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time() - age))
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-QO-Timestamp": timestamp,
            "X-QO-Signature": sign_webhook(secret, timestamp, body),
        },
    }


async def test_schedule_crud_preview_pause_resume_delete(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("nightly"))
    trigger = await create(
        http,
        "nightly",
        kind="schedule",
        name="morning",
        schedule={"cron": "0 9 * * *", "timezone": "Europe/Paris"},
        inputs={"who": "cron"},
    )
    assert trigger["state"] == "active"
    assert trigger["config"]["cron"] == "0 9 * * *"
    assert trigger["next_fire_at"] is not None
    assert "secret" not in trigger

    preview = await http.get(f"{API}/schedules/{trigger['id']}/preview")
    assert preview.status_code == 200, preview.text
    fires = [datetime.fromisoformat(f) for f in preview.json()["fire_times"]]
    assert len(fires) == 10
    assert fires == sorted(fires)
    assert all(f.astimezone().utcoffset() is not None for f in fires)

    listing = await http.get(f"{API}/workflows/nightly/triggers")
    assert [t["id"] for t in listing.json()["items"]] == [trigger["id"]]
    everything = await http.get(f"{API}/triggers", params={"kind": "schedule"})
    assert [t["id"] for t in everything.json()["items"]] == [trigger["id"]]

    paused = await http.post(f"{API}/triggers/{trigger['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    assert paused.json()["next_fire_at"] is None
    assert_problem(await http.post(f"{API}/triggers/{trigger['id']}/pause"), 409)
    resumed = await http.post(f"{API}/triggers/{trigger['id']}/resume")
    assert resumed.json()["state"] == "active"

    assert (await http.delete(f"{API}/triggers/{trigger['id']}")).status_code == 204
    assert_problem(await http.get(f"{API}/triggers/{trigger['id']}"), 404)
    assert await audit_actions(http, trigger["id"]) == [
        ("trigger.create", "success"),
        ("trigger.delete", "success"),
        ("trigger.pause", "success"),
        ("trigger.resume", "success"),
    ]


async def test_trigger_listings_are_paginated_oldest_first(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("paged"))
    await create_and_deploy(http, transform_spec("other"))
    made = [
        await create(http, "paged", kind="schedule", name=f"s{n}", schedule={"interval": 3600})
        for n in range(5)
    ]
    hook = await create(http, "other", kind="webhook", name="hook")
    every = await walk_pages(http, f"{API}/triggers", limit=2)
    assert [t["id"] for t in every] == [t["id"] for t in made] + [hook["id"]]
    schedules = await walk_pages(http, f"{API}/triggers", limit=2, params={"kind": "schedule"})
    assert [t["id"] for t in schedules] == [t["id"] for t in made]
    of_one = await walk_pages(http, f"{API}/workflows/paged/triggers", limit=3)
    assert [t["name"] for t in of_one] == ["s0", "s1", "s2", "s3", "s4"]
    webhooks = await http.get(f"{API}/workflows/other/triggers", params={"kind": "webhook"})
    assert [t["id"] for t in webhooks.json()["items"]] == [hook["id"]]
    assert all("secret" not in t for t in every)
    assert_problem(await http.get(f"{API}/triggers", params={"cursor": "garbage"}), 422)
    assert_problem(await http.get(f"{API}/triggers", params={"kind": "cron"}), 422)


async def test_invalid_triggers_are_422_and_duplicates_409(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("checked"))
    for body in (
        {"kind": "schedule", "name": "x"},
        {"kind": "schedule", "name": "x", "schedule": {"cron": "61 * * * *"}},
        {"kind": "schedule", "name": "x", "schedule": {"cron": "* * * * *", "timezone": "No/ne"}},
        {"kind": "schedule", "name": "x", "schedule": {"interval": 5, "cron": "* * * * *"}},
        {"kind": "run_completion", "name": "x"},
        {"kind": "nope", "name": "x"},
    ):
        answer = await http.post(f"{API}/workflows/checked/triggers", json=body)
        assert answer.status_code == 422, (body, answer.text)
    body = {"kind": "schedule", "name": "twice", "schedule": {"interval": 60}}
    await create(http, "checked", **body)
    assert_problem(await http.post(f"{API}/workflows/checked/triggers", json=body), 409)
    webhook = await create(http, "checked", kind="webhook", name="hook")
    assert_problem(await http.get(f"{API}/schedules/{webhook['id']}/preview"), 422)


async def test_webhook_signatures_inputs_and_wait(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await create_and_deploy(http, transform_spec("hooked"))
    trigger = await create(http, "hooked", kind="webhook", name="incoming")
    secret = trigger["secret"]
    assert secret.startswith("whsec_")
    url = trigger["hook_url"]
    assert url == f"{API}/hooks/{trigger['id']}"
    # The secret is shown once: never in a listing or a read.
    again = await http.get(f"{API}/triggers/{trigger['id']}")
    assert "secret" not in again.json()
    assert secret not in again.text

    good = await anonymous.post(url, **signed(secret, {"who": "hook"}))
    assert good.status_code == 202, good.text
    assert good.json()["created"] is True
    run = (await http.get(f"{API}/runs/{good.json()['run_id']}")).json()
    assert run["trigger"] == "webhook"
    assert run["inputs"] == {"who": "hook"}

    # The same delivery again (a retry, or a replay within the window) starts nothing new.
    request = signed(secret, {"who": "replayed"})
    first = await anonymous.post(url, **request)
    replay = await anonymous.post(url, **request)
    assert replay.json()["run_id"] == first.json()["run_id"]
    assert replay.json()["created"] is False

    stale = await anonymous.post(url, **signed(secret, {"who": "old"}, age=301))
    assert_problem(stale, 401, "bad_signature")
    forged = await anonymous.post(url, **signed("whsec_guess", {"who": "x"}))
    assert_problem(forged, 401, "bad_signature")
    tampered = signed(secret, {"who": "x"})
    tampered["content"] = b'{"who": "y"}'
    assert_problem(await anonymous.post(url, **tampered), 401, "bad_signature")
    unsigned = await anonymous.post(url, json={"who": "x"})
    assert_problem(unsigned, 401, "bad_signature")
    assert secret not in unsigned.text
    assert_problem(await anonymous.post(f"{API}/hooks/{'0' * 32}", json={}), 404)

    invalid = await anonymous.post(url, **signed(secret, {"who": 42}))
    assert_problem(invalid, 422)
    not_object = await anonymous.post(url, **signed(secret, ["who"]))
    assert_problem(not_object, 422)

    waited = await anonymous.post(url, params={"wait": 20}, **signed(secret, {"who": "wait"}))
    assert waited.status_code == 200, waited.text
    assert waited.json()["state"] == "succeeded"
    assert waited.json()["outputs"] == {"greeting": "hi wait"}

    rotated = await http.post(f"{API}/triggers/{trigger['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    assert_problem(await anonymous.post(url, **signed(secret, {"who": "a"})), 401)
    assert (await anonymous.post(url, **signed(new_secret, {"who": "a"}))).status_code == 202

    await http.post(f"{API}/triggers/{trigger['id']}/pause")
    assert_problem(await anonymous.post(url, **signed(new_secret, {"who": "b"})), 409)

    actions = await audit_actions(http, trigger["id"])
    assert actions.count(("webhook.rejected", "failure")) == 5
    assert ("trigger.rotate_secret", "success") in actions
    received = await http.get(f"{API}/audit", params={"action": "webhook.receive"})
    assert len(received.json()["items"]) == 4
