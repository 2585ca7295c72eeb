"""Workflows over real HTTP: drafts, validation, deployment, versions, and what is refused."""

from __future__ import annotations

import httpx
from tests.integration.api.helpers import (
    API,
    assert_problem,
    create_workflow,
    deploy,
    error_paths,
    transform_spec,
    walk_pages,
)

WORKFLOW_KEYS = {"id", "name", "description", "spec", "latest_version", "created_at", "updated_at"}
VERSION_KEYS = {"id", "workflow_id", "workflow_name", "number", "spec", "created_at"}


async def test_create_read_update_by_id_and_name(http: httpx.AsyncClient) -> None:
    created = await create_workflow(http, transform_spec("alpha"))
    assert set(created) == WORKFLOW_KEYS
    assert created["name"] == "alpha"
    assert created["description"] == "the alpha workflow"
    assert created["latest_version"] is None
    assert created["spec"]["nodes"][0]["id"] == "greet"

    by_name = (await http.get(f"{API}/workflows/alpha")).json()
    by_id = (await http.get(f"{API}/workflows/{created['id']}")).json()
    assert by_name == by_id == created

    changed = transform_spec("alpha", value="hello {{ inputs.who }}")
    updated = await http.put(f"{API}/workflows/{created['id']}", json={"spec": changed})
    assert updated.status_code == 200, updated.text
    assert updated.json()["spec"]["nodes"][0]["params"]["value"] == "hello {{ inputs.who }}"
    assert updated.json()["id"] == created["id"]
    again = (await http.get(f"{API}/workflows/alpha")).json()
    assert again["spec"]["nodes"][0]["params"]["value"] == "hello {{ inputs.who }}"


async def test_upstream_format_loads_unchanged(http: httpx.AsyncClient) -> None:
    spec = {
        "name": "upstream",
        "nodes": [
            {"id": "a", "name": "A", "type": "core.noop", "position": [10, 20]},
            {"id": "b", "name": "B", "type": "core.noop", "position": [30, 40]},
        ],
        "connections": [{"from": "a", "to": "b"}],
    }
    created = await create_workflow(http, spec)
    assert created["spec"]["connections"] == [{"from": "a", "to": "b"}]


async def test_list_workflows_shape_and_search(http: httpx.AsyncClient) -> None:
    for name in ("search-me", "other"):
        await create_workflow(http, transform_spec(name))
    listing = (await http.get(f"{API}/workflows")).json()
    assert set(listing) == {"items", "next_cursor"}
    assert listing["next_cursor"] is None
    assert [item["name"] for item in listing["items"]] == ["other", "search-me"]
    summary = listing["items"][0]
    assert set(summary) == (WORKFLOW_KEYS - {"spec"}) | {"nodes"}
    assert summary["nodes"] == 1
    found = (await http.get(f"{API}/workflows", params={"search": "search"})).json()
    assert [item["name"] for item in found["items"]] == ["search-me"]


async def test_validate_answers_valid_and_errors_without_saving(http: httpx.AsyncClient) -> None:
    good = await http.post(f"{API}/workflows/validate", json={"spec": transform_spec("v")})
    assert good.status_code == 200
    assert good.json() == {"valid": True, "errors": []}
    bad_spec = {
        "name": "v",
        "nodes": [{"id": "call", "type": "specialized.http_request", "params": {"url": 5}}],
    }
    bad = await http.post(f"{API}/workflows/validate", json={"spec": bad_spec})
    assert bad.status_code == 200
    assert bad.json()["valid"] is False
    assert "nodes[0].params.url" in [e["path"] for e in bad.json()["errors"]]
    listing = (await http.get(f"{API}/workflows")).json()
    assert listing["items"] == []


async def test_invalid_spec_is_422_with_paths_and_nothing_saved(http: httpx.AsyncClient) -> None:
    cases = [
        (
            {"name": "x", "nodes": [{"id": "c", "type": "specialized.http_request", "params": {}}]},
            "nodes[0].params.url",
        ),
        (
            {
                "name": "x",
                "nodes": [
                    {
                        "id": "c",
                        "type": "specialized.http_request",
                        "params": {"url": ["not", "a", "string"]},
                    }
                ],
            },
            "nodes[0].params.url",
        ),
        ({"name": "x", "nodes": [{"id": "c", "type": "nope.missing"}]}, "nodes[0].type"),
        (
            {"name": "x", "nodes": [{"id": "c", "type": "core.noop", "colour": 1}]},
            "nodes[0].colour",
        ),
        (
            {
                "name": "x",
                "nodes": [{"id": "a", "type": "core.noop"}],
                "connections": [{"from": "a", "to": "ghost"}],
            },
            "connections[0].to",
        ),
        ({"nodes": []}, "name"),
        ({"name": "bad name with spaces", "nodes": [{"id": "a", "type": "core.noop"}]}, "name"),
    ]
    for spec, path in cases:
        response = await http.post(f"{API}/workflows", json={"spec": spec})
        body = assert_problem(response, 422)
        assert body["code"] == "spec_invalid", body
        assert path in error_paths(body), (spec, body)
        assert all(set(entry) == {"path", "message"} for entry in body["errors"])
    assert (await http.get(f"{API}/workflows")).json()["items"] == []


