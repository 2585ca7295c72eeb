"""Password hashing with Argon2id (argon2-cffi), with rehashing when the parameters change."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# RFC 9106's second recommended option (64 MiB, 3 passes), at 1 lane so that a login costs
# one core (~120 ms on the benchmark machine) rather than every core.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
# A valid hash of nothing anyone knows: verifying against it when the account does not exist
# costs as much as a real check, so response times do not reveal which e-mails have accounts.
_DUMMY_HASH = _HASHER.hash("quantum-orchestrator: no such account")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted, with its parameters encoded)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` stands for a missing account (always false)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with older parameters than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)


async def hash_password_async(password: str) -> str:
    """``hash_password`` off the event loop: a hash costs tens of milliseconds of CPU."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """``verify_password`` off the event loop."""
    return await asyncio.to_thread(verify_password, password_hash, password)
