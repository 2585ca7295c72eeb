"""Password guessing is throttled per account and per address; every caller has a rate limit.

Callers from several addresses are real connections from other loopback addresses
(127.0.0.2, 127.0.0.3...), so the server sees each as a different client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.conftest import (
    API,
    PASSWORD,
    ServerFactory,
    add_member,
    assert_problem,
    bearer,
    create_api_key,
)
from tests.support.server import LiveApp

from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.domain.errors import RateLimitedError

ATTEMPTS = 5  # the default login_attempts_per_minute
MIB = 1_048_576


@asynccontextmanager
async def _from(url: str, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from ``address`` (a loopback address)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as client:
        yield client


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", json={"email": email, "password": password})


def _assert_throttled(response: httpx.Response) -> None:
    problem = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    # A token comes back every 60 / 5 = 12 s.
    assert 1 <= retry_after <= 60, retry_after
    assert "failed logins" in problem["detail"], problem
    assert "access_token" not in response.text


async def test_failed_logins_for_one_account_are_throttled_even_with_the_right_password(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await add_member(http, "victim@example.com", Role.EDITOR)
    await add_member(http, "bystander@example.com", Role.EDITOR)
    # One wrong guess from each of five addresses: the account's budget is spent, no address's.
    for n in range(ATTEMPTS):
        async with _from(server.url, f"127.0.0.{n + 2}") as client:
            response = await _login(client, "victim@example.com", f"guess-number-{n}-wrong")
            assert_problem(response, 401, "unauthenticated")
    async with _from(server.url, "127.0.0.20") as client:
        _assert_throttled(await _login(client, "victim@example.com", PASSWORD))
        # The e-mail's case does not open a second budget.
        _assert_throttled(await _login(client, "VICTIM@example.com", PASSWORD))
        # The same address may still log in to another account.
        other = await _login(client, "bystander@example.com", PASSWORD)
        assert other.status_code == 200, other.text
    # The cookie login shares the budget.
    async with _from(server.url, "127.0.0.21") as client:
        response = await client.post(
            f"{API}/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
        )
        _assert_throttled(response)
        assert "set-cookie" not in response.headers


async def test_failed_logins_from_one_address_are_throttled_across_accounts(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await add_member(http, "target@example.com", Role.VIEWER)
    async with _from(server.url, "127.0.0.30") as attacker:
        for n in range(ATTEMPTS):
            response = await _login(attacker, f"spray-{n}@example.com", "Spring2024!-guess")
            assert_problem(response, 401, "unauthenticated")
        _assert_throttled(await _login(attacker, "target@example.com", PASSWORD))
        _assert_throttled(await _login(attacker, ADMIN_EMAIL, ADMIN_PASSWORD))
    # Another address logs in to the same accounts.
    async with _from(server.url, "127.0.0.31") as honest:
        assert (await _login(honest, "target@example.com", PASSWORD)).status_code == 200
        assert (await _login(honest, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_successful_logins_spend_nothing(server: LiveApp) -> None:
    async with _from(server.url, "127.0.0.40") as client:
        for _ in range(ATTEMPTS * 2):
            assert (await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


def _assert_rate_headers(response: httpx.Response, limit: int) -> int:
    assert response.headers["ratelimit-limit"] == str(limit), response.headers
    remaining = int(response.headers["ratelimit-remaining"])
    assert 0 <= remaining <= limit
    assert int(response.headers["ratelimit-reset"]) >= 0
    return remaining


@pytest.mark.timeout(120)
def test_the_101st_request_within_a_second_is_refused_at_the_defaults() -> None:
    # The server's own clock decides in the live tests below; here the clock is explicit, so
    # "101 requests within a second" is exact whatever the machine's speed.
    limiter = RateLimiter(rate=100, burst=100)
    for n in range(100):
        limiter.take("user:a", now=n * 0.00001)
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("user:a", now=0.005)
    assert 0 < refused.value.retry_after <= 0.01
    assert refused.value.limit == 100
    limiter.take("user:b", now=0.005)
    # One second later the bucket is full again.
    assert limiter.take("user:a", now=1.01).remaining == 99


async def test_exactly_the_burst_is_served_when_nothing_refills(
    start_server: ServerFactory,
) -> None:
    # With a refill of one request per 1000 s the count is exact: 100 served, the 101st not.
    async with (
        start_server(api={"rate_limit": 0.001, "rate_limit_burst": 100}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=60) as client,
    ):
        key = (await create_api_key(client, Role.VIEWER, headers=app.headers))["key"]
        for n in range(100):
            response = await client.get(f"{API}/workflows", headers=bearer(key))
            assert response.status_code == 200, (n, response.text)
            assert _assert_rate_headers(response, 100) == 99 - n
        refused = await client.get(f"{API}/workflows", headers=bearer(key))
        assert_problem(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) > 100
        # Everything the caller tries is refused, writes included; others are served.
        write = await client.post(
            f"{API}/api-keys", json={"name": "k", "role": "viewer"}, headers=bearer(key)
        )
        assert_problem(write, 429)
        assert (await client.get(f"{API}/workflows", headers=app.headers)).status_code == 200
        other_key = (await create_api_key(client, Role.VIEWER, headers=app.headers))["key"]
        assert (await client.get(f"{API}/workflows", headers=bearer(other_key))).status_code == 200


async def test_oversize_bodies_are_413_before_anything_else(
    server: LiveApp, anonymous: httpx.AsyncClient
) -> None:
    big = b'{"spec": {"name": "' + b"x" * MIB + b'"}}'
    for path, headers in (
        (f"{API}/workflows", server.headers),
        (f"{API}/workflows", {}),
        (f"{API}/auth/login", {}),
        (f"{API}/auth/token", {}),
    ):
        response = await anonymous.post(
            path, content=big, headers={**headers, "Content-Type": "application/json"}
        )
        assert_problem(response, 413, "body_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        streamed = await anonymous.post(
            path, content=chunks(), headers={**headers, "Content-Type": "application/json"}
        )
        assert_problem(streamed, 413, "body_too_large")
    # Just under the limit is read (and judged on its merits).
    fits = b'{"spec": {"name": "' + b"x" * (MIB - 100) + b'"}}'
    response = await anonymous.post(
        f"{API}/workflows",
        content=fits,
        headers={**server.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422)


async def test_bad_credentials_are_throttled_by_address_but_valid_ones_are_not(
    start_server: ServerFactory,
) -> None:
    # Ten failures fill the address's budget (no refill to speak of); the eleventh is a 429,
    # while a caller with a valid token from the same address is still served.
    async with (
        start_server(api={"rate_limit": 0.001, "rate_limit_burst": 10}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=30) as client,
    ):
        for n in range(10):
            guess = await client.get(f"{API}/workflows", headers=bearer(f"qo_k_guess{n:040d}"))
            assert_problem(guess, 401)
        refused = await client.get(f"{API}/workflows", headers=bearer("qo_k_" + "x" * 43))
        assert_problem(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert_problem(await client.get(f"{API}/workflows"), 429)
        assert (await client.get(f"{API}/workflows", headers=app.headers)).status_code == 200
