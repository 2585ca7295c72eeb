"""Passwords (Argon2id) and bearer tokens."""

from __future__ import annotations

from quantum_orchestrator.security.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)
from quantum_orchestrator.security.tokens import (
    csrf_token,
    new_token,
    same_token,
    token_hash,
    token_kind,
    token_prefix,
)


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hashed = hash_password("violet-trombone-42")
    assert hashed.startswith("$argon2id$")
    assert "violet" not in hashed
    assert verify_password(hashed, "violet-trombone-42")
    assert not verify_password(hashed, "violet-trombone-43")
    assert not needs_rehash(hashed)
    # Same password, different salt.
    assert hash_password("violet-trombone-42") != hashed


def test_a_missing_account_or_a_broken_hash_never_verifies() -> None:
    assert not verify_password(None, "anything at all")
    assert not verify_password("not a hash", "anything at all")


async def test_async_variants_agree() -> None:
    hashed = await hash_password_async("violet-trombone-42")
    assert await verify_password_async(hashed, "violet-trombone-42")
    assert not await verify_password_async(hashed, "nope-nope-nope")


def test_tokens_carry_their_kind_and_are_random() -> None:
    for kind in ("session", "api_key", "agent"):
        token = new_token(kind)  # type: ignore[arg-type]
        assert token.startswith("qo_")
        assert token_kind(token) == kind
        assert len(token) > 40
    assert new_token("api_key") != new_token("api_key")


def test_foreign_strings_are_no_tokens() -> None:
    for text in ("", "qo_", "qo_x_abcdefghijkl", "Bearer abc", "qo_k" + "a" * 20, "x" * 300):
        assert token_kind(text) is None


def test_only_the_hash_and_a_prefix_are_kept() -> None:
    token = new_token("api_key")
    digest = token_hash(token)
    assert len(digest) == 64
    assert token not in digest
    assert token_prefix(token) == token[:12]


def test_the_csrf_token_is_derived_from_the_session() -> None:
    one, two = new_token("session"), new_token("session")
    assert csrf_token(one) == csrf_token(one)
    assert csrf_token(one) != csrf_token(two)
    assert same_token(csrf_token(one), csrf_token(one))
    assert not same_token(csrf_token(one), csrf_token(two))
