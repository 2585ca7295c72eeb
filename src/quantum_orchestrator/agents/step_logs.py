"""A step's logger: what a handler logs goes to the agent's log and into the step's log.

Lines at INFO and above are kept with the attempt (bounded) and reported with its result, so
they reach the run's step panel. When the step was given secrets, their values are replaced by
``***`` before a line goes anywhere.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from quantum_orchestrator.domain.secrets import redact_text
from quantum_orchestrator.domain.step_logs import (
    MAX_LINES_PER_ATTEMPT,
    LogLevel,
    LogLine,
    clean_message,
    dropped_line,
)

_LEVELS: dict[int, LogLevel] = {
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


def _level_name(level: int) -> LogLevel:
    """The step-log level of a ``logging`` level (custom levels fall to the one below)."""
    for number in sorted(_LEVELS, reverse=True):
        if level >= number:
            return _LEVELS[number]
    return "debug"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StepLogger(logging.LoggerAdapter[logging.Logger]):
    """``ctx.logger``: logs to the agent's logger and keeps the attempt's lines for its result.

    With ``secrets``, the message is formatted here (with its traceback, if any) and redacted
    as a whole, since a value may hide in the arguments or in an exception's text; the agent's
    log then receives the redacted text only.
    """

    def __init__(
        self,
        logger: logging.Logger,
        extra: Mapping[str, object],
        *,
        secrets: Sequence[str] = (),
        max_lines: int = MAX_LINES_PER_ATTEMPT,
    ) -> None:
        super().__init__(logger, extra)
        self._secrets = list(secrets)
        self._max_lines = max_lines
        self._lines: list[LogLine] = []
        self._kept = 0
        self._dropped = 0

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log ``msg % args``; at INFO and above the line is also kept for the step's log."""
        keep = level >= logging.INFO
        forward = self.isEnabledFor(level)
        if not (keep or forward):
            return
        exc_info = kwargs.get("exc_info")
        text = _format(msg, args)
        if exc_info:
            text += "\n" + "".join(traceback.format_exception(*_exc_tuple(exc_info)))
        if self._secrets:
            text = redact_text(text, self._secrets)
        if keep:
            self._keep(level, text)
        if not forward:
            return
        if not self._secrets:
            super().log(level, msg, *args, **kwargs)
            return
        kwargs.pop("exc_info", None)
        fields: MutableMapping[str, Any] = kwargs
        text, fields = self.process(text, fields)
        self.logger.log(level, text, **fields)

    def _keep(self, level: int, text: str) -> None:
        # The limit counts every line of the attempt, sent or not.
        if self._kept >= self._max_lines:
            self._dropped += 1
            return
        self._kept += 1
        self._lines.append(
            LogLine(at=_now(), level=_level_name(level), message=clean_message(text))
        )

    @property
    def pending(self) -> bool:
        """True when lines wait to be sent."""
        return bool(self._lines)

    def take(self) -> list[LogLine]:
        """The lines kept since the last take, for sending while the attempt runs."""
        lines, self._lines = self._lines, []
        return lines

    def give_back(self, lines: list[LogLine]) -> None:
        """Lines whose sending failed, to go out with the next ones (order kept)."""
        self._lines = [*lines, *self._lines]

    def drain(self) -> list[LogLine]:
        """The attempt's last lines (and one saying how many were dropped), for its result."""
        lines = self.take()
        if self._dropped:
            lines.append(dropped_line(self._dropped, _now(), self._max_lines))
            self._dropped = 0
        return lines


def _format(msg: object, args: tuple[object, ...]) -> str:
    """``msg % args`` as ``logging`` would render it (a lone mapping fills ``%(name)s``)."""
    if not args:
        return str(msg)
    values: object = args[0] if len(args) == 1 and isinstance(args[0], Mapping) else args
    try:
        return str(msg) % values
    except (TypeError, ValueError, KeyError):
        return " ".join(str(part) for part in (msg, *args))


def _exc_tuple(exc_info: object) -> tuple[type[BaseException] | None, BaseException | None, Any]:
    if isinstance(exc_info, BaseException):
        return type(exc_info), exc_info, exc_info.__traceback__
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[0], exc_info[1], exc_info[2]
    return sys.exc_info()


__all__ = ["StepLogger"]
