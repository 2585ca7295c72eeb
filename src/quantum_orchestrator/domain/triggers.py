"""Triggers: when a schedule fires, what it does after downtime, and how webhooks are signed.

Pure logic: the engine stores ``next_fire_at`` and asks this module for the fires that are due
and for the next one. Times in and out are aware datetimes; the engine keeps them in UTC and
a schedule's time zone only matters for its cron expression.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from quantum_orchestrator.domain.auth import AuthenticationError
from quantum_orchestrator.domain.errors import InvalidInputError, InvalidTransitionError

SIGNATURE_HEADER = "X-QO-Signature"
TIMESTAMP_HEADER = "X-QO-Timestamp"
SIGNATURE_SCHEME = "sha256"
# A signed request older (or newer, clocks drift) than this is refused: a captured request
# cannot be replayed later.
SIGNATURE_TOLERANCE = 300.0
MIN_INTERVAL = 1.0
MAX_CATCH_UP = 100
PREVIEW_COUNT = 10
# How late a fire may be and still count as on time (a tick or a short restart).
DEFAULT_GRACE = 60.0
# A cron walk over a long downtime stops here and resumes from now: minutely schedules after
# a year offline would otherwise iterate half a million times.
_MAX_WALK = 10_000


class TriggerKind(StrEnum):
    """What starts the runs of a trigger."""

    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    RUN_COMPLETION = "run_completion"


class TriggerState(StrEnum):
    """A trigger fires while active; paused keeps it without firing."""

    ACTIVE = "active"
    PAUSED = "paused"


_TRIGGER_EDGES: dict[TriggerState, frozenset[TriggerState]] = {
    TriggerState.ACTIVE: frozenset({TriggerState.PAUSED}),
    TriggerState.PAUSED: frozenset({TriggerState.ACTIVE}),
}


def trigger_transition(current: str, target: TriggerState) -> TriggerState:
    """Accept ``current → target`` for a trigger, or raise ``InvalidTransitionError``."""
    source = TriggerState(current)
    if target not in _TRIGGER_EDGES[source]:
        raise InvalidTransitionError(f"the trigger is already {source}")
    return target


class MisfirePolicy(StrEnum):
    """What a schedule does with the fires it missed while the platform was down."""

    SKIP = "skip"
    CATCH_UP = "catch_up"


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A cron expression in a time zone, or a fixed interval from an anchor."""

    cron: str | None = None
    interval: float | None = None
    timezone: str = "UTC"
    misfire: MisfirePolicy = MisfirePolicy.SKIP
    catch_up: int = 1
    grace: float = DEFAULT_GRACE
    # Interval schedules fire at anchor + k * interval, so a restart does not shift them.
    anchor: datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the cron expression is read in."""
        return ZoneInfo(self.timezone)

    def as_config(self) -> dict[str, Any]:
        """The JSON form stored in the trigger's ``config``."""
        return {
            "cron": self.cron,
            "interval": self.interval,
            "timezone": self.timezone,
            "misfire": self.misfire.value,
            "catch_up": self.catch_up,
            "grace": self.grace,
            "anchor": self.anchor.isoformat() if self.anchor else None,
        }


