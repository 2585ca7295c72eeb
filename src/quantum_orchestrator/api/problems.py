"""RFC 9457 problem details: the only place errors become HTTP answers."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from quantum_orchestrator.domain.auth import AuthenticationError, PermissionDeniedError
from quantum_orchestrator.domain.errors import (
    ConflictError,
    FieldError,
    InvalidInputError,
    NotFoundError,
    QOError,
    RateLimitedError,
    UnavailableError,
)
from quantum_orchestrator.domain.validation import format_path

logger = logging.getLogger("quantum_orchestrator.api")

_STATUS_BY_CLASS: tuple[tuple[type[QOError], int], ...] = (
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UnavailableError, 503),
    (RateLimitedError, 429),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_for(error: QOError) -> int:
    """The HTTP status of a platform error."""
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 400


def problem(
    request: Request | None,
    *,
    status: int,
    detail: str,
    code: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json answer carrying the request id."""
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body: dict[str, Any] = {
        "type": f"https://quantum-orchestrator.dev/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _validation_errors(exc: RequestValidationError) -> tuple[list[FieldError], bool]:
    """The located errors of a rejected request, and whether its body was not JSON at all."""
    found: list[FieldError] = []
    malformed = False
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        location = list(loc[1:]) if loc[:1] == ("body",) else list(loc)
        kind = error.get("type", "")
        if kind in ("json_invalid", "value_error.jsondecode"):
            # FastAPI locates a syntax error by its character offset, which is no field path.
            malformed = True
            reason = str(error.get("ctx", {}).get("error", error.get("msg")))
            where = f" at position {location[0]}" if location else ""
            found.append(FieldError("", f"malformed JSON{where}: {reason}"))
            continue
        if kind == "missing":
            message = "required" if location else "a JSON body is required"
        elif kind == "extra_forbidden":
            message = "unknown field"
        else:
            message = str(error.get("msg", "invalid"))
        found.append(FieldError(format_path(location), message))
    return found, malformed


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error to a problem response; nothing leaves as a traceback."""

    @app.exception_handler(QOError)
    async def _qo_error(request: Request, exc: QOError) -> JSONResponse:
        errors = [e.to_dict() for e in exc.errors] if isinstance(exc, InvalidInputError) else None
        status = status_for(exc)
        headers = {"Retry-After": "1"} if status == 503 else None
        if status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="quantum-orchestrator"'}
        if isinstance(exc, RateLimitedError):
            headers = {
                "Retry-After": str(max(1, math.ceil(exc.retry_after))),
                "RateLimit-Limit": str(exc.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(max(1, math.ceil(exc.retry_after))),
            }
        return problem(
            request,
            status=status,
            detail=exc.message,
            code=exc.code,
            errors=errors,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        body_rejected = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
        if body_rejected and content_type and not _is_json(content_type):
            return problem(
                request,
                status=415,
                detail=f"the request body must be JSON (Content-Type: application/json), "
                f"not {content_type.split(';', 1)[0].strip()}",
                code="unsupported_media_type",
            )
        errors, malformed = _validation_errors(exc)
        if malformed:
            detail = "the request body is not valid JSON"
        elif errors:
            detail = f"the request is invalid: {errors[0]}" + (
                f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            )
        else:
            detail = "the request is invalid"
        return problem(
            request,
            status=400 if malformed else 422,
            detail=detail,
            code="malformed_json" if malformed else "invalid_request",
            errors=[e.to_dict() for e in errors],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = (
            exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
        )
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return problem(request, status=exc.status_code, detail=detail, code=code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error while serving %s %s", request.method, request.url.path)
        return problem(
            request,
            status=500,
            detail="an unexpected error happened; the server log has the details "
            "under this request id",
            code="internal_error",
        )
