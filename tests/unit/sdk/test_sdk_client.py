"""The async client against a real (fake) server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from fake_qo_server import FakeQO, free_port

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.sdk import Client, ClientError, Workflow

SPEC: dict[str, Any] = {
    "name": "digest",
    "nodes": [
        {"id": "fetch", "type": "specialized.http_request"},
        {"id": "shape", "type": "specialized.transform"},
    ],
    "connections": [{"from": "fetch", "to": "shape"}],
}


async def deployed(qo: Client) -> None:
    await qo.deploy(SPEC)


async def test_validate_good_and_bad(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        assert await qo.validate(SPEC) == {"valid": True, "errors": []}
        bad = {**SPEC, "nodes": [{"id": "x", "type": "nope.nothing"}]}
        result = await qo.validate(bad)
    assert result["valid"] is False
    assert result["errors"] == [
        {"path": "nodes[0].type", "message": "unknown node type 'nope.nothing'"}
    ]


async def test_deploy_creates_then_updates(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        first = await qo.deploy(SPEC)
        second = await qo.deploy({**SPEC, "description": "v2"})
        workflow = await qo.get_workflow("digest")
        versions = await qo.list_versions("digest")
        v1 = await qo.get_version("digest", 1)
    assert (first["workflow_name"], first["number"]) == ("digest", 1)
    assert second["number"] == 2
    assert qo_server.calls == [("POST", "/workflows"), ("POST", "/workflows"), ("PUT", "digest")]
    assert workflow["description"] == "v2"
    assert workflow["latest_version"] == 2
    assert [v["number"] for v in versions] == [1, 2]
    assert v1["spec"] == SPEC


async def test_deploy_accepts_a_builder(qo_server: FakeQO) -> None:
    wf = Workflow("built")
    wf.node("a", "core.noop") >> wf.node("b", "core.noop")
    async with Client(qo_server.url) as qo:
        version = await qo.deploy(wf)
    assert version["spec"] == wf.to_spec()


async def test_problem_details_become_client_errors(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        with pytest.raises(ClientError) as info:
            await qo.deploy({"nodes": [{"id": "a", "type": "bad.type"}]})
        with pytest.raises(ClientError) as missing:
            await qo.get_workflow("ghost")
    err = info.value
    assert isinstance(err, QOError)
    assert (err.status, err.code, err.detail) == (422, "spec_invalid", "the spec is not valid")
    assert err.errors == [
        {"path": "name", "message": "a workflow needs a name"},
        {"path": "nodes[0].type", "message": "unknown node type 'bad.type'"},
    ]
    assert err.request_id == "req-0001"
    assert str(err) == "the spec is not valid (HTTP 422 spec_invalid)"
    assert missing.value.status == 404
    assert missing.value.code == "not_found"
    assert str(missing.value) == "workflow 'ghost' not found (HTTP 404 not_found)"


async def test_workflow_list_follows_cursors(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        for name in ("a", "b", "c"):
            await qo.deploy({**SPEC, "name": name})
        names = [w["name"] for w in await qo.list_workflows()]
    assert names == ["a", "b", "c"]


async def test_run_and_get_with_steps(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest", {"url": "https://example.com"}, version=1)
        assert run["state"] == "queued"
        assert run["inputs"] == {"url": "https://example.com"}
        full = await qo.get_run(run["id"])
    assert full["state"] == "succeeded"
    assert [s["node_id"] for s in full["steps"]] == ["fetch", "shape"]
    assert full["steps"][0]["attempts"][0]["error"]["code"] == "http_error"


async def test_idempotency_key_returns_the_same_run(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        first = await qo.run("digest", idempotency_key="k-1")
        again = await qo.run("digest", idempotency_key="k-1")
        other = await qo.run("digest")
    assert first["id"] == again["id"] != other["id"]
    assert any(h.get("idempotency-key") == "k-1" for h in qo_server.seen_headers)


async def test_wait_consumes_events_until_terminal(qo_server: FakeQO) -> None:
    seen: list[dict[str, Any]] = []
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest")
        done = await qo.wait(run["id"], timeout=10, on_event=seen.append)
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"status": 200}
    assert [e["type"] for e in seen] == [
        "run.running",
        "step.running",
        "step.retrying",
        "step.succeeded",
        "step.succeeded",
        "run.succeeded",
    ]
    assert qo_server.streams == [None]


async def test_wait_resumes_a_stream_with_last_event_id(qo_server: FakeQO) -> None:
    seen: list[dict[str, Any]] = []
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest", {"outcome": "reconnect"})
        done = await qo.wait(run["id"], timeout=10, on_event=seen.append)
    assert done["state"] == "succeeded"
    assert [e["id"] for e in seen] == [1, 2, 3, 4, 5, 6]
    assert qo_server.streams == [None, "2"]


@pytest.mark.parametrize("outcome", ["nostream", "abort"])
async def test_wait_falls_back_to_polling(qo_server: FakeQO, outcome: str) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest", {"outcome": outcome})
        done = await qo.wait(run["id"], timeout=20)
    assert done["state"] == "succeeded"
    assert qo_server.gets[run["id"]] >= 3


async def test_wait_times_out(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest", {"outcome": "slow"})
        with pytest.raises(ClientError, match=r"did not finish within 0\.5 s") as info:
            await qo.wait(run["id"], timeout=0.5)
    assert info.value.code == "timeout"


async def test_events_yields_parsed_events_and_honours_last_event_id(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        run = await qo.run("digest", {"outcome": "failed"})
        events = [e async for e in qo.events(run["id"])]
        tail = [e async for e in qo.events(run["id"], last_event_id=3)]
    assert events[-1]["type"] == "run.failed"
    assert events[3]["data"]["error"]["code"] == "http_error"
    assert events[1] == {
        "id": 2,
        "run_id": run["id"],
        "step_id": f"{run['id']}_s1",
        "node_id": "fetch",
        "type": "step.running",
        "state": "running",
        "ts": "2024-05-01T12:00:00.010000+00:00",
        "data": {"attempt": 1},
    }
    assert [e["id"] for e in tail] == [4, 5]


async def test_list_runs_cancel_retry(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await deployed(qo)
        slow = await qo.run("digest", {"outcome": "slow"})
        await qo.run("digest", {"outcome": "failed"})
        page = await qo.list_runs(workflow="digest", limit=1)
        failed = await qo.list_runs(state="failed")
        cancelled = await qo.cancel(slow["id"])
        with pytest.raises(ClientError) as info:
            await qo.cancel(slow["id"])
        retried = await qo.retry(slow["id"])
    assert len(page["items"]) == 1
    assert page["next_cursor"] == "c2"
    assert [r["state"] for r in failed["items"]] == ["failed"]
    assert cancelled["state"] == "cancelled"
    assert (info.value.status, info.value.code) == (409, "invalid_transition")
    assert retried["state"] == "queued"


async def test_agents_and_node_types(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        agents = await qo.list_agents()
        drained = await qo.drain_agent("agt_1")
        types = await qo.node_types()
    assert agents[0]["name"] == "builtin-1"
    assert drained == {"id": "agt_1", "state": "draining"}
    assert {t["type"] for t in types} >= {"core.noop", "specialized.transform"}


async def test_token_is_sent_and_401_says_what_to_do(
    qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    qo_server.token = "s3cret"
    async with Client(qo_server.url) as qo:
        with pytest.raises(ClientError, match=r"run `qo login` \(or pass --token") as info:
            await qo.list_workflows()
    assert info.value.status == 401
    async with Client(qo_server.url, token="s3cret") as qo:
        assert await qo.list_workflows() == []
    monkeypatch.setenv("QO_TOKEN", "s3cret")
    async with Client(qo_server.url) as qo:
        assert await qo.list_workflows() == []


async def test_server_comes_from_the_environment(
    qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QO_SERVER", qo_server.url.removeprefix("http://") + "/")
    async with Client() as qo:
        assert qo.server == qo_server.url
        assert await qo.list_agents()
    monkeypatch.delenv("QO_SERVER")
    async with Client() as qo:
        assert qo.server == "http://127.0.0.1:8787"


async def test_unreachable_server_says_how_to_start_one() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with Client(url) as qo:
        with pytest.raises(ClientError) as info:
            await qo.list_workflows()
    assert info.value.status is None
    assert info.value.code == "unreachable"
    assert f"the server at {url} is not reachable" in str(info.value)
    assert "qo up" in str(info.value)


async def test_a_server_that_is_not_ours(qo_server: FakeQO) -> None:
    async with Client(qo_server.url + "/not-json") as qo:
        with pytest.raises(ClientError, match="not JSON") as info:
            await qo.list_workflows()
    assert info.value.code == "bad_response"
