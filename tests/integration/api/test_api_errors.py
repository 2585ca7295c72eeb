"""Bad requests of every kind get a clear problem (RFC 9457) and change nothing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_and_deploy,
    create_workflow,
    error_paths,
    transform_spec,
)

MIB = 1_048_576
BODY_ROUTES = [
    ("POST", f"{API}/workflows"),
    ("POST", f"{API}/workflows/validate"),
    ("PUT", f"{API}/workflows/w"),
    ("POST", f"{API}/workflows/w/runs"),
    ("POST", f"{API}/agent/register"),
]


async def _nothing_changed(http: httpx.AsyncClient) -> None:
    """Still only the workflow ``w`` as seeded (one version), no runs, no extra agents."""
    workflows = (await http.get(f"{API}/workflows")).json()["items"]
    assert [(w["name"], w["latest_version"]) for w in workflows] == [("w", 1)]
    assert (await http.get(f"{API}/workflows/w")).json() == SEEDED["w"]
    assert (await http.get(f"{API}/runs")).json()["items"] == []
    agents = (await http.get(f"{API}/agents")).json()["items"]
    assert all(agent["builtin"] for agent in agents), agents


SEEDED: dict[str, dict[str, object]] = {}


@pytest.fixture
async def seeded(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """A server holding one deployed workflow ``w`` and no runs."""
    SEEDED["w"] = await create_and_deploy(http, transform_spec("w"))
    return http


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_malformed_json_is_400(seeded: httpx.AsyncClient, method: str, path: str) -> None:
    for raw in (b"{", b'{"spec": ', b"{'single': 1}", b"\xff\xfe", b"nul", b'{"a": 1}}'):
        response = await seeded.request(
            method, path, content=raw, headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 400, "malformed_json")
        assert "JSON" in body["detail"]
    await _nothing_changed(seeded)


async def test_non_standard_and_deeply_nested_json_is_400(seeded: httpx.AsyncClient) -> None:
    node = '{"id": "a", "type": "core.noop", "params": {"v": %s}}'
    for constant in ("NaN", "Infinity", "-Infinity"):
        raw = ('{"spec": {"name": "odd", "nodes": [' + node % constant + "]}}").encode()
        response = await seeded.post(
            f"{API}/workflows", content=raw, headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 400, "malformed_json")
        assert constant.lstrip("-") in body["errors"][0]["message"], body
    for depth in (2_000, 200_000):
        raw = b"[" * depth + b"]" * depth
        for method, path in BODY_ROUTES:
            response = await seeded.request(
                method, path, content=raw, headers={"Content-Type": "application/json"}
            )
            body = assert_problem(response, 400, "malformed_json")
            assert "nested too deeply" in body["errors"][0]["message"]
    await _nothing_changed(seeded)


async def test_wrong_types_and_unknown_fields_are_422_with_paths(seeded: httpx.AsyncClient) -> None:
    cases = [
        ("POST", f"{API}/workflows", {"spec": "text"}, ["spec"]),
        ("POST", f"{API}/workflows", {"spec": transform_spec("n"), "extra": 1}, ["extra"]),
        ("POST", f"{API}/workflows", {}, ["spec"]),
        ("POST", f"{API}/workflows", [transform_spec("n")], [""]),
        ("PUT", f"{API}/workflows/w", {"spec": None}, ["spec"]),
        ("POST", f"{API}/workflows/w/runs", {"inputs": [1]}, ["inputs"]),
        ("POST", f"{API}/workflows/w/runs", {"inputs": {}, "version": "one"}, ["version"]),
        ("POST", f"{API}/workflows/w/runs", {"inputs": {}, "colour": "red"}, ["colour"]),
        (
            "POST",
            f"{API}/agent/register",
            {
                "name": "a",
                "pool": "p",
                "capabilities": [{"name": "Bad Name", "category": "x"}],
                "concurrency": 0,
                "version": "1",
                "host": "h",
                "pid": 1,
            },
            ["capabilities[0].name", "concurrency"],
        ),
    ]
    for method, path, payload, paths in cases:
        response = await seeded.request(method, path, json=payload)
        body = assert_problem(response, 422, "invalid_request")
        assert set(paths) <= set(error_paths(body)), (payload, body)
        assert all(entry["message"] for entry in body["errors"])
    unknown = await seeded.post(f"{API}/workflows", json={"spec": transform_spec("n"), "x": 1})
    assert assert_problem(unknown, 422)["errors"] == [{"path": "x", "message": "unknown field"}]
    await _nothing_changed(seeded)


async def test_non_json_content_type_is_415(seeded: httpx.AsyncClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await seeded.post(
            f"{API}/workflows",
            content=b'{"spec": {"name": "n", "nodes": []}}',
            headers={"Content-Type": content_type},
        )
        assert_problem(response, 415, "unsupported_media_type")
    await _nothing_changed(seeded)


async def test_json_flavoured_content_types_are_accepted(http: httpx.AsyncClient) -> None:
    for i, content_type in enumerate(
        ("application/json; charset=utf-8", "application/merge-patch+json")
    ):
        spec = transform_spec(f"ct{i}")
        response = await http.post(
            f"{API}/workflows",
            content=httpx.Request("POST", "/", json={"spec": spec}).content,
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 201, (content_type, response.text)


async def test_missing_body_is_422(seeded: httpx.AsyncClient) -> None:
    for method, path in BODY_ROUTES:
        response = await seeded.request(method, path)
        body = assert_problem(response, 422, "invalid_request")
        assert body["errors"], body
    await _nothing_changed(seeded)


async def test_oversize_body_with_content_length_is_413(seeded: httpx.AsyncClient) -> None:
    big = b'{"spec": {"name": "big", "description": "' + b"x" * MIB + b'"}}'
    for method, path in BODY_ROUTES:
        response = await seeded.request(
            method, path, content=big, headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 413, "body_too_large")
        assert str(MIB) in body["detail"]
    await _nothing_changed(seeded)


async def test_oversize_chunked_body_without_length_is_413(seeded: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"spec": {"name": "big", "description": "'
        for _ in range(20):
            yield b"y" * 65_536
        yield b'"}}'

    for method, path in BODY_ROUTES:
        request = seeded.build_request(
            method, path, content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        response = await seeded.send(request)
        assert_problem(response, 413, "body_too_large")
    await _nothing_changed(seeded)


async def test_body_just_under_the_limit_is_read(http: httpx.AsyncClient) -> None:
    spec = transform_spec("near")
    spec["description"] = ""
    overhead = len(httpx.Request("POST", "/", json={"spec": spec}).content)
    spec["description"] = "d" * (MIB - overhead - 10)
    response = await http.post(f"{API}/workflows/validate", json={"spec": spec})
    assert response.status_code == 200, response.text[:500]


async def test_unknown_endpoint_and_wrong_method(http: httpx.AsyncClient) -> None:
    body = assert_problem(await http.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in body["detail"]
    for method, path in (
        ("DELETE", f"{API}/workflows"),
        ("PATCH", f"{API}/runs"),
        ("GET", f"{API}/workflows/validate"),
        ("OPTIONS", f"{API}/workflows"),
        ("POST", "/healthz"),
    ):
        response = await http.request(method, path)
        if method == "GET":
            # /workflows/validate as a GET is the workflow named "validate".
            assert_problem(response, 404, "not_found")
            continue
        problem = assert_problem(response, 405, "method_not_allowed")
        assert method in problem["detail"]
        assert response.headers.get("allow"), response.headers


async def test_head_is_answered_like_get_without_a_body(http: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", f"{API}/workflows", "/metrics"):
        get = await http.get(path)
        head = await http.head(path)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["x-request-id"]
    missing = await http.head(f"{API}/workflows/ghost")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.content == b""
    post_only = await http.head(f"{API}/workflows/validate/deploy")
    assert post_only.status_code == 405


async def test_invalid_cursor_is_422(seeded: httpx.AsyncClient) -> None:
    # Not base64, not JSON, an empty list, an object, a list of a number, too long, a NUL.
    garbage = ("zzz", "not base64!", "W10", "eyJhIjogMX0", "WzFd", "x" * 501, "\x00")
    for path in (f"{API}/runs", f"{API}/workflows", f"{API}/agents", f"{API}/workflows/w/versions"):
        for cursor in garbage:
            response = await seeded.get(path, params={"cursor": cursor})
            body = assert_problem(response, 422)
            assert "cursor" in error_paths(body) or "query.cursor" in error_paths(body), body


async def test_version_cursor_with_a_non_number_is_422(seeded: httpx.AsyncClient) -> None:
    forged = base64.urlsafe_b64encode(b'["a"]').decode().rstrip("=")
    response = await seeded.get(f"{API}/workflows/w/versions", params={"cursor": forged})
    assert_problem(response, 422)


async def test_run_cursor_with_a_naive_timestamp_is_422(seeded: httpx.AsyncClient) -> None:
    forged = base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", "x"]').decode().rstrip("=")
    assert_problem(await seeded.get(f"{API}/runs", params={"cursor": forged}), 422)


async def test_run_cursor_with_a_bad_timestamp_is_422(seeded: httpx.AsyncClient) -> None:
    for parts in (b'["a", "b"]', b'["2024-01-01T00:00:00", 5]', b'["", ""]'):
        forged = base64.urlsafe_b64encode(parts).decode().rstrip("=")
        assert_problem(await seeded.get(f"{API}/runs", params={"cursor": forged}), 422)


async def test_limit_out_of_range_is_422(seeded: httpx.AsyncClient) -> None:
    for path in (f"{API}/runs", f"{API}/workflows", f"{API}/agents", f"{API}/workflows/w/versions"):
        for limit in ("201", "10000", "10001", "0", "-1", "ten", "1e3"):
            response = await seeded.get(path, params={"limit": limit})
            body = assert_problem(response, 422)
            assert {"limit", "query.limit"} & set(error_paths(body)), (limit, body)
        assert (await seeded.get(path, params={"limit": 200})).status_code == 200


async def test_bad_query_and_header_values_are_422_problems(seeded: httpx.AsyncClient) -> None:
    for params in (
        {"state": "nope"},
        {"created_after": "not-a-date"},
        {"created_before": "2024-13-45"},
        {"created_after": "2024-01-01T00:00:00"},
        {"workflow": "w" * 101},
    ):
        body = assert_problem(await seeded.get(f"{API}/runs", params=params), 422)
        assert all(p.startswith("query.") for p in error_paths(body)), body
    body = assert_problem(await seeded.get(f"{API}/agents", params={"state": "sleepy"}), 422)
    assert error_paths(body) == ["query.state"]
    run_events = await seeded.get(f"{API}/runs/x/events", headers={"Last-Event-ID": "9" * 30})
    assert error_paths(assert_problem(run_events, 422)) == ["header.last-event-id"]
    negative = await seeded.get(f"{API}/runs/x/events", params={"after": -1})
    assert error_paths(assert_problem(negative, 422)) == ["query.after"]


async def test_request_id_is_echoed_in_header_and_problem(http: httpx.AsyncClient) -> None:
    ok = await http.get("/healthz", headers={"X-Request-ID": "my-trace.id_1"})
    assert ok.headers["x-request-id"] == "my-trace.id_1"
    problem = await http.get(f"{API}/workflows/ghost", headers={"X-Request-ID": "abc-123"})
    assert problem.headers["x-request-id"] == "abc-123"
    assert assert_problem(problem, 404)["request_id"] == "abc-123"
    too_big = await http.post(
        f"{API}/workflows",
        content=b"x" * (MIB + 1),
        headers={"X-Request-ID": "big-1", "Content-Type": "application/json"},
    )
    assert assert_problem(too_big, 413)["request_id"] == "big-1"
    # An unusable id (spaces, too long) is replaced by a fresh one.
    for offered in ("has spaces", "x" * 101, "semi;colon"):
        replaced = await http.get("/healthz", headers={"X-Request-ID": offered})
        assert replaced.headers["x-request-id"] != offered
        assert len(replaced.headers["x-request-id"]) == 32
    fresh = {(await http.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(fresh) == 5


async def test_security_headers(http: httpx.AsyncClient) -> None:
    for response in (await http.get("/healthz"), await http.get(f"{API}/workflows/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
    docs = await http.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    # CORS is off by default: no browser origin is allowed.
    preflight = await http.options(
        f"{API}/workflows",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_agent_unknown_on_the_agent_protocol(http: httpx.AsyncClient) -> None:
    for path, payload in (
        ("heartbeat", {"running": []}),
        ("claim", {"max": 1, "wait": 0}),
        ("results", {"results": []}),
        ("deregister", None),
    ):
        response = await http.post(f"{API}/agent/ghost-agent/{path}", json=payload)
        assert_problem(response, 404, "agent_unknown")
    for method, path in (("GET", "agents/ghost"), ("POST", "agents/ghost/drain")):
        assert_problem(await http.request(method, f"{API}/{path}"), 404, "not_found")


async def test_deploy_of_unknown_and_spec_paths(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post(f"{API}/workflows/never/deploy"), 404)
    await create_workflow(http, transform_spec("drafted"))
    body = assert_problem(await http.post(f"{API}/workflows/drafted/runs", json={}), 404)
    assert body["code"] == "not_deployed"
    assert (await http.get(f"{API}/workflows/drafted/versions")).json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{API}/workflows/w/runs", {"version": 2**70}),
        ("GET", f"{API}/runs/x/events?after={2**70}", None),
        ("GET", f"{API}/workflows/w/versions/{2**70}", None),
        ("PUT", f"{API}/usage/budget", {"token_limit": 2**70}),
    ],
)
async def test_integers_beyond_what_the_database_holds_are_422(
    seeded: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await seeded.request(method, path, json=body)
    assert_problem(response, 422)
    await _nothing_changed(seeded)
