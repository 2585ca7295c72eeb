"""RFC 9457 answers of the fake server, shaped like the real server's."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def problem(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    """An RFC 9457 answer, as the real server sends them."""
    titles = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Content",
        500: "Internal Server Error",
    }
    body: dict[str, Any] = {
        "type": f"https://quantum-orchestrator.dev/problems/{code}",
        "title": titles.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "req-0001",
    }
    if errors is not None:
        body["errors"] = errors
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")
