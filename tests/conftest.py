"""Fixtures shared by every suite: real databases, a real engine, a real server on 127.0.0.1."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from quantum_orchestrator.settings import Settings

# The first admin every test server is bootstrapped with (owner of the default workspace).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "test-admin-password-0"
PG_ADMIN_URL = os.environ.get("QO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'qo.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    import asyncio

    import asyncpg

    name = f"qo_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Settings for an embedded server in a temporary data dir, with short timers for tests."""
    return make_settings(tmp_path, sqlite_url)


def make_settings(tmp_path: Path, url: str, **engine: object) -> Settings:
    """Settings with fast timers (leases, heartbeats, ticks) so failure tests run quickly."""
    values: dict[str, object] = {
        "lease_seconds": 2.0,
        "heartbeat_interval": 0.3,
        "agent_lost_after": 2.0,
        "tick_interval": 0.05,
        **engine,
    }
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        log_format="json",
        database={"url": url},  # type: ignore[arg-type]
        engine=values,  # type: ignore[arg-type]
        # Limited, but far above what a test sends: the limiter runs on every request without
        # turning a fast test into a 429 (its own tests set small limits).
        api={"rate_limit": 100_000, "rate_limit_burst": 100_000},  # type: ignore[arg-type]
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
    )


@pytest.fixture
async def engine_env(database_url: str, tmp_path: Path) -> AsyncIterator[object]:
    """A migrated database and a started engine (no agents), on SQLite and on PostgreSQL."""
    from tests.support.engine import EngineEnv

    env = await EngineEnv.open(database_url)
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[object]:
    """A running server with built-in agents over a fresh SQLite file."""
    from tests.support.server import live_app

    async with live_app(settings) as app:
        yield app


@pytest.fixture
async def http(server: object) -> AsyncIterator[object]:
    """An httpx client pointed at ``server``."""
    import httpx

    async with httpx.AsyncClient(
        base_url=server.url,  # type: ignore[attr-defined]
        auth=server.auth,  # type: ignore[attr-defined]
        timeout=30,
    ) as client:
        yield client
