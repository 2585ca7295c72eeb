"""The audit log's hash chain: canonical entries, their hashes, change digests, verification.

Each entry's ``hash`` is the SHA-256 of the canonical JSON of its fields, ``prev_hash``
included, so changing, removing or moving an entry breaks the chain at that point. ``seq`` is
not hashed: order is proven by the links, and a gap in ``seq`` only explains a broken link.

The chain has no key: whoever can rewrite the whole table can rewrite the chain too, and
removing the newest entries leaves a valid (shorter) chain. Record the head hash elsewhere
(``qo audit verify`` prints it) and verify later with ``anchor`` to catch both.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from quantum_orchestrator.domain.auth import Principal

GENESIS_HASH = "0" * 64
REDACTED = "[redacted]"

# The fields the hash covers, in the order the table keeps them (the JSON sorts them anyway).
HASHED_FIELDS = (
    "id",
    "at",
    "workspace_id",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "source_ip",
    "user_agent",
    "request_id",
    "digest",
    "details",
    "prev_hash",
)

# Column widths of ``audit_log`` (store/tables.py): values are cut to fit before they are
# hashed, so what is stored is exactly what was hashed, on SQLite and on PostgreSQL alike.
FIELD_LIMITS: dict[str, int] = {
    "workspace_id": 32,
    "actor_type": 16,
    "actor_id": 64,
    "actor_label": 254,
    "action": 64,
    "target_type": 32,
    "target_id": 200,
    "outcome": 16,
    "source_ip": 64,
    "user_agent": 300,
    "request_id": 64,
}

# Keys whose values never reach the log, not even through a digest: a SHA-256 of a short
# password or key could be guessed offline. Compared lowercased, without ``-`` and ``_``.
_SENSITIVE_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "secretvalue",
        "token",
        "accesstoken",
        "refreshtoken",
        "apikey",
        "key",
        "authorization",
        "cookie",
        "privatekey",
        "clientsecret",
        "credentials",
    }
)
_SENSITIVE_SUFFIXES = ("password", "secret", "token", "apikey", "privatekey")

Outcome = Literal["success", "failure"]
ActorType = Literal["user", "api_key", "agent", "anonymous", "system"]
BreakReason = Literal["changed", "deleted", "reordered", "broken_link", "anchor_missing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who did it: a user, an API key, an agent token, or nobody known (a failed login)."""

    type: ActorType
    id: str | None
    label: str | None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor for an authenticated caller."""
        return cls(type=principal.kind, id=principal.subject, label=principal.label)

    @classmethod
    def anonymous(cls, label: str | None) -> Actor:
        """A caller without valid credentials; ``label`` is what it claimed to be."""
        return cls(type="anonymous", id=None, label=label)


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where a request came from: address, user agent and the request id it was answered with."""

    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditDraft:
    """An entry before it joins the chain (no id, time, sequence number or hashes yet)."""

    actor: Actor
    action: str
    workspace_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: Outcome = "success"
    origin: Origin = field(default_factory=Origin)
    digest: str | None = None
    details: dict[str, Any] | None = None


def _is_sensitive(key: str) -> bool:
    name = key.lower().replace("-", "").replace("_", "")
    return name in _SENSITIVE_KEYS or name.endswith(_SENSITIVE_SUFFIXES)


def redact(value: Any) -> Any:
    """``value`` with the values of password-, secret-, token- and key-like keys replaced."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _is_sensitive(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _text(value: str) -> str:
    # Lone surrogates cannot be stored as UTF-8 and PostgreSQL refuses NUL in text: both are
    # replaced, so a hostile header or e-mail cannot make the append fail.
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _plain(value: Any) -> Any:
    # Details are made JSON that survives SQLite JSON and PostgreSQL JSONB unchanged: JSONB
    # rewrites numbers (1e300 comes back as an integer), so floats are kept as text.
    if isinstance(value, Mapping):
        return {_text(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return format_time(value)
    return _text(str(value))


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that hashes are computed over (RFC 8785 in spirit)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def change_digest(change: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of what changed, sensitive values redacted first.

    It proves what changed without keeping it: compute the digest of a candidate (a spec, a
    body) with this function and compare.
    """
    return hashlib.sha256(canonical_json(_plain(redact(change)))).hexdigest()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("audit times must be aware")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """An aware time as UTC ISO 8601 with microseconds (the form the hash covers)."""
    return _utc(value).isoformat(timespec="microseconds")


