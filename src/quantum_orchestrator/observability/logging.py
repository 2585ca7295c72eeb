"""Structured logs: JSON lines (or a readable console format on a terminal), with context ids.

``configure_logging`` is called once at the edge (``qo up``, ``qo agent``). Request, run and
step ids bound with ``bind_context`` appear on every line logged while they are bound.

Every line passes through ``redact_event`` last, whoever logged it (our code, uvicorn, httpx, a
user's handler), tracebacks included: bearer tokens (``qo_s_``/``qo_k_``/``qo_a_``),
``Authorization`` and cookie values, ``password=``-style pairs, private keys, and the values of
the secrets that running steps were given (``secret_values``) become ``***``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "***"

# Our bearer tokens: qo_<kind letter>_<URL-safe base64> (security/tokens.py).
_TOKEN = re.compile(r"\b(qo_[ska]_)[A-Za-z0-9_\-]{8,}")
# Names whose values are credentials, wherever they appear as `name: value` or `name=value`
# (headers, query strings, repr of dicts, form bodies).
_SENSITIVE_NAMES = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-csrf-token|qo_session|"
    r"qo_csrf|password|passwd|secret|secret_key|client_secret|api_key|apikey|access_token|"
    r"refresh_token|token"
)
_PAIR = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-])(" + _SENSITIVE_NAMES + r")(['\"]?\s*[:=]\s*['\"]?)"
    r"((?:bearer|basic)\s+)?[^\s'\",;&}\]]+"
)
# A cookie header holds several name=value pairs: all of it goes (up to a quote or line end).
_COOKIE = re.compile(r"(?i)(?<![A-Za-z0-9_\-])((?:set-)?cookie)(['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]+")
_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL
)
_SENSITIVE_KEY = re.compile(r"(?i)^(?:" + _SENSITIVE_NAMES + r")$")


class SecretValues:
    """The secret values to keep out of every log line: those of the steps running now.

    Registered by the agent runtime for the life of an attempt (``add`` / ``discard`` count
    uses, so two steps sharing a secret do not unregister each other's). Thread-safe: sync
    handlers log from worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._ordered: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        """Start redacting ``values``."""
        with self._lock:
            for value in values:
                if value:
                    self._counts[value] = self._counts.get(value, 0) + 1
            self._reorder()

    def discard(self, values: Iterable[str]) -> None:
        """Stop redacting ``values`` (once every user of a value has discarded it)."""
        with self._lock:
            for value in values:
                count = self._counts.get(value, 0) - 1
                if count > 0:
                    self._counts[value] = count
                else:
                    self._counts.pop(value, None)
            self._reorder()

    def _reorder(self) -> None:
        # Longest first, so a secret containing another one is replaced whole.
        self._ordered = tuple(sorted(self._counts, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` without any registered value."""
        for value in self._ordered:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


secret_values = SecretValues()
"""The process's registry of secret values to redact from logs."""


def redact_text(text: str) -> str:
    """``text`` with tokens, credentials, private keys and registered secret values hidden."""
    text = secret_values.redact(text)
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub("[private key " + REDACTED + "]", text)
    text = _TOKEN.sub(lambda m: m[1] + REDACTED, text)
    text = _COOKIE.sub(lambda m: m[1] + m[2] + REDACTED, text)
    text = _PAIR.sub(lambda m: m[1] + m[2] + REDACTED, text)
    return _SCHEME.sub(lambda m: m[1] + " " + REDACTED, text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and _SENSITIVE_KEY.match(key)
            else _redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(item, depth + 1) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    # Anything else is rendered with str() by the renderers: redact that text.
    return redact_text(str(value))


def redact_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """The structlog processor: every value of the line redacted (``redact_text``); values of
    keys named like credentials (``authorization``, ``password``...) replaced whole."""
    for key, value in list(event.items()):
        if key.startswith("_"):
            continue
        if _SENSITIVE_KEY.match(key):
            event[key] = REDACTED
        else:
            event[key] = _redact_value(value)
    return event


def _drop_color_message(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """uvicorn passes an ANSI-coloured copy of some messages as ``extra``; keep only the plain."""
    event.pop("color_message", None)
    return event


def configure_logging(
    *, level: str = "info", fmt: str = "auto", stream: TextIO | None = None
) -> None:
    """Route stdlib logging through structlog's formatter, as JSON or console lines, to
    ``stream`` (default: stderr)."""
    output = stream if stream is not None else sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and output.isatty())
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
            # Last before rendering: the message, the extras and the traceback are all text
            # by now, whichever logger the line came from.
            redact_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(output)
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
