"""Fixtures of the API suite (helpers live in ``helpers.py``)."""

from __future__ import annotations

import socket
import types
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import tests.support.server
from tests.conftest import make_settings
from tests.support.server import LiveApp, live_app


def _tcp_socket(family: int = -1, kind: int = -1, proto: int = -1) -> socket.socket:
    return socket.socket(family, kind, socket.IPPROTO_TCP if proto in (-1, 0) else proto)


@pytest.fixture(autouse=True)
def _no_nagle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``live_app`` listen on a socket created with ``IPPROTO_TCP``.

    asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is ``IPPROTO_TCP``; a listener
    made with ``socket.socket(AF_INET, SOCK_STREAM)`` has proto 0, so its accepted connections
    keep Nagle's algorithm, and every answer written in two parts (head, then body) waits ~40 ms
    for the client's delayed ACK. Remove once ``tests/support/server.py`` does this itself.
    """
    shim = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket) if k.isupper()})
    shim.socket = _tcp_socket
    monkeypatch.setattr(tests.support.server, "socket", shim)


@pytest.fixture
def custom_server(
    tmp_path: Path, sqlite_url: str
) -> Callable[..., AbstractAsyncContextManager[LiveApp]]:
    """Start a server with other API or agent settings: ``async with custom_server(api={...})``."""

    @asynccontextmanager
    async def start(**groups: Any) -> AsyncIterator[LiveApp]:
        settings = make_settings(tmp_path, sqlite_url)
        settings = settings.model_copy(
            update={
                name: getattr(settings, name).model_copy(update=values)
                for name, values in groups.items()
            }
        )
        async with live_app(settings) as app:
            yield app

    return start
