"""The audit hash chain: sealing, digests, redaction, and verification of tampered chains."""

from __future__ import annotations

import copy
import hashlib
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from quantum_orchestrator.domain.audit import (
    FIELD_LIMITS,
    GENESIS_HASH,
    HASHED_FIELDS,
    REDACTED,
    Actor,
    AuditDraft,
    ChainVerifier,
    Origin,
    canonical_json,
    change_digest,
    entry_hash,
    redact,
    seal,
    verify,
)
from quantum_orchestrator.domain.auth import Principal, Role

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def draft(n: int, **extra: Any) -> AuditDraft:
    values: dict[str, Any] = {
        "actor": Actor(type="user", id=f"user-{n}", label=f"u{n}@example.com"),
        "action": "workflow.create",
        "workspace_id": "ws1",
        "target_type": "workflow",
        "target_id": f"wf-{n}",
        "origin": Origin(source_ip="10.0.0.1", user_agent="tests", request_id=f"req-{n}"),
        "digest": change_digest({"n": n}),
        "details": {"name": f"flow-{n}"},
    }
    values.update(extra)
    return AuditDraft(**values)


def chain(length: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for n in range(1, length + 1):
        row = seal(
            draft(n),
            entry_id=f"id-{n}",
            seq=n,
            at=T0 + timedelta(seconds=n),
            prev_hash=prev,
        )
        rows.append(row)
        prev = row["hash"]
    return rows


def test_a_sealed_chain_verifies() -> None:
    rows = chain(5)
    result = verify(rows)
    assert result.ok
    assert result.problem is None
    assert result.checked == 5
    assert result.head_seq == 5
    assert result.head_hash == rows[-1]["hash"]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))


def test_an_empty_chain_verifies() -> None:
    result = verify([])
    assert result.ok
    assert result.checked == 0
    assert result.head_seq is None
    assert result.head_hash == GENESIS_HASH


def test_the_hash_is_sha256_of_canonical_json_of_the_hashed_fields() -> None:
    row = chain(1)[0]
    payload = {name: row[name] for name in HASHED_FIELDS}
    payload["at"] = "2026-01-02T03:04:06.678901+00:00"
    expected = hashlib.sha256(
        canonical_json(payload)  # sorted keys, no spaces, UTF-8
    ).hexdigest()
    assert row["hash"] == expected
    assert "seq" not in HASHED_FIELDS
    assert "hash" not in HASHED_FIELDS


def test_the_hash_does_not_depend_on_the_time_zone_the_time_is_read_in() -> None:
    row = chain(1)[0]
    elsewhere = {**row, "at": row["at"].astimezone(timezone(timedelta(hours=5)))}
    assert entry_hash(elsewhere) == row["hash"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_label", "mallory@example.com"),
        ("actor_id", None),
        ("action", "workflow.delete"),
        ("target_id", "other"),
        ("workspace_id", "ws2"),
        ("outcome", "failure"),
        ("source_ip", "192.0.2.1"),
        ("user_agent", "curl"),
        ("request_id", "x"),
        ("digest", "0" * 64),
        ("details", {"name": "changed"}),
        ("at", T0),
        ("id", "id-other"),
    ],
)
def test_changing_any_field_is_found(column: str, value: Any) -> None:
    rows = chain(4)
    rows[2][column] = value
    result = verify(rows)
    assert not result.ok
    assert result.problem is not None
    assert result.problem.seq == 3
    assert result.problem.reason == "changed"
    assert "modified" in result.problem.message
    assert result.checked == 3
    assert result.head_seq == 2


def test_a_changed_and_rehashed_entry_breaks_the_next_link() -> None:
    rows = chain(4)
    rows[1]["actor_label"] = "mallory@example.com"
    rows[1]["hash"] = entry_hash(rows[1])
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.seq == 3
    assert result.problem.reason == "broken_link"
    assert "seq 2" in result.problem.message


