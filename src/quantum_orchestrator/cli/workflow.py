"""``qo workflow ...``: validate, deploy, list and show workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

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
    shorten,
    table,
    with_client,
)
from quantum_orchestrator.sdk.client import Client
from quantum_orchestrator.sdk.specfile import load_spec

app = typer.Typer(help="Validate, deploy and inspect workflows.", no_args_is_help=True)

FileArg = Annotated[
    Path, typer.Argument(help="Spec file (.yaml, .yml or .json).", show_default=False)
]


@app.command("validate")
@guarded
def validate(
    file: FileArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Check a spec file with the server; exit 1 and list the problems if it is not valid."""
    spec = load_spec(file)
    result = with_client(
        lambda c: c.validate(spec), server=server, token=token, workspace=workspace
    )
    if result.get("valid"):
        typer.echo(f"{file}: valid")
        return
    errors = result.get("errors") or []
    fail(f"{file}: not valid ({len(errors)} problem{'s' if len(errors) != 1 else ''})", errors)


@app.command("deploy")
@guarded
def deploy(
    file: FileArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update the workflow from a spec file and deploy it as a new version."""
    spec = load_spec(file)
    version = with_client(lambda c: c.deploy(spec), server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(version)
        return
    name = version.get("workflow_name") or spec.get("name")
    typer.echo(f"deployed {name} version {version.get('number')}")


@app.command("list")
@guarded
def list_workflows(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the workflows."""
    items = with_client(
        lambda c: c.list_workflows(), server=server, token=token, workspace=workspace
    )
    if json_out:
        echo_json(items)
        return
    if not items:
        err("no workflows yet; deploy one with `qo workflow deploy FILE`")
        return
    rows = [
        [
            w.get("name"),
            w.get("latest_version") or "draft",
            fmt_time(w.get("updated_at")),
            shorten(str(w.get("description") or ""), 50),
        ]
        for w in items
    ]
    typer.echo(table(["NAME", "VERSION", "UPDATED", "DESCRIPTION"], rows))


@app.command("show")
@guarded
def show(
    ref: Annotated[str, typer.Argument(help="Workflow name or id.", show_default=False)],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="A deployed version instead of the draft.")
    ] = None,
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print only the spec, as YAML.")] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a workflow's draft (or a deployed version with --version)."""

    async def fetch(client: Client) -> dict[str, Any]:
        if version is None:
            return await client.get_workflow(ref)
        return await client.get_version(ref, version)

    item = with_client(fetch, server=server, token=token, workspace=workspace)
    spec = item.get("spec") or {}
    if as_yaml:
        typer.echo(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).rstrip("\n"))
        return
    if json_out:
        echo_json(item)
        return
    _print_summary(item, spec, version)


def _print_summary(item: dict[str, Any], spec: dict[str, Any], version: int | None) -> None:
    if version is None:
        lines = [
            ("workflow", f"{item.get('name')} ({item.get('id')})"),
            (
                "latest",
                f"version {item['latest_version']}" if item.get("latest_version") else "draft",
            ),
            ("updated", fmt_time(item.get("updated_at"))),
        ]
    else:
        lines = [
            ("workflow", f"{item.get('workflow_name')} ({item.get('workflow_id')})"),
            ("version", str(item.get("number"))),
            ("deployed", fmt_time(item.get("created_at"))),
        ]
    description = item.get("description") or spec.get("description")
    if description:
        lines.append(("about", str(description)))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        typer.echo(f"{key.ljust(width)}  {value}")
    nodes = spec.get("nodes") or []
    typer.echo("")
    typer.echo(
        table(
            ["NODE", "TYPE", "NAME"],
            [[n.get("id"), n.get("type"), n.get("name")] for n in nodes if isinstance(n, dict)],
        )
    )
    connections = [c for c in spec.get("connections") or [] if isinstance(c, dict)]
    if connections:
        typer.echo("")
        for edge in connections:
            when = f"  when {edge['when']}" if edge.get("when") else ""
            typer.echo(f"{edge.get('from')} -> {edge.get('to')}{when}")
