"""Browser sessions and session tokens: cookies, CSRF, logout, timeouts, resets, passwords."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import select, update
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    ServerFactory,
    add_member,
    assert_problem,
    bearer,
    session_token,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.security.tokens import token_hash
from quantum_orchestrator.store.tables import sessions
from quantum_orchestrator.store.types import utcnow

CREDENTIALS = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}


def _cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            found[name] = jar
    return found


async def _login(client: httpx.AsyncClient) -> tuple[str, str, httpx.Response]:
    """Log in with the form the dashboard uses; answers the session cookie, the CSRF token."""
    response = await client.post(f"{API}/auth/login", json=CREDENTIALS)
    assert response.status_code == 200, response.text
    # The tests send cookies explicitly; the client's jar must not add any of its own.
    client.cookies.clear()
    jars = _cookies(response)
    return jars["qo_session"]["qo_session"].value, jars["qo_csrf"]["qo_csrf"].value, response


def _cookie_header(session: str, csrf: str | None = None) -> dict[str, str]:
    value = f"qo_session={session}"
    if csrf is not None:
        value += f"; qo_csrf={csrf}"
    return {"Cookie": value}


async def test_login_sets_a_strict_http_only_session_cookie_and_a_csrf_cookie(
    anonymous: httpx.AsyncClient,
) -> None:
    session, csrf, response = await _login(anonymous)
    jars = _cookies(response)
    cookie = jars["qo_session"]["qo_session"]
    assert session.startswith("qo_s_")
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"], "plain http must not mark the cookie Secure (it would be lost)"
    assert int(cookie["max-age"]) > 0
    readable = jars["qo_csrf"]["qo_csrf"]
    assert not readable["httponly"], "the page must read the CSRF token"
    assert readable["samesite"].lower() == "strict"
    assert readable["path"] == "/"
    body = response.json()
    assert body["csrf_token"] == csrf
    assert body["user"]["email"] == ADMIN_EMAIL
    assert "password_hash" not in response.text
    assert session not in response.text, "the session token is only in the HttpOnly cookie"
    assert [row["id"] for row in body["workspaces"]] == [DEFAULT_WS]


async def test_reads_with_the_cookie_work_and_writes_need_the_csrf_header(
    anonymous: httpx.AsyncClient,
) -> None:
    session, csrf, _ = await _login(anonymous)
    me = await anonymous.get(f"{API}/auth/me", headers=_cookie_header(session, csrf))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    create = f"{API}/workspaces"
    body = {"name": "csrf-checked"}
    # No header, a wrong one, and one that matches a forged cookie but not the session.
    missing = await anonymous.post(create, json=body, headers=_cookie_header(session, csrf))
    assert_problem(missing, 403, "csrf_failed")
    wrong = await anonymous.post(
        create, json=body, headers={**_cookie_header(session, csrf), "X-CSRF-Token": "0" * 64}
    )
    assert_problem(wrong, 403, "csrf_failed")
    forged = await anonymous.post(
        create, json=body, headers={**_cookie_header(session, "f" * 64), "X-CSRF-Token": "f" * 64}
    )
    assert_problem(forged, 403, "csrf_failed")
    without_cookie = await anonymous.post(
        create, json=body, headers={**_cookie_header(session), "X-CSRF-Token": csrf}
    )
    assert_problem(without_cookie, 403, "csrf_failed")
    # The CSRF token of another session of the same user does not fit this one.
    other_session, other_csrf, _ = await _login(anonymous)
    assert other_session != session
    crossed = await anonymous.post(
        create,
        json=body,
        headers={**_cookie_header(session, other_csrf), "X-CSRF-Token": other_csrf},
    )
    assert_problem(crossed, 403, "csrf_failed")
    # Every state-changing method is guarded, before the route even looks for its object.
    for method, path in (("PUT", f"{API}/secrets/NOPE"), ("DELETE", f"{API}/secrets/NOPE")):
        response = await anonymous.request(
            method, path, json={"value": "v"}, headers=_cookie_header(session, csrf)
        )
        assert_problem(response, 403, "csrf_failed")
    names = [
        w["name"] for w in (await anonymous.get(create, headers=bearer(session))).json()["items"]
    ]
    assert "csrf-checked" not in names
    ok = await anonymous.post(
        create, json=body, headers={**_cookie_header(session, csrf), "X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201, ok.text


async def test_login_accepts_only_json(anonymous: httpx.AsyncClient) -> None:
    # A cross-site form can send text/plain or form data without a preflight, never JSON.
    for content, content_type in (
        (f'{{"email": "{ADMIN_EMAIL}", "password": "{ADMIN_PASSWORD}"}}', "text/plain"),
        (f"email={ADMIN_EMAIL}&password={ADMIN_PASSWORD}", "application/x-www-form-urlencoded"),
    ):
        response = await anonymous.post(
            f"{API}/auth/login", content=content, headers={"Content-Type": content_type}
        )
        assert 400 <= response.status_code < 500, (content_type, response.status_code)
        assert "set-cookie" not in response.headers


async def test_logout_ends_the_cookie_session_and_the_bearer_session(
    anonymous: httpx.AsyncClient,
) -> None:
    session, csrf, _ = await _login(anonymous)
    token = await session_token(str(anonymous.base_url), ADMIN_EMAIL, ADMIN_PASSWORD)
    spare = await session_token(str(anonymous.base_url), ADMIN_EMAIL, ADMIN_PASSWORD)
    cookie_headers = {**_cookie_header(session, csrf), "X-CSRF-Token": csrf}
    # Logging out with the cookie needs the CSRF header too (else a page could log you out).
    assert_problem(
        await anonymous.post(f"{API}/auth/logout", headers=_cookie_header(session, csrf)),
        403,
        "csrf_failed",
    )
    out = await anonymous.post(f"{API}/auth/logout", headers=cookie_headers)
    assert out.status_code == 204, out.text
    cleared = _cookies(out)
    for name in ("qo_session", "qo_csrf"):
        morsel = cleared[name][name]
        assert morsel.value in ("", '""'), morsel
        assert morsel["max-age"] in ("0", 0) or morsel["expires"], morsel
    after = await anonymous.get(f"{API}/auth/me", headers=_cookie_header(session, csrf))
    assert_problem(after, 401, "unauthenticated")
    # The cookie's token is a session token: it is dead as a bearer too.
    assert_problem(await anonymous.get(f"{API}/auth/me", headers=bearer(session)), 401)
    out = await anonymous.post(f"{API}/auth/logout", headers=bearer(token))
    assert out.status_code == 204, out.text
    assert_problem(await anonymous.get(f"{API}/auth/me", headers=bearer(token)), 401)
    assert_problem(await anonymous.post(f"{API}/auth/logout", headers=bearer(token)), 401)
    # Other sessions of the same user are untouched.
    still = await anonymous.get(f"{API}/auth/me", headers=bearer(spare))
    assert still.status_code == 200, still.text


async def _expires_on_its_own(
    client: httpx.AsyncClient, timeout: float, *, cookie: bool
) -> tuple[float, float]:
    """Log in, use the session, wait until it is refused; answers (limit, seconds it lasted)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    if cookie:
        session, csrf, _ = await _login(client)
        headers = _cookie_header(session, csrf)
    else:
        headers = bearer(await session_token(str(client.base_url), ADMIN_EMAIL, ADMIN_PASSWORD))
    first = await client.get(f"{API}/auth/me", headers=headers)
    if loop.time() - started < timeout:
        # Still inside its lifetime, so it must work (on a slow machine the check is skipped).
        assert first.status_code == 200, first.text
    deadline = started + timeout + 30
    while True:
        # Used all along: only the absolute timeout can end it.
        response = await client.get(f"{API}/auth/me", headers=headers)
        if response.status_code == 401:
            assert_problem(response, 401, "unauthenticated")
            return timeout, loop.time() - started
        assert response.status_code == 200, response.text
        assert loop.time() < deadline, "the session never expired"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("cookie", [True, False], ids=["cookie", "bearer"])
