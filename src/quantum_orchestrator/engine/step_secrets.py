"""A step's secrets at the agent boundary: bound late into the params of claimed steps, and
their values kept out of what agents report (outputs, errors, log lines)."""

from __future__ import annotations

from typing import Any

from quantum_orchestrator.domain.agent_protocol import Result
from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.domain.secrets import marked_names, redact, redact_text, substitute
from quantum_orchestrator.engine.scheduler import error_info
from quantum_orchestrator.engine.secrets import SecretService
from quantum_orchestrator.engine.unit import Tx, UnitOfWork

Row = dict[str, Any]


class StepSecrets:
    """Late binding and redaction of the secrets steps name in their params."""

    def __init__(self, *, uow: UnitOfWork, secrets: SecretService | None) -> None:
        self._uow = uow
        self._secrets = secrets

    async def values(self, tx: Tx, workspace_id: str, names: set[str]) -> dict[str, str]:
        """The values of a workspace's secrets by name (the missing ones left out)."""
        if not names:
            return {}
        if self._secrets is None:
            raise QOError("secrets are not configured on this server", code="secret_unavailable")
        return await self._secrets.resolve(tx.conn, workspace_id, names)

    async def values_of(self, tx: Tx, step: Row) -> list[str]:
        """The values of the secrets a step names, to redact; none when they cannot be read
        (then they were never handed out either)."""
        try:
            found = await self.values(tx, step["workspace_id"], marked_names(step["params"]))
        except QOError:
            return []
        return list(found.values())

    async def bind(self, tx: Tx, rows: list[Row]) -> tuple[list[Row], list[tuple[Row, Row]]]:
        """Late binding: the claimed steps' params get their secrets' values in place of the
        markers (the stored params keep the markers). Answers the bound steps, and the steps
        that cannot run (a secret gone or not decrypting) with the error to fail them with."""
        needs = {row["id"]: marked_names(row["params"]) for row in rows}
        if not any(needs.values()):
            return rows, []
        # One read (and decryption) per workspace for the whole batch.
        wanted: dict[str, set[str]] = {}
        for row in rows:
            wanted.setdefault(row["workspace_id"], set()).update(needs[row["id"]])
        resolved: dict[str, dict[str, str] | QOError] = {}
        for workspace_id, names in wanted.items():
            try:
                resolved[workspace_id] = await self.values(tx, workspace_id, names)
            except QOError as exc:
                resolved[workspace_id] = exc
        bound: list[Row] = []
        failed: list[tuple[Row, Row]] = []
        used: dict[str, set[str]] = {}
        for row in rows:
            names = needs[row["id"]]
            if not names:
                bound.append(row)
                continue
            values = resolved[row["workspace_id"]]
            if isinstance(values, QOError):
                failed.append((row, error_info(values.code, values.message)))
                continue
            missing = sorted(names - set(values))
            if missing:
                message = f"the secret(s) {', '.join(missing)} no longer exist in the workspace"
                failed.append((row, error_info("secret_missing", message)))
                continue
            used.setdefault(row["workspace_id"], set()).update(names)
            bound.append(
                {
                    **row,
                    "params": substitute(row["params"], values),
                    # The agent keeps these out of its logs (it has them in params anyway).
                    "secret_values": sorted({values[name] for name in names}),
                }
            )
        for workspace_id, names in used.items():
            await self._uow.repos.secrets.touch(
                tx.conn, workspace_id=workspace_id, names=names, now=tx.now
            )
        return bound, failed


def redact_result(result: Result, values: list[str]) -> Result:
    """The result with ``values`` (the step's secrets) replaced by ``***`` in its output and
    error message, so they are never stored, answered or sent in events."""
    if not values:
        return result
    redacted: Result = {**result}
    if "output" in result:
        redacted["output"] = redact(result.get("output"), values)
    raw = result.get("error")
    if raw:
        error = dict(raw)
        if error.get("message") is not None:
            error["message"] = redact_text(str(error["message"]), values)
        redacted["error"] = error  # type: ignore[typeddict-item]
    return redacted