def _hashed_value(name: str, value: Any) -> Any:
    if name == "at":
        return format_time(value) if isinstance(value, datetime) else value
    return value


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash an entry must carry: SHA-256 of the canonical JSON of ``HASHED_FIELDS``."""
    payload = {name: _hashed_value(name, entry.get(name)) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _fit(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    return _text(value)[: FIELD_LIMITS[name]] or None


def seal(
    draft: AuditDraft, *, entry_id: str, seq: int, at: datetime, prev_hash: str
) -> dict[str, Any]:
    """The row of ``draft`` as entry ``seq`` after the entry whose hash is ``prev_hash``."""
    row: dict[str, Any] = {
        "seq": seq,
        "id": entry_id,
        # Stored and hashed at microsecond precision, which both databases keep.
        "at": _utc(at),
        "workspace_id": _fit("workspace_id", draft.workspace_id),
        "actor_type": _fit("actor_type", draft.actor.type),
        "actor_id": _fit("actor_id", draft.actor.id),
        "actor_label": _fit("actor_label", draft.actor.label),
        "action": _fit("action", draft.action),
        "target_type": _fit("target_type", draft.target_type),
        "target_id": _fit("target_id", draft.target_id),
        "outcome": _fit("outcome", draft.outcome),
        "source_ip": _fit("source_ip", draft.origin.source_ip),
        "user_agent": _fit("user_agent", draft.origin.user_agent),
        "request_id": _fit("request_id", draft.origin.request_id),
        "digest": draft.digest,
        "details": _plain(redact(draft.details)) if draft.details is not None else None,
        "prev_hash": prev_hash,
    }
    row["hash"] = entry_hash(row)
    return row


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBreak:
    """The first place the chain does not hold, and why."""

    seq: int
    reason: BreakReason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """The outcome of checking a chain from its first entry."""

    checked: int
    head_seq: int | None
    head_hash: str
    problem: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """Whether every entry checked holds."""
        return self.problem is None


class ChainVerifier:
    """Checks entries fed one at a time in ``seq`` order; memory stays constant.

    ``feed`` answers whether it wants more entries: False once the chain is broken (stop
    feeding then). A broken link is classified with the entry after it, to tell a swap from a
    rewrite. ``result`` gives the verdict.
    """

    def __init__(self, *, anchor: str | None = None) -> None:
        self._anchor = anchor.lower() if anchor else None
        self._anchor_seen = False
        self._checked = 0
        self._prev_seq: int | None = None
        self._prev_hash = GENESIS_HASH
        self._problem: ChainBreak | None = None
        # A link that broke without a gap: (seq, the hash it expected its predecessor to have).
        self._pending: tuple[int, str] | None = None

    def feed(self, entry: Mapping[str, Any]) -> bool:
        """Check the next entry; False when the chain is broken and no more is needed."""
        if self._problem is not None:
            return False
        seq = int(entry["seq"])
        stored = str(entry.get("hash") or "")
        if self._pending is not None:
            self._settle_pending(stored)
            return False
        self._checked += 1
        if self._prev_seq is not None and seq <= self._prev_seq:
            return self._break(seq, "reordered", f"comes after seq {self._prev_seq}: out of order")
        if entry_hash(entry) != stored:
            return self._break(
                seq, "changed", "its contents do not match its hash: the entry was modified"
            )
        if entry.get("prev_hash") != self._prev_hash:
            expected = 1 if self._prev_seq is None else self._prev_seq + 1
            if seq > expected:
                missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}-{seq - 1}"
                return self._break(
                    seq, "deleted", f"the entries before it are missing ({missing}): deleted"
                )
            self._pending = (seq, str(entry.get("prev_hash")))
            return True
        if self._anchor is not None and stored == self._anchor:
            self._anchor_seen = True
        self._prev_seq = seq
        self._prev_hash = stored
        return True

    def _settle_pending(self, next_hash: str | None) -> None:
        assert self._pending is not None  # noqa: S101 - only called with one pending
        seq, linked_to = self._pending
        self._pending = None
        if next_hash is not None and next_hash == linked_to:
            self._break(
                seq,
                "reordered",
                "it links to the entry after it: entries were swapped or moved",
            )
            return
        before = "the start of the log" if self._prev_seq is None else f"seq {self._prev_seq}"
        self._break(
            seq,
            "broken_link",
            f"its prev_hash does not match the hash of {before}: an entry was replaced "
            "(and re-hashed), inserted or removed before it",
        )

    def _break(self, seq: int, reason: BreakReason, message: str) -> bool:
        self._problem = ChainBreak(seq=seq, reason=reason, message=message)
        return False

    def result(self) -> Verification:
        """The verdict on everything fed so far."""
        if self._pending is not None:
            self._settle_pending(None)
        problem = self._problem
        if problem is None and self._anchor is not None and not self._anchor_seen:
            problem = ChainBreak(
                seq=(self._prev_seq or 0) + 1,
                reason="anchor_missing",
                message=(
                    f"no entry has the anchored hash {self._anchor}: the log was truncated "
                    "or rewritten since it was recorded"
                ),
            )
        return Verification(
            checked=self._checked,
            head_seq=self._prev_seq,
            head_hash=self._prev_hash,
            problem=problem,
        )


def verify(entries: Iterable[Mapping[str, Any]], *, anchor: str | None = None) -> Verification:
    """Check a whole chain given in ``seq`` order; reports the first break and why."""
    verifier = ChainVerifier(anchor=anchor)
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.result()
