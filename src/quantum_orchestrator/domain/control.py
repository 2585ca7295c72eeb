"""Control nodes carried out by the engine: approvals, waiting until a time, sub-workflows.

Pure helpers: what a decision looks like, what an approval step answers once decided, and
when a step's durable timer should fire. The engine stores the results; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from quantum_orchestrator.domain.errors import QOError

APPROVAL = "core.approval"
WAIT_UNTIL = "core.wait_until"
SUBWORKFLOW = "core.subworkflow"
Decision = Literal["approved", "rejected"]
DECISIONS: tuple[Decision, ...] = ("approved", "rejected")
# Who decided when nobody did before the approval's timeout.
TIMEOUT_DECIDER = "system:timeout"


def decision_record(
    *,
    decision: Decision,
    comment: str | None,
    decided_by: str,
    decided_at: datetime,
    decided_by_id: str | None = None,
) -> dict[str, Any]:
    """The output of a decided approval step (also kept on a rejected, failed one).

    ``decided_by`` is what people read (an e-mail, or ``system:timeout``); ``decided_by_id``
    the user id behind it, when a person decided.
    """
    return {
        "decision": decision,
        "comment": comment,
        "decided_by": decided_by,
        "decided_by_id": decided_by_id,
        "decided_at": decided_at.astimezone(UTC).isoformat(),
    }


def rejection_error(record: Mapping[str, Any]) -> dict[str, Any]:
    """The step error of a rejected approval: final, since asking again gives the same answer."""
    comment = record.get("comment")
    why = f": {comment}" if comment else ""
    return {
        "code": "approval_rejected",
        "message": f"rejected by {record['decided_by']}{why}",
        "retryable": False,
    }


def approval_wake_at(params: Mapping[str, Any], now: datetime) -> datetime | None:
    """When an approval's default decision applies, or None when it waits for ever."""
    timeout = params.get("timeout")
    if timeout is None:
        return None
    return now + timedelta(seconds=float(timeout))


def default_decision(params: Mapping[str, Any]) -> Decision:
    """The decision taken when an approval times out (``rejected`` unless the node says so)."""
    value = params.get("default_decision", "rejected")
    return "approved" if value == "approved" else "rejected"


def parse_until(value: Any) -> datetime:
    """``core.wait_until``'s ``until``: an ISO 8601 time that names its zone (or offset).

    A time without a zone is refused rather than guessed: servers and users may not agree on
    which zone was meant.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise QOError(
                f"params.until: {value!r} is not an ISO 8601 date and time", code="invalid_params"
            ) from None
    else:
        raise QOError(
            "params.until: must render to an ISO 8601 date and time", code="invalid_params"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise QOError(
            "params.until: the time must name its zone, e.g. 2030-01-01T09:00:00+01:00 or Z",
            code="invalid_params",
        )
    return moment.astimezone(UTC)
