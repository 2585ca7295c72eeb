"""What every ``qo`` command shares: options, error handling, output formatting."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import pydantic
import typer

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.sdk.client import Client, ClientError, default_server, normalize_server
from quantum_orchestrator.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="QO_SERVER",
        help="Server URL (default http://127.0.0.1:8787).",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="QO_TOKEN",
        help="API key or session token (default: the token of `qo login`).",
        show_default=False,
    ),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        envvar="QO_WORKSPACE",
        help="Workspace id or slug to act in (default: your first one).",
        show_default=False,
    ),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (no prompt)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def err(message: str) -> None:
    """Write one line to stderr."""
    typer.echo(message, err=True)


def fail(
    message: str, errors: Sequence[Mapping[str, Any]] | None = None, *, code: int = 1
) -> NoReturn:
    """Print ``error: message`` and the field errors on stderr, then exit with ``code``."""
    err(f"error: {message}")
    for item in errors or []:
        path = str(item.get("path") or "")
        text = str(item.get("message") or "")
        err(f"  {path}: {text}" if path else f"  {text}")
    raise typer.Exit(code)


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the options given on the command line on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except pydantic.ValidationError as exc:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        fail("invalid settings (check the options and QO_* variables)", problems)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the platform's errors and Ctrl-C into a message and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            fail(exc.message, exc.errors)
        except QOError as exc:
            fail(exc.message, [e.to_dict() for e in getattr(exc, "errors", [])])
        except KeyboardInterrupt:
            err("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except OSError as exc:
            fail(str(exc))
        except Exception as exc:  # a bug must still not print a traceback
            if os.environ.get("QO_DEBUG"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (set QO_DEBUG=1 for the traceback)")

    return wrapper


def server_url(server: str | None) -> str:
    """The server a command talks to: ``--server``, ``$QO_SERVER``, else the local default."""
    return normalize_server(server or default_server())


def with_client(
    action: Callable[[Client], Awaitable[R]],
    *,
    server: str | None,
    token: str | None,
    workspace: str | None = None,
) -> R:
    """Run ``action`` with a client of ``server`` in a fresh event loop.

    The token is ``--token``/``$QO_TOKEN`` when given, else the one ``qo login`` stored for the
    server (the client looks it up); ``token=""`` sends none.
    """

    async def go() -> R:
        async with Client(server, token=token, workspace=workspace or None) as client:
            return await action(client)

    return asyncio.run(go())


def read_password(from_stdin: bool, *, prompt: str = "Password", confirm: bool = False) -> str:
    """The password from the first line of stdin, or asked for on the terminal without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        # Only the line break is dropped: spaces may be part of a password.
        password = line.rstrip("\r\n")
        if not password:
            fail("--password-stdin: stdin holds no password", code=2)
        return password
    password = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    if not isinstance(password, str) or not password:
        fail("no password given", code=2)
    return password


def parse_input_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs → a dict; values that parse as JSON keep their type.

    ``n=3`` gives ``3``, ``ok=true`` gives ``True``, ``s=hello`` gives ``"hello"`` and
    ``s='"3"'`` (quoted in the shell) gives the string ``"3"``.
    """
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="'--input'")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        result[key] = value
    return result


def to_json(value: Any) -> str:
    """Pretty JSON for printing."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    """One-line JSON for table cells and summaries."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def echo_json(value: Any) -> None:
    """Print ``value`` as pretty JSON on stdout."""
    typer.echo(to_json(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns ("-" for empty cells)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return str(value).replace("\n", " ")


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_ts(value: Any) -> datetime | None:
    """An ISO 8601 timestamp in local time (naive timestamps are taken as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone()


def fmt_time(value: Any) -> str:
    """``2024-05-01 12:00:01`` in local time, or ``-``."""
    moment = parse_ts(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def fmt_clock(value: Any) -> str:
    """``12:00:01.123`` in local time, or the time now when ``value`` is missing."""
    moment = parse_ts(value) or datetime.now(UTC).astimezone()
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def fmt_duration(ms: Any) -> str:
    """``850 ms``, ``12.3 s``, ``4m 05s``, ``2h 03m``; ``-`` when unknown."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_error(error: Any) -> str:
    """``code: message`` of an error object, or ``-``."""
    if isinstance(error, Mapping):
        code = error.get("code")
        message = error.get("message") or ""
        return f"{code}: {message}" if code else str(message) or "-"
    return str(error) if error else "-"
