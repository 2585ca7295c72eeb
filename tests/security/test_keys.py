"""API keys and agent tokens: shown once, stored hashed, rotated with grace, revoked at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    ServerFactory,
    add_member,
    assert_problem,
    bearer,
    create_agent_token,
    create_api_key,
    registration,
    session_token,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.security.tokens import token_hash


async def _works(client: httpx.AsyncClient, key: str) -> bool:
    response = await client.get(f"{API}/workflows", headers=bearer(key))
    if response.status_code == 401:
        assert_problem(response, 401, "unauthenticated")
        return False
    assert response.status_code == 200, response.text
    return True


async def test_a_key_is_shown_once_and_works_as_a_bearer(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = await create_api_key(http, Role.EDITOR, name="ci")
    key = created["key"]
    assert key.startswith("qo_k_")
    assert created["prefix"] == key[:12]
    assert await _works(anonymous, key)
    me = await anonymous.post(
        f"{API}/workflows/validate",
        json={"spec": {"name": "x", "nodes": [{"id": "a", "type": "core.noop"}]}},
        headers=bearer(key),
    )
    assert me.status_code == 200, me.text
    # Never again: not in the listing, not its hash, only the prefix that tells keys apart.
    listing = await http.get(f"{API}/api-keys")
    assert listing.status_code == 200
    assert key not in listing.text
    assert key[12:] not in listing.text
    assert token_hash(key) not in listing.text
    row = next(item for item in listing.json()["items"] if item["id"] == created["id"])
    assert "key" not in row
    assert "token_hash" not in row
    assert row["name"] == "ci"
    assert row["role"] == "editor"
    assert row["last_used_at"] is not None, "the use shows in the listing"
    # Agent tokens alike.
    token = await create_agent_token(http, "once")
    assert token["token"].startswith("qo_a_")
    tokens = await http.get(f"{API}/agent-tokens")
    assert token["token"] not in tokens.text
    assert token_hash(token["token"]) not in tokens.text
    assert all("token" not in item for item in tokens.json()["items"])


async def test_rotation_keeps_the_old_key_for_the_grace_period(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    old = await create_api_key(http, Role.VIEWER, name="rotating")
    rotated = await http.post(f"{API}/api-keys/{old['id']}/rotate", json={"grace_hours": 1})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != old["key"]
    assert new["id"] != old["id"]
    assert new["role"] == "viewer"
    assert new["name"] == "rotating"
    assert await _works(anonymous, new["key"])
    assert await _works(anonymous, old["key"]), "the old key works during the grace period"
    listed = {item["id"]: item for item in (await http.get(f"{API}/api-keys")).json()["items"]}
    ends = datetime.fromisoformat(listed[old["id"]]["expires_at"])
    assert timedelta(minutes=55) < ends - datetime.now(UTC) <= timedelta(hours=1)
    assert listed[new["id"]]["expires_at"] is None
    # A key being rotated out is rotated again only from its successor.
    again = await http.post(f"{API}/api-keys/{new['id']}/rotate", json={"grace_hours": 0})
    assert again.status_code == 201, again.text
    assert not await _works(anonymous, new["key"])
    assert await _works(anonymous, again.json()["key"])


async def test_rotation_without_grace_ends_the_old_key_at_once(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    old = await create_api_key(http, Role.VIEWER)
    assert await _works(anonymous, old["key"])
    rotated = await http.post(f"{API}/api-keys/{old['id']}/rotate", json={"grace_hours": 0})
    assert rotated.status_code == 201, rotated.text
    assert not await _works(anonymous, old["key"])
    assert await _works(anonymous, rotated.json()["key"])
    listed = [item["id"] for item in (await http.get(f"{API}/api-keys")).json()["items"]]
    assert old["id"] not in listed
    # The ended key cannot be rotated or revoked any more (it is gone).
    assert_problem(await http.post(f"{API}/api-keys/{old['id']}/rotate"), 404)
    assert_problem(await http.delete(f"{API}/api-keys/{old['id']}"), 404)


async def test_revocation_takes_effect_on_the_next_request(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    key = await create_api_key(http, Role.ADMIN)
    assert await _works(anonymous, key["key"])
    assert (await http.delete(f"{API}/api-keys/{key['id']}")).status_code == 204
    assert not await _works(anonymous, key["key"])
    # A key may revoke itself, and is refused right after.
    own = await create_api_key(http, Role.ADMIN)
    response = await anonymous.delete(f"{API}/api-keys/{own['id']}", headers=bearer(own["key"]))
    assert response.status_code == 204, response.text
    assert not await _works(anonymous, own["key"])
    # Agent tokens too: the agent's next call is refused.
    token = await create_agent_token(http, "revoked")
    register = await anonymous.post(
        f"{API}/agent/register",
        json=registration("revoked", "rev.work"),
        headers=bearer(token["token"]),
    )
    assert register.status_code == 201, register.text
    agent_id = register.json()["agent_id"]
    assert (await http.delete(f"{API}/agent-tokens/{token['id']}")).status_code == 204
    heartbeat = await anonymous.post(
        f"{API}/agent/{agent_id}/heartbeat", json={"running": []}, headers=bearer(token["token"])
    )
    assert_problem(heartbeat, 401, "unauthenticated")
    assert token["id"] not in (await http.get(f"{API}/agent-tokens")).text


async def test_expired_keys_are_refused(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await http.post(
        f"{API}/api-keys", json={"name": "stale", "role": "viewer", "expires_at": past}
    )
    assert "future" in assert_problem(refused, 422)["detail"]
    refused = await http.post(
        f"{API}/agent-tokens", json={"name": "stale", "pool": "p", "expires_at": past}
    )
    assert_problem(refused, 422)
    naive = await http.post(
        f"{API}/api-keys",
        json={"name": "naive", "role": "viewer", "expires_at": "2999-01-01T00:00:00"},
    )
    assert_problem(naive, 422)
    # A key that expires in two seconds works until then and never after.
    loop = asyncio.get_running_loop()
    started = loop.time()
    lifetime = 2.0
    soon = (datetime.now(UTC) + timedelta(seconds=lifetime)).isoformat()
    key = await create_api_key(http, Role.VIEWER, expires_at=soon)
    first = await _works(anonymous, key["key"])
    if loop.time() - started < lifetime:
        assert first
    deadline = started + lifetime + 30
    while await _works(anonymous, key["key"]):
        assert loop.time() < deadline, "the key never expired"
        await asyncio.sleep(0.1)
    assert loop.time() - started >= lifetime - 0.2
    listed = [item["id"] for item in (await http.get(f"{API}/api-keys")).json()["items"]]
    assert key["id"] not in listed


async def test_agent_tokens_speak_only_the_agent_protocol_of_their_pool(
    server: LiveApp, http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    token = (await create_agent_token(http, "gpu"))["token"]
    agent = bearer(token)
    # Nothing outside /api/v1/agent/*.
    for method, path in (
        ("GET", f"{API}/workflows"),
        ("GET", f"{API}/runs"),
        ("GET", f"{API}/agents"),
        ("GET", f"{API}/secrets"),
        ("GET", f"{API}/api-keys"),
        ("POST", f"{API}/agent-tokens"),
        ("GET", f"{API}/auth/me"),
        ("GET", "/metrics"),
    ):
        response = await anonymous.request(
            method, path, headers=agent, json={} if method == "POST" else None
        )
        assert_problem(response, 403, "forbidden")
    # Only its own pool.
    other = await anonymous.post(
        f"{API}/agent/register", json=registration("cpu", "gpu.work"), headers=agent
    )
    assert "gpu" in assert_problem(other, 403, "forbidden")["detail"]
    own = await anonymous.post(
        f"{API}/agent/register", json=registration("gpu", "gpu.work"), headers=agent
    )
    assert own.status_code == 201, own.text
    agent_id = own.json()["agent_id"]
    beat = await anonymous.post(
        f"{API}/agent/{agent_id}/heartbeat", json={"running": []}, headers=agent
    )
    assert beat.status_code == 200, beat.text
    # A token of another pool does not speak for this pool's agent.
    cpu = bearer((await create_agent_token(http, "cpu"))["token"])
    for call, body in (("heartbeat", {"running": []}), ("claim", {"max": 1, "wait": 0})):
        stolen = await anonymous.post(f"{API}/agent/{agent_id}/{call}", json=body, headers=cpu)
        assert_problem(stolen, 404)
    # Nor do users and API keys speak the agent protocol.
    viewer_key = (await create_api_key(http, Role.OWNER))["key"]
    for headers in (server.headers, bearer(viewer_key)):
        response = await anonymous.post(
            f"{API}/agent/register", json=registration("gpu", "gpu.work"), headers=headers
        )
        assert_problem(response, 403, "forbidden")


async def test_a_key_never_outlasts_or_outranks_its_maker(
    server: LiveApp, http: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    member = await add_member(http, "key-maker@example.com", Role.ADMIN)
    maker = bearer(await session_token(server.url, "key-maker@example.com"))
    key = bearer((await create_api_key(http, Role.ADMIN, headers=maker))["key"])
    other = bearer((await create_api_key(http, Role.ADMIN))["key"])
    new_key = {"name": "minted", "role": "viewer"}
    assert (await anonymous.post(f"{API}/api-keys", json=new_key, headers=key)).status_code == 201
    # The maker is demoted to editor: the key acts as an editor from the next request on.
    members = f"{API}/workspaces/{DEFAULT_WS}/members/{member['user_id']}"
    assert (await http.put(members, json={"role": "editor"})).status_code == 200
    assert_problem(await anonymous.post(f"{API}/api-keys", json=new_key, headers=key), 403)
    assert_problem(await anonymous.get(f"{API}/api-keys", headers=key), 403)
    assert (await anonymous.get(f"{API}/secrets", headers=key)).status_code == 200
    # The maker leaves: the key stops working altogether; keys of others are untouched.
    assert (await http.delete(members)).status_code == 204
    refused = await anonymous.get(f"{API}/workflows", headers=key)
    assert "left the workspace" in assert_problem(refused, 401, "unauthenticated")["detail"]
    assert (await anonymous.get(f"{API}/api-keys", headers=other)).status_code == 200


async def _walk(http: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a listing, following ``next_cursor`` with pages of ``limit``."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await http.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert 0 < len(page["items"]) <= limit or (not items and not page["items"])
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


async def _check_paged(http: httpx.AsyncClient, path: str, key: str, count: int) -> list[Any]:
    """Pages of 2 give the one-page listing: same order, no duplicate; bad cursors are 422."""
    whole = (await http.get(path)).json()
    assert whole["next_cursor"] is None
    assert len(whole["items"]) == count
    first = (await http.get(path, params={"limit": 2})).json()
    assert first["items"] == whole["items"][:2]
    assert first["next_cursor"]
    second = (await http.get(path, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["items"] == whole["items"][2:4]
    paged = await _walk(http, path, 2)
    assert paged == whole["items"]
    assert len({item[key] for item in paged}) == count
    for bad in ("garbage", "WyJ4Il0", first["next_cursor"] + "x"):
        assert_problem(await http.get(path, params={"cursor": bad}), 422)
    assert (await http.get(path, params={"limit": 0})).status_code == 422
    return [item[key] for item in paged]


async def test_account_listings_are_paged(start_server: ServerFactory, database_url: str) -> None:
    async with (
        start_server(database_url=database_url) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        # API keys and agent tokens: newest first; revoked ones drop out without a shift.
        for n in range(4):
            await create_api_key(http, Role.VIEWER, name=f"paged-{n}")
            await create_agent_token(http, f"pool-{n}")
        keys = (await http.get(f"{API}/api-keys")).json()["items"]
        key_ids = await _check_paged(http, f"{API}/api-keys", "id", len(keys))
        stamps = [item["created_at"] for item in keys]
        assert stamps == sorted(stamps, reverse=True)
        tokens = (await http.get(f"{API}/agent-tokens")).json()["items"]
        await _check_paged(http, f"{API}/agent-tokens", "id", len(tokens))
        first = (await http.get(f"{API}/api-keys", params={"limit": 2})).json()
        assert (await http.delete(f"{API}/api-keys/{key_ids[2]}")).status_code == 204
        rest = (
            await http.get(f"{API}/api-keys", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert [item["id"] for item in rest["items"]] == key_ids[3:5]
        # Members: oldest membership first.
        for n in range(4):
            await add_member(http, f"paged-{n}@example.com", Role.VIEWER)
        members = f"{API}/workspaces/{DEFAULT_WS}/members"
        count = len((await http.get(members)).json()["items"])
        assert count >= 5
        ids = await _check_paged(http, members, "user_id", count)
        emails = [m["email"] for m in (await http.get(members)).json()["items"]]
        assert emails[-4:] == [f"paged-{n}@example.com" for n in range(4)]
        assert len(ids) == count
        # The caller's workspaces: oldest membership first.
        for n in range(3):
            created = await http.post(f"{API}/workspaces", json={"name": f"Paged {n}"})
            assert created.status_code == 201, created.text
        names = await _check_paged(http, f"{API}/workspaces", "name", 4)
        assert names[1:] == ["Paged 0", "Paged 1", "Paged 2"]
