"""Accounts, sessions, workspaces, API keys and agent tokens, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.support.engine import EngineEnv

from quantum_orchestrator.domain.auth import (
    AuthenticationError,
    PermissionDeniedError,
    Principal,
    Role,
)
from quantum_orchestrator.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantum_orchestrator.engine.accounts import DEFAULT_WORKSPACE_ID, AccountService
from quantum_orchestrator.settings import AuthSettings

PASSWORD = "violet-trombone-42"


async def owner(env: EngineEnv) -> Principal:
    boot = await env.engine.accounts.bootstrap(email="Root@Example.com", password=PASSWORD)
    assert boot is not None
    login = await env.engine.accounts.login(
        email="root@example.com", password=PASSWORD, source_ip="10.0.0.1", user_agent="t"
    )
    return await env.engine.accounts.authenticate(login.token)


async def test_bootstrap_makes_one_owner_once(engine_env: EngineEnv) -> None:
    accounts = engine_env.engine.accounts
    with pytest.raises(InvalidInputError, match="password"):
        await accounts.bootstrap(email="root@example.com", password="admin")
    boot = await accounts.bootstrap(email="root@example.com", password=None)
    assert boot is not None
    assert boot.email == "root@example.com"
    assert boot.generated_password is not None
    assert len(boot.generated_password) >= 20
    assert await accounts.bootstrap(email="other@example.com", password=PASSWORD) is None
    login = await accounts.login(
        email="ROOT@example.com",
        password=boot.generated_password,
        source_ip=None,
        user_agent=None,
    )
    principal = await accounts.authenticate(login.token)
    assert principal.kind == "user"
    assert principal.role is Role.OWNER
    assert principal.workspace_id == DEFAULT_WORKSPACE_ID
    assert principal.label == "root@example.com"
    by_slug = await accounts.authenticate(login.token, workspace="default")
    assert by_slug.workspace_id == DEFAULT_WORKSPACE_ID


async def test_wrong_passwords_and_unknown_accounts_look_alike(engine_env: EngineEnv) -> None:
    await owner(engine_env)
    accounts = engine_env.engine.accounts
    errors = []
    for email, password in (
        ("root@example.com", "not-the-password"),
        ("nobody@example.com", PASSWORD),
        ("not an e-mail", PASSWORD),
    ):
        with pytest.raises(AuthenticationError) as caught:
            await accounts.login(email=email, password=password, source_ip=None, user_agent=None)
        errors.append(caught.value.message)
    assert len(set(errors)) == 1
    with pytest.raises(ConflictError, match="already exists"):
        await accounts.create_user(email="ROOT@example.com", password=PASSWORD)


async def test_logout_and_password_reset_end_sessions(engine_env: EngineEnv) -> None:
    await owner(engine_env)
    accounts = engine_env.engine.accounts
    first = await accounts.login(
        email="root@example.com", password=PASSWORD, source_ip=None, user_agent=None
    )
    second = await accounts.login(
        email="root@example.com", password=PASSWORD, source_ip=None, user_agent=None
    )
    assert await accounts.logout(session_id=first.session["id"])
    assert not await accounts.logout(session_id=first.session["id"])
    with pytest.raises(AuthenticationError):
        await accounts.authenticate(first.token)
    await accounts.authenticate(second.token)
    await accounts.reset_password(email="root@example.com", password="new-violet-trombone")
    with pytest.raises(AuthenticationError):
        await accounts.authenticate(second.token)
    with pytest.raises(AuthenticationError):
        await accounts.login(
            email="root@example.com", password=PASSWORD, source_ip=None, user_agent=None
        )
    with pytest.raises(NotFoundError):
        await accounts.reset_password(email="ghost@example.com", password="new-violet-trombone")


async def test_idle_and_absolute_timeouts(engine_env: EngineEnv) -> None:
    await owner(engine_env)
    uow = engine_env.engine.uow
    idle = AccountService(uow=uow, settings=AuthSettings(session_idle_timeout=0.3))
    login = await idle.login(
        email="root@example.com", password=PASSWORD, source_ip=None, user_agent=None
    )
    await idle.authenticate(login.token)
    await asyncio.sleep(0.5)
    with pytest.raises(AuthenticationError, match="expired"):
        await idle.authenticate(login.token)
    short = AccountService(uow=uow, settings=AuthSettings(session_max_age=0.3))
    login = await short.login(
        email="root@example.com", password=PASSWORD, source_ip=None, user_agent=None
    )
    await asyncio.sleep(0.5)
    with pytest.raises(AuthenticationError, match="expired"):
        await short.authenticate(login.token)


async def test_workspaces_members_and_the_last_owner(engine_env: EngineEnv) -> None:
    root = await owner(engine_env)
    engine = engine_env.engine
    assert root.user_id is not None
    made = await engine.workspaces.create(user_id=root.user_id, name="Data Team!")
    again = await engine.workspaces.create(user_id=root.user_id, name="data team")
    assert made["slug"] == "data-team"
    assert again["slug"].startswith("data-team-")
    assert made["role"] == "owner"
    listed = await engine.workspaces.list_for(user_id=root.user_id)
    assert [w["id"] for w in listed] == [DEFAULT_WORKSPACE_ID, made["id"], again["id"]]

    with pytest.raises(NotFoundError, match="send a password"):
        await engine.workspaces.add_member(actor=root, email="ada@example.com", role=Role.VIEWER)
    ada = await engine.workspaces.add_member(
        actor=root, email="ada@example.com", role=Role.ADMIN, password=PASSWORD
    )
    with pytest.raises(ConflictError):
        await engine.workspaces.add_member(actor=root, email="ada@example.com", role=Role.VIEWER)
    login = await engine.accounts.login(
        email="ada@example.com", password=PASSWORD, source_ip=None, user_agent=None
    )
    as_ada = await engine.accounts.authenticate(login.token)
    assert as_ada.role is Role.ADMIN
    with pytest.raises(NotFoundError):
        await engine.accounts.authenticate(login.token, workspace=made["id"])
    with pytest.raises(PermissionDeniedError, match="higher than yours"):
        await engine.workspaces.add_member(
            actor=as_ada, email="bob@example.com", role=Role.OWNER, password=PASSWORD
        )
    with pytest.raises(PermissionDeniedError, match="above yours"):
        await engine.workspaces.set_role(actor=as_ada, user_id=root.user_id, role=Role.VIEWER)
    with pytest.raises(ConflictError, match="needs an owner"):
        await engine.workspaces.remove_member(actor=root, user_id=root.user_id)
    with pytest.raises(ConflictError, match="needs an owner"):
        await engine.workspaces.set_role(actor=root, user_id=root.user_id, role=Role.ADMIN)
    await engine.workspaces.set_role(actor=root, user_id=ada["user_id"], role=Role.VIEWER)
    assert (await engine.accounts.authenticate(login.token)).role is Role.VIEWER
    await engine.workspaces.remove_member(actor=root, user_id=ada["user_id"])
    # Ada has no workspace now: signed in, but may do nothing.
    alone = await engine.accounts.authenticate(login.token)
    assert alone.workspace_id == ""
    assert alone.permissions == frozenset()
    with pytest.raises(NotFoundError):
        await engine.workspaces.remove_member(actor=root, user_id=ada["user_id"])

    updated = await engine.workspaces.set_http_allow(
        workspace_id=made["id"], networks=["10.1.2.3/8", "::1"]
    )
    assert updated["http_allow"] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(InvalidInputError, match=r"http_allow\[0\]"):
        await engine.workspaces.set_http_allow(workspace_id=made["id"], networks=["nope"])


async def test_api_keys_rotate_and_revoke(engine_env: EngineEnv) -> None:
    root = await owner(engine_env)
    keys = engine_env.engine.keys
    accounts = engine_env.engine.accounts
    issued = await keys.create_api_key(actor=root, name="ci", role=Role.EDITOR, expires_at=None)
    assert issued.key.startswith("qo_k_")
    as_key = await accounts.authenticate(issued.key)
    assert (as_key.kind, as_key.role, as_key.label) == ("api_key", Role.EDITOR, "ci")
    assert as_key.workspace_id == DEFAULT_WORKSPACE_ID
    await accounts.authenticate(issued.key, workspace="default")
    with pytest.raises(NotFoundError):
        await accounts.authenticate(issued.key, workspace="elsewhere")
    listed = await keys.list_api_keys(workspace_id=DEFAULT_WORKSPACE_ID)
    assert [k["id"] for k in listed] == [issued.row["id"]]

    rotated = await keys.rotate_api_key(
        actor=root, key_id=issued.row["id"], grace=timedelta(hours=1)
    )
    await accounts.authenticate(issued.key)
    await accounts.authenticate(rotated.key)
    again = await keys.rotate_api_key(actor=root, key_id=rotated.row["id"], grace=timedelta(0))
    with pytest.raises(AuthenticationError):
        await accounts.authenticate(rotated.key)
    await keys.revoke_api_key(workspace_id=DEFAULT_WORKSPACE_ID, key_id=again.row["id"])
    with pytest.raises(AuthenticationError):
        await accounts.authenticate(again.key)
    with pytest.raises(NotFoundError):
        await keys.revoke_api_key(workspace_id=DEFAULT_WORKSPACE_ID, key_id=again.row["id"])
    with pytest.raises(NotFoundError):
        await keys.revoke_api_key(workspace_id="someone-else", key_id=issued.row["id"])
    with pytest.raises(InvalidInputError, match="future"):
        await keys.create_api_key(
            actor=root,
            name="old",
            role=Role.VIEWER,
            expires_at=issued.row["created_at"] - timedelta(days=1),
        )
    with pytest.raises(AuthenticationError):
        await accounts.authenticate("qo_k_" + "x" * 43)
    with pytest.raises(AuthenticationError):
        await accounts.authenticate("not-a-token")


async def test_agent_tokens_are_bound_to_a_pool(engine_env: EngineEnv) -> None:
    root = await owner(engine_env)
    keys = engine_env.engine.keys
    issued = await keys.create_agent_token(actor=root, name="gpu", pool="gpu", expires_at=None)
    agent = await engine_env.engine.accounts.authenticate(issued.key)
    assert (agent.kind, agent.pool, agent.role) == ("agent", "gpu", None)
    assert [t["pool"] for t in await keys.list_agent_tokens(workspace_id=DEFAULT_WORKSPACE_ID)] == [
        "gpu"
    ]
    await keys.revoke_agent_token(workspace_id=DEFAULT_WORKSPACE_ID, token_id=issued.row["id"])
    with pytest.raises(AuthenticationError):
        await engine_env.engine.accounts.authenticate(issued.key)
    assert await keys.list_agent_tokens(workspace_id=DEFAULT_WORKSPACE_ID) == []
