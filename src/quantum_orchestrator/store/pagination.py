"""Cursor pagination: opaque cursors that encode the sort key of the last item seen."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncConnection

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


@dataclass(frozen=True, slots=True)
class SortKey:
    """A column a listing is sorted on: ``field`` names its value in the rows, ``parse`` reads
    its cursor part back (``str``, :func:`cursor_int` or :func:`cursor_datetime`)."""

    column: ColumnElement[Any]
    field: str
    parse: Callable[[str], Any] = str


def _cursor_part(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], descending: bool) -> Any:
    """Rows after ``values`` in the sort: ``k1 > v1 OR (k1 = v1 AND (k2 > v2 ...))``."""
    first, value = keys[0], values[0]
    past = first.column < value if descending else first.column > value
    if len(keys) == 1:
        return past
    return or_(past, and_(first.column == value, _beyond(keys[1:], values[1:], descending)))


async def keyset_page(
    conn: AsyncConnection,
    query: Select[Any],
    *,
    keys: Sequence[SortKey],
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> Page:
    """One page of ``query`` sorted on ``keys`` (the last must be unique), after ``cursor``.

    Keyset paging, not offsets: rows added or removed meanwhile never shift a page, and each
    page costs an index seek however deep it is.
    """
    if cursor:
        parts = decode_cursor(cursor, len(keys))
        values = [key.parse(part) for key, part in zip(keys, parts, strict=True)]
        query = query.where(_beyond(keys, values, descending))
    order = [key.column.desc() if descending else key.column.asc() for key in keys]
    found = await conn.execute(query.order_by(*order).limit(limit + 1))
    rows = [dict(row) for row in found.mappings()]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(*(_cursor_part(last[key.field]) for key in keys))
    return Page(items=rows[:limit], next_cursor=next_cursor)
