"""Request bodies and answers of accounts, workspaces, members, API keys and agent tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from quantum_orchestrator.api.schemas import Strict
from quantum_orchestrator.domain.auth import MAX_PASSWORD_LENGTH, Role

Row = dict[str, Any]

POOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class LoginBody(Strict):
    """``POST /api/v1/auth/login`` and ``/api/v1/auth/token``."""

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class WorkspaceBody(Strict):
    """``POST /api/v1/workspaces``."""

    name: str = Field(min_length=1, max_length=200)


class HttpAllowBody(Strict):
    """``PUT /api/v1/workspaces/{id}/http-allow``: networks HTTP steps may reach."""

    networks: list[str] = Field(max_length=100, description="CIDR networks, e.g. 10.0.0.0/8.")


class MemberBody(Strict):
    """``POST /api/v1/workspaces/{id}/members``; a password creates the account if needed."""

    email: str = Field(min_length=3, max_length=254)
    role: Role
    password: str | None = Field(None, min_length=1, max_length=MAX_PASSWORD_LENGTH)
    name: str = Field("", max_length=200)


class RoleBody(Strict):
    """``PUT /api/v1/workspaces/{id}/members/{user_id}``."""

    role: Role


class ApiKeyBody(Strict):
    """``POST /api/v1/api-keys``."""

    name: str = Field(min_length=1, max_length=100)
    role: Role
    expires_at: AwareDatetime | None = None


class RotateBody(Strict):
    """``POST /api/v1/api-keys/{id}/rotate``."""

    grace_hours: float | None = Field(
        None, ge=0, le=8760, description="Hours the old key keeps working; default 24."
    )


class AgentTokenBody(Strict):
    """``POST /api/v1/agent-tokens``."""

    name: str = Field(min_length=1, max_length=100)
    pool: str = Field(pattern=POOL_PATTERN)
    expires_at: AwareDatetime | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def workspace_out(row: Row) -> Row:
    """A workspace (with the caller's role when known)."""
    out: Row = {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "http_allow": list(row.get("http_allow") or []),
        "created_at": _iso(row["created_at"]),
    }
    if "role" in row:
        out["role"] = row["role"]
    return out


def member_out(row: Row) -> Row:
    """A member of a workspace."""
    return {
        "user_id": row["user_id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "created_at": _iso(row["created_at"]),
    }


def api_key_out(row: Row, key: str | None = None) -> Row:
    """An API key's metadata; ``key`` only right after creation or rotation."""
    out: Row = {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "role": row["role"],
        "workspace_id": row["workspace_id"],
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
        "last_used_at": _iso(row["last_used_at"]),
    }
    if key is not None:
        out["key"] = key
    return out


def agent_token_out(row: Row, token: str | None = None) -> Row:
    """An agent token's metadata; ``token`` only right after creation."""
    out: Row = {
        "id": row["id"],
        "name": row["name"],
        "pool": row["pool"],
        "prefix": row["prefix"],
        "workspace_id": row["workspace_id"],
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
        "last_used_at": _iso(row["last_used_at"]),
    }
    if token is not None:
        out["token"] = token
    return out
