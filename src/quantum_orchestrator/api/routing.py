"""Strict JSON request bodies for every router of the API.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259)
and would be stored as ``null`` later; and a deeply nested body makes it recurse until
``RecursionError``, which FastAPI answers with an unclear "error parsing the body". Strings
must also be storable text on every database: a ``\\uD800`` escape without its pair decodes to a
lone surrogate, which neither UTF-8 nor a database can hold, and PostgreSQL refuses the NUL
character (``\\u0000``) in text and JSON. All of these become a ``malformed_json`` problem here
(FastAPI turns a ``JSONDecodeError`` into one) instead of a server error at the database; a NUL
in a path or query parameter is a 422 that names the parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

# A ``\u0000`` or ``\uD800``-``\uDFFF`` escape: only with one can a decoded string be
# unstorable (JSON allows neither character unescaped), so most bodies skip the walk.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])", re.ASCII)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_strings(value: Any) -> None:
    """Raise ``ValueError`` if a string of ``value`` holds a NUL or a lone surrogate."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, str):
            if "\x00" in current:
                raise ValueError(
                    "a string holds the NUL character (\\u0000), which cannot be stored"
                )
            try:
                current.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(current[exc.start])
                raise ValueError(
                    f"\\u{code:04x} is a lone surrogate, not a character: a string must be "
                    "valid Unicode"
                ) from None


class StrictJsonRequest(Request):
    """A request whose ``json()`` accepts only standard JSON."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                parsed = json.loads(body, parse_constant=_reject_constant)
                if _RISKY_ESCAPE.search(body):
                    _check_strings(parsed)
                self._json = parsed
            except json.JSONDecodeError:
                raise
            except RecursionError:
                raise json.JSONDecodeError("the JSON is nested too deeply", "", 0) from None
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError(
                    f"the body is not UTF-8 ({exc.reason})", "", exc.start
                ) from None
            except ValueError as exc:
                raise json.JSONDecodeError(str(exc), "", 0) from None
        return self._json


_NUL_IN_URL = "must not contain the NUL character (%00)"


def _check_url(request: Request) -> None:
    """A 422 naming each path or query parameter that holds a NUL (no name or id has one)."""
    errors: list[dict[str, Any]] = [
        {"type": "value_error", "loc": ("path", name), "msg": _NUL_IN_URL, "input": value}
        for name, value in request.path_params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if b"%00" in request.scope.get("query_string", b""):
        errors.extend(
            {"type": "value_error", "loc": ("query", name), "msg": _NUL_IN_URL, "input": value}
            for name, value in request.query_params.multi_items()
            if "\x00" in name or "\x00" in value
        )
    if errors:
        raise RequestValidationError(errors)


class JsonRoute(APIRoute):
    """An API route that reads its body with ``StrictJsonRequest`` and refuses NULs in its URL."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            _check_url(request)
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return route_handler
