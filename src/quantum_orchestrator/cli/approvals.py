"""``qo approve`` / ``qo reject`` (decide a ``core.approval`` step) and ``qo approvals list``."""

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
    shorten,
    table,
    with_client,
)

app = typer.Typer(help="Approvals waiting for a decision.", no_args_is_help=True)

RunIdArg = Annotated[str, typer.Argument(help="Run id.", show_default=False)]
NodeIdArg = Annotated[str, typer.Argument(help="Node id of the approval.", show_default=False)]
CommentOpt = Annotated[
    str | None,
    typer.Option("--comment", "-m", help="Why (recorded with the decision and audited)."),
]


def _echo_decision(decision: dict[str, Any], json_out: bool) -> None:
    if json_out:
        echo_json(decision)
        return
    typer.echo(
        f"{decision.get('node_id')} of run {decision.get('run_id')} {decision.get('decision')} "
        f"by {decision.get('decided_by')} at {fmt_time(decision.get('decided_at'))}"
    )


@guarded
def approve_command(
    run_id: RunIdArg,
    node_id: NodeIdArg,
    comment: CommentOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve a waiting approval step: the run goes on."""
    decision = with_client(
        lambda c: c.approve(run_id, node_id, comment=comment),
        server=server,
        token=token,
        workspace=workspace,
    )
    _echo_decision(decision, json_out)


@guarded
def reject_command(
    run_id: RunIdArg,
    node_id: NodeIdArg,
    comment: CommentOpt = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Reject a waiting approval step: it fails, and so does the run unless a rule allows it."""
    decision = with_client(
        lambda c: c.reject(run_id, node_id, comment=comment),
        server=server,
        token=token,
        workspace=workspace,
    )
    _echo_decision(decision, json_out)


@app.command("list")
@guarded
def list_approvals(
    server: ServerOpt = None,
    token: TokenOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the approvals waiting for a decision, oldest first."""
    items = with_client(
        lambda c: c.list_approvals(), server=server, token=token, workspace=workspace
    )
    if json_out:
        echo_json(items)
        return
    if not items:
        typer.echo("no approvals waiting")
        return
    rows = [
        (
            item.get("run_id"),
            item.get("node_id"),
            f"{item.get('workflow_name')} v{item.get('version')}",
            fmt_time(item.get("waiting_since")),
            fmt_time(item.get("timeout_at")) if item.get("timeout_at") else None,
            shorten(str(item.get("message") or ""), 60),
        )
        for item in items
    ]
    typer.echo(table(["RUN", "NODE", "WORKFLOW", "SINCE", "TIMEOUT", "MESSAGE"], rows))
