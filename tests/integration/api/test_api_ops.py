"""Probes, metrics, OpenAPI, docs, the node-type catalog, and the request timeout."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.api.helpers import (
    API,
    assert_problem,
    collect_sse,
    create_and_deploy,
    delay_spec,
    start_run,
    transform_spec,
    wait_run,
)
from tests.support.server import LiveApp

from quantum_orchestrator.observability.logging import configure_logging

ServerFactory = Callable[..., AbstractAsyncContextManager[LiveApp]]

CONTRACT_PATHS = {
    "/api/v1/workflows": {"get", "post"},
    "/api/v1/workflows/validate": {"post"},
    "/api/v1/workflows/{ref}": {"get", "put"},
    "/api/v1/workflows/{ref}/deploy": {"post"},
    "/api/v1/workflows/{ref}/versions": {"get"},
    "/api/v1/workflows/{ref}/versions/{number}": {"get"},
    "/api/v1/workflows/{ref}/runs": {"post"},
    "/api/v1/runs": {"get"},
    "/api/v1/runs/{run_id}": {"get"},
    "/api/v1/runs/{run_id}/cancel": {"post"},
    "/api/v1/runs/{run_id}/retry": {"post"},
    "/api/v1/runs/{run_id}/events": {"get"},
    "/api/v1/agents": {"get"},
    "/api/v1/agents/{agent_id}/drain": {"post"},
    "/api/v1/agent/register": {"post"},
    "/api/v1/agent/{agent_id}/heartbeat": {"post"},
    "/api/v1/agent/{agent_id}/claim": {"post"},
    "/api/v1/agent/{agent_id}/results": {"post"},
    "/api/v1/agent/{agent_id}/deregister": {"post"},
    "/api/v1/node-types": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    matches = [v for found, v in samples.get(name, []) if labels.items() <= found.items()]
    assert matches, (name, labels, samples.get(name))
    return sum(matches)


async def test_probes(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["database"] == "sqlite"
    assert body["schema"]


async def test_metrics_after_a_run(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("measured"))
    run = await wait_run(http, (await start_run(http, "measured", {"who": "m"}))["id"])
    assert run["state"] == "succeeded"
    await http.get(f"{API}/runs/{run['id']}")
    # Paths no route matches: the dashboard's (its page, or a 404 when it is not built) and
    # unknown API paths, which are 404 problems whatever the method.
    unmatched = [await http.get(f"/no-such-page-{i}") for i in range(3)]
    unknown_api = [await http.get(f"{API}/no-such-endpoint-{i}") for i in range(2)] + [
        await http.post(f"{API}/no-such-endpoint", json={}),
        await http.get(f"{API}/runs/{run['id']}/no-such-part"),
        await http.head(f"{API}/no-such-endpoint"),
    ]
    assert {r.status_code for r in unknown_api} == {404}
    unmatched += unknown_api
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    started = _value(
        samples,
        "qo_http_request_duration_seconds_count",
        method="POST",
        route="/api/v1/workflows/{ref}/runs",
        status="201",
    )
    assert started == 1
    assert (
        _value(samples, "qo_http_request_duration_seconds_count", route="/api/v1/runs/{run_id}")
        >= 2
    )
    assert (
        _value(samples, "qo_http_request_duration_seconds_sum", route="/api/v1/runs/{run_id}") > 0
    )
    routes = {labels["route"] for labels, _ in samples["qo_http_request_duration_seconds_count"]}
    # Unknown paths are counted under one label; they never become label values themselves.
    assert "unmatched" in routes
    assert not [route for route in routes if "no-such" in route], routes
    # ... with the status each one was answered, and the method it was asked with.
    assert (
        _value(
            samples,
            "qo_http_request_duration_seconds_count",
            route="unmatched",
            method="GET",
            status="404",
        )
        >= 3
    )
    assert (
        _value(
            samples,
            "qo_http_request_duration_seconds_count",
            method="POST",
            route="unmatched",
            status="404",
        )
        == 1
    )
    assert (
        _value(
            samples,
            "qo_http_request_duration_seconds_count",
            method="HEAD",
            route="unmatched",
            status="404",
        )
        == 1
    )
    sent = Counter((r.request.method, str(r.status_code)) for r in unmatched)
    recorded = Counter(
        {
            (labels["method"], labels["status"]): int(count)
            for labels, count in samples["qo_http_request_duration_seconds_count"]
            if labels["route"] == "unmatched"
        }
    )
    assert recorded == sent
    assert _value(samples, "qo_runs", state="succeeded") == 1
    assert _value(samples, "qo_steps", state="succeeded") == 1
    assert (
        _value(
            samples,
            "qo_step_duration_seconds_count",
            node_type="specialized.transform",
            state="succeeded",
        )
        == 1
    )
    assert (
        _value(
            samples, "qo_step_duration_seconds_bucket", node_type="specialized.transform", le="+Inf"
        )
        == 1
    )
    assert _value(samples, "qo_queue_depth") == 0
    assert _value(samples, "qo_agents", state="online") >= 1


async def test_metrics_gauges_follow_the_database(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("gauge", 60))
    runs = [await start_run(http, "gauge") for _ in range(3)]
    for run in runs:
        await wait_run(http, run["id"], {"waiting"})
    samples = _samples((await http.get("/metrics")).text)
    assert _value(samples, "qo_runs", state="waiting") == 3
    assert _value(samples, "qo_steps", state="waiting") == 3
    await http.post(f"{API}/runs/{runs[0]['id']}/cancel")
    samples = _samples((await http.get("/metrics")).text)
    assert _value(samples, "qo_runs", state="waiting") == 2
    assert _value(samples, "qo_runs", state="cancelled") == 1


async def test_openapi_lists_the_contract(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Quantum Orchestrator"
    paths: dict[str, dict[str, Any]] = document["paths"]
    for path, methods in CONTRACT_PATHS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    events = paths["/api/v1/runs/{run_id}/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "/api/v1/openapi.json" in docs.text


async def test_node_types_catalog(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/node-types")
    assert response.status_code == 200
    body = response.json()
    assert body["categories"] == ["core", "specialized", "ml", "generative"]
    by_type = {item["type"]: item for item in body["items"]}
    for name in (
        "core.noop",
        "core.delay",
        "core.branch",
        "core.map",
        "core.merge",
        "specialized.transform",
        "specialized.http_request",
    ):
        assert name in by_type, name
    http_request = by_type["specialized.http_request"]
    assert http_request["category"] == "specialized"
    assert http_request["description"]
    assert http_request["params_schema"]["required"] == ["url"]
    assert http_request["params_schema"]["properties"]["url"]["type"] == "string"
    categories = [item["category"] for item in body["items"]]
    order = {c: i for i, c in enumerate(body["categories"])}
    assert [order[c] for c in categories] == sorted(order[c] for c in categories)

    registered = await http.post(
        f"{API}/agent/register",
        json={
            "name": "ml-agent",
            "pool": "gpu",
            "capabilities": [
                {
                    "name": "ml.classify",
                    "category": "ml",
                    "description": "labels text",
                    "params_schema": {"type": "object", "required": ["text"]},
                }
            ],
            "concurrency": 1,
            "version": "1",
            "host": "h",
            "pid": 1,
        },
    )
    assert registered.status_code == 201
    after = {item["type"]: item for item in (await http.get(f"{API}/node-types")).json()["items"]}
    assert after["ml.classify"]["category"] == "ml"
    assert after["ml.classify"]["params_schema"]["required"] == ["text"]


async def test_slow_requests_are_stopped_with_504(custom_server: ServerFactory) -> None:
    async with (
        custom_server(api={"request_timeout": 0.2}) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        # A write waits for the database's write lock; hold it longer than the timeout.
        async with app.engine.uow.write():
            response = await http.post(f"{API}/workflows", json={"spec": transform_spec("late")})
            body = assert_problem(response, 504, "timeout")
            assert "0.2 s" in body["detail"]
        # The stopped request changed nothing, and the server goes on serving.
        assert (await http.get(f"{API}/workflows")).json()["items"] == []
        created = await http.post(f"{API}/workflows", json={"spec": transform_spec("late")})
        assert created.status_code == 201
        samples = _samples(app.app.state.metrics.render().decode())
        assert (
            _value(
                samples,
                "qo_http_request_duration_seconds_count",
                route="/api/v1/workflows",
                status="504",
            )
            == 1
        )


async def test_claims_and_event_streams_are_not_timed_out(custom_server: ServerFactory) -> None:
    async with (
        custom_server(api={"request_timeout": 0.2}) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        registered = await http.post(
            f"{API}/agent/register",
            json={
                "name": "slowpoke",
                "pool": "p",
                "capabilities": [{"name": "custom.none", "category": "custom"}],
                "concurrency": 1,
                "version": "1",
                "host": "h",
                "pid": 1,
            },
        )
        agent_id = registered.json()["agent_id"]
        claim = await http.post(f"{API}/agent/{agent_id}/claim", json={"max": 1, "wait": 0.6})
        assert claim.status_code == 200
        assert claim.json() == {"tasks": []}

        await create_and_deploy(http, delay_spec("long", 0.6))
        run = await start_run(http, "long")
        frames = await asyncio.wait_for(collect_sse(http, f"{API}/runs/{run['id']}/events"), 10)
        assert frames[-1].event == "run.succeeded"


async def test_smaller_limits_from_settings(custom_server: ServerFactory) -> None:
    settings = {"max_body_bytes": 2048, "max_page_size": 3}
    async with (
        custom_server(api=settings) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        spec = transform_spec("small")
        spec["description"] = "d" * 3000
        assert_problem(await http.post(f"{API}/workflows", json={"spec": spec}), 413)
        assert_problem(await http.get(f"{API}/workflows", params={"limit": 4}), 422)
        assert (await http.get(f"{API}/workflows", params={"limit": 3})).status_code == 200


def test_json_log_lines_drop_uvicorns_color_message(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    # Servers started by earlier tests may have configured uvicorn's loggers (levels,
    # handlers, propagation); this test needs them as logging creates them.
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error")]
    saved_uvicorn = [
        (lg.level, lg.propagate, lg.handlers[:], lg.disabled) for lg in uvicorn_loggers
    ]
    for lg in uvicorn_loggers:
        lg.setLevel(logging.NOTSET)
        lg.propagate = True
        lg.handlers[:] = []
        lg.disabled = False
    try:
        configure_logging(level="info", fmt="json")
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]",
            42,
            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
        )
        structlog.get_logger("quantum_orchestrator.test").info("hello", color_message="x", n=1)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    finally:
        root.handlers[:], level, config = saved
        root.setLevel(level)
        structlog.configure(**config)
        for lg, (lg_level, propagate, handlers, disabled) in zip(
            uvicorn_loggers, saved_uvicorn, strict=True
        ):
            lg.setLevel(lg_level)
            lg.propagate = propagate
            lg.handlers[:] = handlers
            lg.disabled = disabled
    assert lines[0]["event"] == "Started server process [42]"
    assert lines[0]["logger"] == "uvicorn.error"
    assert lines[0]["level"] == "info"
    assert all("color_message" not in line for line in lines), lines
    assert lines[1]["event"] == "hello"
    assert lines[1]["n"] == 1


async def test_cors_allows_only_the_configured_origins(custom_server: ServerFactory) -> None:
    async with (
        custom_server(api={"cors_origins": ["https://ui.example"]}) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        allowed = await http.options(
            f"{API}/workflows",
            headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
        other = await http.options(
            f"{API}/workflows",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
        listed = await http.get(f"{API}/workflows", headers={"Origin": "https://ui.example"})
        assert listed.headers["access-control-allow-origin"] == "https://ui.example"


async def test_rate_limit_per_caller(custom_server: ServerFactory) -> None:
    # A burst of 100 refilled at 1/s, so the count hardly depends on how fast this (possibly
    # loaded) machine answers: only the tokens that came back while it asked are added.
    async with (
        custom_server(api={"rate_limit": 1, "rate_limit_burst": 100}) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        first = await http.get(f"{API}/workflows")
        assert first.headers["ratelimit-limit"] == "100"
        assert int(first.headers["ratelimit-remaining"]) == 99
        started = time.monotonic()
        answers = [await http.get(f"{API}/workflows") for _ in range(120)]
        elapsed = time.monotonic() - started
        ok = sum(a.status_code == 200 for a in answers)
        # The first 99 are within the burst; the rest only as fast as tokens come back.
        assert 99 <= ok <= 99 + int(elapsed) + 1, (ok, elapsed)
        limited = [a for a in answers if a.status_code == 429]
        body = assert_problem(limited[0], 429, "rate_limited")
        assert "at most 1 per second" in body["detail"]
        assert int(limited[0].headers["retry-after"]) >= 1
        assert limited[0].headers["ratelimit-remaining"] == "0"
        # Probes are not limited, and the bucket refills.
        assert (await http.get("/healthz")).status_code == 200
        await asyncio.sleep(1.1)
        assert (await http.get(f"{API}/workflows")).status_code == 200


def test_token_bucket_refills_at_its_rate() -> None:
    from quantum_orchestrator.api.ratelimit import RateLimiter
    from quantum_orchestrator.domain.errors import RateLimitedError

    limiter = RateLimiter(rate=10, burst=2)
    assert limiter.take("a", now=0.0).remaining == 1
    assert limiter.take("a", now=0.0).remaining == 0
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("a", now=0.0)
    assert refused.value.retry_after == pytest.approx(0.1)
    assert limiter.take("b", now=0.0).remaining == 1  # callers do not share a bucket
    assert limiter.take("a", now=0.1).remaining == 0  # one token back after 1/rate seconds
