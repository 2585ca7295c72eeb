"""The audit store and service on SQLite and PostgreSQL: append, page, verify, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from tests.support.engine import WORKSPACE, EngineEnv

from quantum_orchestrator.domain.audit import GENESIS_HASH, Actor, Origin, entry_hash
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.domain.errors import InvalidInputError, NotFoundError
from quantum_orchestrator.engine.audit import verify_database
from quantum_orchestrator.store.tables import audit_log

PASSWORD = "correct-staple-battery-7"
ADMIN = Actor(type="user", id="u-admin", label="admin@example.com")


async def record(env: EngineEnv, n: int, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "actor": ADMIN,
        "action": "workflow.create",
        "workspace_id": WORKSPACE,
        "target_type": "workflow",
        "target_id": f"wf-{n}",
        "origin": Origin(source_ip="127.0.0.1", user_agent="tests", request_id=f"req-{n}"),
        "change": {"name": f"flow-{n}", "password": "never-stored-1"},
        "details": {"n": n},
    }
    values.update(extra)
    return await env.engine.audit.record(**values)


async def stored(env: EngineEnv) -> list[dict[str, Any]]:
    async with env.db.read() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.seq))).mappings()
        return [dict(row) for row in rows]


async def test_record_writes_a_chained_entry(engine_env: EngineEnv) -> None:
    first = await record(engine_env, 1)
    second = await record(engine_env, 2, outcome="failure")
    rows = await stored(engine_env)
    assert [row["seq"] for row in rows] == [1, 2]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    # Read back from the database, every entry still hashes to what it stored.
    for row, written in zip(rows, (first, second), strict=True):
        assert entry_hash(row) == row["hash"] == written["hash"]
        assert row["at"] == written["at"]
    assert rows[0]["actor_type"] == "user"
    assert rows[0]["actor_id"] == "u-admin"
    assert rows[0]["actor_label"] == "admin@example.com"
    assert rows[0]["source_ip"] == "127.0.0.1"
    assert rows[0]["request_id"] == "req-1"
    assert rows[0]["outcome"] == "success"
    assert rows[1]["outcome"] == "failure"
    assert rows[0]["details"] == {"n": 1}
    assert len(rows[0]["digest"]) == 64
    assert "never-stored" not in repr(rows)
    result = await engine_env.engine.audit.verify()
    assert result.ok
    assert result.checked == 2
    assert result.head_seq == 2
    assert result.head_hash == rows[1]["hash"]


async def test_an_entry_without_change_has_no_digest(engine_env: EngineEnv) -> None:
    row = await engine_env.engine.audit.record(actor=Actor.anonymous(None), action="x.y")
    assert row["digest"] is None
    assert row["workspace_id"] is None
    assert row["source_ip"] is None
    assert (await engine_env.engine.audit.verify()).ok


async def test_hostile_text_is_stored_and_still_verifies(engine_env: EngineEnv) -> None:
    await engine_env.engine.audit.record(
        actor=Actor.anonymous("nul\x00and\ud800surrogate" + "é" * 400),
        action="auth.login_failed",
        origin=Origin(user_agent="ua\x00" * 200, request_id="r" * 100),
        details={"float": 1e300, "text": "\x00"},
        outcome="failure",
    )
    assert (await engine_env.engine.audit.verify()).ok


async def test_page_filters_and_cursor(engine_env: EngineEnv) -> None:
    audit = engine_env.engine.audit
    for n in range(1, 8):
        await record(
            engine_env,
            n,
            action="run.start" if n % 2 else "workflow.deploy",
            target_type="run" if n % 2 else "workflow",
            actor=Actor(type="api_key", id="key-1", label="ci") if n == 3 else ADMIN,
        )
    await record(engine_env, 99, workspace_id="f" * 32)

    seen: list[int] = []
    cursor = None
    while True:
        page = await audit.page(workspace_id=WORKSPACE, limit=3, cursor=cursor)
        seen += [row["seq"] for row in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]

    runs = await audit.page(workspace_id=WORKSPACE, limit=50, cursor=None, action="run.start")
    assert [row["seq"] for row in runs.items] == [7, 5, 3, 1]
    by_key = await audit.page(workspace_id=WORKSPACE, limit=50, cursor=None, actor_id="key-1")
    assert [row["target_id"] for row in by_key.items] == ["wf-3"]
    one = await audit.page(
        workspace_id=WORKSPACE, limit=50, cursor=None, target_type="workflow", target_id="wf-4"
    )
    assert [row["seq"] for row in one.items] == [4]
    rows = await stored(engine_env)
    middle = rows[3]["at"]
    since = await audit.page(workspace_id=WORKSPACE, limit=50, cursor=None, since=middle)
    until = await audit.page(workspace_id=WORKSPACE, limit=50, cursor=None, until=middle)
    assert {row["seq"] for row in since.items} | {row["seq"] for row in until.items} == set(
        range(1, 8)
    )
    assert all(row["at"] >= middle for row in since.items)
    assert all(row["at"] < middle for row in until.items)
    later = await audit.page(
        workspace_id=WORKSPACE, limit=50, cursor=None, since=middle + timedelta(days=1)
    )
    assert later.items == []
    # The other workspace sees only its own entry.
    other = await audit.page(workspace_id="f" * 32, limit=50, cursor=None)
    assert [row["target_id"] for row in other.items] == ["wf-99"]
    with pytest.raises(InvalidInputError):
        await audit.page(workspace_id=WORKSPACE, limit=5, cursor="not-a-cursor")


async def test_account_entries_are_seen_by_the_workspaces_of_the_account(
    engine_env: EngineEnv,
) -> None:
    engine = engine_env.engine
    member = await engine.accounts.create_user(
        email="member@example.com", password=PASSWORD, workspace_id=WORKSPACE, role=Role.VIEWER
    )
    outsider = await engine.accounts.create_user(email="out@example.com", password=PASSWORD)
    other = await engine.workspaces.create(user_id=outsider["id"], name="Other")
    member_actor = Actor(type="user", id=member["id"], label=member["email"])
    outsider_actor = Actor(type="user", id=outsider["id"], label=outsider["email"])
    audit = engine.audit
    await audit.record(actor=member_actor, action="auth.login")
    await audit.record(actor=outsider_actor, action="auth.login")
    await audit.record(
        actor=Actor.anonymous(member["email"]),
        action="auth.login_failed",
        target_type="user",
        target_id=member["id"],
        outcome="failure",
    )
    await audit.record(actor=Actor.anonymous("nobody@example.com"), action="auth.login_failed")

    mine = await audit.page(workspace_id=WORKSPACE, limit=50, cursor=None)
    assert [(row["action"], row["actor_label"]) for row in mine.items] == [
        ("auth.login_failed", "member@example.com"),
        ("auth.login", "member@example.com"),
    ]
    theirs = await audit.page(workspace_id=other["id"], limit=50, cursor=None)
    assert [(row["action"], row["actor_label"]) for row in theirs.items] == [
        ("auth.login", "out@example.com")
    ]


async def test_verify_finds_changed_and_deleted_entries(engine_env: EngineEnv) -> None:
    for n in range(1, 6):
        await record(engine_env, n)
    audit = engine_env.engine.audit
    assert (await audit.verify()).ok

    async with engine_env.db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.seq == 3).values(actor_label="someone@else")
        )
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.reason) == (3, "changed")
    assert result.checked == 3

    async with engine_env.db.write() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.seq == 3))
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.reason) == (4, "deleted")

    # Appends go on after the head, whatever happened before it.
    row = await record(engine_env, 6)
    assert row["seq"] == 6


async def test_concurrent_appends_keep_the_chain(engine_env: EngineEnv, database_url: str) -> None:
    """Appends from many tasks and several engines (separate connection pools, as separate
    server processes have) all land on one valid chain, with no gaps in seq."""
    others = [await EngineEnv.open(database_url) for _ in range(2)]
    try:
        envs = [engine_env, *others]
        await asyncio.gather(
            *(record(envs[n % len(envs)], n) for n in range(60)),
        )
    finally:
        for env in others:
            await env.close()
    rows = await stored(engine_env)
    assert [row["seq"] for row in rows] == list(range(1, 61))
    assert {row["target_id"] for row in rows} == {f"wf-{n}" for n in range(60)}
    result = await engine_env.engine.audit.verify()
    assert result.ok, result.problem
    assert result.checked == 60


async def test_verify_database_offline(engine_env: EngineEnv, database_url: str) -> None:
    for n in range(3):
        await record(engine_env, n)
    result = await verify_database(database_url)
    assert result.ok
    assert result.checked == 3
    anchored = await verify_database(database_url, anchor=result.head_hash)
    assert anchored.ok
    missing = await verify_database(database_url, anchor="ab" * 32)
    assert missing.problem is not None
    assert missing.problem.reason == "anchor_missing"


async def test_verify_database_refuses_what_is_not_a_database(tmp_path: Any) -> None:
    absent = tmp_path / "absent.db"
    with pytest.raises(NotFoundError, match="no database"):
        await verify_database(f"sqlite+aiosqlite:///{absent}")
    assert not absent.exists()
    with pytest.raises(NotFoundError, match="no SQLite file"):
        await verify_database("sqlite+aiosqlite://")
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(NotFoundError, match="no schema"):
        await verify_database(f"sqlite+aiosqlite:///{empty}")
