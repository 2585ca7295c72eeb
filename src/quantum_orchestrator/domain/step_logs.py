"""Step logs: the lines a handler writes through ``ctx.logger`` while an attempt runs.

The agent keeps them with the attempt and reports them with its result; the server stores them
beside the attempt, so a run's step panel and ``qo runs logs`` show what the handler said.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from typing_extensions import TypedDict

LogLevel = Literal["debug", "info", "warning", "error", "critical"]

# Per attempt: a handler that logs in a loop must not fill the database.
MAX_LINES_PER_ATTEMPT = 1000
MAX_MESSAGE_CHARS = 4000


class LogLine(TypedDict):
    """One line of a step's log, as the agent reports it (``at`` is ISO 8601 with a zone)."""

    at: str
    level: LogLevel
    message: str


def clean_message(text: str) -> str:
    """``text`` as it can be stored: NUL characters escaped (PostgreSQL refuses them in text)
    and clipped to :data:`MAX_MESSAGE_CHARS`, saying how much was cut."""
    text = text.replace("\x00", "\\u0000")
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    cut = len(text) - MAX_MESSAGE_CHARS
    return f"{text[:MAX_MESSAGE_CHARS]}… [{cut} more characters]"


def dropped_line(count: int, at: str, limit: int = MAX_LINES_PER_ATTEMPT) -> LogLine:
    """The line that closes a log past its limit, saying how many lines were left out."""
    return LogLine(
        at=at,
        level="warning",
        message=f"{count} more log lines were dropped (the limit is {limit})",
    )


def log_rows(
    *, step_id: str, run_id: str, attempt: int, lines: Sequence[LogLine], now: datetime
) -> list[dict[str, Any]]:
    """The rows that store an attempt's reported lines, at most the limit (and its closing
    line). A time that is not ISO 8601 with a zone becomes ``now``: the line still counts."""
    rows: list[dict[str, Any]] = []
    for line in lines[: MAX_LINES_PER_ATTEMPT + 1]:
        rows.append(
            {
                "step_id": step_id,
                "run_id": run_id,
                "attempt": attempt,
                "at": _moment(line.get("at"), now),
                "level": line.get("level") if line.get("level") in _LEVELS else "info",
                "message": clean_message(str(line.get("message", ""))),
            }
        )
    return rows


_LEVELS = frozenset(get_args(LogLevel))


def _moment(value: object, now: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else now
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return now
    return moment if moment.tzinfo is not None else now


__all__ = [
    "MAX_LINES_PER_ATTEMPT",
    "MAX_MESSAGE_CHARS",
    "LogLevel",
    "LogLine",
    "clean_message",
    "dropped_line",
    "log_rows",
]
