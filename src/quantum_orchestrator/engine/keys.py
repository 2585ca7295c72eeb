"""API keys (programs acting in a workspace with a role) and agent tokens (one pool's agents).

The key itself is answered once, at creation or rotation; only its hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quantum_orchestrator.domain.auth import Principal, Role, role_at_most
from quantum_orchestrator.domain.errors import InvalidInputError, NotFoundError
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.security.tokens import new_token, token_hash, token_prefix
from quantum_orchestrator.store.credentials import AGENT_TOKENS, API_KEYS
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.types import new_id, utcnow

Row = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedKey:
    """A key row and the key itself (shown once)."""

    row: Row
    key: str


def key_usable(row: Row, now: datetime) -> bool:
    """Whether an API key or agent token row exists, is not revoked and has not expired."""
    return row["revoked_at"] is None and (row["expires_at"] is None or row["expires_at"] > now)


def _future(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInputError("expires_at: must be in the future")
    return expires_at


class KeyService:
    """API keys and agent tokens of workspaces."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow

    async def create_api_key(
        self, *, actor: Principal, name: str, role: Role, expires_at: datetime | None
    ) -> IssuedKey:
        """A new API key in the actor's workspace, with a role no higher than the actor's."""
        assert actor.role is not None  # noqa: S101 - routes give only members this permission
        role_at_most(role, actor.role, what="an API key you create")
        key = new_token("api_key")
        async with self._uow.write() as tx:
            row = {
                "id": new_id(),
                "workspace_id": actor.workspace_id,
                "name": name,
                "prefix": token_prefix(key),
                "token_hash": token_hash(key),
                "role": role.value,
                "created_by": actor.user_id,
                "created_at": tx.now,
                "expires_at": _future(expires_at, tx.now),
                "last_used_at": None,
                "revoked_at": None,
                "rotated_to": None,
            }
            await self._uow.repos.credentials.insert_key(tx.conn, API_KEYS, row)
        return IssuedKey(row=row, key=key)

    async def list_api_keys(self, *, workspace_id: str) -> list[Row]:
        """The workspace's API keys that still work."""
        return await self._list(API_KEYS, workspace_id)

    async def rotate_api_key(self, *, actor: Principal, key_id: str, grace: timedelta) -> IssuedKey:
        """A new key like ``key_id``; the old one keeps working for ``grace``, then expires."""
        repos = self._uow.repos
        key = new_token("api_key")
        async with self._uow.write() as tx:
            old = await self._live(tx.conn, API_KEYS, actor.workspace_id, key_id, tx.now)
            assert actor.role is not None  # noqa: S101 - routes give only members this permission
            role_at_most(Role(old["role"]), actor.role, what="an API key you rotate")
            row = {
                **old,
                "id": new_id(),
                "prefix": token_prefix(key),
                "token_hash": token_hash(key),
                "created_by": actor.user_id,
                "created_at": tx.now,
                "last_used_at": None,
                "rotated_to": None,
            }
            await repos.credentials.insert_key(tx.conn, API_KEYS, row)
            ends = tx.now + grace
            if old["expires_at"] is not None and old["expires_at"] < ends:
                ends = old["expires_at"]
            await repos.credentials.update_key(
                tx.conn, API_KEYS, key_id, expires_at=ends, rotated_to=row["id"]
            )
        return IssuedKey(row=row, key=key)

    async def revoke_api_key(self, *, workspace_id: str, key_id: str) -> None:
        """End an API key now."""
        await self._revoke(API_KEYS, workspace_id, key_id)

    async def create_agent_token(
        self,
        *,
        actor: Principal,
        name: str,
        pool: str,
        expires_at: datetime | None,
    ) -> IssuedKey:
        """A new token for the agents of ``pool`` in the actor's workspace."""
        key = new_token("agent")
        async with self._uow.write() as tx:
            row = {
                "id": new_id(),
                "workspace_id": actor.workspace_id,
                "name": name,
                "pool": pool,
                "prefix": token_prefix(key),
                "token_hash": token_hash(key),
                "created_by": actor.user_id,
                "created_at": tx.now,
                "expires_at": _future(expires_at, tx.now),
                "last_used_at": None,
                "revoked_at": None,
            }
            await self._uow.repos.credentials.insert_key(tx.conn, AGENT_TOKENS, row)
        return IssuedKey(row=row, key=key)

    async def list_agent_tokens(self, *, workspace_id: str) -> list[Row]:
        """The workspace's agent tokens that still work."""
        return await self._list(AGENT_TOKENS, workspace_id)

    async def revoke_agent_token(self, *, workspace_id: str, token_id: str) -> None:
        """End an agent token now (its agents fail their next call with 401)."""
        await self._revoke(AGENT_TOKENS, workspace_id, token_id)

    async def _list(self, table: Any, workspace_id: str) -> list[Row]:
        async with self._uow.read() as conn:
            return await self._uow.repos.credentials.list_keys(
                conn, table, workspace_id=workspace_id, now=utcnow()
            )

    async def page_api_keys(self, *, workspace_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the workspace's API keys that still work, newest first."""
        return await self._page(API_KEYS, workspace_id, limit, cursor)

    async def page_agent_tokens(self, *, workspace_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the workspace's agent tokens that still work, newest first."""
        return await self._page(AGENT_TOKENS, workspace_id, limit, cursor)

    async def _page(self, table: Any, workspace_id: str, limit: int, cursor: str | None) -> Page:
        async with self._uow.read() as conn:
            return await self._uow.repos.credentials.page_keys(
                conn, table, workspace_id=workspace_id, now=utcnow(), limit=limit, cursor=cursor
            )

    async def _live(
        self, conn: Any, table: Any, workspace_id: str, key_id: str, now: datetime
    ) -> Row:
        row = await self._uow.repos.credentials.get_key(
            conn, table, workspace_id=workspace_id, key_id=key_id
        )
        if row is None or not key_usable(row, now):
            what = "API key" if table is API_KEYS else "agent token"
            raise NotFoundError(f"{what} {key_id} not found")
        return row

    async def _revoke(self, table: Any, workspace_id: str, key_id: str) -> None:
        async with self._uow.write() as tx:
            await self._live(tx.conn, table, workspace_id, key_id, tx.now)
            await self._uow.repos.credentials.update_key(tx.conn, table, key_id, revoked_at=tx.now)