@pytest.mark.parametrize(("index", "missing"), [(0, "seq 1"), (2, "seq 3"), (1, "seq 2")])
def test_a_deleted_entry_is_found(index: int, missing: str) -> None:
    rows = chain(5)
    del rows[index]
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.reason == "deleted"
    assert result.problem.seq == index + 2
    assert missing in result.problem.message


def test_several_deleted_entries_are_named_as_a_range() -> None:
    rows = chain(6)
    del rows[1:4]
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.reason == "deleted"
    assert result.problem.seq == 5
    assert "seq 2-4" in result.problem.message


def test_a_deleted_and_renumbered_entry_breaks_the_link() -> None:
    rows = chain(4)
    del rows[1]
    for number, row in enumerate(rows, start=1):
        row["seq"] = number
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.seq == 2
    assert result.problem.reason == "broken_link"


def test_swapped_entries_are_reported_as_reordered() -> None:
    rows = chain(5)
    # Swap the positions (seq numbers) of entries 3 and 4, as an UPDATE of seq would.
    rows[2]["seq"], rows[3]["seq"] = 4, 3
    rows[2], rows[3] = rows[3], rows[2]
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.reason == "reordered"
    assert result.problem.seq == 3
    assert result.head_seq == 2


def test_entries_given_out_of_seq_order_are_reordered() -> None:
    rows = chain(3)
    result = verify([rows[0], rows[2], rows[1]])
    assert result.problem is not None
    # Entry 3 is the first that does not fit: its predecessor (2) is missing.
    assert result.problem.reason == "deleted"
    result = verify([rows[1], rows[0]])
    assert result.problem is not None
    assert result.problem.reason in {"deleted", "reordered"}
    assert verify([rows[0], rows[0]]).problem.reason == "reordered"  # type: ignore[union-attr]


def test_a_replaced_first_entry_breaks_the_link_to_the_start() -> None:
    rows = chain(2)
    rows[0]["prev_hash"] = "f" * 64
    rows[0]["hash"] = entry_hash(rows[0])
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.reason == "broken_link"
    assert result.problem.seq == 1
    assert "start of the log" in result.problem.message


def test_a_broken_link_at_the_end_is_reported_without_a_next_entry() -> None:
    rows = chain(3)
    rows[2]["prev_hash"] = "a" * 64
    rows[2]["hash"] = entry_hash(rows[2])
    result = verify(rows)
    assert result.problem is not None
    assert result.problem.reason == "broken_link"
    assert result.problem.seq == 3


def test_the_verifier_stops_at_the_first_break() -> None:
    rows = chain(5)
    rows[1]["action"] = "x"
    rows[3]["action"] = "y"
    verifier = ChainVerifier()
    assert verifier.feed(rows[0])
    assert not verifier.feed(rows[1])
    assert not verifier.feed(rows[2])
    result = verifier.result()
    assert result.problem is not None
    assert result.problem.seq == 2


def test_anchor() -> None:
    rows = chain(5)
    anchor = rows[2]["hash"]
    assert verify(rows, anchor=anchor).ok
    assert verify(rows, anchor=anchor.upper()).ok
    # The newest entries removed: the shorter chain is valid, but the anchor is gone.
    truncated = verify(rows[:2], anchor=anchor)
    assert truncated.problem is not None
    assert truncated.problem.reason == "anchor_missing"
    assert anchor in truncated.problem.message
    # A whole new chain (rewritten from the start) does not hold the anchor either.
    rewritten = chain(5)
    for row in rewritten:
        row["id"] = row["id"] + "x"
    prev = GENESIS_HASH
    for row in rewritten:
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row)
    assert verify(rewritten).ok
    assert verify(rewritten, anchor=anchor).problem.reason == "anchor_missing"  # type: ignore[union-attr]


