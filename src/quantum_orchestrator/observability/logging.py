"""Structured logs: JSON lines (or a readable console format on a terminal), with context ids.

``configure_logging`` is called once at the edge (``qo up``, ``qo agent``). Request, run and
step ids bound with ``bind_context`` appear on every line logged while they are bound.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _drop_color_message(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """uvicorn passes an ANSI-coloured copy of some messages as ``extra``; keep only the plain."""
    event.pop("color_message", None)
    return event


def configure_logging(*, level: str = "info", fmt: str = "auto") -> None:
    """Route stdlib logging through structlog's formatter, as JSON or console lines."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color_message,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind_context(**values: str) -> Any:
    """Bind ids (request_id, run_id, step_id) to every log line of this task; returns tokens."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind_context(tokens: Any) -> None:
    """Undo ``bind_context``."""
    structlog.contextvars.reset_contextvars(**tokens)