async def test_invalid_update_changes_nothing(http: httpx.AsyncClient) -> None:
    created = await create_workflow(http, transform_spec("keep"))
    broken = {"name": "keep", "nodes": [{"id": "c", "type": "specialized.http_request"}]}
    response = await http.put(f"{API}/workflows/keep", json={"spec": broken})
    body = assert_problem(response, 422, "spec_invalid")
    assert "nodes[0].params.url" in error_paths(body)
    assert (await http.get(f"{API}/workflows/keep")).json() == created


async def test_duplicate_name_is_409(http: httpx.AsyncClient) -> None:
    await create_workflow(http, transform_spec("twice"))
    response = await http.post(f"{API}/workflows", json={"spec": transform_spec("twice")})
    assert_problem(response, 409)
    listing = (await http.get(f"{API}/workflows")).json()
    assert [item["name"] for item in listing["items"]] == ["twice"]


async def test_rename_onto_an_existing_name_is_409(http: httpx.AsyncClient) -> None:
    await create_workflow(http, transform_spec("first"))
    second = await create_workflow(http, transform_spec("second"))
    response = await http.put(f"{API}/workflows/second", json={"spec": transform_spec("first")})
    assert_problem(response, 409)
    assert (await http.get(f"{API}/workflows/{second['id']}")).json()["name"] == "second"


async def test_unknown_workflow_is_404_everywhere(http: httpx.AsyncClient) -> None:
    for method, path, body in (
        ("GET", f"{API}/workflows/ghost", None),
        ("GET", f"{API}/workflows/0123456789abcdef0123456789abcdef", None),
        ("PUT", f"{API}/workflows/ghost", {"spec": transform_spec("ghost")}),
        ("POST", f"{API}/workflows/ghost/deploy", None),
        ("GET", f"{API}/workflows/ghost/versions", None),
        ("GET", f"{API}/workflows/ghost/versions/1", None),
        ("POST", f"{API}/workflows/ghost/runs", {"inputs": {}}),
    ):
        response = await http.request(method, path, json=body)
        problem = assert_problem(response, 404)
        assert problem["code"] != "not_deployed", (method, path, problem)
    assert (await http.get(f"{API}/workflows")).json()["items"] == []


async def test_deploy_versions_are_immutable_and_numbered(http: httpx.AsyncClient) -> None:
    workflow = await create_workflow(http, transform_spec("ver"))
    first = await deploy(http, "ver")
    assert set(first) == VERSION_KEYS
    assert first["number"] == 1
    assert first["workflow_id"] == workflow["id"]
    assert first["workflow_name"] == "ver"
    changed = transform_spec("ver", value="v2 {{ inputs.who }}")
    assert (await http.put(f"{API}/workflows/ver", json={"spec": changed})).status_code == 200
    second = await deploy(http, workflow["id"])
    assert second["number"] == 2

    read_first = await http.get(f"{API}/workflows/ver/versions/1")
    assert read_first.status_code == 200
    assert read_first.json()["spec"]["nodes"][0]["params"]["value"] == "hi {{ inputs.who }}"
    assert set(read_first.json()) == VERSION_KEYS
    listing = (await http.get(f"{API}/workflows/ver/versions")).json()
    assert [v["number"] for v in listing["items"]] == [2, 1]
    assert (await http.get(f"{API}/workflows/ver")).json()["latest_version"] == 2

    assert_problem(await http.get(f"{API}/workflows/ver/versions/3"), 404)
    for bad in ("0", "-1", "abc", "1.5", "99999999999999999999"):
        response = await http.get(f"{API}/workflows/ver/versions/{bad}")
        assert response.status_code in (404, 422), (bad, response.text)
        assert_problem(response, response.status_code)


async def test_workflow_pagination_walks_every_page_once(http: httpx.AsyncClient) -> None:
    names = [f"wf-{i:02d}" for i in range(23)]
    for name in names:
        await create_workflow(http, transform_spec(name))
    for limit in (1, 5, 23, 50):
        items = await walk_pages(http, f"{API}/workflows", limit)
        assert [item["name"] for item in items] == names, limit


async def test_version_pagination_walks_every_page_once(http: httpx.AsyncClient) -> None:
    await create_workflow(http, transform_spec("many"))
    for _ in range(7):
        await deploy(http, "many")
    items = await walk_pages(http, f"{API}/workflows/many/versions", 3)
    assert [v["number"] for v in items] == [7, 6, 5, 4, 3, 2, 1]
