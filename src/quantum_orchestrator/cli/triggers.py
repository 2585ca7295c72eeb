"""``qo triggers``: schedules, webhooks and run-completion triggers of workflows."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    echo_json,
    fmt_time,
    guarded,
    parse_input_pairs,
    table,
    with_client,
)

app = typer.Typer(help="Schedules, webhooks and run-completion triggers.", no_args_is_help=True)

WorkflowArg = Annotated[str, typer.Argument(help="Workflow name or id.", show_default=False)]
TriggerArg = Annotated[str, typer.Argument(help="Trigger id.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="The trigger's name.")]
InputOpt = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="An input of each run, key=value (repeatable)."),
]


def _describe(row: dict[str, Any]) -> str:
    config = row.get("config") or {}
    if row.get("kind") == "schedule":
        when = config.get("cron") or f"every {config.get('interval'):g} s"
        return f"{when} ({config.get('timezone')}, misfire {config.get('misfire')})"
    if row.get("kind") == "webhook":
        return str(row.get("hook_url"))
    return f"after {config.get('source_workflow_id')} {'/'.join(config.get('states') or [])}"


def _echo(row: dict[str, Any], json_out: bool) -> None:
    if json_out:
        echo_json(row)
        return
    typer.echo(f"{row['kind']} trigger {row['name']} ({row['id']}): {row['state']}")
    typer.echo(f"  {_describe(row)}")
    if row.get("next_fire_at"):
        typer.echo(f"  next fire: {fmt_time(row['next_fire_at'])}")
    if row.get("secret"):
        # Shown this once: the server keeps it sealed and never answers it again.
        typer.echo(f"  secret: {row['secret']}  (shown once; sign requests with it)")


def _create(
    workflow: str,
    body: dict[str, Any],
    inputs: list[str] | None,
    server: str | None,
    token: str | None,
    workspace: str | None,
) -> dict[str, Any]:
    values = parse_input_pairs(inputs or [])
    row: dict[str, Any] = with_client(
        lambda c: c.create_trigger(workflow, inputs=values, **body),
        server=server,
        token=token,
        workspace=workspace,
    )
    return row


@app.command("list")
@guarded
def list_triggers(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow's.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="schedule, webhook or run_completion.")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List triggers."""
    items = with_client(
        lambda c: c.list_triggers(workflow, kind=kind),
        server=server,
        token=token,
        workspace=workspace,
    )
    if json_out:
        echo_json(items)
        return
    if not items:
        typer.echo("no triggers")
        return
    rows = [
        (
            item["id"],
            item["name"],
            item["kind"],
            item["state"],
            _describe(item),
            fmt_time(item.get("next_fire_at")) if item.get("next_fire_at") else None,
        )
        for item in items
    ]
    typer.echo(table(["ID", "NAME", "KIND", "STATE", "WHEN", "NEXT"], rows))


@app.command("create-schedule")
@guarded
def create_schedule(
    workflow: WorkflowArg,
    name: NameOpt,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Cron expression, e.g. '0 9 * * 1-5'.")
    ] = None,
    every: Annotated[
        float | None, typer.Option("--every", help="Fixed interval in seconds.")
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", "--tz", help="IANA time zone.")] = "UTC",
    misfire: Annotated[
        str, typer.Option("--misfire", help="After downtime: skip, or catch_up.")
    ] = "skip",
    catch_up: Annotated[
        int, typer.Option("--catch-up", help="With catch_up: how many missed fires at most.")
    ] = 1,
    inputs: InputOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a workflow on a cron schedule (in a time zone) or every N seconds."""
    schedule: dict[str, Any] = {"timezone": timezone, "misfire": misfire, "catch_up": catch_up}
    if cron is not None:
        schedule["cron"] = cron
    if every is not None:
        schedule["interval"] = every
    body = {"kind": "schedule", "name": name, "schedule": schedule}
    _echo(_create(workflow, body, inputs, server, token, workspace), json_out)


@app.command("create-webhook")
@guarded
def create_webhook(
    workflow: WorkflowArg,
    name: NameOpt,
    inputs: InputOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Expose a signed webhook that starts the workflow; prints its secret once."""
    body = {"kind": "webhook", "name": name}
    _echo(_create(workflow, body, inputs, server, token, workspace), json_out)


@app.command("create-on-completion")
@guarded
def create_on_completion(
    workflow: WorkflowArg,
    name: NameOpt,
    source: Annotated[str, typer.Option("--after", help="The workflow whose runs are watched.")],
    states: Annotated[
        list[str] | None,
        typer.Option("--state", help="succeeded (default), failed or cancelled; repeatable."),
    ] = None,
    inputs: InputOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start the workflow when a run of another finishes, with that run's outputs as inputs."""
    body = {"kind": "run_completion", "name": name, "source": source, "states": states}
    _echo(_create(workflow, body, inputs, server, token, workspace), json_out)


def _one(
    action: str,
    trigger_id: str,
    server: str | None,
    token: str | None,
    workspace: str | None,
) -> dict[str, Any]:
    calls = {
        "pause": lambda c: c.pause_trigger(trigger_id),
        "resume": lambda c: c.resume_trigger(trigger_id),
        "rotate": lambda c: c.rotate_trigger_secret(trigger_id),
    }
    row: dict[str, Any] = with_client(
        calls[action], server=server, token=token, workspace=workspace
    )
    return row


@app.command("pause")
@guarded
def pause(
    trigger_id: TriggerArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop a trigger firing until resumed."""
    _echo(_one("pause", trigger_id, server, token, workspace), json_out)


@app.command("resume")
@guarded
def resume(
    trigger_id: TriggerArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Let a paused trigger fire again (a schedule from now on)."""
    _echo(_one("resume", trigger_id, server, token, workspace), json_out)


@app.command("rotate-secret")
@guarded
def rotate_secret(
    trigger_id: TriggerArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give a webhook a new signing secret (printed once); the old one stops at once."""
    _echo(_one("rotate", trigger_id, server, token, workspace), json_out)


@app.command("delete")
@guarded
def delete(
    trigger_id: TriggerArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Remove a trigger; the runs it started stay."""
    with_client(
        lambda c: c.delete_trigger(trigger_id), server=server, token=token, workspace=workspace
    )
    typer.echo(f"deleted trigger {trigger_id}")


@app.command("preview")
@guarded
def preview(
    trigger_id: TriggerArg,
    count: Annotated[int, typer.Option("--count", "-c", help="How many fire times.")] = 10,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a schedule's next fire times."""
    fires = with_client(
        lambda c: c.preview_schedule(trigger_id, count=count),
        server=server,
        token=token,
        workspace=workspace,
    )
    if json_out:
        echo_json(fires)
        return
    for fire in fires:
        typer.echo(fire)