async def test_idle_timeout_ends_a_session(start_server: ServerFactory, cookie: bool) -> None:
    async with (
        start_server(auth={"session_idle_timeout": 1.0}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=30) as client,
    ):
        if cookie:
            session, csrf, _ = await _login(client)
            headers = _cookie_header(session, csrf)
        else:
            headers = bearer(await session_token(app.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = await client.get(f"{API}/auth/me", headers=headers)
        if loop.time() - started < 0.5:
            # Well inside its idle time, so it must work (on a slow machine this is skipped).
            assert first.status_code == 200, first.text
        await asyncio.sleep(1.5)
        assert_problem(await client.get(f"{API}/auth/me", headers=headers), 401, "unauthenticated")


@pytest.mark.parametrize("cookie", [True, False], ids=["cookie", "bearer"])
async def test_absolute_timeout_ends_a_session(start_server: ServerFactory, cookie: bool) -> None:
    async with (
        start_server(auth={"session_max_age": 1.5}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=30) as client,
    ):
        limit, lasted = await _expires_on_its_own(client, 1.5, cookie=cookie)
        assert lasted >= limit - 0.2, f"expired after {lasted:.2f} s, before its {limit} s"


async def test_an_active_session_restarts_its_idle_clock(
    start_server: ServerFactory,
) -> None:
    # The stamp is refreshed at most once a minute: move it back in the database instead of
    # waiting, then check that a request moves it forward and keeps the session alive.
    async with (
        start_server(auth={"session_idle_timeout": 120.0}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=30) as client,
    ):
        token = await session_token(app.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        digest = token_hash(token)

        async def set_last_seen(seconds_ago: float) -> None:
            async with app.engine.uow.write() as tx:
                await tx.conn.execute(
                    update(sessions)
                    .where(sessions.c.token_hash == digest)
                    .values(last_seen_at=utcnow() - timedelta(seconds=seconds_ago))
                )

        async def last_seen() -> float:
            async with app.engine.uow.read() as conn:
                stamp = (
                    await conn.execute(
                        select(sessions.c.last_seen_at).where(sessions.c.token_hash == digest)
                    )
                ).scalar_one()
            return (utcnow() - stamp).total_seconds()

        await set_last_seen(100)
        response = await client.get(f"{API}/auth/me", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert await last_seen() < 60, "a request after a minute must refresh the stamp"
        await set_last_seen(121)
        assert_problem(await client.get(f"{API}/auth/me", headers=bearer(token)), 401)


async def test_a_password_reset_ends_every_session(
    server: LiveApp, http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    email = "resetter@example.com"
    await add_member(http, email, Role.EDITOR)
    token = await session_token(server.url, email)
    login = await anonymous.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    anonymous.cookies.clear()
    cookie = _cookies(login)["qo_session"]["qo_session"].value
    assert (await anonymous.get(f"{API}/auth/me", headers=bearer(token))).status_code == 200
    new_password = "a-brand-new-passphrase-9"
    await server.engine.accounts.reset_password(email=email, password=new_password)
    assert_problem(await anonymous.get(f"{API}/auth/me", headers=bearer(token)), 401)
    assert_problem(await anonymous.get(f"{API}/auth/me", headers=_cookie_header(cookie)), 401)
    old = await anonymous.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD})
    assert_problem(old, 401)
    fresh = await session_token(server.url, email, new_password)
    assert (await anonymous.get(f"{API}/auth/me", headers=bearer(fresh))).status_code == 200
    # Another user's sessions are not touched.
    assert (await anonymous.get(f"{API}/auth/me", headers=server.headers)).status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1", "at least 12 characters"),
        ("password1234", "too common"),
        ("Password1234", "too common"),
        ("qwerty123456", "too common"),
        ("aaaaaaaaaaaaaaaaaaaa", "too common"),
        ("abababababababababab", "too common"),
        ("weak-account@example.com", "e-mail"),
    ],
)
async def test_the_password_policy_refuses_weak_passwords_clearly(
    http: httpx.AsyncClient, password: str, message: str
) -> None:
    response = await http.post(
        f"{API}/workspaces/{DEFAULT_WS}/members",
        json={"email": "weak-account@example.com", "role": "viewer", "password": password},
    )
    problem = assert_problem(response, 422)
    assert "password" in problem["detail"], problem
    assert message in problem["detail"], problem
    # Nothing was created: the same e-mail with a good password is a new account.
    await add_member(http, "weak-account@example.com", Role.VIEWER)


async def test_an_overlong_password_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{API}/workspaces/{DEFAULT_WS}/members",
        json={"email": "long@example.com", "role": "viewer", "password": "x1" * 200},
    )
    problem = assert_problem(response, 422)
    assert "password" in str(problem), problem


