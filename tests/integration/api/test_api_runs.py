"""Runs over real HTTP: start, read, list and filter, cancel, retry, idempotency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_and_deploy,
    create_workflow,
    delay_spec,
    error_paths,
    failing_spec,
    start_run,
    transform_spec,
    wait_run,
    wait_step,
    walk_pages,
)

RUN_KEYS = {
    "id",
    "workflow_id",
    "workflow_name",
    "version",
    "state",
    "inputs",
    "outputs",
    "error",
    "trigger",
    "idempotency_key",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
}
STEP_KEYS = {
    "id",
    "node_id",
    "node_type",
    "parent_id",
    "map_index",
    "state",
    "params",
    "output",
    "error",
    "attempt_count",
    "attempts",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_ms",
}
ATTEMPT_KEYS = {"number", "state", "agent_id", "started_at", "finished_at", "duration_ms", "error"}


async def test_run_shapes_with_steps_and_attempts(http: httpx.AsyncClient) -> None:
    workflow = await create_and_deploy(http, transform_spec("shape"))
    started = await http.post(f"{API}/workflows/shape/runs", json={"inputs": {"who": "ada"}})
    assert started.status_code == 201
    accepted = started.json()
    assert set(accepted) == RUN_KEYS
    assert accepted["workflow_id"] == workflow["id"]
    assert accepted["workflow_name"] == "shape"
    assert accepted["version"] == 1
    assert accepted["inputs"] == {"who": "ada"}
    assert accepted["trigger"] == "api"

    run = await wait_run(http, accepted["id"])
    assert run["state"] == "succeeded", run
    assert set(run) == RUN_KEYS | {"steps"}
    alone = (await http.get(f"{API}/runs/{accepted['id']}", params={"steps": "false"})).json()
    assert set(alone) == RUN_KEYS
    assert alone["state"] == "succeeded"
    assert run["outputs"] == {"greeting": "hi ada"}
    assert run["duration_ms"] >= 0
    (step,) = run["steps"]
    assert set(step) == STEP_KEYS
    assert step["node_id"] == "greet"
    assert step["node_type"] == "specialized.transform"
    assert step["state"] == "succeeded"
    assert step["output"] == "hi ada"
    assert step["attempt_count"] == 1
    (attempt,) = step["attempts"]
    assert set(attempt) == ATTEMPT_KEYS
    assert attempt["number"] == 1
    assert attempt["state"] == "succeeded"
    assert attempt["agent_id"]


async def test_run_a_pinned_version(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("pin"))
    changed = transform_spec("pin", value="v2 {{ inputs.who }}")
    assert (await http.put(f"{API}/workflows/pin", json={"spec": changed})).status_code == 200
    assert (await http.post(f"{API}/workflows/pin/deploy")).status_code == 201
    old = await http.post(f"{API}/workflows/pin/runs", json={"inputs": {"who": "x"}, "version": 1})
    assert old.status_code == 201
    new = await start_run(http, "pin", {"who": "x"})
    assert new["version"] == 2
    assert (await wait_run(http, old.json()["id"]))["outputs"] == {"greeting": "hi x"}
    assert (await wait_run(http, new["id"]))["outputs"] == {"greeting": "v2 x"}
    missing = await http.post(f"{API}/workflows/pin/runs", json={"inputs": {}, "version": 9})
    assert_problem(missing, 404)


async def test_idempotency_key_answers_the_same_run(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("idem"))
    headers = {"Idempotency-Key": "order-42"}
    first = await http.post(
        f"{API}/workflows/idem/runs", json={"inputs": {"who": "a"}}, headers=headers
    )
    second = await http.post(
        f"{API}/workflows/idem/runs", json={"inputs": {"who": "a"}}, headers=headers
    )
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert first.json()["idempotency_key"] == "order-42"
    other = await http.post(
        f"{API}/workflows/idem/runs",
        json={"inputs": {"who": "a"}},
        headers={"Idempotency-Key": "order-43"},
    )
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    listing = (await http.get(f"{API}/runs")).json()
    assert len(listing["items"]) == 2
    too_long = await http.post(
        f"{API}/workflows/idem/runs",
        json={"inputs": {"who": "a"}},
        headers={"Idempotency-Key": "k" * 201},
    )
    assert_problem(too_long, 422)


async def test_concurrent_idempotent_starts_make_one_run(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("race"))
    answers = await asyncio.gather(
        *(
            http.post(
                f"{API}/workflows/race/runs",
                json={"inputs": {"who": "r"}},
                headers={"Idempotency-Key": "same"},
            )
            for _ in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_inputs_not_matching_the_schema_are_422(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("typed"))
    for inputs, path in (
        ({}, "inputs.who"),
        ({"who": 5}, "inputs.who"),
        ({"who": "x", "extra": 1}, "inputs"),
    ):
        response = await http.post(f"{API}/workflows/typed/runs", json={"inputs": inputs})
        body = assert_problem(response, 422)
        assert any(p.startswith(path) for p in error_paths(body)), (inputs, body)
    for body in ({"inputs": []}, {"inputs": "x"}, {"inputs": {}, "version": 0}, {"input": {}}):
        assert_problem(await http.post(f"{API}/workflows/typed/runs", json=body), 422)
    assert (await http.get(f"{API}/runs")).json()["items"] == []


async def test_run_of_an_undeployed_workflow_is_404_not_deployed(http: httpx.AsyncClient) -> None:
    await create_workflow(http, transform_spec("draft"))
    response = await http.post(f"{API}/workflows/draft/runs", json={"inputs": {"who": "x"}})
    assert_problem(response, 404, "not_deployed")
    assert_problem(await http.get(f"{API}/workflows/draft/versions/1"), 404)
    versions = (await http.get(f"{API}/workflows/draft/versions")).json()
    assert versions == {"items": [], "next_cursor": None}
    assert (await http.get(f"{API}/runs")).json()["items"] == []


async def test_unknown_run_is_404(http: httpx.AsyncClient) -> None:
    for method, suffix in (
        ("GET", ""),
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("GET", "/events"),
    ):
        response = await http.request(method, f"{API}/runs/0123456789abcdef{suffix}")
        assert_problem(response, 404)


async def test_cancel_an_active_run_then_409(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("slow", 60))
    run = await start_run(http, "slow")
    await wait_step(http, run["id"], "wait", "waiting")
    cancelled = await http.post(f"{API}/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert set(cancelled.json()) == RUN_KEYS
    assert_problem(await http.post(f"{API}/runs/{run['id']}/cancel"), 409)
    after = (await http.get(f"{API}/runs/{run['id']}")).json()
    assert after["state"] == "cancelled"
    assert {step["state"] for step in after["steps"]} <= {"cancelled", "pending"}


async def test_waiting_run_has_started(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("waits", 60))
    run = await start_run(http, "waits")
    waiting = await wait_run(http, run["id"], {"waiting"})
    assert waiting["steps"][0]["started_at"] or waiting["steps"][1]["started_at"]
    assert waiting["started_at"] is not None


async def test_cancel_of_a_finished_run_is_409_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    await create_and_deploy(http, transform_spec("done"))
    run = await wait_run(http, (await start_run(http, "done", {"who": "z"}))["id"])
    assert run["state"] == "succeeded"
    body = assert_problem(await http.post(f"{API}/runs/{run['id']}/cancel"), 409)
    assert "succeeded" in body["detail"]
    assert (await http.get(f"{API}/runs/{run['id']}")).json() == run


async def test_retry_of_a_succeeded_run_is_409(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("ok"))
    run = await wait_run(http, (await start_run(http, "ok", {"who": "z"}))["id"])
    assert_problem(await http.post(f"{API}/runs/{run['id']}/retry"), 409)
    assert (await http.get(f"{API}/runs/{run['id']}")).json() == run


async def test_retry_a_failed_run(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, failing_spec("flaky"))
    run = await wait_run(http, (await start_run(http, "flaky"))["id"])
    assert run["state"] == "failed", run
    assert run["error"]
    assert run["steps"][0]["error"]["code"]
    retried = await http.post(f"{API}/runs/{run['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == run["id"]
    assert retried.json()["state"] in ("running", "queued")
    again = await wait_run(http, run["id"])
    assert again["state"] == "failed"
    assert again["steps"][0]["attempt_count"] == 2


async def test_retry_a_cancelled_run(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("resume", 0.5))
    run = await start_run(http, "resume")
    assert (await http.post(f"{API}/runs/{run['id']}/cancel")).status_code == 200
    assert (await http.post(f"{API}/runs/{run['id']}/retry")).status_code == 200
    assert (await wait_run(http, run["id"]))["state"] == "succeeded"


async def test_list_runs_filters(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("one"))
    await create_and_deploy(http, failing_spec("two"))
    ones = [await start_run(http, "one", {"who": str(i)}) for i in range(3)]
    two = await start_run(http, "two")
    for run in [*ones, two]:
        await wait_run(http, run["id"])

    by_name = (await http.get(f"{API}/runs", params={"workflow": "one"})).json()
    assert [r["id"] for r in by_name["items"]] == [r["id"] for r in reversed(ones)]
    assert all("steps" not in r for r in by_name["items"])
    by_id = (await http.get(f"{API}/runs", params={"workflow": two["workflow_id"]})).json()
    assert [r["id"] for r in by_id["items"]] == [two["id"]]
    failed = (await http.get(f"{API}/runs", params={"state": "failed"})).json()
    assert [r["id"] for r in failed["items"]] == [two["id"]]
    succeeded = (await http.get(f"{API}/runs", params={"state": "succeeded"})).json()
    assert len(succeeded["items"]) == 3

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    after_future = await http.get(f"{API}/runs", params={"created_after": future})
    assert after_future.json()["items"] == []
    before_past = await http.get(f"{API}/runs", params={"created_before": past})
    assert before_past.json()["items"] == []
    window = await http.get(f"{API}/runs", params={"created_after": past, "created_before": future})
    assert len(window.json()["items"]) == 4
    middle = ones[1]["created_at"]
    newer = (await http.get(f"{API}/runs", params={"created_after": middle})).json()["items"]
    assert ones[0]["id"] not in [r["id"] for r in newer]
    assert two["id"] in [r["id"] for r in newer]

    assert_problem(await http.get(f"{API}/runs", params={"workflow": "ghost"}), 404)
    assert_problem(await http.get(f"{API}/runs", params={"state": "sleeping"}), 422)
    assert_problem(await http.get(f"{API}/runs", params={"created_after": "yesterday"}), 422)


async def test_run_pagination_walks_every_page_once(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("paged"))
    started = await asyncio.gather(*(start_run(http, "paged", {"who": str(i)}) for i in range(17)))
    ids = {run["id"] for run in started}
    for limit in (1, 4, 17, 200):
        items = await walk_pages(http, f"{API}/runs", limit)
        assert len(items) == 17
        assert {item["id"] for item in items} == ids
        stamps = [(item["created_at"], item["id"]) for item in items]
        assert stamps == sorted(stamps, reverse=True), limit
    filtered = await walk_pages(http, f"{API}/runs", 5, {"workflow": "paged"})
    assert {item["id"] for item in filtered} == ids
