"""Step logs in the engine: lines an agent sends while an attempt runs, and those that come
with its result, stored per attempt with the step's secrets redacted and the limit kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quantum_orchestrator.domain.secrets import redact_text
from quantum_orchestrator.domain.step_logs import MAX_LINES_PER_ATTEMPT, LogLine, log_rows
from quantum_orchestrator.engine.unit import Tx, UnitOfWork

Row = dict[str, Any]


class StepLogService:
    """Writes step log lines inside the caller's transaction."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow

    async def store(
        self,
        tx: Tx,
        step: Row,
        attempt: int,
        lines: Sequence[LogLine],
        secret_values: Sequence[str],
    ) -> int:
        """Store an attempt's lines, with ``secret_values`` (the step's) redacted; answers how
        many were kept.

        The agent redacts and bounds them already; the server does both again, since it cannot
        trust every agent: a step's secret values become ``***``, and an attempt keeps at most
        the limit (plus the agent's line saying how many it dropped).
        """
        if not lines:
            return 0
        repos = self._uow.repos
        room = (
            MAX_LINES_PER_ATTEMPT
            + 1
            - await repos.step_logs.count(tx.conn, step_id=step["id"], attempt=attempt)
        )
        rows = log_rows(
            step_id=step["id"],
            run_id=step["run_id"],
            attempt=attempt,
            lines=lines[: max(room, 0)],
            now=tx.now,
        )
        if not rows:
            return 0
        if secret_values:
            for row in rows:
                row["message"] = redact_text(row["message"], list(secret_values))
        await repos.step_logs.append(tx.conn, rows)
        return len(rows)