async def test_wrong_password_and_unknown_account_answer_the_same(
    anonymous: httpx.AsyncClient,
) -> None:
    wrong = "not-the-password-at-all"
    attempts = [
        ("login", {"email": ADMIN_EMAIL, "password": wrong}),
        ("login", {"email": "nobody-here@example.com", "password": wrong}),
        ("token", {"email": ADMIN_EMAIL, "password": wrong}),
        ("token", {"email": "not an e-mail", "password": wrong}),
    ]
    answers = set()
    for route, body in attempts:
        response = await anonymous.post(f"{API}/auth/{route}", json=body)
        problem = assert_problem(response, 401, "unauthenticated")
        assert "set-cookie" not in response.headers
        answers.add((problem["detail"], problem["title"], response.headers["www-authenticate"]))
    # Same status, code, words and headers, whatever was wrong (within the failed-login budget).
    assert len(answers) == 1, answers
    # The e-mail is matched without regard to case; the right password still works.
    ok = await anonymous.post(
        f"{API}/auth/token", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert ok.status_code == 200, ok.text


async def test_a_short_idle_timeout_measures_idleness_not_age(
    start_server: ServerFactory,
) -> None:
    # With a 2 s idle timeout the stamp is refreshed every half second of use, so a session
    # used steadily for longer than the timeout stays alive, and dies once left alone.
    async with (
        start_server(auth={"session_idle_timeout": 2.0}) as app,
        httpx.AsyncClient(base_url=app.url, timeout=30) as client,
    ):
        token = await session_token(app.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 3.0:
            response = await client.get(f"{API}/auth/me", headers=bearer(token))
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.25)
        await asyncio.sleep(2.5)
        assert_problem(await client.get(f"{API}/auth/me", headers=bearer(token)), 401)