def test_seal_cuts_values_to_the_columns_and_cleans_text() -> None:
    long = draft(
        1,
        actor=Actor.anonymous("x" * 1000 + "\x00"),
        origin=Origin(
            source_ip="1" * 100, user_agent="a\x00b\ud800" + "u" * 500, request_id="r" * 100
        ),
        target_id="t" * 300,
    )
    row = seal(long, entry_id="id", seq=1, at=T0, prev_hash=GENESIS_HASH)
    assert len(row["actor_label"]) == FIELD_LIMITS["actor_label"]
    assert len(row["source_ip"]) == FIELD_LIMITS["source_ip"]
    assert len(row["request_id"]) == FIELD_LIMITS["request_id"]
    assert len(row["target_id"]) == FIELD_LIMITS["target_id"]
    assert len(row["user_agent"]) == FIELD_LIMITS["user_agent"]
    assert "\x00" not in row["user_agent"]
    row["user_agent"].encode("utf-8")  # no lone surrogate left
    assert row["actor_type"] == "anonymous"
    assert row["actor_id"] is None
    assert verify([row]).ok


def test_field_limits_match_the_table() -> None:
    from quantum_orchestrator.store.tables import audit_log

    for name, limit in FIELD_LIMITS.items():
        assert audit_log.c[name].type.length == limit, name  # type: ignore[attr-defined]
    assert set(HASHED_FIELDS) | {"seq", "hash"} == set(audit_log.c.keys())


def test_seal_makes_details_plain_json() -> None:
    details = {"f": 1.5, "big": 1e300, "t": T0, "nested": [{"k": (1, 2)}], "ok": True, "n": None}
    row = seal(draft(1, details=details), entry_id="id", seq=1, at=T0, prev_hash=GENESIS_HASH)
    assert row["details"] == {
        "f": "1.5",
        "big": "1e+300",
        "t": "2026-01-02T03:04:05.678901+00:00",
        "nested": [{"k": [1, 2]}],
        "ok": True,
        "n": None,
    }


def test_redact_hides_passwords_secrets_and_keys_at_any_depth() -> None:
    body = {
        "email": "a@example.com",
        "password": "hunter2-hunter2",
        "New-Password": "x",
        "nodes": [{"params": {"headers": {"Authorization": "Bearer abc"}, "api_key": "k"}}],
        "client_secret": "s",
        "token": "t",
        "value": "kept: not a credential name",
        "keys": ["kept"],
    }
    clean = redact(body)
    assert clean["password"] == REDACTED
    assert clean["New-Password"] == REDACTED
    assert clean["nodes"][0]["params"]["headers"]["Authorization"] == REDACTED
    assert clean["nodes"][0]["params"]["api_key"] == REDACTED
    assert clean["client_secret"] == REDACTED
    assert clean["token"] == REDACTED
    assert clean["email"] == "a@example.com"
    assert clean["value"] == "kept: not a credential name"
    assert clean["keys"] == ["kept"]
    original = copy.deepcopy(body)
    redact(body)
    assert body == original


def test_change_digest() -> None:
    spec = {"name": "a", "nodes": [{"id": "x", "type": "core.noop"}]}
    reordered = {"nodes": [{"type": "core.noop", "id": "x"}], "name": "a"}
    assert change_digest(spec) == change_digest(reordered)
    assert change_digest(spec) != change_digest({**spec, "name": "b"})
    assert len(change_digest(spec)) == 64
    # The password does not enter the digest: two bodies that differ only there digest alike.
    assert change_digest({"email": "a", "password": "one-password-1"}) == change_digest(
        {"email": "a", "password": "another-password-2"}
    )
    assert (
        change_digest({"email": "a", "password": "x"})
        == hashlib.sha256(canonical_json({"email": "a", "password": REDACTED})).hexdigest()
    )


def test_actor_of_a_principal() -> None:
    principal = Principal(
        kind="api_key", subject="key1", label="ci", workspace_id="ws", role=Role.EDITOR
    )
    assert Actor.of(principal) == Actor(type="api_key", id="key1", label="ci")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        seal(draft(1), entry_id="id", seq=1, at=datetime(2026, 1, 1), prev_hash=GENESIS_HASH)  # noqa: DTZ001
