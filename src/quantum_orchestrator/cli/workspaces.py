"""``qo workspaces ...`` and ``qo members ...``: tenants, who belongs to them and with what role."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    echo_json,
    err,
    fail,
    fmt_time,
    guarded,
    read_password,
    table,
    with_client,
)
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.sdk.client import Client, ClientError

workspaces_app = typer.Typer(help="List and create workspaces.", no_args_is_help=True)
members_app = typer.Typer(help="Manage the members of a workspace.", no_args_is_help=True)

RoleOpt = Annotated[
    Role,
    typer.Option("--role", "-r", help="The member's role.", show_default=False),
]
RoleArg = Annotated[Role, typer.Argument(help="The new role.", show_default=False)]
MemberArg = Annotated[
    str, typer.Argument(help="The member's user id or e-mail.", show_default=False)
]


@workspaces_app.command("list")
@guarded
def list_workspaces(
    server: ServerOpt = None, token: TokenOpt = None, json_out: JsonOpt = False
) -> None:
    """List the workspaces you belong to, with your role in each."""
    items = with_client(lambda c: c.list_workspaces(), server=server, token=token)
    if json_out:
        echo_json(items)
        return
    if not items:
        err("you belong to no workspace; create one with `qo workspaces create NAME`")
        return
    rows = [
        [w.get("slug"), w.get("name"), w.get("role"), w.get("id"), fmt_time(w.get("created_at"))]
        for w in items
    ]
    typer.echo(table(["SLUG", "NAME", "ROLE", "ID", "CREATED"], rows))


@workspaces_app.command("create")
@guarded
def create_workspace(
    name: Annotated[str, typer.Argument(help="The workspace's name.", show_default=False)],
    server: ServerOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a workspace; you become its owner."""
    row = with_client(lambda c: c.create_workspace(name), server=server, token=token)
    if json_out:
        echo_json(row)
        return
    slug = row.get("slug")
    typer.echo(f"created workspace {row.get('name')} (slug {slug}, id {row.get('id')})")
    err(f"act in it with --workspace {slug} or QO_WORKSPACE={slug}")


@members_app.command("list")
@guarded
def list_members(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the members of the workspace and their roles."""
    items = with_client(lambda c: c.list_members(), server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(items)
        return
    rows = [
        [
            m.get("user_id"),
            m.get("email"),
            m.get("name"),
            m.get("role"),
            fmt_time(m.get("created_at")),
        ]
        for m in items
    ]
    typer.echo(table(["USER ID", "EMAIL", "NAME", "ROLE", "SINCE"], rows))


@members_app.command("add")
@guarded
def add_member(
    email: Annotated[str, typer.Argument(help="The person's e-mail.", show_default=False)],
    role: RoleOpt,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Create the account if it is new, with the password on the first line of stdin.",
        ),
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name of a new account.")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a person to the workspace with a role no higher than yours.

    An e-mail without an account needs --password-stdin: the account is created with it.
    """
    password = read_password(True) if password_stdin else None
    try:
        row = with_client(
            lambda c: c.add_member(email, role, password=password, name=name),
            server=server,
            token=token,
            workspace=workspace,
        )
    except ClientError as exc:
        if exc.status == 404 and password is None and "e-mail" in (exc.detail or ""):
            fail(
                f"no account has the e-mail {email!r}: to create it, give its password on "
                "stdin with --password-stdin"
            )
        raise
    if json_out:
        echo_json(row)
        return
    typer.echo(f"added {row.get('email')} as {row.get('role')} (user id {row.get('user_id')})")


async def _user_id(client: Client, member: str) -> str:
    """A member's user id, given the id itself or the member's e-mail."""
    if "@" not in member:
        return member
    wanted = member.strip().lower()
    for row in await client.list_members():
        if str(row.get("email") or "").lower() == wanted:
            return str(row["user_id"])
    raise ClientError(f"{member} is not a member of this workspace", status=404, code="not_found")


@members_app.command("set-role")
@guarded
def set_role(
    member: MemberArg,
    role: RoleArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a member's role."""

    async def go(client: Client) -> dict[str, Any]:
        return await client.set_member_role(await _user_id(client, member), role)

    row = with_client(go, server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(row)
        return
    typer.echo(f"{row.get('email')} is now {row.get('role')}")


@members_app.command("remove")
@guarded
def remove_member(
    member: MemberArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Remove a member from the workspace (the last owner stays)."""

    async def go(client: Client) -> None:
        await client.remove_member(await _user_id(client, member))

    with_client(go, server=server, token=token, workspace=workspace)
    typer.echo(f"removed {member}")
