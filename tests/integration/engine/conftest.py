"""Engines with custom settings over the parametrized database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.engine import EngineEnv
from tests.support.engine_tools import OpenEnv


@pytest.fixture
async def open_env(database_url: str) -> AsyncIterator[OpenEnv]:
    """``await open_env(**engine_settings)``: an engine over the test database; closed after."""
    opened: list[EngineEnv] = []

    async def factory(**settings: Any) -> EngineEnv:
        env = await EngineEnv.open(database_url, **settings)
        opened.append(env)
        return env

    yield factory
    for env in reversed(opened):
        await env.close()
