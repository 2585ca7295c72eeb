"""The run's event stream (Server-Sent Events): replay, live, resume, end."""

from __future__ import annotations

import asyncio

import httpx
from tests.integration.api.helpers import (
    API,
    Frame,
    collect_sse,
    create_and_deploy,
    delay_spec,
    sse_frames,
    start_run,
    transform_spec,
    wait_run,
)

EVENT_KEYS = {"id", "run_id", "step_id", "node_id", "type", "state", "ts", "data"}


def _check_frames(frames: list[Frame], run_id: str) -> None:
    ids = [int(frame.id or 0) for frame in frames]
    assert ids == sorted(set(ids)), "ids strictly increase, no duplicates"
    for frame in frames:
        data = frame.json()
        assert set(data) == EVENT_KEYS
        assert data["run_id"] == run_id
        assert str(data["id"]) == frame.id
        assert data["type"] == frame.event


async def test_replay_of_a_finished_run_ends_after_succeeded(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("sse"))
    run = await wait_run(http, (await start_run(http, "sse", {"who": "s"}))["id"])
    frames = await asyncio.wait_for(collect_sse(http, f"{API}/runs/{run['id']}/events"), 10)
    _check_frames(frames, run["id"])
    kinds = [frame.event for frame in frames]
    assert kinds[-1] == "run.succeeded"
    assert kinds.count("run.succeeded") == 1
    assert any(kind and kind.startswith("step.") for kind in kinds), kinds
    step_events = [f.json() for f in frames if (f.event or "").startswith("step.")]
    assert all(e["node_id"] == "greet" and e["step_id"] for e in step_events)


async def test_resume_with_last_event_id_and_after(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, transform_spec("resume"))
    run = await wait_run(http, (await start_run(http, "resume", {"who": "r"}))["id"])
    path = f"{API}/runs/{run['id']}/events"
    everything = await collect_sse(http, path)
    assert len(everything) >= 3
    middle = everything[1].id
    assert middle is not None
    rest = await collect_sse(http, path, headers={"Last-Event-ID": middle})
    assert [f.id for f in rest] == [f.id for f in everything[2:]]
    by_query = await collect_sse(http, f"{path}?after={middle}")
    assert [f.id for f in by_query] == [f.id for f in everything[2:]]
    # Resuming after the terminal event of a finished run: nothing more will come, it ends.
    last = everything[-1].id
    assert last is not None
    beyond = await asyncio.wait_for(collect_sse(http, path, headers={"Last-Event-ID": last}), 5)
    assert beyond == []
    # A Last-Event-ID that is no number replays from the start.
    garbage = await collect_sse(http, path, headers={"Last-Event-ID": "abc"})
    assert [f.id for f in garbage] == [f.id for f in everything]


async def test_replay_then_live_until_the_terminal_event(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("live", 0.8))
    run = await start_run(http, "live")
    path = f"{API}/runs/{run['id']}/events"
    frames: list[Frame] = []
    arrived: list[float] = []
    loop = asyncio.get_running_loop()

    async def read() -> None:
        async with http.stream("GET", path) as response:
            assert response.status_code == 200
            assert response.headers["cache-control"] == "no-cache"
            async for frame in sse_frames(response):
                frames.append(frame)
                arrived.append(loop.time())

    opened = loop.time()
    await asyncio.wait_for(read(), 15)
    _check_frames(frames, run["id"])
    kinds = [frame.event for frame in frames]
    assert (kinds[0] or "").startswith("run."), kinds
    assert kinds[-1] == "run.succeeded", kinds
    # Some events were replayed at once, the last ones came live after the delay.
    assert arrived[0] - opened < 0.5
    assert arrived[-1] - opened >= 0.5
    done = (await http.get(f"{API}/runs/{run['id']}")).json()
    assert done["state"] == "succeeded"


async def test_cancelled_run_stream_ends_with_run_cancelled(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("stop", 60))
    run = await start_run(http, "stop")
    path = f"{API}/runs/{run['id']}/events"
    reader = asyncio.create_task(collect_sse(http, path))
    await asyncio.sleep(0.3)
    assert not reader.done()
    assert (await http.post(f"{API}/runs/{run['id']}/cancel")).status_code == 200
    frames = await asyncio.wait_for(reader, 10)
    assert frames[-1].event == "run.cancelled"
    _check_frames(frames, run["id"])


async def test_many_concurrent_streams_get_the_same_events(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, delay_spec("fan", 0.3))
    run = await start_run(http, "fan")
    path = f"{API}/runs/{run['id']}/events"
    streams = await asyncio.wait_for(
        asyncio.gather(*(collect_sse(http, path) for _ in range(10))), 15
    )
    first = [(f.id, f.event) for f in streams[0]]
    assert first[-1][1] == "run.succeeded"
    for frames in streams[1:]:
        assert [(f.id, f.event) for f in frames] == first
