"""The ``qo`` command line: run the server, deploy workflows, start and watch runs."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import sys
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.cli import (
    admin,
    agents,
    approvals,
    audit,
    auth,
    keys,
    runs,
    triggers,
    usage,
    workflow,
    workspaces,
)
from quantum_orchestrator.cli._common import build_settings, err, fail, guarded

if TYPE_CHECKING:
    from quantum_orchestrator.engine.accounts import Bootstrap

app = typer.Typer(
    name="qo",
    help="Quantum Orchestrator: build, deploy and run durable agent workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)

app.add_typer(workflow.app, name="workflow")
app.add_typer(runs.app, name="runs")
app.add_typer(agents.app, name="agents")
app.add_typer(workspaces.workspaces_app, name="workspaces")
app.add_typer(workspaces.members_app, name="members")
app.add_typer(keys.api_keys_app, name="api-keys")
app.add_typer(keys.agent_tokens_app, name="agent-tokens")
app.add_typer(admin.admin_app, name="admin")
app.add_typer(db_app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(approvals.app, name="approvals")
app.add_typer(triggers.app, name="triggers")
app.add_typer(usage.app, name="usage")
app.command("approve")(approvals.approve_command)
app.command("reject")(approvals.reject_command)
app.command("run")(runs.run_command)
app.command("agent")(agents.agent_command)
app.command("login")(auth.login_command)
app.command("logout")(auth.logout_command)

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (env QO_DATA_DIR).", show_default=False),
]


@app.command("up")
@guarded
def up(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (env QO_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port to listen on (env QO_PORT).")
    ] = None,
    data_dir: DataDirOpt = None,
    no_open: Annotated[
        bool,
        typer.Option(
            "--no-open",
            help="Do not open the dashboard in a browser (also: env QO_NO_BROWSER, or when "
            "the output is not a terminal).",
        ),
    ] = False,
) -> None:
    """Run the server: API, dashboard, engine and built-in agents in one process."""
    settings = build_settings(host=host, port=port, data_dir=data_dir)
    browse = should_open_browser(
        no_open=no_open, stdout_is_tty=sys.stdout.isatty(), environ=os.environ
    )
    try:
        from quantum_orchestrator.api.server import serve
    except ImportError as exc:
        fail(f"the server is not available in this installation: {exc}")
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        asyncio.run(serve(settings, on_ready=_announcer(open_browser=browse)))
    except KeyboardInterrupt:
        # Ctrl-C and SIGTERM are how the server is normally stopped.
        err("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def should_open_browser(*, no_open: bool, stdout_is_tty: bool, environ: Mapping[str, str]) -> bool:
    """Whether ``qo up`` opens the dashboard: not when asked not to (``--no-open`` or a
    non-empty ``QO_NO_BROWSER``), nor when nobody watches (output not a terminal: a service,
    a container, a test)."""
    return not no_open and stdout_is_tty and not environ.get("QO_NO_BROWSER")


def dashboard_url(url: str) -> str:
    """The dashboard's address for a server listening at ``url`` (a wildcard address is
    reached through the loopback one)."""
    for wildcard, local in (("//0.0.0.0:", "//127.0.0.1:"), ("//[::]:", "//[::1]:")):
        url = url.replace(wildcard, local)
    return f"{url}/"


def _announcer(
    *, open_browser: bool, opener: Callable[[str], object] = webbrowser.open
) -> Callable[[str, Bootstrap | None], None]:
    def announce(url: str, bootstrap: Bootstrap | None) -> None:
        _announce(url, bootstrap)
        dashboard = dashboard_url(url)
        typer.echo(f"Dashboard: {dashboard}")
        if open_browser:
            try:
                opener(dashboard)
            except (webbrowser.Error, OSError) as exc:  # no browser must not stop the server
                err(f"could not open a browser: {exc}")

    return announce


def _announce(url: str, bootstrap: Bootstrap | None) -> None:
    typer.echo(f"Quantum Orchestrator is running at {url}  (API docs: {url}/docs; Ctrl-C stops)")
    if bootstrap is not None:
        typer.echo(f"Created the first admin: {bootstrap.email}")
        if bootstrap.generated_password is not None:
            # Shown this once: only its hash is stored.
            typer.echo(
                f"  password: {bootstrap.generated_password}  (shown once; change it with "
                "`qo admin reset-password`)"
            )
        typer.echo(f"  log in with: qo login --server {url} --email {bootstrap.email}")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the server like Ctrl-C does: a clean exit with status 0.

    uvicorn handles SIGTERM itself (graceful shutdown) and then raises the signal again for the
    handler that was there before it; without this one that is the default action, and the
    process would end killed by SIGTERM (status -15) after an orderly shutdown. Before uvicorn
    listens, it interrupts the start-up the same way.
    """
    raise KeyboardInterrupt


@db_app.command("upgrade")
@guarded
def db_upgrade(data_dir: DataDirOpt = None) -> None:
    """Apply the database migrations (``qo up`` does it too)."""
    settings = build_settings(data_dir=data_dir)
    from quantum_orchestrator.store.migrate import upgrade_database

    revision = asyncio.run(upgrade_database(settings))
    typer.echo(f"database is up to date (revision {revision})")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(f"qo {__version__} (Python {platform.python_version()})")


def main() -> None:
    """Entry point of the ``qo`` console script."""
    app()


if __name__ == "__main__":
    main()
