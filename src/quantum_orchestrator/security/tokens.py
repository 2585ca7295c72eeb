"""Bearer tokens: session tokens, API keys and agent tokens.

A token is ``qo_<kind>_<43 characters of URL-safe base64>`` (256 random bits). Only its SHA-256
is stored: with that much entropy a plain hash cannot be reversed, and it lets the server find
the row with one indexed lookup. The kind letter tells which table to look in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

TokenKind = Literal["session", "api_key", "agent"]

_LETTER: dict[TokenKind, str] = {"session": "s", "api_key": "k", "agent": "a"}
_KIND: dict[str, TokenKind] = {letter: kind for kind, letter in _LETTER.items()}
PREFIX_LENGTH = 12


def new_token(kind: TokenKind) -> str:
    """A fresh random token of ``kind``."""
    return f"qo_{_LETTER[kind]}_{secrets.token_urlsafe(32)}"


def token_kind(token: str) -> TokenKind | None:
    """The kind of ``token``, or ``None`` when it is not one of ours."""
    if len(token) < 10 or len(token) > 200 or not token.startswith("qo_") or token[4] != "_":
        return None
    return _KIND.get(token[3])


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    """The first characters of a token, shown in listings to tell keys apart."""
    return token[:PREFIX_LENGTH]


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session: derived, so nothing more is stored.

    A page can read it from the ``qo_csrf`` cookie and must echo it in ``X-CSRF-Token``;
    another site can make the browser send the cookies but cannot read them.
    """
    digest = hmac.new(session_token.encode(), b"quantum-orchestrator csrf", hashlib.sha256)
    return digest.hexdigest()


def same_token(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
