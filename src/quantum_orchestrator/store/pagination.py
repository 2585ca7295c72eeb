"""Cursor pagination: opaque cursors that encode the sort key of the last item seen."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantum_orchestrator.domain.errors import FieldError, InvalidInputError


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the cursor of the next (None at the end)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(*parts: str) -> str:
    """An opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def _invalid() -> InvalidInputError:
    return InvalidInputError(
        "invalid cursor: pass the next_cursor of a previous page unchanged",
        [FieldError("cursor", "invalid")],
    )


def cursor_int(part: str) -> int:
    """A cursor part that must be an integer."""
    try:
        return int(part)
    except ValueError:
        raise _invalid() from None


def cursor_datetime(part: str) -> datetime:
    """A cursor part that must be an ISO 8601 time with a time zone."""
    try:
        value = datetime.fromisoformat(part)
    except ValueError:
        raise _invalid() from None
    if value.tzinfo is None:
        raise _invalid()
    return value


def decode_cursor(cursor: str, size: int) -> list[str]:
    """The parts of a cursor made by ``encode_cursor``; a bad cursor is the caller's error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        parts = None
    if (
        not isinstance(parts, list)
        or len(parts) != size
        or not all(isinstance(p, str) for p in parts)
    ):
        raise _invalid()
    return parts
