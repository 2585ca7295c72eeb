"""Step logs in the engine, on SQLite and PostgreSQL: stored with the attempt that reported
them, cleaned so any database takes them, secrets redacted, refused with a stale result."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.support.engine import WORKSPACE, EngineEnv

from quantum_orchestrator.domain.agent_protocol import Result
from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.domain.step_logs import MAX_LINES_PER_ATTEMPT, MAX_MESSAGE_CHARS, LogLine
from quantum_orchestrator.store.tables import events

W = "test.work"
VALUE = "tok-Very-Secret-42"


def line(message: str, level: Any = "info", at: str = "2026-12-06T06:00:00+00:00") -> LogLine:
    return LogLine(at=at, level=level, message=message)


async def logs(env: EngineEnv, run_id: str, node_id: str, **query: Any) -> list[dict[str, Any]]:
    page = await env.engine.runs.logs(
        workspace_id=WORKSPACE,
        run_id=run_id,
        node_id=node_id,
        attempt=query.get("attempt"),
        limit=query.get("limit", 100),
        cursor=query.get("cursor"),
    )
    return page.items


async def test_lines_are_stored_cleaned_and_redacted(engine_env: EngineEnv) -> None:
    env = engine_env
    await env.engine.secrets.create(workspace_id=WORKSPACE, name="TOKEN", value=VALUE)
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "logged",
            "nodes": [{"id": "a", "type": W, "params": {"key": "{{ secrets.TOKEN }}"}}],
        }
    )
    run = await env.start("logged")
    (task,) = await env.claim(agent)
    result: Result = {
        "step_id": task["step_id"],
        "attempt": task["attempt"],
        "status": "succeeded",
        "output": {"ok": True},
        "logs": [
            # An agent that did not redact: the server still keeps the value out.
            line(f"using {VALUE}"),
            line("a NUL \x00 inside", level="warning"),
            line("x" * (MAX_MESSAGE_CHARS + 50), level="error"),
            line("when is unknown", at="not a time"),
        ],
    }
    assert (await env.report(agent, [result]))["accepted"] == [task["step_id"]]
    stored = await logs(env, run["id"], "a")
    assert [(row["attempt"], row["level"]) for row in stored] == [
        (1, "info"),
        (1, "warning"),
        (1, "error"),
        (1, "info"),
    ]
    assert stored[0]["message"] == "using ***"
    assert stored[1]["message"] == "a NUL \\u0000 inside"
    assert stored[2]["message"].endswith("… [50 more characters]")
    assert stored[0]["at"].isoformat() == "2026-12-06T06:00:00+00:00"
    # A line whose time is not readable still counts, at the moment it was stored.
    assert stored[3]["at"].tzinfo is not None
    assert [row["id"] for row in stored] == sorted(row["id"] for row in stored)


async def test_a_refused_result_leaves_no_lines(engine_env: EngineEnv) -> None:
    env = engine_env
    agent = await env.register([W])
    await env.deploy({"name": "stale", "nodes": [{"id": "a", "type": W}]})
    run = await env.start("stale")
    (task,) = await env.claim(agent)
    stale: Result = {
        "step_id": task["step_id"],
        "attempt": task["attempt"] + 1,
        "status": "succeeded",
        "output": 1,
        "logs": [line("from an attempt the engine does not wait for")],
    }
    assert (await env.report(agent, [stale]))["rejected"] == [task["step_id"]]
    assert await logs(env, run["id"], "a") == []


async def test_failed_attempts_keep_their_lines_per_attempt(engine_env: EngineEnv) -> None:
    env = engine_env
    agent = await env.register([W])
    await env.deploy(
        {
            "name": "twice",
            "nodes": [{"id": "a", "type": W, "retry": {"max_attempts": 2, "initial_interval": 0}}],
        }
    )
    run = await env.start("twice")
    (task,) = await env.claim(agent)
    failed: Result = {
        "step_id": task["step_id"],
        "attempt": 1,
        "status": "failed",
        "error": {"code": "boom", "message": "boom", "retryable": True},
        "logs": [line("first try", level="error")],
    }
    await env.report(agent, [failed])
    (again,) = await env.claim(agent, wait=5)
    assert again["attempt"] == 2
    await env.report(
        agent,
        [
            {
                "step_id": again["step_id"],
                "attempt": 2,
                "status": "succeeded",
                "output": 2,
                "logs": [line("second try")],
            }
        ],
    )
    assert [r["message"] for r in await logs(env, run["id"], "a")] == ["first try", "second try"]
    assert [r["message"] for r in await logs(env, run["id"], "a", attempt=2)] == ["second try"]
    with pytest.raises(NotFoundError):
        await logs(env, run["id"], "missing")
    with pytest.raises(NotFoundError):
        await env.engine.runs.logs(
            workspace_id="f" * 32, run_id=run["id"], node_id="a", attempt=None, limit=5, cursor=None
        )


async def test_lines_sent_while_running_late_ones_and_the_servers_limit(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    agent = await env.register([W])
    other = await env.register([W])
    await env.deploy({"name": "live", "nodes": [{"id": "a", "type": W}]})
    run = await env.start("live")
    (task,) = await env.claim(agent)
    sid = task["step_id"]
    kept = await env.engine.agents.append_logs(
        agent_id=agent, step_id=sid, attempt=1, lines=[line("while running")]
    )
    assert kept == 1
    # Only the agent that ran the attempt may add to its log.
    with pytest.raises(ConflictError):
        await env.engine.agents.append_logs(
            agent_id=other, step_id=sid, attempt=1, lines=[line("not mine")]
        )
    with pytest.raises(NotFoundError):
        await env.engine.agents.append_logs(
            agent_id=agent, step_id="0" * 32, attempt=1, lines=[line("x")]
        )
    await env.report(agent, [{"step_id": sid, "attempt": 1, "status": "succeeded", "output": 1}])
    # Lines that were on their way when the result landed are still the attempt's.
    late = await env.engine.agents.append_logs(
        agent_id=agent, step_id=sid, attempt=1, lines=[line("late")]
    )
    assert late == 1
    # The server keeps the limit even for an agent that does not.
    flood = [line(f"n{n}") for n in range(MAX_LINES_PER_ATTEMPT + 10)]
    stored = await env.engine.agents.append_logs(
        agent_id=agent, step_id=sid, attempt=1, lines=flood
    )
    assert stored == MAX_LINES_PER_ATTEMPT + 1 - 2
    assert (
        await env.engine.agents.append_logs(
            agent_id=agent, step_id=sid, attempt=1, lines=[line("over")]
        )
        == 0
    )
    rows = await logs(env, run["id"], "a", limit=5000)
    assert [r["message"] for r in rows[:2]] == ["while running", "late"]
    assert len(rows) == MAX_LINES_PER_ATTEMPT + 1
    async with env.db.read() as conn:
        found = await conn.execute(
            select(events.c.data).where(events.c.run_id == run["id"], events.c.type == "step.logs")
        )
        counts = [row["data"]["lines"] for row in found.mappings()]
    assert counts == [1, 1, MAX_LINES_PER_ATTEMPT - 1]
