"""The permission table, principals and the password policy."""

from __future__ import annotations

import itertools

import pytest

from quantum_orchestrator.domain.auth import (
    ROLE_PERMISSIONS,
    ROLE_RANK,
    Permission,
    PermissionDeniedError,
    Principal,
    Role,
    check_password,
    normalize_email,
    role_at_most,
)
from quantum_orchestrator.domain.errors import InvalidInputError


def principal(role: Role | None, kind: str = "user") -> Principal:
    return Principal(
        kind=kind,  # type: ignore[arg-type]
        subject="s",
        label="l",
        workspace_id="w" if role else "",
        role=role,
        pool="p" if kind == "agent" else None,
    )


def test_each_role_holds_everything_the_roles_below_hold() -> None:
    ordered = sorted(Role, key=lambda r: ROLE_RANK[r])
    for lower, higher in itertools.pairwise(ordered):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher], (lower, higher)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.VIEWER, Permission.WORKFLOWS_READ, True),
        (Role.VIEWER, Permission.RUNS_WRITE, False),
        (Role.VIEWER, Permission.SECRETS_READ, False),
        (Role.OPERATOR, Permission.RUNS_WRITE, True),
        (Role.OPERATOR, Permission.WORKFLOWS_WRITE, False),
        (Role.EDITOR, Permission.WORKFLOWS_WRITE, True),
        (Role.EDITOR, Permission.SECRETS_WRITE, False),
        (Role.EDITOR, Permission.MEMBERS_WRITE, False),
        (Role.ADMIN, Permission.KEYS_WRITE, True),
        (Role.ADMIN, Permission.AUDIT_READ, True),
        (Role.ADMIN, Permission.WORKSPACE_WRITE, False),
        (Role.OWNER, Permission.WORKSPACE_WRITE, True),
        (Role.OWNER, Permission.AGENT_PROTOCOL, False),
    ],
)
def test_the_permission_table(role: Role, permission: Permission, allowed: bool) -> None:
    assert principal(role).can(permission) is allowed


def test_agents_hold_only_the_agent_protocol() -> None:
    agent = principal(None, kind="agent")
    assert agent.permissions == {Permission.AGENT_PROTOCOL}
    assert agent.rate_key == "agent:s"


def test_a_user_without_a_workspace_may_do_nothing() -> None:
    assert principal(None).permissions == frozenset()


def test_roles_cannot_be_granted_above_ones_own() -> None:
    assert role_at_most(Role.EDITOR, Role.ADMIN, what="a key") is Role.EDITOR
    assert role_at_most(Role.ADMIN, Role.ADMIN, what="a key") is Role.ADMIN
    with pytest.raises(PermissionDeniedError, match="higher than yours"):
        role_at_most(Role.OWNER, Role.ADMIN, what="a key")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "at least 12"),
        ("x" * 257, "at most 256"),
        ("Password1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("abababababababab", "too common"),
        ("someone@example.com", "e-mail"),
    ],
)
def test_the_password_policy_says_why(password: str, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        check_password(password, email="someone@example.com")


def test_a_good_password_passes() -> None:
    assert check_password("violet-trombone-42", email="a@b.c") == "violet-trombone-42"


def test_emails_are_normalized_or_refused() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("", "ada", "@x", "ada@", "a b@c.d", "a@" + "x" * 260):
        with pytest.raises(InvalidInputError, match="e-mail"):
            normalize_email(bad)
