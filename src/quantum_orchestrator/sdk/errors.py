"""The one error of the API client: a refused request, or a server that could not be reached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from quantum_orchestrator.domain.errors import QOError

__all__ = ["ClientError"]


class ClientError(QOError):
    """The server refused a request, or could not be reached.

    ``status`` is the HTTP status (``None`` when no answer came back), ``code`` the problem's
    machine-readable code, ``detail`` its human explanation, ``errors`` the field errors
    (``[{"path": ..., "message": ...}]``) and ``request_id`` what to quote to an operator.
    """

    code = "client_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        errors: list[dict[str, str]] | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable)
        self.status = status
        self.detail = detail
        self.errors: list[dict[str, str]] = list(errors or [])
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: httpx.Response) -> ClientError:
        """Build the error from a non-2xx answer (problem+json, other JSON or plain text)."""
        status = response.status_code
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        problem: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        title = _text(problem.get("title")) or response.reason_phrase or "error"
        detail = _text(problem.get("detail"))
        code = _text(problem.get("code")) or _code_for_status(status)
        request_id = _text(problem.get("request_id")) or response.headers.get("x-request-id")
        errors = _field_errors(problem.get("errors"))
        if not problem and response.text.strip():
            detail = response.text.strip().splitlines()[0][:300]
        message = f"{detail or title} (HTTP {status} {code})"
        if status == 401:
            message += "; run `qo login` (or pass --token / set QO_TOKEN)"
        elif status == 403 and not detail:
            # The server's own detail names the role and the permission it lacks.
            message += "; these credentials are not allowed to do this"
        elif status >= 500 and request_id:
            message += f"; request id {request_id}"
        return cls(
            message,
            status=status,
            code=code,
            detail=detail or title,
            errors=errors,
            request_id=request_id,
            retryable=status in (408, 429, 502, 503, 504),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _code_for_status(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        422: "invalid_input",
        429: "rate_limited",
    }.get(status, "server_error" if status >= 500 else "http_error")


def _field_errors(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    out: list[dict[str, str]] = []
    for item in value:
        if isinstance(item, Mapping):
            out.append({"path": str(item.get("path", "")), "message": str(item.get("message", ""))})
        else:
            out.append({"path": "", "message": str(item)})
    return out
