"""Schedules (cron across DST, intervals), misfire policies, webhook signatures, states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from quantum_orchestrator.domain.errors import InvalidInputError, InvalidTransitionError
from quantum_orchestrator.domain.triggers import (
    TriggerState,
    WebhookSignatureError,
    due_fires,
    fire_key,
    next_fire,
    parse_schedule,
    sign_webhook,
    trigger_transition,
    upcoming,
    verify_webhook,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def local(fires: list[datetime], zone: ZoneInfo) -> list[str]:
    return [f.astimezone(zone).isoformat() for f in fires]


def test_daily_cron_keeps_its_wall_clock_time_across_both_paris_changes() -> None:
    schedule = parse_schedule({"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    fires = upcoming(schedule, datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    assert local(fires, PARIS) == [
        "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00",
        "2026-03-30T09:00:00+02:00",
    ]
    fires = upcoming(schedule, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert local(fires, PARIS) == ["2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"]
    # The UTC gap between the fires is 23 h over spring-forward and 25 h over fall-back.
    spring = upcoming(schedule, datetime(2026, 3, 28, 0, tzinfo=UTC), 2)
    assert spring[1] - spring[0] == timedelta(hours=23)
    autumn = upcoming(schedule, datetime(2026, 10, 24, 0, tzinfo=UTC), 2)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_a_time_skipped_by_spring_forward_fires_once_just_after_new_york() -> None:
    schedule = parse_schedule({"cron": "30 2 * * *", "timezone": "America/New_York"})
    fires = upcoming(schedule, datetime(2026, 3, 7, 12, tzinfo=UTC), 3)
    assert local(fires, NEW_YORK) == [
        "2026-03-08T03:00:00-04:00",  # 02:30 does not exist that night
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_a_time_repeated_by_fall_back_fires_once_new_york() -> None:
    schedule = parse_schedule({"cron": "30 1 * * *", "timezone": "America/New_York"})
    fires = upcoming(schedule, datetime(2026, 10, 31, 12, tzinfo=UTC), 2)
    assert local(fires, NEW_YORK) == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]


def test_cron_steps_past_a_fire_time_within_the_same_minute() -> None:
    schedule = parse_schedule({"cron": "* * * * *"})
    at = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert next_fire(schedule, at) == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    exact = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert next_fire(schedule, exact) == datetime(2026, 1, 1, 0, 2, tzinfo=UTC)


def test_interval_fires_from_its_anchor() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = parse_schedule({"interval": 90}, anchor=anchor)
    assert upcoming(schedule, anchor, 3) == [
        anchor + timedelta(seconds=90),
        anchor + timedelta(seconds=180),
        anchor + timedelta(seconds=270),
    ]
    # Stored and read back, the anchor survives (a restart does not shift the fires).
    again = parse_schedule(schedule.as_config())
    assert next_fire(again, anchor + timedelta(seconds=100)) == anchor + timedelta(seconds=180)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"cron": "* * * * *", "interval": 5},
        {"cron": "not a cron"},
        {"cron": "* * * * *", "timezone": "Mars/Olympus"},
        {"interval": 0.5},
        {"interval": True},
        {"interval": 5, "misfire": "sometimes"},
        {"interval": 5, "catch_up": 1000},
        {"interval": 5, "grace": -1},
    ],
)
def test_invalid_schedules_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        parse_schedule(config, anchor=datetime(2026, 1, 1, tzinfo=UTC))


def test_on_time_fires_fire_whatever_the_policy() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = parse_schedule({"interval": 60}, anchor=anchor)
    first = anchor + timedelta(seconds=60)
    due = due_fires(schedule, first, first + timedelta(seconds=5))
    assert due.fires == [first]
    assert due.skipped == 0
    assert due.next_at == first + timedelta(seconds=60)
    assert due_fires(schedule, first, first - timedelta(seconds=1)).fires == []


def test_skip_drops_the_fires_missed_during_downtime() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = parse_schedule({"interval": 60, "misfire": "skip"}, anchor=anchor)
    now = anchor + timedelta(hours=1, seconds=10)
    due = due_fires(schedule, anchor + timedelta(seconds=60), now)
    # The 01:00 fire is 10 s late, within the grace: it fires; the 59 before are skipped.
    assert due.fires == [anchor + timedelta(hours=1)]
    assert due.skipped == 59
    assert due.next_at == anchor + timedelta(hours=1, seconds=60)


def test_catch_up_fires_the_latest_n_missed() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = parse_schedule(
        {"interval": 600, "misfire": "catch_up", "catch_up": 2, "grace": 0}, anchor=anchor
    )
    now = anchor + timedelta(hours=1, minutes=5)
    due = due_fires(schedule, anchor + timedelta(minutes=10), now)
    assert due.fires == [anchor + timedelta(minutes=50), anchor + timedelta(minutes=60)]
    assert due.skipped == 4
    assert due.next_at == anchor + timedelta(minutes=70)


def test_a_very_long_downtime_does_not_walk_every_minute() -> None:
    schedule = parse_schedule({"cron": "* * * * *", "misfire": "catch_up", "catch_up": 3})
    start = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    due = due_fires(schedule, start, now)
    assert due.fires[-1] == datetime(2026, 1, 1, tzinfo=UTC)
    assert due.next_at == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def test_fire_keys_are_deterministic_per_fire_time() -> None:
    at = datetime(2026, 3, 29, 9, tzinfo=PARIS)
    assert fire_key("t1", at) == fire_key("t1", at.astimezone(UTC))
    assert fire_key("t1", at) == "schedule:t1:2026-03-29T07:00:00+00:00"


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SECRET = "whsec_test"


def _verify(timestamp: str | None, signature: str | None, body: bytes = b"{}") -> None:
    verify_webhook(secret=SECRET, timestamp=timestamp, signature=signature, body=body, now=NOW)


def test_a_well_signed_recent_request_is_accepted() -> None:
    ts = str(int(NOW.timestamp()) - 10)
    _verify(ts, sign_webhook(SECRET, ts, b'{"a": 1}'), b'{"a": 1}')


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, "sha256=00"),
        ("1780315200", None),
        ("yesterday", "sha256=00"),
        ("nan", "sha256=00"),
        (str(int(NOW.timestamp())), "sha256=" + "0" * 64),
    ],
)
def test_unsigned_stale_or_badly_signed_requests_are_refused(
    timestamp: str | None, signature: str | None
) -> None:
    with pytest.raises(WebhookSignatureError):
        _verify(timestamp, signature)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_well_signed_request_too_far_from_now_is_refused(offset: int) -> None:
    ts = str(int(NOW.timestamp()) + offset)
    with pytest.raises(WebhookSignatureError, match="too old"):
        _verify(ts, sign_webhook(SECRET, ts, b"{}"))


def test_a_signature_for_another_body_or_secret_is_refused() -> None:
    ts = str(int(NOW.timestamp()))
    with pytest.raises(WebhookSignatureError):
        _verify(ts, sign_webhook(SECRET, ts, b'{"a": 1}'), b'{"a": 2}')
    with pytest.raises(WebhookSignatureError):
        _verify(ts, sign_webhook("whsec_other", ts, b"{}"))


def test_trigger_states_pause_and_resume_only() -> None:
    assert trigger_transition("active", TriggerState.PAUSED) is TriggerState.PAUSED
    assert trigger_transition("paused", TriggerState.ACTIVE) is TriggerState.ACTIVE
    with pytest.raises(InvalidTransitionError):
        trigger_transition("paused", TriggerState.PAUSED)
