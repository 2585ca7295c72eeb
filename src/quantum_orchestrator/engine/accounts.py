"""Accounts and sessions: the first admin, users, logins and who a bearer token belongs to.

``authenticate`` is on the path of every request, so it costs one indexed read; the
``last_seen_at``/``last_used_at`` stamps are written at most once a minute per credential.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quantum_orchestrator.domain.auth import (
    ROLE_RANK,
    AuthenticationError,
    Principal,
    Role,
    check_password,
    normalize_email,
)
from quantum_orchestrator.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantum_orchestrator.engine.keys import key_usable
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.security.passwords import (
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from quantum_orchestrator.security.tokens import new_token, token_hash, token_kind
from quantum_orchestrator.settings import AuthSettings
from quantum_orchestrator.store.credentials import AGENT_TOKENS, API_KEYS
from quantum_orchestrator.store.types import new_id, utcnow

Row = dict[str, Any]

DEFAULT_WORKSPACE_ID = "00000000000000000000000000000001"
# Stamps of use are refreshed at most this often, so a busy caller does not write on every call.
_TOUCH_EVERY = timedelta(seconds=60)
_BAD_CREDENTIALS = "wrong e-mail or password"


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrap:
    """The first admin made on an empty database; ``password`` is set when it was generated."""

    email: str
    generated_password: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Login:
    """A new session: the token (shown once) and its row."""

    token: str
    session: Row
    user: Row


def _stale(stamp: datetime | None, now: datetime, every: timedelta = _TOUCH_EVERY) -> bool:
    return stamp is None or now - stamp >= every


class AccountService:
    """Users, passwords, sessions and bearer-token authentication."""

    def __init__(self, *, uow: UnitOfWork, settings: AuthSettings) -> None:
        self._uow = uow
        self._settings = settings
        # Often enough that a short idle timeout still measures idleness, not age.
        self._touch_every = min(_TOUCH_EVERY, timedelta(seconds=settings.session_idle_timeout / 4))

    async def bootstrap(self, *, email: str, password: str | None) -> Bootstrap | None:
        """On an empty database, the first admin: owner of the default workspace.

        ``password`` must meet the policy; without one a random password is generated and
        answered (once: only its hash is kept). Answers None when users already exist.
        """
        async with self._uow.read() as conn:
            if await self._uow.repos.users.count(conn):
                return None
        email = normalize_email(email)
        generated = None
        if password is None:
            generated = password = secrets.token_urlsafe(18)
        check_password(password, email=email)
        try:
            await self.create_user(
                email=email,
                password=password,
                name="Administrator",
                workspace_id=DEFAULT_WORKSPACE_ID,
                role=Role.OWNER,
            )
        except ConflictError:
            # Another server process bootstrapped first: its admin stands.
            async with self._uow.read() as conn:
                if await self._uow.repos.users.count(conn):
                    return None
            raise
        return Bootstrap(email=email, generated_password=generated)

    async def create_user(
        self,
        *,
        email: str,
        password: str,
        name: str = "",
        workspace_id: str | None = None,
        role: Role | None = None,
    ) -> Row:
        """A new user (409 when the e-mail is taken), optionally a member of a workspace."""
        email = normalize_email(email)
        check_password(password, email=email)
        password_hash = await hash_password_async(password)
        repos = self._uow.repos
        async with self._uow.write() as tx:
            row = {
                "id": new_id(),
                "email": email,
                "name": name,
                "password_hash": password_hash,
                "created_at": tx.now,
                "updated_at": tx.now,
            }
            await repos.users.insert(tx.conn, row)
            if workspace_id is not None and role is not None:
                if await repos.workspaces.get(tx.conn, workspace_id) is None:
                    raise NotFoundError(f"workspace {workspace_id} not found")
                await repos.workspaces.add_member(
                    tx.conn,
                    {
                        "workspace_id": workspace_id,
                        "user_id": row["id"],
                        "role": role.value,
                        "created_at": tx.now,
                    },
                )
        return row

    async def reset_password(self, *, email: str, password: str) -> Row:
        """Set a user's password and end all of the user's sessions."""
        email = normalize_email(email)
        check_password(password, email=email)
        password_hash = await hash_password_async(password)
        repos = self._uow.repos
        async with self._uow.write() as tx:
            user = await repos.users.by_email(tx.conn, email)
            if user is None:
                raise NotFoundError(f"no user has the e-mail {email!r}")
            await repos.users.set_password(
                tx.conn, user_id=user["id"], password_hash=password_hash, now=tx.now
            )
            await repos.credentials.revoke_user_sessions(tx.conn, user_id=user["id"], now=tx.now)
        return user

    async def user_by_email(self, email: str) -> Row | None:
        """The user with this e-mail, or None."""
        async with self._uow.read() as conn:
            return await self._uow.repos.users.by_email(conn, normalize_email(email))

    async def login(
        self, *, email: str, password: str, source_ip: str | None, user_agent: str | None
    ) -> Login:
        """Check the password and open a session; ``AuthenticationError`` when it is wrong."""
        try:
            email = normalize_email(email)
        except InvalidInputError:
            raise AuthenticationError(_BAD_CREDENTIALS) from None
        repos = self._uow.repos
        async with self._uow.read() as conn:
            user = await repos.users.by_email(conn, email)
        # Verified even without an account, so timing does not tell which e-mails exist.
        ok = await verify_password_async(user["password_hash"] if user else None, password)
        if user is None or not ok:
            raise AuthenticationError(_BAD_CREDENTIALS)
        rehashed = (
            await hash_password_async(password) if needs_rehash(user["password_hash"]) else None
        )
        token = new_token("session")
        async with self._uow.write() as tx:
            session = {
                "id": new_id(),
                "token_hash": token_hash(token),
                "user_id": user["id"],
                "kind": "session",
                "created_at": tx.now,
                "last_seen_at": tx.now,
                "expires_at": tx.now + timedelta(seconds=self._settings.session_max_age),
                "revoked_at": None,
                "source_ip": (source_ip or "")[:64] or None,
                "user_agent": (user_agent or "")[:300] or None,
            }
            await repos.credentials.insert_session(tx.conn, session)
            if rehashed is not None:
                await repos.users.set_password(
                    tx.conn, user_id=user["id"], password_hash=rehashed, now=tx.now
                )
        return Login(token=token, session=session, user=user)

    async def logout(self, *, session_id: str) -> bool:
        """Revoke a session; False when it had already ended."""
        async with self._uow.write() as tx:
            return await self._uow.repos.credentials.revoke_session(
                tx.conn, session_id=session_id, now=tx.now
            )

    async def authenticate(
        self, token: str, *, workspace: str | None = None, via_cookie: bool = False
    ) -> Principal:
        """Who ``token`` belongs to, acting in ``workspace`` (id or slug).

        Any unknown, expired or revoked token is the same 401, so probing tells nothing.
        A workspace the caller does not belong to answers 404, as if it did not exist.
        """
        kind = token_kind(token)
        if kind is None:
            raise AuthenticationError("the token is not valid")
        digest = token_hash(token)
        now = utcnow()
        if kind == "session":
            return await self._session_principal(digest, now, workspace, via_cookie)
        if kind == "api_key":
            return await self._key_principal(digest, now, workspace)
        return await self._agent_principal(digest, now, workspace)

    async def _session_principal(
        self, digest: str, now: datetime, workspace: str | None, via_cookie: bool
    ) -> Principal:
        repos = self._uow.repos
        async with self._uow.read() as conn:
            session = await repos.credentials.session_by_hash(conn, digest)
            if session is None or not self._session_alive(session, now):
                raise AuthenticationError("the session has expired or was revoked: log in again")
            member = await repos.workspaces.membership(
                conn, user_id=session["user_id"], workspace=workspace
            )
        if member is None and workspace is not None:
            raise NotFoundError(f"workspace {workspace!r} not found")
        if _stale(session["last_seen_at"], now, self._touch_every):
            async with self._uow.write() as tx:
                await repos.credentials.touch_session(tx.conn, session_id=session["id"], now=now)
        return Principal(
            kind="user",
            subject=session["user_id"],
            label=session["email"],
            workspace_id=member["id"] if member else "",
            role=Role(member["role"]) if member else None,
            user_id=session["user_id"],
            session_id=session["id"],
            via_cookie=via_cookie,
        )

    def _session_alive(self, session: Row, now: datetime) -> bool:
        idle = timedelta(seconds=self._settings.session_idle_timeout)
        return (
            session["revoked_at"] is None
            and session["expires_at"] > now
            and session["last_seen_at"] + idle > now
        )

    async def _key_principal(self, digest: str, now: datetime, workspace: str | None) -> Principal:
        key = await self._live_key(API_KEYS, digest, now, "API key")
        # A key acts for the member who made it: never above that member's role today, and not
        # at all once the member has left (a key must not outlive its maker's access).
        creator = key["creator_role"]
        if creator is None:
            raise AuthenticationError(
                "the API key is not valid: the member who made it has left the workspace"
            )
        role = min(Role(key["role"]), Role(creator), key=ROLE_RANK.__getitem__)
        if workspace is not None and workspace != key["workspace_id"]:
            await self._check_workspace_alias(workspace, key["workspace_id"])
        return Principal(
            kind="api_key",
            subject=key["id"],
            label=key["name"],
            workspace_id=key["workspace_id"],
            role=role,
            user_id=key["created_by"],
        )

    async def _agent_principal(
        self, digest: str, now: datetime, workspace: str | None
    ) -> Principal:
        token = await self._live_key(AGENT_TOKENS, digest, now, "agent token")
        if workspace is not None and workspace != token["workspace_id"]:
            await self._check_workspace_alias(workspace, token["workspace_id"])
        return Principal(
            kind="agent",
            subject=token["id"],
            label=token["name"],
            workspace_id=token["workspace_id"],
            pool=token["pool"],
        )

    async def _check_workspace_alias(self, workspace: str, bound_to: str) -> None:
        # A key is bound to its workspace: naming it by slug is fine, any other is "not found".
        async with self._uow.read() as conn:
            row = await self._uow.repos.workspaces.get(conn, bound_to)
        if row is None or row["slug"] != workspace:
            raise NotFoundError(f"workspace {workspace!r} not found")

    async def _live_key(self, table: Any, digest: str, now: datetime, what: str) -> Row:
        repos = self._uow.repos
        async with self._uow.read() as conn:
            key = await repos.credentials.key_by_hash(conn, table, digest)
            if key is not None and table is API_KEYS:
                maker = await repos.workspaces.membership(
                    conn, user_id=key["created_by"], workspace=key["workspace_id"]
                )
                key["creator_role"] = (
                    maker["role"] if maker and maker["id"] == key["workspace_id"] else None
                )
        if key is None or not key_usable(key, now):
            raise AuthenticationError(f"the {what} is not valid (unknown, expired or revoked)")
        if _stale(key["last_used_at"], now):
            async with self._uow.write() as tx:
                await repos.credentials.update_key(tx.conn, table, key["id"], last_used_at=now)
        return key
