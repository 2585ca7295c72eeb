"""``/api/v1/audit``: the workspace's audit log, newest first (admins and owners only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from quantum_orchestrator.api.deps import AuditRead, EngineDep, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=JsonRoute)

Row = dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def audit_entry_out(row: Row) -> Row:
    """An audit entry as the API shows it (every hashed field, so it can be checked)."""
    return {
        "seq": row["seq"],
        "id": row["id"],
        "at": _iso(row["at"]),
        "workspace_id": row["workspace_id"],
        "actor_type": row["actor_type"],
        "actor_id": row["actor_id"],
        "actor_label": row["actor_label"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "outcome": row["outcome"],
        "source_ip": row["source_ip"],
        "user_agent": row["user_agent"],
        "request_id": row["request_id"],
        "digest": row["digest"],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


@router.get("")
async def list_audit(
    engine: EngineDep,
    principal: AuditRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. workflow.deploy, auth.login_failed.")
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="At or after; ISO 8601 with a time zone.")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Before; ISO 8601 with a time zone.")
    ] = None,
) -> dict[str, Any]:
    """Who did what to which object, when and from where, newest first.

    The workspace's entries, and the logins and logouts of its members.
    """
    page = await engine.audit.page(
        workspace_id=principal.workspace_id,
        limit=page_limit(limit, settings),
        cursor=cursor,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
    )
    return {"items": [audit_entry_out(row) for row in page.items], "next_cursor": page.next_cursor}