def parse_schedule(config: Mapping[str, Any], *, anchor: datetime | None = None) -> Schedule:
    """Validate a schedule's config; ``anchor`` is used when an interval has none yet."""
    cron = config.get("cron")
    interval = config.get("interval")
    if (cron is None) == (interval is None):
        raise InvalidInputError("a schedule needs exactly one of `cron` and `interval`")
    timezone = config.get("timezone") or "UTC"
    if not isinstance(timezone, str):
        raise InvalidInputError("`timezone` must be an IANA name such as Europe/Paris")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"unknown time zone {timezone!r}") from None
    if cron is not None:
        if not isinstance(cron, str):
            raise InvalidInputError("`cron` must be a string such as '0 9 * * 1-5'")
        try:
            CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise InvalidInputError(f"invalid cron expression {cron!r}: {exc}") from None
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise InvalidInputError("`interval` must be a number of seconds")
        if interval < MIN_INTERVAL:
            raise InvalidInputError(f"`interval` must be at least {MIN_INTERVAL:g} second")
        interval = float(interval)
    try:
        misfire = MisfirePolicy(config.get("misfire") or MisfirePolicy.SKIP)
    except ValueError:
        raise InvalidInputError("`misfire` must be `skip` or `catch_up`") from None
    catch_up = config.get("catch_up", 1)
    if (
        isinstance(catch_up, bool)
        or not isinstance(catch_up, int)
        or not (0 <= catch_up <= MAX_CATCH_UP)
    ):
        raise InvalidInputError(f"`catch_up` must be an integer from 0 to {MAX_CATCH_UP}")
    grace = config.get("grace", DEFAULT_GRACE)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise InvalidInputError("`grace` must be a number of seconds (0 or more)")
    stored_anchor = config.get("anchor")
    if isinstance(stored_anchor, str):
        anchor = datetime.fromisoformat(stored_anchor)
    if interval is not None and anchor is None:
        raise InvalidInputError("an interval schedule needs an anchor time")
    return Schedule(
        cron=cron,
        interval=interval,
        timezone=timezone,
        misfire=misfire,
        catch_up=catch_up,
        grace=float(grace),
        anchor=anchor.astimezone(UTC) if anchor and interval is not None else None,
    )


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, in UTC.

    Cron times are local wall-clock times: a time skipped by a spring-forward change fires at
    the first valid minute after it, and a time repeated by a fall-back change fires once.
    """
    if schedule.interval is not None:
        assert schedule.anchor is not None  # noqa: S101 - parse_schedule guarantees it
        step = timedelta(seconds=schedule.interval)
        if after < schedule.anchor:
            return schedule.anchor
        count = (after - schedule.anchor) // step + 1
        return schedule.anchor + count * step
    assert schedule.cron is not None  # noqa: S101 - parse_schedule guarantees it
    local = after.astimezone(schedule.zone)
    # CronSim works at minute precision and may answer ``after`` itself: step past it.
    for candidate in CronSim(schedule.cron, local):
        fire = candidate.astimezone(UTC)
        if fire > after:
            return fire
    raise InvalidInputError(
        f"the cron expression {schedule.cron!r} never fires"
    )  # pragma: no cover


def upcoming(schedule: Schedule, after: datetime, count: int = PREVIEW_COUNT) -> list[datetime]:
    """The next ``count`` fire times after ``after``."""
    fires: list[datetime] = []
    at = after
    for _ in range(count):
        at = next_fire(schedule, at)
        fires.append(at)
    return fires


@dataclass(frozen=True, kw_only=True)
class DueFires:
    """What a schedule does now: the fire times to start runs for, and the next one."""

    fires: list[datetime]
    skipped: int
    next_at: datetime


def due_fires(schedule: Schedule, next_at: datetime, now: datetime) -> DueFires:
    """The fires due at ``now``, given the stored ``next_at``, after the misfire policy.

    A fire at most ``grace`` seconds late is on time and always fires. Older ones were missed
    (the platform was down): ``skip`` drops them, ``catch_up`` fires the latest
    ``catch_up`` of them.
    """
    if next_at > now:
        return DueFires(fires=[], skipped=0, next_at=next_at)
    missed: list[datetime] = []
    on_time: list[datetime] = []
    late_before = now - timedelta(seconds=schedule.grace)
    at = next_at
    walked = 0
    while at <= now:
        if walked >= _MAX_WALK:
            # Only the latest fires can matter: jump to the last grace window.
            at = next_fire(schedule, late_before - timedelta(microseconds=1))
            walked = 0
            if at > now:
                break
        (on_time if at >= late_before else missed).append(at)
        at = next_fire(schedule, at)
        walked += 1
    keep = missed[len(missed) - schedule.catch_up :] if schedule.catch_up else []
    chosen = keep if schedule.misfire is MisfirePolicy.CATCH_UP else []
    return DueFires(
        fires=chosen + on_time,
        skipped=len(missed) - len(chosen),
        next_at=at,
    )


def fire_key(trigger_id: str, fire_at: datetime) -> str:
    """The idempotency key of a schedule's run for one fire time: one run per fire."""
    return f"schedule:{trigger_id}:{fire_at.astimezone(UTC).isoformat()}"


def completion_key(trigger_id: str, source_run_id: str) -> str:
    """The idempotency key of the run a finished run triggers."""
    return f"run:{source_run_id}:{trigger_id}"


def new_webhook_secret() -> str:
    """A fresh signing secret for a webhook, shown once."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-QO-Signature`` value: HMAC-SHA256 over ``timestamp`` + ``.`` + body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={digest.hexdigest()}"


class WebhookSignatureError(AuthenticationError):
    """A webhook request is unsigned, badly signed, or too old (401)."""

    code = "bad_signature"


def verify_webhook(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    tolerance: float = SIGNATURE_TOLERANCE,
) -> None:
    """Accept a signed webhook request, or raise ``WebhookSignatureError``."""
    if not timestamp or not signature:
        raise WebhookSignatureError(
            f"sign the request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        )
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookSignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if sent != sent or abs(now.timestamp() - sent) > tolerance:  # NaN never compares
        raise WebhookSignatureError(
            f"the request is too old or in the future (more than {tolerance:g} s away)"
        )
    expected = sign_webhook(secret, timestamp, body)
    # Constant time: an attacker learns nothing from how long the comparison took.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookSignatureError("the signature does not match")
