"""The overview's figures over a known data set, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.support.engine import EngineEnv

from quantum_orchestrator.domain.errors import InvalidInputError
from quantum_orchestrator.domain.overview import Window
from quantum_orchestrator.engine.overview import OverviewService
from quantum_orchestrator.store.tables import agents, runs, steps, usage, versions, workflows
from quantum_orchestrator.store.types import new_id, utcnow

WS = "00000000000000000000000000000001"
OTHER_WS = "0000000000000000000000000000000b"


def _run(ws: str, state: str, created: datetime, seconds: float | None, ids: dict[str, str]) -> Any:
    return {
        "id": new_id(),
        "workspace_id": ws,
        "workflow_id": ids["workflow"],
        "workflow_name": "figures",
        "version_id": ids["version"],
        "version": 1,
        "state": state,
        "inputs": {},
        "trigger": "api",
        "created_at": created,
        "started_at": created,
        "finished_at": created + timedelta(seconds=seconds) if seconds is not None else None,
        "updated_at": created,
        "depth": 0,
    }


def _step(
    run: dict[str, Any],
    node: str,
    state: str,
    *,
    started: datetime | None = None,
    finished: datetime | None = None,
    available: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "run_id": run["id"],
        "workspace_id": run["workspace_id"],
        "node_id": node,
        "node_type": "core.noop",
        "state": state,
        "attempts": 1,
        "attempt_base": 0,
        "redeliveries": 0,
        "retry": {},
        "timeout": 30.0,
        "trigger_rule": "all_success",
        "up_total": 0,
        "up_succeeded": 0,
        "up_failed": 0,
        "up_skipped": 0,
        "available_at": available,
        "started_at": started,
        "finished_at": finished,
    }


def _agent(ws: str, state: str, capabilities: list[str], now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "workspace_id": ws,
        "name": f"{state}-agent",
        "pool": "default",
        "capabilities": capabilities,
        "concurrency": 4,
        "version": "1",
        "host": "h",
        "pid": 1,
        "state": state,
        "builtin": False,
        "registered_at": now,
        "last_heartbeat_at": now,
    }


def _usage(
    ws: str, run: dict[str, Any], at: datetime, prompt: int, completion: int, cost: float
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "workspace_id": ws,
        "run_id": run["id"],
        "step_id": new_id(),
        "node_id": "llm",
        "model": "m",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost": cost,
        "created_at": at,
    }


async def _seed(env: EngineEnv, now: datetime) -> dict[str, Any]:
    """Runs, steps, usage and agents of the default workspace and of another one.

    Runs in the window: 2 succeeded (10 s, 20 s), 1 failed (30 s), 1 cancelled (40 s), one
    running, one queued; one succeeded run is older than the window. Steps finished in the
    window: 10 lasting 1..10 s and one skipped (no start); two queued and due, one queued for
    later. Everything of the other workspace must not count.
    """
    ids = {"workflow": new_id(), "version": new_id()}
    hour = timedelta(hours=1)
    mine = [
        _run(WS, "succeeded", now - 1 * hour, 10, ids),
        _run(WS, "succeeded", now - 2 * hour, 20, ids),
        _run(WS, "failed", now - 3 * hour, 30, ids),
        _run(WS, "cancelled", now - 4 * hour, 40, ids),
        _run(WS, "running", now - timedelta(minutes=30), None, ids),
        _run(WS, "queued", now - timedelta(minutes=10), None, ids),
    ]
    old = _run(WS, "succeeded", now - 30 * hour, 5, ids)
    theirs = _run(OTHER_WS, "succeeded", now - 1 * hour, 1, ids)
    step_rows = []
    for index in range(10):
        started = now - timedelta(minutes=100 + index)
        step_rows.append(
            _step(
                mine[index % 4],
                f"timed{index}",
                "succeeded",
                started=started,
                finished=started + timedelta(seconds=index + 1),
            )
        )
    step_rows += [
        _step(mine[0], "skipped", "skipped", finished=now - timedelta(minutes=50)),
        _step(old, "old", "succeeded", started=old["created_at"], finished=old["finished_at"]),
        _step(mine[4], "due1", "queued", available=now - timedelta(minutes=5)),
        _step(mine[5], "due2", "queued", available=now - timedelta(seconds=1)),
        _step(mine[4], "later", "queued", available=now + timedelta(minutes=5)),
        _step(mine[4], "busy", "running", started=now - timedelta(minutes=1)),
        _step(theirs, "their-due", "queued", available=now - timedelta(minutes=5)),
        _step(
            theirs,
            "their-done",
            "succeeded",
            started=now - timedelta(minutes=20),
            finished=now - timedelta(minutes=19),
        ),
    ]
    async with env.db.write() as conn:
        await conn.execute(
            workflows.insert().values(
                id=ids["workflow"],
                workspace_id=WS,
                name="figures",
                description="",
                spec={},
                latest_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            versions.insert().values(
                id=ids["version"],
                workflow_id=ids["workflow"],
                workspace_id=WS,
                number=1,
                spec={},
                created_at=now,
            )
        )
        await conn.execute(runs.insert(), [*mine, old, theirs])
        await conn.execute(steps.insert(), step_rows)
        await conn.execute(
            usage.insert(),
            [
                _usage(WS, mine[0], now - hour, 100, 50, 0.5),
                _usage(WS, mine[1], now - 2 * hour, 200, 70, 0.25),
                _usage(WS, old, now - 30 * hour, 1000, 1000, 9.0),
                _usage(OTHER_WS, theirs, now - hour, 1000, 1000, 9.0),
            ],
        )
        await conn.execute(
            agents.insert(),
            [
                _agent(WS, "online", ["core.noop", "ml.classify"], now),
                _agent(WS, "online", ["acme.thing"], now),
                _agent(WS, "draining", ["generative.llm_chat"], now),
                _agent(WS, "lost", ["core.noop"], now),
                _agent(WS, "offline", ["core.noop"], now),
                _agent(WS, "offline", ["ml.classify"], now),
                _agent(OTHER_WS, "online", ["core.noop"], now),
            ],
        )
    return {"runs": mine}


async def test_overview_counts_durations_and_chart(engine_env: EngineEnv) -> None:
    now = utcnow()
    seeded = await _seed(engine_env, now)
    overview = await OverviewService(uow=engine_env.engine.uow).overview(
        workspace_id=WS, window_hours=24, now=now
    )

    assert overview["generated_at"] == now.isoformat()
    assert overview["window_hours"] == 24
    assert overview["agents"] == {
        "online": 2,
        "by_state": {"online": 2, "draining": 1, "offline": 2, "lost": 1},
        "online_by_category": {"core": 1, "specialized": 0, "ml": 1, "generative": 0, "custom": 1},
    }
    run_figures = overview["runs"]
    assert run_figures["created"] == 6
    assert run_figures["by_state"] == {
        "queued": 1,
        "running": 1,
        "waiting": 0,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 1,
    }
    assert run_figures["finished"] == 4
    assert run_figures["finished_by_state"] == {"succeeded": 2, "failed": 1, "cancelled": 1}
    assert run_figures["success_rate"] == 0.5
    # Nearest rank over [10, 20, 30, 40] s: p50 is the 2nd, p95 the 4th.
    assert run_figures["duration"]["p50_ms"] == pytest.approx(20_000, abs=1)
    assert run_figures["duration"]["p95_ms"] == pytest.approx(40_000, abs=1)

    step_figures = overview["steps"]
    assert step_figures["finished"] == 11
    assert step_figures["per_minute"] == round(11 / (24 * 60), 3)
    # Over 1..10 s (the skipped step has no duration): p50 the 5th, p95 the 10th.
    assert step_figures["duration"]["p50_ms"] == pytest.approx(5_000, abs=1)
    assert step_figures["duration"]["p95_ms"] == pytest.approx(10_000, abs=1)

    assert overview["queue_depth"] == 2
    assert overview["llm"] == {
        "prompt_tokens": 300,
        "completion_tokens": 120,
        "cost": pytest.approx(0.75),
        "calls": 2,
    }

    chart = overview["chart"]
    window = Window(now=now, hours=24)
    assert [bucket["start"] for bucket in chart] == [
        start.isoformat() for start in window.bucket_starts()
    ]
    assert sum(bucket["runs_total"] for bucket in chart) == 6
    assert sum(bucket["steps_finished"] for bucket in chart) == 11
    for run in seeded["runs"]:
        index = int((run["created_at"] - window.chart_since).total_seconds() // 3600)
        assert chart[index]["runs"][run["state"]] >= 1, (index, run["state"])
    # Hours without anything are zeros, every state present.
    empty = chart[0]
    assert empty["runs_total"] == 0
    assert empty["steps_finished"] == 0
    assert set(empty["runs"]) == set(run_figures["by_state"])


async def test_overview_of_an_empty_workspace_has_nulls_not_errors(engine_env: EngineEnv) -> None:
    overview = await OverviewService(uow=engine_env.engine.uow).overview(
        workspace_id="0000000000000000000000000000000e", window_hours=1
    )
    assert overview["runs"]["created"] == 0
    assert overview["runs"]["success_rate"] is None
    assert overview["runs"]["duration"] == {"p50_ms": None, "p95_ms": None}
    assert overview["steps"] == {
        "finished": 0,
        "per_minute": 0.0,
        "duration": {"p50_ms": None, "p95_ms": None},
    }
    assert overview["queue_depth"] == 0
    assert overview["llm"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "calls": 0}
    assert len(overview["chart"]) == 1
    with pytest.raises(InvalidInputError):
        await OverviewService(uow=engine_env.engine.uow).overview(workspace_id=WS, window_hours=0)
