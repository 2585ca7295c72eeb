"""``qo run`` (start a run, optionally wait or follow it) and ``qo runs ...`` (inspect runs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    compact_json,
    echo_json,
    err,
    fail,
    fmt_clock,
    fmt_duration,
    fmt_error,
    fmt_time,
    guarded,
    parse_input_pairs,
    shorten,
    table,
    to_json,
    with_client,
)
from quantum_orchestrator.sdk.client import Client
from quantum_orchestrator.sdk.specfile import load_document

app = typer.Typer(help="Inspect, cancel and retry runs.", no_args_is_help=True)

# Exit codes of `qo run --wait`, by final state of the run.
EXIT_BY_STATE = {"succeeded": 0, "failed": 1, "cancelled": 2}

RunIdArg = Annotated[str, typer.Argument(help="Run id.", show_default=False)]


def format_event(event: Mapping[str, Any]) -> str:
    """One line per event: ``12:00:01.123 step fetch succeeded (attempt 1)``."""
    kind = str(event.get("type") or "event")
    subject, _, action = kind.partition(".")
    state = event.get("state") or action or kind
    raw = event.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if subject == "step":
        label = str(event.get("node_id") or data.get("node_id") or event.get("step_id") or "?")
        map_index = data.get("map_index")
        if map_index is not None:
            label += f"[{map_index}]"
        text = f"step {label} {state}"
        if action == "logs":
            # Lines, not a state: `qo runs logs` prints them.
            text = f"step {label} logged {data.get('lines', 0)} line(s)"
        attempt = data.get("attempt") or data.get("attempt_number")
        if attempt:
            text += f" (attempt {attempt})"
    elif subject == "run":
        text = f"run {state}"
    else:
        text = kind
    error = data.get("error")
    if error:
        text += f": {fmt_error(error)}"
    return f"{fmt_clock(event.get('ts'))} {text}"


def _print_event(event: dict[str, Any]) -> None:
    typer.echo(format_event(event))


@guarded
def run_command(
    workflow: Annotated[str, typer.Argument(help="Workflow name or id.", show_default=False)],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="An input as key=value (repeatable); values that parse as JSON keep their type.",
            show_default=False,
        ),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input-file", "-f", help="Inputs from a JSON or YAML file.", show_default=False
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="Version to run (default: latest).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the run to end.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="Print the run's events live (implies --wait).")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up waiting after S seconds.", min=0)
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", help="Start at most one run per key.", show_default=False
        ),
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start a run of a workflow.

    Without --wait prints the run id. With --wait prints the outputs and exits 0 when the run
    succeeded, 1 when it failed and 2 when it was cancelled.
    """
    values: dict[str, Any] = {}
    if input_file is not None:
        values.update(load_document(input_file, what="an inputs file"))
    values.update(parse_input_pairs(inputs or []))
    waiting = wait or follow

    async def go(client: Client) -> dict[str, Any]:
        run = await client.run(workflow, values, version=version, idempotency_key=idempotency_key)
        if not waiting:
            return run
        if follow:
            err(f"run {run['id']} of {run.get('workflow_name')} version {run.get('version')}")
        return await client.wait(run["id"], timeout, on_event=_print_event if follow else None)

    run = with_client(go, server=server, token=token, workspace=workspace)
    if not waiting:
        if json_out:
            echo_json(run)
        else:
            typer.echo(run["id"])
        return
    state = str(run.get("state"))
    typer.echo(to_json(run if json_out else run.get("outputs")))
    if state == "failed":
        err(f"error: run {run['id']} failed: {fmt_error(run.get('error'))}")
        for step in run.get("steps") or []:
            if step.get("state") == "failed":
                err(f"  {_step_label(step)}: {fmt_error(step.get('error'))}")
    elif state == "cancelled":
        err(f"run {run['id']} was cancelled")
    raise typer.Exit(EXIT_BY_STATE.get(state, 1))


def _step_label(step: Mapping[str, Any]) -> str:
    label = str(step.get("node_id") or step.get("id"))
    if step.get("map_index") is not None:
        label += f"[{step['map_index']}]"
    return label


