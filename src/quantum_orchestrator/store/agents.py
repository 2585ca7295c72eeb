"""Agents and the capabilities they offer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import NotFoundError
from quantum_orchestrator.store.pagination import Page, SortKey, keyset_page
from quantum_orchestrator.store.tables import agents, attempts, capabilities, steps

Row = dict[str, Any]

_BY_ID = (SortKey(column=agents.c.id, field="id"),)
_TOUCH = (
    update(agents)
    .where(agents.c.id == bindparam("aid"))
    .values(last_heartbeat_at=bindparam("now"))
    .returning(agents.c.state)
)


class AgentStore:
    """Reads and writes of ``agents`` and ``capabilities``."""

    def __init__(self, *, dialect: str) -> None:
        self._dialect = dialect

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Register a new agent."""
        await conn.execute(agents.insert().values(**row))

    async def get(
        self, conn: AsyncConnection, *, agent_id: str, workspace_id: str | None = None
    ) -> Row:
        """One agent."""
        query = select(agents).where(agents.c.id == agent_id)
        if workspace_id is not None:
            query = query.where(agents.c.workspace_id == workspace_id)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFoundError(f"no agent {agent_id!r}")
        return dict(row)

    async def locked(self, conn: AsyncConnection, *, agent_id: str) -> Row | None:
        """One agent's identity and state, read under its row lock (PostgreSQL): waits for a
        transaction that is changing it to end."""
        query = (
            select(agents.c.id, agents.c.workspace_id, agents.c.name, agents.c.pool, agents.c.state)
            .where(agents.c.id == agent_id)
            .with_for_update()
        )
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row is not None else None

    async def touch(self, conn: AsyncConnection, *, agent_id: str, now: datetime) -> str | None:
        """Record a sign of life; answers the agent's state (None if there is no such agent)."""
        result = await conn.execute(_TOUCH, {"aid": agent_id, "now": now})
        state = result.scalar_one_or_none()
        return str(state) if state is not None else None

    async def set_state(
        self,
        conn: AsyncConnection,
        *,
        agent_id: str,
        sources: Sequence[str],
        state: str,
        silent_since: datetime | None = None,
    ) -> bool:
        """Change an agent's state if it is in one of ``sources`` (and, when given, has not
        been heard of since ``silent_since``)."""
        query = update(agents).where(agents.c.id == agent_id, agents.c.state.in_(list(sources)))
        if silent_since is not None:
            # A heartbeat that lands between finding an agent silent and marking it lost
            # keeps it online.
            query = query.where(agents.c.last_heartbeat_at < silent_since)
        result = await conn.execute(query.values(state=state))
        return bool(result.rowcount)

    async def silent_since(
        self, conn: AsyncConnection, *, before: datetime, limit: int
    ) -> list[Row]:
        """Online or draining agents whose last heartbeat is older than ``before``."""
        rows = await conn.execute(
            select(agents.c.id, agents.c.workspace_id)
            .where(agents.c.state.in_(["online", "draining"]), agents.c.last_heartbeat_at < before)
            .limit(limit)
        )
        return [dict(row) for row in rows.mappings()]

    async def page(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        state: str | None = None,
        agent_id: str | None = None,
        pool: str | None = None,
    ) -> Page:
        """Agents, newest registration first, each with its running steps counted."""
        running = (
            select(func.count())
            .where(steps.c.agent_id == agents.c.id, steps.c.state == "running")
            .scalar_subquery()
        )
        # Counted from the attempts rather than kept as a counter that could drift.
        done = (
            select(func.count())
            .where(attempts.c.agent_id == agents.c.id, attempts.c.state == "succeeded")
            .scalar_subquery()
        )
        query = select(agents, running.label("running"), done.label("steps_done")).where(
            agents.c.workspace_id == workspace_id
        )
        if state:
            query = query.where(agents.c.state == state)
        if agent_id:
            query = query.where(agents.c.id == agent_id)
        if pool:
            query = query.where(agents.c.pool == pool)
        return await keyset_page(
            conn, query, keys=_BY_ID, limit=limit, cursor=cursor, descending=True
        )

    async def upsert_capabilities(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Remember what an agent offers (the last registration of a name wins)."""
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(capabilities)
        statement = statement.on_conflict_do_update(
            index_elements=[capabilities.c.workspace_id, capabilities.c.name],
            set_={
                "category": statement.excluded.category,
                "description": statement.excluded.description,
                "params_schema": statement.excluded.params_schema,
                "pool": statement.excluded.pool,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await conn.execute(statement, list(rows))

    async def capabilities(self, conn: AsyncConnection, *, workspace_id: str) -> list[Row]:
        """Every capability registered in the workspace."""
        rows = await conn.execute(
            select(capabilities)
            .where(capabilities.c.workspace_id == workspace_id)
            .order_by(capabilities.c.name)
        )
        return [dict(row) for row in rows.mappings()]
