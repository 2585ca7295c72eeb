"""``qo api-keys ...`` and ``qo agent-tokens ...``: credentials for programs and agents.

A new key or token goes to stdout alone (``KEY=$(qo api-keys create ci --role editor)``) and the
rest to stderr: the server shows it this once and keeps only its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    echo_json,
    err,
    fmt_time,
    guarded,
    table,
    with_client,
)
from quantum_orchestrator.domain.auth import Role

api_keys_app = typer.Typer(help="Create, list, rotate and revoke API keys.", no_args_is_help=True)
agent_tokens_app = typer.Typer(
    help="Create, list and revoke the tokens agents register with.", no_args_is_help=True
)


NameArg = Annotated[str, typer.Argument(help="A name to recognise it by.", show_default=False)]
IdArg = Annotated[str, typer.Argument(help="Its id (see the list).", show_default=False)]
ExpiresOpt = Annotated[
    str | None,
    typer.Option(
        "--expires-at",
        help="When it stops working: an ISO 8601 date or time (local time unless it has an "
        "offset). Default: never.",
        show_default=False,
    ),
]


def parse_expiry(value: str | None) -> datetime | None:
    """``--expires-at`` as an aware datetime; a naive one is local time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time such as 2030-01-31 or "
            "2030-01-31T18:00:00+00:00",
            param_hint="'--expires-at'",
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _issued(kind: str, row: dict[str, Any], secret_field: str, json_out: bool) -> None:
    if json_out:
        echo_json(row)
    else:
        typer.echo(row[secret_field])
    err(f"warning: store this {kind} now: it is not shown again (only its hash is kept)")


def _expiry(row: dict[str, Any]) -> str:
    return fmt_time(row.get("expires_at")) if row.get("expires_at") else "never"


@api_keys_app.command("create")
@guarded
def create_api_key(
    name: NameArg,
    role: Annotated[
        Role, typer.Option("--role", "-r", help="What the key may do.", show_default=False)
    ],
    expires_at: ExpiresOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an API key of the workspace (its role no higher than yours); prints the key."""
    when = parse_expiry(expires_at)
    row = with_client(
        lambda c: c.create_api_key(name, role, expires_at=when),
        server=server,
        token=token,
        workspace=workspace,
    )
    err(
        f"created API key {row.get('name')} (id {row.get('id')}, role {row.get('role')}, "
        f"expires {_expiry(row)})"
    )
    _issued("key", row, "key", json_out)


def _echo_keys(
    items: list[dict[str, Any]], json_out: bool, column: tuple[str, str], empty: str
) -> None:
    """A listing of API keys or agent tokens: they differ only by one column (role or pool)."""
    if json_out:
        echo_json(items)
        return
    if not items:
        err(empty)
        return
    title, field = column
    rows = [
        [
            k.get("id"),
            k.get("name"),
            f"{k.get('prefix')}…",
            k.get(field),
            fmt_time(k.get("created_at")),
            _expiry(k),
            fmt_time(k.get("last_used_at")),
        ]
        for k in items
    ]
    typer.echo(table(["ID", "NAME", "PREFIX", title, "CREATED", "EXPIRES", "LAST USED"], rows))


@api_keys_app.command("list")
@guarded
def list_api_keys(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the workspace's API keys that still work (never the keys themselves)."""
    items = with_client(
        lambda c: c.list_api_keys(), server=server, token=token, workspace=workspace
    )
    _echo_keys(
        items,
        json_out,
        ("ROLE", "role"),
        "no API keys; create one with `qo api-keys create NAME --role ROLE`",
    )


@api_keys_app.command("rotate")
@guarded
def rotate_api_key(
    key_id: IdArg,
    grace_hours: Annotated[
        float | None,
        typer.Option(
            "--grace-hours",
            help="Hours the old key keeps working (default: the server's, 24).",
            min=0,
            show_default=False,
        ),
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace an API key with a new one; the old one works for a grace period, then expires."""
    row = with_client(
        lambda c: c.rotate_api_key(key_id, grace_hours=grace_hours),
        server=server,
        token=token,
        workspace=workspace,
    )
    grace = f"{grace_hours:g} h" if grace_hours is not None else "the server's grace period"
    err(
        f"rotated API key {key_id}: the new one is {row.get('id')}; the old one keeps working "
        f"for {grace}"
    )
    _issued("key", row, "key", json_out)


@api_keys_app.command("revoke")
@guarded
def revoke_api_key(
    key_id: IdArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke an API key now."""
    with_client(lambda c: c.revoke_api_key(key_id), server=server, token=token, workspace=workspace)
    typer.echo(f"revoked API key {key_id}")


@agent_tokens_app.command("create")
@guarded
def create_agent_token(
    name: NameArg,
    pool: Annotated[
        str, typer.Option("--pool", help="The pool its agents join.", show_default=False)
    ],
    expires_at: ExpiresOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token for the agents of one pool; prints the token."""
    when = parse_expiry(expires_at)
    row = with_client(
        lambda c: c.create_agent_token(name, pool, expires_at=when),
        server=server,
        token=token,
        workspace=workspace,
    )
    err(
        f"created agent token {row.get('name')} (id {row.get('id')}, pool {row.get('pool')}, "
        f"expires {_expiry(row)}); start agents with "
        f"`QO_AGENT_TOKEN=<token> qo agent --pool {row.get('pool')} ...`"
    )
    _issued("token", row, "token", json_out)


@agent_tokens_app.command("list")
@guarded
def list_agent_tokens(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the workspace's agent tokens that still work (never the tokens themselves)."""
    items = with_client(
        lambda c: c.list_agent_tokens(), server=server, token=token, workspace=workspace
    )
    _echo_keys(
        items,
        json_out,
        ("POOL", "pool"),
        "no agent tokens; create one with `qo agent-tokens create NAME --pool POOL`",
    )


@agent_tokens_app.command("revoke")
@guarded
def revoke_agent_token(
    token_id: IdArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke an agent token now (its agents are refused from their next call)."""
    with_client(
        lambda c: c.revoke_agent_token(token_id), server=server, token=token, workspace=workspace
    )
    typer.echo(f"revoked agent token {token_id}")
