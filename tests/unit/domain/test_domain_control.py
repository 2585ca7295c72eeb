"""Pure helpers of the control nodes: decisions, timeouts and ``until`` times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from quantum_orchestrator.domain.control import (
    approval_wake_at,
    decision_record,
    default_decision,
    parse_until,
    rejection_error,
)
from quantum_orchestrator.domain.errors import QOError

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_a_decision_records_who_when_and_why_in_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    record = decision_record(
        decision="rejected", comment="no", decided_by="ops@example.com", decided_at=local
    )
    assert record == {
        "decision": "rejected",
        "comment": "no",
        "decided_by": "ops@example.com",
        "decided_by_id": None,
        "decided_at": "2030-01-01T12:00:00+00:00",
    }
    error = rejection_error(record)
    assert error == {
        "code": "approval_rejected",
        "message": "rejected by ops@example.com: no",
        "retryable": False,
    }


def test_timeout_and_default_decision() -> None:
    assert approval_wake_at({}, NOW) is None
    assert approval_wake_at({"timeout": 90}, NOW) == NOW + timedelta(seconds=90)
    assert default_decision({}) == "rejected"
    assert default_decision({"default_decision": "approved"}) == "approved"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T13:00:00+01:00", NOW),
        ("2030-01-01T12:00:00Z", NOW),
        (" 2030-01-01T12:00:00+00:00 ", NOW),
        (NOW, NOW),
    ],
)
def test_parse_until_accepts_times_with_a_zone(value: object, expected: datetime) -> None:
    assert parse_until(value) == expected


@pytest.mark.parametrize("value", ["2030-01-01T12:00:00", "soon", 1234, None])
def test_parse_until_refuses_the_rest(value: object) -> None:
    with pytest.raises(QOError) as caught:
        parse_until(value)
    assert caught.value.code == "invalid_params"
