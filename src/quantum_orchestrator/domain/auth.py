"""Who may do what: roles, permissions, principals and the password policy.

One permission table (``ROLE_PERMISSIONS``) decides every access; each API route names the one
permission it needs, and the role-by-route matrix tests walk this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from quantum_orchestrator.domain.errors import InvalidInputError, QOError


class Role(StrEnum):
    """A member's role in a workspace, from most to least powerful."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    OPERATOR = "operator"
    VIEWER = "viewer"


# Higher is more powerful: an API key or an invitation may not exceed its creator's rank.
ROLE_RANK: dict[Role, int] = {
    Role.VIEWER: 1,
    Role.OPERATOR: 2,
    Role.EDITOR: 3,
    Role.ADMIN: 4,
    Role.OWNER: 5,
}


class Permission(StrEnum):
    """One thing a route does; a route requires exactly one."""

    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_WRITE = "workflows:write"
    RUNS_READ = "runs:read"
    RUNS_WRITE = "runs:write"
    AGENTS_READ = "agents:read"
    AGENTS_MANAGE = "agents:manage"
    SECRETS_READ = "secrets:read"
    SECRETS_WRITE = "secrets:write"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    AUDIT_READ = "audit:read"
    WORKSPACE_READ = "workspace:read"
    WORKSPACE_WRITE = "workspace:write"
    # Platform-wide counters (Prometheus).
    METRICS_READ = "metrics:read"
    # The agent protocol; only agent tokens hold it.
    AGENT_PROTOCOL = "agent:protocol"


_VIEWER = frozenset(
    {
        Permission.WORKFLOWS_READ,
        Permission.RUNS_READ,
        Permission.AGENTS_READ,
        Permission.MEMBERS_READ,
        Permission.WORKSPACE_READ,
    }
)
_OPERATOR = _VIEWER | {Permission.RUNS_WRITE}
_EDITOR = _OPERATOR | {Permission.WORKFLOWS_WRITE, Permission.SECRETS_READ}
_ADMIN = _EDITOR | {
    Permission.AGENTS_MANAGE,
    Permission.SECRETS_WRITE,
    Permission.MEMBERS_WRITE,
    Permission.KEYS_READ,
    Permission.KEYS_WRITE,
    Permission.AUDIT_READ,
    Permission.METRICS_READ,
}
_OWNER = _ADMIN | {Permission.WORKSPACE_WRITE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.EDITOR: _EDITOR,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _OWNER,
}
AGENT_PERMISSIONS: frozenset[Permission] = frozenset({Permission.AGENT_PROTOCOL})

PrincipalKind = Literal["user", "api_key", "agent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller, in the workspace this request acts on.

    ``subject`` is the user id, API key id or agent token id; ``label`` is what the audit log
    shows (an e-mail, a key's name). ``session_id`` is set for session tokens and cookies.
    """

    kind: PrincipalKind
    subject: str
    label: str
    workspace_id: str
    role: Role | None = None
    user_id: str | None = None
    pool: str | None = None
    session_id: str | None = None
    via_cookie: bool = False

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything this principal may do in its workspace."""
        if self.kind == "agent":
            return AGENT_PERMISSIONS
        if self.role is None:
            # A user who belongs to no workspace yet may only create one.
            return frozenset()
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        """Whether this principal holds ``permission``."""
        return permission in self.permissions

    @property
    def rate_key(self) -> str:
        """The rate limiter's bucket: one per user, API key or agent token."""
        return f"{self.kind}:{self.subject}"


class AuthenticationError(QOError):
    """No valid credentials came with the request (401)."""

    code = "unauthenticated"


class PermissionDeniedError(QOError):
    """The caller is known but may not do this (403)."""

    code = "forbidden"


class CsrfError(PermissionDeniedError):
    """A state-changing request made with a session cookie lacks the matching CSRF token."""

    code = "csrf_failed"


def role_at_most(wanted: Role, ceiling: Role, *, what: str) -> Role:
    """``wanted`` when it does not outrank ``ceiling``; else a 403 that says so."""
    if ROLE_RANK[wanted] > ROLE_RANK[ceiling]:
        raise PermissionDeniedError(
            f"{what} cannot have the role {wanted.value!r}: it is higher than yours "
            f"({ceiling.value!r})"
        )
    return wanted


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

# The most common passwords of public breach lists that are 12 characters or longer, plus the
# obvious ones for this product; the length rule already rules out the shorter ones.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123123123123",
        "111111111111",
        "000000000000",
        "123412341234",
        "qwertyuiop12",
        "qwertyuiopas",
        "qwertyuiopasdf",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "1qaz2wsx3edc4rfv",
        "qazwsxedcrfv",
        "zaq12wsxcde3",
        "asdfghjkl123",
        "passwordpassword",
        "password1234",
        "password12345",
        "password123456",
        "password123!",
        "passw0rd1234",
        "p@ssw0rd1234",
        "iloveyou1234",
        "administrator",
        "administrator1",
        "admin1234567",
        "adminadmin123",
        "changeme1234",
        "changemenow!",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "sunshine1234",
        "football1234",
        "baseball1234",
        "superman1234",
        "princess1234",
        "starwars1234",
        "trustno11234",
        "monkey123456",
        "dragon123456",
        "master123456",
        "abc123abc123",
        "abcdefghijkl",
        "abcdefghijklm",
        "abcd12345678",
        "qwerty123456",
        "qwerty1234567",
        "qwertyqwerty",
        "aaaaaaaaaaaa",
        "correcthorsebatterystaple",
        "quantumorchestrator",
        "quantum-orchestrator",
        "orchestrator",
        "orchestrator1",
    }
)


def check_password(password: str, *, email: str | None = None) -> str:
    """``password`` when the policy accepts it; else an ``InvalidInputError`` that says why."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) <= 2:
        raise InvalidInputError("password: too common; choose a less guessable one")
    if email and lowered == email.lower():
        raise InvalidInputError("password: must not be the e-mail address")
    return password


def normalize_email(email: str) -> str:
    """The e-mail in canonical form, or ``InvalidInputError`` if it is not one."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or not domain or " " in value or len(value) > 254:
        raise InvalidInputError(f"email: {email!r} is not an e-mail address")
    return value
