"""Fixtures of the API suite (helpers live in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import make_settings
from tests.support.server import LiveApp, live_app


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
