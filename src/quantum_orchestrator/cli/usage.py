"""``qo usage``: LLM tokens and cost of the workspace, and its monthly budget."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantum_orchestrator.cli._common import (
    JsonOpt,
    ServerOpt,
    TokenOpt,
    WorkspaceOpt,
    echo_json,
    guarded,
    table,
    with_client,
)

app = typer.Typer(
    help="LLM usage (tokens, cost) and the workspace's monthly budget.",
    no_args_is_help=True,
)

_KEYS = {
    "workspace": "workspace_id",
    "workflow": "workflow",
    "run": "run_id",
    "agent": "agent_id",
    "model": "model",
}


@app.command("show")
@guarded
def show_usage(
    group_by: Annotated[
        str, typer.Option("--group-by", "-g", help="workspace, workflow, run, agent or model.")
    ] = "workflow",
    since: Annotated[
        str | None, typer.Option("--from", help="At or after (ISO 8601 with a time zone).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Before (ISO 8601 with a time zone).")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tokens and cost summed per group, largest cost first, then the total."""
    answer = with_client(
        lambda c: c.usage(group_by=group_by, since=since, until=until),
        server=server,
        token=token,
        workspace=workspace,
    )
    if json_out:
        echo_json(answer)
        return
    key = _KEYS.get(group_by, group_by)
    rows: list[tuple[Any, ...]] = [
        (
            item.get(key) or "-",
            item["steps"],
            item["prompt_tokens"],
            item["completion_tokens"],
            f"{item['cost']:.6f}",
        )
        for item in answer["items"]
    ]
    total = answer["total"]
    rows.append(
        (
            "TOTAL",
            total["steps"],
            total["prompt_tokens"],
            total["completion_tokens"],
            f"{total['cost']:.6f}",
        )
    )
    typer.echo(table([group_by.upper(), "STEPS", "PROMPT", "COMPLETION", "COST"], rows))


@app.command("budget")
@guarded
def budget(
    tokens: Annotated[
        int | None, typer.Option("--tokens", min=0, help="Set: tokens per month (UTC).")
    ] = None,
    cost: Annotated[
        float | None, typer.Option("--cost", min=0, help="Set: cost per month (UTC).")
    ] = None,
    alert: Annotated[
        float, typer.Option("--alert", min=0.01, max=1, help="Set: share that raises the alert.")
    ] = 0.8,
    clear: Annotated[bool, typer.Option("--clear", help="Set: remove both limits.")] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the monthly budget and this month's spending; with --tokens/--cost/--clear, set it
    (owners only; a new budget replaces the whole previous one)."""
    setting = clear or tokens is not None or cost is not None

    def call(c: Any) -> Any:
        if setting:
            return c.set_budget(token_limit=tokens, cost_limit=cost, alert_ratio=alert)
        return c.budget()

    answer = with_client(call, server=server, token=token, workspace=workspace)
    if json_out:
        echo_json(answer)
        return
    for name, value in answer.items():
        typer.echo(f"{name}: {value if value is not None else 'none'}")
