"""``qo agents ...`` (inspect and drain agents) and ``qo agent`` (run an agent process)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Annotated, TypeVar

import typer

from quantum_orchestrator.agents.errors import TransportError
from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    build_settings,
    echo_json,
    err,
    fail,
    fmt_time,
    guarded,
    server_url,
    shorten,
    table,
    with_client,
)
from quantum_orchestrator.domain.errors import QOError

app = typer.Typer(help="Inspect and drain agents.", no_args_is_help=True)

# Agent tokens look like qo_a_...; API keys (qo_k_) and logins (qo_s_) cannot register agents.
AGENT_TOKEN_PREFIX = "qo_a_"  # noqa: S105 - a prefix, not a secret

AgentTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=["QO_AGENT_TOKEN", "QO_TOKEN"],
        help="Agent token of the pool (`qo agent-tokens create`).",
        show_default=False,
    ),
]

T = TypeVar("T")


class ModuleImportError(QOError):
    """A module named with ``--import`` could not be imported."""

    code = "import_failed"


@app.command("list")
@guarded
def list_agents(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the registered agents."""
    items = with_client(lambda c: c.list_agents(), server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(items)
        return
    if not items:
        err("no agents registered; start one with `qo agent` (`qo up` runs built-in ones)")
        return
    rows = [
        [
            a.get("id"),
            a.get("name"),
            a.get("pool"),
            a.get("state"),
            f"{a.get('running', 0)}/{a.get('concurrency', '?')}",
            a.get("steps_done"),
            shorten(", ".join(str(c) for c in a.get("capabilities") or []), 50),
            fmt_time(a.get("last_heartbeat_at")),
        ]
        for a in items
    ]
    headers = ["ID", "NAME", "POOL", "STATE", "RUNNING", "DONE", "CAPABILITIES", "HEARTBEAT"]
    typer.echo(table(headers, rows))


@app.command("drain")
@guarded
def drain(
    agent_id: Annotated[str, typer.Argument(help="Agent id.", show_default=False)],
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Let an agent finish its running steps and take no new ones."""
    with_client(lambda c: c.drain_agent(agent_id), server=server, token=token, workspace=workspace)
    typer.echo(f"draining agent {agent_id}")


def import_modules(names: Sequence[str]) -> list[ModuleType]:
    """Import modules by dotted name or ``.py`` path, with the current directory on sys.path."""
    cwd = os.getcwd()
    # A user's agent module usually sits next to where they type the command.
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    modules = []
    for name in names:
        try:
            if name.endswith(".py") or os.sep in name:
                modules.append(_import_file(Path(name)))
            else:
                modules.append(importlib.import_module(name))
        except ModuleImportError:
            raise
        except Exception as exc:  # noqa: BLE001 - user code may raise anything on import
            raise ModuleImportError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None
    return modules


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ModuleImportError(f"cannot import {path}: no such file")
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModuleImportError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def collect_instances(modules: Sequence[ModuleType], cls: type[T]) -> list[T]:
    """Every instance of ``cls`` among the modules' attributes, once each, in module order."""
    found: list[T] = []
    seen: set[int] = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, cls) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
    return found


@guarded
def agent_command(
    imports: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            help="Module (dotted name or .py file) whose Agent instances to serve (repeatable). "
            "Without it, the built-in node types are served.",
            show_default=False,
        ),
    ] = None,
    pool: Annotated[
        str | None, typer.Option("--pool", help="Pool to join.", show_default=False)
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Steps run at once.", min=1)
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Agent name (default: host name).")
    ] = None,
    server: ServerOpt = None,
    token: AgentTokenOpt = None,
) -> None:
    """Run an agent process that executes steps for the server.

    It needs an agent token of its pool: `qo agent-tokens create NAME --pool POOL`.
    """
    try:
        from quantum_orchestrator.agents.sdk import Agent
        from quantum_orchestrator.agents.serve import DEFAULT_POOL, serve_agents
    except ImportError as exc:
        fail(f"the agent runtime is not available: {exc}", code=2)
    names = list(imports or [])
    try:
        modules = import_modules(names)
    except ModuleImportError as exc:
        fail(exc.message, code=2)
    agents: list[Agent] = []
    for module, module_name in zip(modules, names, strict=True):
        found = collect_instances([module], Agent)
        if not found:
            fail(f"{module_name} defines no Agent instance at module level", code=2)
        agents.extend(a for a in found if all(a is not b for b in agents))
    # Log like `qo up` does (QO_LOG_LEVEL, QO_LOG_FORMAT): registrations, drains, lost servers.
    settings = build_settings()
    from quantum_orchestrator.observability.logging import configure_logging

    configure_logging(level=settings.log_level, fmt=settings.log_format)
    url = server_url(server)
    try:
        asyncio.run(
            serve_agents(
                agents,
                server=url,
                pool=pool,
                concurrency=concurrency,
                name=name,
                token=token,
                include_builtin=not names,
                http_allow=settings.agents.http_allow,
            )
        )
    except TransportError as exc:
        if exc.status in (401, 403):
            # The pool the agent asked for: --pool, else its agents' common one (as the runtime
            # chose it), so that the hint names a token that would work.
            pools = {agent.pool for agent in agents} if agents else {DEFAULT_POOL}
            wanted = pool or (pools.pop() if len(pools) == 1 else None)
            fail(refused_message(exc, server=url, token=token, pool=wanted))
        raise
    except KeyboardInterrupt:
        # Ctrl-C is how an agent is normally stopped.
        err("agent stopped")


def refused_message(
    exc: TransportError, *, server: str, token: str | None, pool: str | None
) -> str:
    """What to tell a person whose agent the server would not register (401 or 403)."""
    # The transport's message is "POST <path> answered <status>: <detail>"; the detail is
    # what the server said and the part worth showing.
    detail = exc.message.partition(f"answered {exc.status}: ")[2] or exc.message
    create = f"`qo agent-tokens create NAME --pool {pool or 'POOL'}`"
    if not token:
        return (
            f"the server at {server} wants an agent token: create one with {create} and pass "
            "it with --token or QO_AGENT_TOKEN"
        )
    if not token.startswith(AGENT_TOKEN_PREFIX):
        return (
            f"the server at {server} refused the agent ({detail}): --token / QO_AGENT_TOKEN must "
            f"be an agent token (qo_a_...), not an API key or a login; create one with {create}"
        )
    if exc.status == 401:
        return (
            f"the server at {server} refused the agent token ({detail}); create a new one "
            f"with {create}"
        )
    return f"the server at {server} refused the agent: {detail}"
