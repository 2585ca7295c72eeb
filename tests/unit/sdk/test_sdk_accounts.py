"""The client's account methods against the fake server, and where it finds its token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_accounts import ADMIN_EMAIL, ADMIN_PASSWORD, DEFAULT_WORKSPACE
from fake_qo_server import FakeQO

from quantum_orchestrator.sdk import Client, ClientError
from quantum_orchestrator.sdk.credentials import CredentialStore, StoredLogin


async def test_login_uses_the_new_token_and_me_says_who(qo_server: FakeQO) -> None:
    qo_server.token = "required"
    async with Client(qo_server.url, token="") as qo:
        assert not qo.authenticated
        answer = await qo.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        assert qo.authenticated
        me = await qo.me()
        await qo.logout()
        with pytest.raises(ClientError) as after:
            await qo.me()
    assert answer["token_type"] == "bearer"
    assert me["user"]["email"] == ADMIN_EMAIL
    assert (me["workspace_id"], me["role"]) == (DEFAULT_WORKSPACE, "owner")
    assert qo_server.accounts.revoked == [answer["access_token"]]
    assert after.value.status == 401
    # The login itself carried no token at all.
    login_headers = [h for h in qo_server.seen_headers if "authorization" not in h]
    assert len(login_headers) == 1


async def test_wrong_password_is_a_401(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        with pytest.raises(ClientError) as info:
            await qo.login(ADMIN_EMAIL, "not-the-password")
    assert (info.value.status, info.value.detail) == (401, "wrong e-mail or password")
    assert not qo.authenticated


async def test_workspaces_and_members(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await qo.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        team = await qo.create_workspace("Team A")
        names = [w["slug"] for w in await qo.list_workspaces()]
        # Without workspace= the members calls act in the user's first workspace.
        default_members = await qo.list_members()
        added = await qo.add_member(
            "Viewer@Example.com", "viewer", password="viewer-password-1", workspace="team-a"
        )
        changed = await qo.set_member_role(added["user_id"], "operator", workspace=team["id"])
        listed = await qo.list_members(workspace="team-a")
        await qo.remove_member(added["user_id"], workspace="team-a")
        after = await qo.list_members(workspace="team-a")
        with pytest.raises(ClientError) as unknown:
            await qo.add_member("ghost@example.com", "viewer", workspace="team-a")
    assert names == ["default", "team-a"]
    assert [m["email"] for m in default_members] == [ADMIN_EMAIL]
    assert (added["email"], added["role"]) == ("viewer@example.com", "viewer")
    assert changed["role"] == "operator"
    assert {m["email"]: m["role"] for m in listed} == {
        ADMIN_EMAIL: "owner",
        "viewer@example.com": "operator",
    }
    assert [m["email"] for m in after] == [ADMIN_EMAIL]
    assert unknown.value.status == 404
    assert "send a password" in str(unknown.value)


async def test_the_client_workspace_is_sent_as_a_header(qo_server: FakeQO) -> None:
    async with Client(qo_server.url, workspace="team-a") as qo:
        await qo.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        await qo.create_workspace("Team A")
        me = await qo.me()
        members = await qo.list_members()
    assert me["workspace_id"] != DEFAULT_WORKSPACE
    assert [m["email"] for m in members] == [ADMIN_EMAIL]
    assert qo_server.seen_headers[-1]["x-qo-workspace"] == "team-a"


async def test_an_api_key_must_name_its_workspace_for_members(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as admin:
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        key = (await admin.create_api_key("ci", "admin"))["key"]
    async with Client(qo_server.url, token=key) as qo:
        with pytest.raises(ClientError) as info:
            await qo.list_members()
    assert info.value.code == "workspace_required"
    assert "--workspace" in str(info.value)


async def test_a_user_without_workspace_is_told_so(qo_server: FakeQO) -> None:
    qo_server.accounts.add_user("lonely@example.com", "lonely-password-1")
    async with Client(qo_server.url) as qo:
        await qo.login("lonely@example.com", "lonely-password-1")
        with pytest.raises(ClientError) as info:
            await qo.list_members()
    assert info.value.code == "no_workspace"


async def test_api_keys_and_agent_tokens(qo_server: FakeQO) -> None:
    async with Client(qo_server.url) as qo:
        await qo.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        naive = datetime(2030, 1, 31, 18, 0, tzinfo=UTC).replace(tzinfo=None)
        created = await qo.create_api_key("ci", "editor", expires_at=naive)
        other = await qo.create_api_key("other", "viewer", expires_at="2031-01-01T00:00:00Z")
        rotated = await qo.rotate_api_key(created["id"], grace_hours=2)
        default_grace = await qo.rotate_api_key(other["id"])
        keys = await qo.list_api_keys()
        await qo.revoke_api_key(created["id"])
        token = await qo.create_agent_token("agents", "text")
        tokens = await qo.list_agent_tokens()
        await qo.revoke_agent_token(token["id"])
        left = await qo.list_agent_tokens()
        with pytest.raises(ClientError) as missing:
            await qo.revoke_api_key("key_404")
    sent = qo_server.accounts.api_keys[other["id"]]["_body"]
    assert sent["expires_at"] == "2031-01-01T00:00:00Z"
    expires = datetime.fromisoformat(created["expires_at"])
    # A naive time is the local clock: sent with its offset, the same moment.
    assert expires == naive.astimezone().astimezone(UTC)
    assert created["key"].startswith("qo_k_")
    assert created["role"] == "editor"
    assert rotated["key"] != created["key"]
    assert qo_server.accounts.api_keys.get(created["id"]) is None
    assert qo_server.accounts.api_keys[rotated["id"]]["_body"] == {"grace_hours": 2}
    assert qo_server.accounts.api_keys[default_grace["id"]]["_body"] == {}
    assert all("key" not in k for k in keys)
    assert len(keys) == 4
    assert token["token"].startswith("qo_a_")
    assert token["pool"] == "text"
    assert [t["name"] for t in tokens] == ["agents"]
    assert all("token" not in t for t in tokens)
    assert left == []
    assert missing.value.status == 404


async def test_token_order_explicit_env_stored(
    qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    CredentialStore().save(qo_server.url, StoredLogin(token="stored-token"))

    def last_auth() -> str | None:
        return qo_server.seen_headers[-1].get("authorization")

    async with Client(qo_server.url + "/") as qo:
        await qo.list_agents()
    assert last_auth() == "Bearer stored-token"
    monkeypatch.setenv("QO_TOKEN", "env-token")
    async with Client(qo_server.url) as qo:
        await qo.list_agents()
    assert last_auth() == "Bearer env-token"
    async with Client(qo_server.url, token="given-token") as qo:
        await qo.list_agents()
    assert last_auth() == "Bearer given-token"
    async with Client(qo_server.url, token="") as qo:
        await qo.list_agents()
    assert last_auth() is None


async def test_the_stored_token_is_per_server(qo_server: FakeQO) -> None:
    CredentialStore().save("http://elsewhere:8787", StoredLogin(token="not-for-you"))
    async with Client(qo_server.url) as qo:
        await qo.list_agents()
    assert "authorization" not in qo_server.seen_headers[-1]


async def test_the_event_stream_carries_the_token(qo_server: FakeQO) -> None:
    qo_server.token = "s3cret"
    spec = {"name": "digest", "nodes": [{"id": "a", "type": "core.noop"}]}
    async with Client(qo_server.url, token="s3cret") as qo:
        await qo.deploy(spec)
        run = await qo.run("digest")
        done = await qo.wait(run["id"], timeout=10)
    assert done["state"] == "succeeded"
    assert qo_server.streams == [None]


def test_a_broken_credentials_file_means_no_stored_token(config_home: Path) -> None:
    path = config_home / "quantum-orchestrator" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert CredentialStore().token_for("http://127.0.0.1:8787") is None
