"""``qo audit verify``: check the audit log's hash chain, offline, in the configured database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from quantum_orchestrator.cli._common import JsonOpt, build_settings, echo_json, err, guarded
from quantum_orchestrator.domain.errors import QOError

app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)

# Exit codes: 0 the chain holds, 1 it was tampered with, 2 it could not be checked.
EXIT_TAMPERED = 1
EXIT_UNCHECKED = 2


@app.command("verify")
@guarded
def verify(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (env QO_DATA_DIR).", show_default=False),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            help="A head hash printed by an earlier verify: it must still be in the chain "
            "(catches removal of the newest entries and rewrites).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check every entry of the audit log, reading the database directly (no server needed).

    Exits 0 when the chain holds, 1 at the first tampered entry, 2 when it cannot be checked.
    """
    settings = build_settings(data_dir=data_dir)
    from quantum_orchestrator.engine.audit import verify_database

    try:
        result = asyncio.run(verify_database(settings.database_url(), anchor=anchor))
    except QOError as exc:
        err(f"error: cannot verify the audit log: {exc.message}")
        raise typer.Exit(EXIT_UNCHECKED) from None
    problem = result.problem
    if json_out:
        echo_json(
            {
                "ok": result.ok,
                "checked": result.checked,
                "head_seq": result.head_seq,
                "head_hash": result.head_hash,
                "problem": None
                if problem is None
                else {"seq": problem.seq, "reason": problem.reason, "message": problem.message},
            }
        )
    elif problem is None:
        typer.echo(f"OK: {result.checked} audit entries checked, the chain is intact")
        if result.head_seq is not None:
            typer.echo(f"head: seq {result.head_seq} hash {result.head_hash}")
    else:
        typer.echo(f"TAMPERED: audit entry seq {problem.seq} ({problem.reason}): {problem.message}")
        typer.echo(f"{result.checked} entries checked; the entries before seq {problem.seq} hold")
    if problem is not None:
        raise typer.Exit(EXIT_TAMPERED)
