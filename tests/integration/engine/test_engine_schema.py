"""The migration matches the tables, goes down and up again, and the queue queries use indexes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection

from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import current_revision, downgrade, head_revision, upgrade
from quantum_orchestrator.store.steps import StepStore
from quantum_orchestrator.store.tables import metadata
from quantum_orchestrator.store.types import new_id, utcnow


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migration_round_trip_matches_the_tables(database_url: str) -> None:
    db = Database(options=DatabaseOptions(url=database_url))
    try:
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        await downgrade(db, "base")
        assert await current_revision(db) is None
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) >= set(metadata.tables)
            assert await conn.run_sync(_differences) == []
            slug = (await conn.execute(text("SELECT slug FROM workspaces"))).scalar_one()
            assert slug == "default"
    finally:
        await db.dispose()


async def _fill_steps(db: Database, *, finished: int, queued: int, running: int) -> None:
    """A realistic queue: most steps long finished, a few queued and running."""
    now = utcnow()
    run_id = new_id()
    async with db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO workflows (id, workspace_id, name, description, spec, "
                "created_at, updated_at) VALUES (:id, :ws, 'w', '', '{}', :now, :now)"
            ),
            {"id": "w" * 32, "ws": "0" * 31 + "1", "now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO versions (id, workflow_id, workspace_id, number, spec, created_at) "
                "VALUES (:id, :wf, :ws, 1, '{}', :now)"
            ),
            {"id": "v" * 32, "wf": "w" * 32, "ws": "0" * 31 + "1", "now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO runs (id, workspace_id, workflow_id, workflow_name, version_id, "
                "version, state, inputs, trigger, created_at, updated_at) VALUES "
                "(:id, :ws, :wf, 'w', :v, 1, 'running', '{}', 'api', :now, :now)"
            ),
            {"id": run_id, "ws": "0" * 31 + "1", "wf": "w" * 32, "v": "v" * 32, "now": now},
        )
        rows = []
        for i in range(finished + queued + running):
            state = (
                "succeeded" if i < finished else "queued" if i < finished + queued else "running"
            )
            rows.append(
                {
                    "id": new_id(),
                    "run_id": run_id,
                    "node_id": f"n{i}",
                    "state": state,
                    "node_type": "test.work" if i % 2 else "test.other",
                    "at": now - timedelta(seconds=i % 100),
                    "lease": now + timedelta(seconds=i % 30) if state == "running" else None,
                }
            )
        await conn.execute(
            text(
                "INSERT INTO steps (id, run_id, workspace_id, node_id, node_type, state, "
                "attempts, attempt_base, redeliveries, retry, timeout, trigger_rule, up_total, "
                "up_succeeded, up_failed, up_skipped, available_at, lease_expires_at) VALUES "
                "(:id, :run_id, '00000000000000000000000000000001', :node_id, :node_type, "
                ":state, 0, 0, 0, '{}', 30, 'all_success', 0, 0, 0, 0, :at, :lease)"
            ),
            rows,
        )
        await conn.execute(text("ANALYZE steps"))


async def _captured(db: Database, call: Any) -> tuple[str, Any]:
    """Run a store call and answer the SQL it sent, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.write() as conn:
            await call(conn)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    (query,) = [item for item in seen if item[0].lstrip().upper().startswith("SELECT")]
    return query


async def _plan(db: Database, statement: str, params: Any) -> str:
    async with db.read() as conn:
        result = await conn.exec_driver_sql(f"EXPLAIN {statement}", params)
        return "\n".join(row[0] for row in result.all())


async def test_queue_queries_use_their_indexes(postgres_url: str) -> None:
    db = Database(options=DatabaseOptions(url=postgres_url))
    try:
        await upgrade(db)
        await _fill_steps(db, finished=5000, queued=40, running=40)
        store = StepStore(skip_locked=True)
        now = utcnow()

        async def claim(conn: Any) -> None:
            await store.claim(
                conn,
                agent_id="agent",
                capabilities=["test.work"],
                pool="default",
                workspace_id=None,
                now=now,
                lease_expires_at=now,
                grace=1.0,
                limit=16,
            )

        async def leases(conn: Any) -> None:
            await store.due(conn, column="lease_expires_at", state="running", now=now, limit=200)

        async def deadlines(conn: Any) -> None:
            await store.due(conn, column="deadline_at", state="running", now=now, limit=200)

        async def delays(conn: Any) -> None:
            await store.due(conn, column="wake_at", state="waiting", now=now, limit=200)

        for call, index in (
            (claim, "ix_steps_state_available_at"),
            (delays, "ix_steps_state_wake_at"),
            (leases, "ix_steps_state_lease_expires_at"),
            (deadlines, "ix_steps_state_deadline_at"),
        ):
            statement, params = await _captured(db, call)
            assert "SKIP LOCKED" in statement
            plan = await _plan(db, statement, params)
            assert index in plan, plan
            # The claim joins the (small) runs table for the runs' states; what must never be
            # scanned whole is steps.
            assert "Seq Scan on steps" not in plan, plan
    finally:
        await db.dispose()
