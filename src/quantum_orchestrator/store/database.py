"""The database handle: engine, transactions, and the few things SQLite and PostgreSQL differ in.

Writes go through ``write()``: on SQLite one writer at a time (an in-process lock, then
``BEGIN IMMEDIATE`` so other processes wait too); on PostgreSQL an ordinary transaction in which
claims use ``FOR UPDATE SKIP LOCKED``. Reads go through ``read()``.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from quantum_orchestrator.domain.errors import InvalidInputError, UnavailableError
from quantum_orchestrator.store.sqlite_inline import inline_connector

# How long a SQLite write waits for another process's write lock.
_BUSY_TIMEOUT = 5.0

# One writer lock per SQLite file and event loop, shared by every ``Database`` on that file:
# SQLite calls run on the loop, so two handles on one file in one process must never wait for
# each other inside SQLite (the loop would be blocked while the other holds the lock).
_WRITE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_write_lock(key: str) -> asyncio.Lock:
    locks = _WRITE_LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = asyncio.Lock()
    return lock


@dataclass(frozen=True, kw_only=True)
class DatabaseOptions:
    """How to connect."""

    url: str
    pool_size: int = 10
    echo: bool = False


class Database:
    """One engine per process; transactions are ``async with db.write()`` / ``db.read()``."""

    def __init__(self, *, options: DatabaseOptions) -> None:
        self.options = options
        url = make_url(options.url)
        self.dialect = url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidInputError(
                f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL"
            )
        self.is_sqlite = self.dialect == "sqlite"
        self._lock_key = (
            os.path.realpath(url.database) if url.database and url.database != ":memory:" else ""
        ) or str(id(self))
        self._writer: AsyncConnection | None = None
        kwargs: dict[str, Any] = {"echo": options.echo}
        if self.is_sqlite:
            database = url.database or ":memory:"
            if database != ":memory:":
                # Workflows, inputs and outputs live here: only the owner may read them.
                Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            kwargs["async_creator"] = inline_connector(database, busy_timeout=_BUSY_TIMEOUT)
        else:
            kwargs["pool_size"] = options.pool_size
            kwargs["max_overflow"] = options.pool_size
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite()

    def _configure_sqlite(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling is switched off so that we decide when a
            # transaction begins, and how (IMMEDIATE for writes).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("qo_write") else "BEGIN"
            conn.exec_driver_sql(mode)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        if not self.is_sqlite:
            async with self._connect(write=True) as conn:
                yield conn
            return
        # SQLite calls finish without suspending (see sqlite_inline), so a task looping over
        # transactions would never let others run: each transaction yields once first.
        await asyncio.sleep(0)
        async with _sqlite_write_lock(self._lock_key):
            # SQLite has one writer at a time anyway, so the writer keeps one connection:
            # checking a connection out of the pool and back costs more than a small write.
            if self._writer is None or self._writer.invalidated or self._writer.closed:
                self._writer = await (await self.engine.connect()).execution_options(qo_write=True)
            writer = self._writer
            try:
                async with self._unavailable_on_error(), writer.begin():
                    yield writer
            except BaseException:
                if writer.invalidated:
                    self._writer = None
                    await writer.close()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot)."""
        if self.is_sqlite:
            await asyncio.sleep(0)
        async with self._connect(write=False) as conn:
            yield conn

    @asynccontextmanager
    async def _connect(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        async with self._unavailable_on_error(), self.engine.connect() as conn:
            if write:
                conn = await conn.execution_options(qo_write=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def _unavailable_on_error(self) -> AsyncIterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
                raise UnavailableError(f"the database is not available: {exc.orig}") from exc
            raise

    async def ping(self) -> None:
        """Raise ``UnavailableError`` unless a trivial query answers."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.close()
        await self.engine.dispose()
