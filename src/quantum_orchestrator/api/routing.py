"""Strict JSON request bodies for every router of the API.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259)
and would be stored as ``null`` later; and a deeply nested body makes it recurse until
``RecursionError``, which FastAPI answers with an unclear "error parsing the body". Both become a
``malformed_json`` problem here (FastAPI turns a ``JSONDecodeError`` into one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class StrictJsonRequest(Request):
    """A request whose ``json()`` accepts only standard JSON."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_constant=_reject_constant)
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


class JsonRoute(APIRoute):
    """An API route that reads its body with ``StrictJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return route_handler
