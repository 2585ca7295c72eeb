"""Schema migrations with Alembic, run from code (``qo up`` and ``qo db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.database import Database, DatabaseOptions

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of the package."""
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""

    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to ``revision`` (``base`` for empty)."""

    def run(connection: Connection) -> None:
        command.downgrade(_config(connection), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    """The revision the database is at (None when never migrated)."""

    def read(connection: Connection) -> Any:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        revision: str | None = await conn.run_sync(read)
        return revision


async def upgrade_database(settings: Settings) -> str | None:
    """Open the configured database, migrate it to head and return the revision."""
    db = Database(options=DatabaseOptions(url=settings.database_url(), echo=settings.database.echo))
    try:
        await upgrade(db)
        return await current_revision(db)
    finally:
        await db.dispose()
