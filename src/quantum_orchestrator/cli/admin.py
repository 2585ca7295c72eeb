"""``qo admin ...``: operator commands that work on the database directly, with no server.

They are for the person who runs the platform (and can read its data dir or database URL):
creating accounts before anyone can log in, and resetting a forgotten password. Each command
opens the database of the settings (``--data-dir``, ``QO_DATA_DIR``, ``QO_DATABASE__URL``),
brings its schema up to date like ``qo db upgrade`` does, and uses the engine's services.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from quantum_orchestrator.cli import secret_key
from quantum_orchestrator.cli._common import (
    PasswordStdinOpt,
    build_settings,
    err,
    fail,
    guarded,
    read_password,
)
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.domain.errors import NotFoundError
from quantum_orchestrator.settings import Settings

R = TypeVar("R")

admin_app = typer.Typer(
    help="Operator commands on the database itself (no server needed).", no_args_is_help=True
)

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (env QO_DATA_DIR).", show_default=False),
]
EmailArg = Annotated[str, typer.Argument(help="The account's e-mail.", show_default=False)]

if TYPE_CHECKING:
    from quantum_orchestrator.engine.engine import Engine


@asynccontextmanager
async def offline_engine(settings: Settings) -> AsyncIterator[Engine]:
    """The engine over the settings' database, migrated, without its timer loop or agents."""
    # Imported here so that `qo --help` and the HTTP commands do not load the engine.
    from quantum_orchestrator.engine.engine import Engine
    from quantum_orchestrator.store.database import Database, DatabaseOptions
    from quantum_orchestrator.store.migrate import upgrade

    db = Database(options=DatabaseOptions(url=settings.database_url(), echo=settings.database.echo))
    try:
        await upgrade(db)
        # No secret box: these commands never touch workspace secrets.
        yield Engine(db=db, settings=settings.engine, auth=settings.auth)
    finally:
        await db.dispose()


def run_offline(settings: Settings, action: Callable[[Engine], Awaitable[R]]) -> R:
    """Run ``action`` with an offline engine in a fresh event loop."""

    async def go() -> R:
        async with offline_engine(settings) as engine:
            return await action(engine)

    return asyncio.run(go())


async def workspace_id_of(engine: Engine, ref: str) -> str:
    """The id of the workspace whose id or slug is ``ref``; ``NotFoundError`` when none is."""
    from sqlalchemy import or_, select

    from quantum_orchestrator.store.tables import workspaces

    # The engine looks workspaces up by id only; an operator knows them by slug as well.
    async with engine.uow.read() as conn:
        query = select(workspaces.c.id).where(or_(workspaces.c.id == ref, workspaces.c.slug == ref))
        found = (await conn.execute(query)).scalar()
    if found is None:
        raise NotFoundError(f"no workspace has the id or slug {ref!r}")
    return str(found)


@admin_app.command("create-user")
@guarded
def create_user(
    email: EmailArg,
    password_stdin: PasswordStdinOpt = False,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="Make the user a member of this workspace (id or slug); needs --role.",
            show_default=False,
        ),
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option("--role", help="The member's role in --workspace.", show_default=False),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Create an account (optionally a member of a workspace), without a running server."""
    if (workspace is None) != (role is None):
        fail("--workspace and --role go together", code=2)
    settings = build_settings(data_dir=data_dir)
    password = read_password(password_stdin, confirm=True)

    async def go(engine: Engine) -> dict[str, Any]:
        workspace_id = await workspace_id_of(engine, workspace) if workspace else None
        return await engine.accounts.create_user(
            email=email, password=password, name=name, workspace_id=workspace_id, role=role
        )

    user = run_offline(settings, go)
    membership = f", {role.value} of {workspace}" if workspace and role else ""
    typer.echo(f"created user {user['email']} (id {user['id']}{membership})")
    if not workspace:
        err(
            "the user belongs to no workspace yet: add them with `qo members add` or "
            "create-user --workspace ID --role ROLE"
        )


@admin_app.command("reset-password")
@guarded
def reset_password(
    email: EmailArg, password_stdin: PasswordStdinOpt = False, data_dir: DataDirOpt = None
) -> None:
    """Set a new password for an account and end all of its sessions, without a server."""
    settings = build_settings(data_dir=data_dir)
    password = read_password(password_stdin, prompt="New password", confirm=True)
    user = run_offline(
        settings, lambda engine: engine.accounts.reset_password(email=email, password=password)
    )
    typer.echo(f"password of {user['email']} reset; its sessions are ended")


# Operator commands that live in their own modules.
admin_app.command("rotate-secret-key")(secret_key.rotate_secret_key)
