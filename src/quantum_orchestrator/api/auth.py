"""``/api/v1/auth``: log in (cookie session or bearer token), log out, who am I.

Failed logins are limited per account and per address: a few per minute, then 429 with
``Retry-After`` until the bucket refills, whether or not the password is then right.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from quantum_orchestrator.api.account_schemas import LoginBody, workspace_out
from quantum_orchestrator.api.audit_trail import audit, audit_login, audit_login_failed
from quantum_orchestrator.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    EngineDep,
    SettingsDep,
    SignedIn,
    client_address,
)
from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.domain.auth import AuthenticationError
from quantum_orchestrator.engine.accounts import Login
from quantum_orchestrator.security.tokens import csrf_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=JsonRoute)


async def _login(request: Request, body: LoginBody, engine: EngineDep) -> Login:
    limiter: RateLimiter = request.app.state.login_limiter
    address = client_address(request)
    keys = (f"account:{body.email.strip().lower()}", f"address:{address}")
    for key in keys:
        limiter.check(key, what="failed logins")
    try:
        result = await engine.accounts.login(
            email=body.email,
            password=body.password,
            source_ip=address,
            user_agent=request.headers.get("User-Agent"),
        )
    except AuthenticationError:
        for key in keys:
            limiter.spend(key)
        await audit_login_failed(request, email=body.email)
        raise
    await audit_login(request, user=result.user, session_id=result.session["id"])
    return result


@router.post("/login")
async def login(
    request: Request, response: Response, body: LoginBody, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """Open a browser session: sets the ``qo_session`` (HttpOnly) and ``qo_csrf`` cookies.

    State-changing requests made with the cookie must echo ``qo_csrf`` in ``X-CSRF-Token``.
    """
    result = await _login(request, body, engine)
    secure = request.url.scheme == "https"
    max_age = int(settings.auth.session_max_age)
    csrf = csrf_token(result.token)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )
    # Readable by the page (not HttpOnly): it is the value to echo, not a credential.
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )
    workspaces = await engine.workspaces.list_for(user_id=result.user["id"])
    return {
        "user": {
            "id": result.user["id"],
            "email": result.user["email"],
            "name": result.user["name"],
        },
        "csrf_token": csrf,
        "expires_at": result.session["expires_at"].isoformat(),
        "workspaces": [workspace_out(row) for row in workspaces],
    }


@router.post("/token")
async def token(
    request: Request, body: LoginBody, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """A session token for programs (``Authorization: Bearer ...``); revocable with logout."""
    result = await _login(request, body, engine)
    return {
        "access_token": result.token,
        "token_type": "bearer",
        "expires_in": int(settings.auth.session_max_age),
    }


@router.post("/logout", status_code=204)
async def logout(principal: SignedIn, engine: EngineDep, request: Request) -> Response:
    """End the current session (cookie or session token) and clear the cookies."""
    if principal.session_id is not None:
        await engine.accounts.logout(session_id=principal.session_id)
    await audit(
        request,
        principal,
        action="auth.logout",
        target_type="session",
        target_id=principal.session_id,
        account=True,
    )
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me")
async def me(principal: SignedIn, engine: EngineDep) -> dict[str, Any]:
    """The signed-in user, the workspace this request acts in, the role there, all workspaces."""
    assert principal.user_id is not None  # noqa: S101 - SignedIn admits users only
    workspaces = await engine.workspaces.list_for(user_id=principal.user_id)
    return {
        "user": {"id": principal.user_id, "email": principal.label},
        "workspace_id": principal.workspace_id or None,
        "role": principal.role.value if principal.role else None,
        # The dashboard shows only what the caller may do; the server still checks every call.
        "permissions": sorted(permission.value for permission in principal.permissions),
        "workspaces": [workspace_out(row) for row in workspaces],
    }
