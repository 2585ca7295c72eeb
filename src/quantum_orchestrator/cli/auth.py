"""``qo login`` and ``qo logout``: a session token per server, kept in the user's config dir."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    PasswordStdinOpt,
    ServerOpt,
    err,
    fail,
    guarded,
    read_password,
    server_url,
    with_client,
)
from quantum_orchestrator.sdk.client import Client, ClientError
from quantum_orchestrator.sdk.credentials import CredentialStore, StoredLogin

EmailOpt = Annotated[
    str | None,
    typer.Option(
        "--email", "-e", help="Your e-mail (asked for when not given).", show_default=False
    ),
]


@guarded
def login_command(
    server: ServerOpt = None, email: EmailOpt = None, password_stdin: PasswordStdinOpt = False
) -> None:
    """Log in to a server and keep the session token for the next commands.

    The token is stored per server in $XDG_CONFIG_HOME/quantum-orchestrator/credentials.json
    (readable by you only). --token and QO_TOKEN still win over it.
    """
    url = server_url(server)
    if email is None:
        if password_stdin:
            fail("--password-stdin needs --email: stdin holds the password", code=2)
        email = str(typer.prompt("E-mail")).strip()
    password = read_password(password_stdin)
    store = CredentialStore()

    async def go(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        answer = await client.login(email, password)
        return answer, await client.me()

    try:
        # No token at all: a stale stored one must not ride along with the login.
        answer, me = with_client(go, server=url, token="")
    except ClientError as exc:
        if exc.status == 401:
            fail(f"cannot log in to {url}: {exc.detail or 'wrong e-mail or password'}")
        raise
    now = datetime.now(UTC)
    expires_in = answer.get("expires_in")
    expires_at = (
        (now + timedelta(seconds=float(expires_in))).isoformat()
        if isinstance(expires_in, int | float)
        else None
    )
    user = me.get("user") or {}
    who = str(user.get("email") or email)
    store.save(
        url,
        StoredLogin(
            token=str(answer["access_token"]),
            email=who,
            created_at=now.isoformat(),
            expires_at=expires_at,
        ),
    )
    typer.echo(f"logged in to {url} as {who}")
    workspaces = me.get("workspaces") or []
    current = next((w for w in workspaces if w.get("id") == me.get("workspace_id")), None)
    if current is not None:
        others = len(workspaces) - 1
        more = f"; {others} more: `qo workspaces list`" if others > 0 else ""
        typer.echo(f"workspace: {current.get('slug')} (role {me.get('role')}){more}")
    else:
        err("you belong to no workspace yet: create one with `qo workspaces create NAME`")


@guarded
def logout_command(server: ServerOpt = None) -> None:
    """End the stored session on the server and forget its token."""
    url = server_url(server)
    store = CredentialStore()
    stored = store.get(url)
    if stored is None:
        err(f"not logged in to {url}")
        return
    try:
        with_client(lambda c: c.logout(), server=url, token=stored.token)
    except ClientError as exc:
        # A token the server no longer accepts is as good as revoked.
        if exc.status != 401:
            store.remove(url)
            fail(
                f"forgot the token of {url}, but could not end its session on the server: "
                f"{exc.message}"
            )
    store.remove(url)
    typer.echo(f"logged out of {url}")