@app.command("list")
@guarded
def list_runs(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow.", show_default=False)
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", "-s", help="queued, running, waiting, succeeded, failed or cancelled."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Most runs to list.", min=1)] = 50,
    cursor: Annotated[
        str | None,
        typer.Option("--cursor", help="Continue a previous listing.", show_default=False),
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    page = with_client(
        lambda c: c.list_runs(workflow=workflow, state=state, limit=limit, cursor=cursor),
        server=server,
        token=token,
        workspace=workspace,
    )
    if json_out:
        echo_json(page)
        return
    items = page.get("items") or []
    if not items:
        err("no runs")
        return
    rows = [
        [
            r.get("id"),
            r.get("workflow_name"),
            r.get("version"),
            r.get("state"),
            fmt_time(r.get("created_at")),
            fmt_duration(r.get("duration_ms")),
        ]
        for r in items
    ]
    typer.echo(table(["ID", "WORKFLOW", "VERSION", "STATE", "CREATED", "DURATION"], rows))
    if page.get("next_cursor"):
        err(f"more: qo runs list --cursor {page['next_cursor']}")


@app.command("show")
@guarded
def show(
    run_id: RunIdArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a run, its steps and the errors of failed attempts."""
    run = with_client(lambda c: c.get_run(run_id), server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(run)
        return
    lines = [
        ("run", str(run.get("id"))),
        ("workflow", f"{run.get('workflow_name')} version {run.get('version')}"),
        ("state", str(run.get("state"))),
        ("created", fmt_time(run.get("created_at"))),
        ("started", fmt_time(run.get("started_at"))),
        ("finished", fmt_time(run.get("finished_at"))),
        ("duration", fmt_duration(run.get("duration_ms"))),
        ("inputs", shorten(compact_json(run.get("inputs") or {}), 200)),
    ]
    if run.get("outputs") is not None:
        lines.append(("outputs", shorten(compact_json(run.get("outputs")), 200)))
    if run.get("error"):
        lines.append(("error", fmt_error(run.get("error"))))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        typer.echo(f"{key.ljust(width)}  {value}")
    steps = run.get("steps") or []
    if not steps:
        return
    rows = [
        [
            _step_label(s),
            s.get("node_type"),
            s.get("state"),
            len(s.get("attempts") or []),
            fmt_duration(s.get("duration_ms")),
            shorten(fmt_error(s.get("error")), 60) if s.get("error") else "",
        ]
        for s in steps
    ]
    typer.echo("")
    typer.echo(table(["NODE", "TYPE", "STATE", "ATTEMPTS", "DURATION", "ERROR"], rows))
    failed = [
        (s, a)
        for s in steps
        for a in s.get("attempts") or []
        if a.get("state") == "failed" or a.get("error")
    ]
    if failed:
        typer.echo("")
        typer.echo("failed attempts:")
        for step, attempt in failed:
            agent = f" on agent {attempt['agent_id']}" if attempt.get("agent_id") else ""
            typer.echo(
                f"  {_step_label(step)} attempt {attempt.get('number')}{agent}: "
                f"{fmt_error(attempt.get('error'))}"
            )


@app.command("logs")
@guarded
def logs(
    run_id: RunIdArg,
    node_id: Annotated[
        str | None,
        typer.Argument(help="One step's node id (default: every step).", show_default=False),
    ] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=1, help="Only this attempt of the step.")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show what steps' handlers logged (INFO and above), oldest first."""
    if attempt is not None and node_id is None:
        fail("--attempt needs a NODE_ID: attempts are numbered per step")

    async def go(client: Client) -> list[tuple[str, dict[str, Any]]]:
        if node_id is not None:
            return [(node_id, line) for line in await client.step_logs(run_id, node_id, attempt)]
        run = await client.get_run(run_id)
        found: list[tuple[str, dict[str, Any]]] = []
        # Only steps some agent ran have lines; engine-side steps (delay, approval) never do.
        for step in run.get("steps") or []:
            if any(a.get("agent_id") for a in step.get("attempts") or []):
                node = str(step["node_id"])
                found += [(node, line) for line in await client.step_logs(run_id, node)]
        return found

    found = with_client(go, server=server, token=token, workspace=workspace)
    if json_out:
        echo_json([{"node_id": node, **line} for node, line in found])
        return
    if not found:
        err("no log lines: handlers log through ctx.logger at INFO and above")
        return
    for node, line in found:
        typer.echo(
            f"{fmt_clock(line.get('at'))}  {str(line.get('level')).upper():<8} "
            f"{node}#{line.get('attempt')}  {line.get('message')}"
        )


@app.command("cancel")
@guarded
def cancel(
    run_id: RunIdArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Cancel a run (steps already running are asked to stop)."""
    run = with_client(lambda c: c.cancel(run_id), server=server, token=token, workspace=workspace)
    _echo_run_state(run, json_out)


@app.command("retry")
@guarded
def retry(
    run_id: RunIdArg,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Retry a failed or cancelled run from the steps that did not succeed."""
    run = with_client(lambda c: c.retry(run_id), server=server, token=token, workspace=workspace)
    _echo_run_state(run, json_out)


def _echo_run_state(run: Mapping[str, Any], json_out: bool) -> None:
    if json_out:
        echo_json(run)
    else:
        typer.echo(f"run {run.get('id')} {run.get('state')}")
