"""``await audit(request, principal, action=...)``: the routes' one call to the audit log.

Routes call it after their change has committed, with the caller, the target and what changed
(only its digest is kept). Address, user agent and request id come from the request.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from quantum_orchestrator.api.deps import client_address, get_engine
from quantum_orchestrator.domain.audit import Actor, Origin, Outcome
from quantum_orchestrator.domain.auth import Principal
from quantum_orchestrator.domain.errors import QOError

# Set on a request's state by the middleware; read here so entries match the X-Request-ID.
_REQUEST_ID = "request_id"


def origin_of(request: Request) -> Origin:
    """Where ``request`` came from, and the id it is answered with."""
    return Origin(
        source_ip=client_address(request),
        user_agent=request.headers.get("User-Agent"),
        request_id=getattr(request.state, _REQUEST_ID, None),
    )


async def audit(
    request: Request,
    principal: Principal | Actor,
    *,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    change: Any = None,
    details: dict[str, Any] | None = None,
    workspace_id: str | None = None,
    account: bool = False,
    outcome: Outcome = "success",
) -> None:
    """Append an entry for this request.

    The workspace is the principal's unless ``workspace_id`` names another (a new workspace);
    ``account=True`` records an entry of the account itself (logins), in no workspace.
    """
    if isinstance(principal, Principal):
        actor = Actor.of(principal)
        workspace = workspace_id or principal.workspace_id or None
    else:
        actor = principal
        workspace = workspace_id
    await get_engine(request).audit.record(
        actor=actor,
        action=action,
        workspace_id=None if account else workspace,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        origin=origin_of(request),
        change=change,
        details=details,
    )


async def audit_login(request: Request, *, user: dict[str, Any], session_id: str) -> None:
    """Record a successful login (a cookie session or a bearer session token)."""
    await audit(
        request,
        Actor(type="user", id=user["id"], label=user["email"]),
        action="auth.login",
        target_type="session",
        target_id=session_id,
        account=True,
        details={"via": "token" if request.url.path.endswith("/token") else "cookie"},
    )


async def audit_login_failed(request: Request, *, email: str) -> None:
    """Record a failed login: no actor is known, only the e-mail that was tried.

    When the e-mail is an account's, the entry names it as the target, so the admins of the
    account's workspaces see attempts on it.
    """
    engine = get_engine(request)
    try:
        user = await engine.accounts.user_by_email(email)
    except QOError:
        user = None
    await audit(
        request,
        Actor.anonymous(email),
        action="auth.login_failed",
        target_type="user" if user else None,
        target_id=user["id"] if user else None,
        account=True,
        outcome="failure",
    )
