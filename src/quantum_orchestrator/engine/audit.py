"""The audit log: record who did what to which object, read it back, verify its hash chain."""

from __future__ import annotations

from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from quantum_orchestrator.domain.audit import (
    GENESIS_HASH,
    Actor,
    AuditDraft,
    ChainVerifier,
    Origin,
    Outcome,
    Verification,
    change_digest,
    seal,
)
from quantum_orchestrator.domain.errors import NotFoundError
from quantum_orchestrator.engine.unit import Repositories, UnitOfWork, WorkSignal
from quantum_orchestrator.events.bus import LocalEventBus
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import current_revision
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]


class AuditService:
    """Appends entries to the chain, pages through them and verifies the chain."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow

    async def record(
        self,
        *,
        actor: Actor,
        action: str,
        workspace_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        outcome: Outcome = "success",
        origin: Origin | None = None,
        change: Any = None,
        details: dict[str, Any] | None = None,
    ) -> Row:
        """Append one entry and answer its row.

        ``change`` is what changed (a body, a spec); only its digest is kept, computed after
        passwords, secrets and keys are redacted. Without it (None) the entry has no digest.
        """
        draft = AuditDraft(
            actor=actor,
            action=action,
            workspace_id=workspace_id or None,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            origin=origin or Origin(),
            digest=None if change is None else change_digest(change),
            details=details,
        )
        repos = self._uow.repos
        async with self._uow.write() as tx:
            seq, head = await repos.audit.lock_head(tx.conn)
            row = seal(
                draft,
                entry_id=new_id(),
                seq=seq + 1,
                at=tx.now,
                prev_hash=head or GENESIS_HASH,
            )
            await repos.audit.insert(tx.conn, row)
        return row

    async def page(
        self,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        action: str | None = None,
        actor_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        """A workspace's entries, newest first, with filters."""
        async with self._uow.read() as conn:
            return await self._uow.repos.audit.page(
                conn,
                workspace_id=workspace_id,
                limit=limit,
                cursor=cursor,
                action=action,
                actor_id=actor_id,
                target_type=target_type,
                target_id=target_id,
                since=since,
                until=until,
            )

    async def verify(self, *, anchor: str | None = None) -> Verification:
        """Check the whole chain from its first entry (entries appended meanwhile included)."""
        verifier = ChainVerifier(anchor=anchor)
        async with (
            self._uow.read() as conn,
            aclosing(self._uow.repos.audit.iterate(conn)) as rows,
        ):
            async for row in rows:
                if not verifier.feed(row):
                    break
        return verifier.result()


def _require_sqlite_file(url: str) -> None:
    # Opening a missing SQLite file would create an empty one, which proves nothing.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    if not parsed.database or parsed.database == ":memory:":
        raise NotFoundError("no SQLite file is configured: set the data dir or QO_DATABASE__URL")
    if not Path(parsed.database).is_file():
        raise NotFoundError(f"no database at {parsed.database}")


async def verify_database(url: str, *, anchor: str | None = None) -> Verification:
    """Verify the audit chain of the database at ``url`` offline (no server, no engine).

    ``NotFoundError`` when there is no database there, or one without the audit log.
    """
    _require_sqlite_file(url)
    db = Database(options=DatabaseOptions(url=url))
    try:
        if await current_revision(db) is None:
            raise NotFoundError("the database has no schema (and no audit log) yet")
        uow = UnitOfWork(
            db=db, repos=Repositories.for_database(db), bus=LocalEventBus(), signal=WorkSignal()
        )
        return await AuditService(uow=uow).verify(anchor=anchor)
    finally:
        await db.dispose()
