"""The audit log through a real server: every change is recorded, only admins read it, each
workspace sees its own, secrets never reach it, and tampering with the file is found offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    add_member,
    assert_problem,
    bearer,
    create_agent_token,
    create_api_key,
    deployed,
    register_agent,
    session_token,
    start_run,
    transform_spec,
    unique,
    wait_run,
)
from tests.support.server import LiveApp, live_app
from typer.testing import CliRunner

from quantum_orchestrator.cli.main import app as qo
from quantum_orchestrator.domain.audit import change_digest
from quantum_orchestrator.domain.auth import Role
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.tables import audit_log

UA = "audit-tests/1.0"
SECRET_VALUE = "audit-Very-Secret-Value-42"


def delay_spec(name: str) -> dict[str, Any]:
    """A workflow that stays active for a minute (an engine timer), so it can be cancelled."""
    return {
        "name": name,
        "nodes": [{"id": "wait", "type": "core.delay", "params": {"seconds": 60}}],
    }


async def audit_entries(
    http: httpx.AsyncClient, *, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Every entry ``GET /api/v1/audit`` shows (all pages), newest first."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(f"{API}/audit", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def stored_rows(server: LiveApp) -> list[dict[str, Any]]:
    """Every row of ``audit_log``, read from the database, in chain order."""
    async with server.engine.uow.read() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.seq))).mappings()
        return [dict(row) for row in rows]


@dataclass
class Expected:
    """One audited call: the entry it must have produced."""

    action: str
    target_type: str | None
    target_id: str | None
    response: httpx.Response
    actor_type: str = "user"
    actor_id: str | None = None
    actor_label: str | None = ADMIN_EMAIL
    workspace_id: str | None = DEFAULT_WS
    outcome: str = "success"
    digest: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return self.response.headers["x-request-id"]


class Recorder:
    """Makes calls with a known user agent and notes the entry each must produce."""

    def __init__(self, http: httpx.AsyncClient, admin_id: str) -> None:
        self.http = http
        self.admin_id = admin_id
        self.expected: list[Expected] = []

    async def call(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        response = await self.http.request(
            method, path, headers={"User-Agent": UA, **(headers or {})}, **kwargs
        )
        assert response.status_code == status, (method, path, response.text)
        return response

    def expect(
        self,
        action: str,
        target_type: str | None,
        target_id: str | None,
        response: httpx.Response,
        **extra: Any,
    ) -> None:
        extra.setdefault("actor_id", self.admin_id)
        self.expected.append(Expected(action, target_type, target_id, response, **extra))


async def test_every_change_is_audited_with_actor_target_origin_and_request_id(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    admin_id = (await http.get(f"{API}/auth/me")).json()["user"]["id"]
    rec = Recorder(http, admin_id)
    call, expect = rec.call, rec.expect

    # Workflows: create, update, deploy, and runs: start, cancel, retry.
    name = unique("audited")
    spec = transform_spec(name)
    created = await call("POST", f"{API}/workflows", 201, json={"spec": spec})
    workflow_id = created.json()["id"]
    expect(
        "workflow.create",
        "workflow",
        workflow_id,
        created,
        digest=change_digest(spec),
        details={"name": name},
    )
    spec["description"] = "changed"
    updated = await call("PUT", f"{API}/workflows/{name}", 200, json={"spec": spec})
    expect("workflow.update", "workflow", workflow_id, updated, digest=change_digest(spec))
    deploy = await call("POST", f"{API}/workflows/{name}/deploy", 201)
    expect(
        "workflow.deploy",
        "workflow",
        workflow_id,
        deploy,
        details={"version": 1, "version_id": deploy.json()["id"], "name": name},
    )
    started = await call("POST", f"{API}/workflows/{name}/runs", 201, json={"inputs": {"who": "a"}})
    run_id = started.json()["id"]
    expect("run.start", "run", run_id, started, details={"workflow": name, "version": 1})
    await wait_run(http, run_id)
    # A replayed Idempotency-Key starts nothing and adds no entry.
    keyed = {"Idempotency-Key": "audit-once"}
    first = await call("POST", f"{API}/workflows/{name}/runs", 201, json={}, headers=keyed)
    expect("run.start", "run", first.json()["id"], first)
    replay = await call("POST", f"{API}/workflows/{name}/runs", 200, json={}, headers=keyed)

    slow = unique("slow")
    await deployed(http, delay_spec(slow))
    slow_run = (await start_run(http, slow))["id"]
    cancel = await call("POST", f"{API}/runs/{slow_run}/cancel", 200)
    expect("run.cancel", "run", slow_run, cancel)
    retry = await call("POST", f"{API}/runs/{slow_run}/retry", 200)
    expect("run.retry", "run", slow_run, retry)
    await call("POST", f"{API}/runs/{slow_run}/cancel", 200)

    # Secrets: the value never reaches the log.
    secret = await call(
        "POST", f"{API}/secrets", 201, json={"name": "AUDIT_TOKEN", "value": SECRET_VALUE}
    )
    expect("secret.create", "secret", "AUDIT_TOKEN", secret)
    secret_put = await call(
        "PUT", f"{API}/secrets/AUDIT_TOKEN", 200, json={"value": SECRET_VALUE + "2"}
    )
    expect("secret.update", "secret", "AUDIT_TOKEN", secret_put)
    secret_del = await call("DELETE", f"{API}/secrets/AUDIT_TOKEN", 204)
    expect("secret.delete", "secret", "AUDIT_TOKEN", secret_del)

    # API keys: create, rotate, revoke; an action made with a key names the key as actor.
    key = await call("POST", f"{API}/api-keys", 201, json={"name": "audit-ci", "role": "admin"})
    key_id = key.json()["id"]
    expect("api_key.create", "api_key", key_id, key, details={"name": "audit-ci", "role": "admin"})
    rotated = await call("POST", f"{API}/api-keys/{key_id}/rotate", 201, json={"grace_hours": 1})
    new_key = rotated.json()
    expect("api_key.rotate", "api_key", key_id, rotated, details={"new_key_id": new_key["id"]})
    by_key = await call(
        "POST",
        f"{API}/secrets",
        201,
        json={"name": "BY_KEY", "value": SECRET_VALUE},
        headers=bearer(new_key["key"]),
    )
    expect(
        "secret.create",
        "secret",
        "BY_KEY",
        by_key,
        actor_type="api_key",
        actor_id=new_key["id"],
        actor_label="audit-ci",
    )
    revoked = await call("DELETE", f"{API}/api-keys/{new_key['id']}", 204)
    expect("api_key.revoke", "api_key", new_key["id"], revoked)

    # Agent tokens and draining an agent.
    token = await call("POST", f"{API}/agent-tokens", 201, json={"name": "audit-ag", "pool": "aud"})
    token_id = token.json()["id"]
    expect("agent_token.create", "agent_token", token_id, token, details={"pool": "aud"})
    agent_id = await register_agent(http, token.json()["token"], "aud", "test.audit")
    drain = await call("POST", f"{API}/agents/{agent_id}/drain", 200)
    expect("agent.drain", "agent", agent_id, drain, details={"pool": "aud"})
    token_del = await call("DELETE", f"{API}/agent-tokens/{token_id}", 204)
    expect("agent_token.revoke", "agent_token", token_id, token_del)

    # Members: add (the password stays out), change the role, remove.
    body = {"email": "audited@example.com", "role": "viewer", "password": PASSWORD}
    member = await call("POST", f"{API}/workspaces/{DEFAULT_WS}/members", 201, json=body)
    member_id = member.json()["user_id"]
    expect(
        "member.add",
        "user",
        member_id,
        member,
        digest=change_digest({"email": body["email"], "role": "viewer", "name": ""}),
        details={"email": "audited@example.com", "role": "viewer", "account_created": True},
    )
    role = await call(
        "PUT", f"{API}/workspaces/{DEFAULT_WS}/members/{member_id}", 200, json={"role": "editor"}
    )
    expect("member.role_change", "user", member_id, role, details={"role": "editor"})
    removed = await call("DELETE", f"{API}/workspaces/{DEFAULT_WS}/members/{member_id}", 204)
    expect("member.remove", "user", member_id, removed)

    # Workspaces: the SSRF allow-list of this one, and a new one (recorded in the new one).
    allow = await call(
        "PUT", f"{API}/workspaces/{DEFAULT_WS}/http-allow", 200, json={"networks": ["10.0.0.0/8"]}
    )
    expect(
        "workspace.http_allow_change",
        "workspace",
        DEFAULT_WS,
        allow,
        details={"http_allow": ["10.0.0.0/8"]},
    )
    new_ws = await call("POST", f"{API}/workspaces", 201, json={"name": "Audited Team"})
    new_ws_id = new_ws.json()["id"]
    expect(
        "workspace.create",
        "workspace",
        new_ws_id,
        new_ws,
        workspace_id=new_ws_id,
        details={"name": "Audited Team"},
    )

    # Logins (cookie and token), a failed one, a logout: entries of the account, no workspace.
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        creds = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        login = await anonymous.post(f"{API}/auth/login", json=creds, headers={"User-Agent": UA})
        assert login.status_code == 200, login.text
        expect("auth.login", "session", None, login, workspace_id=None, details={"via": "cookie"})
        issued = await anonymous.post(f"{API}/auth/token", json=creds, headers={"User-Agent": UA})
        assert issued.status_code == 200, issued.text
        expect("auth.login", "session", None, issued, workspace_id=None, details={"via": "token"})
        bad = await anonymous.post(
            f"{API}/auth/login",
            json={"email": ADMIN_EMAIL, "password": "not-the-password-1"},
            headers={"User-Agent": UA},
        )
        assert_problem(bad, 401)
        expect(
            "auth.login_failed",
            "user",
            admin_id,
            bad,
            actor_type="anonymous",
            actor_id=None,
            actor_label=ADMIN_EMAIL,
            workspace_id=None,
            outcome="failure",
        )
        access = issued.json()["access_token"]
        logout = await anonymous.post(
            f"{API}/auth/logout", headers={**bearer(access), "User-Agent": UA}
        )
        assert logout.status_code == 204, logout.text
        expect("auth.logout", "session", None, logout, workspace_id=None)

    # Account entries (logins) show in both of the admin's workspaces: counted once.
    entries = {entry["seq"]: entry for entry in await audit_entries(http)}
    entries |= {
        entry["seq"]: entry
        for entry in await audit_entries(http, headers={"X-QO-Workspace": new_ws_id})
    }
    by_request = {entry["request_id"]: entry for entry in entries.values()}
    assert len(by_request) == len(entries), "two entries share a request id"
    assert replay.headers["x-request-id"] not in by_request
    for want in rec.expected:
        entry = by_request.get(want.request_id)
        assert entry is not None, f"no audit entry for {want.action} ({want.request_id})"
        assert entry["action"] == want.action, entry
        assert entry["target_type"] == want.target_type, entry
        if want.target_id is not None:
            assert entry["target_id"] == want.target_id, entry
        else:
            assert entry["target_id"], entry
        assert entry["actor_type"] == want.actor_type, entry
        assert entry["actor_id"] == want.actor_id, entry
        assert entry["actor_label"] == want.actor_label, entry
        assert entry["workspace_id"] == want.workspace_id, entry
        assert entry["outcome"] == want.outcome, entry
        assert entry["source_ip"] == "127.0.0.1", entry
        assert entry["user_agent"] == UA, entry
        if want.digest is not None:
            assert entry["digest"] == want.digest, entry
        for detail, value in want.details.items():
            assert entry["details"][detail] == value, (detail, entry)
        assert len(entry["hash"]) == 64
    # Newest first, and the chain of everything written holds.
    seqs = [entry["seq"] for entry in await audit_entries(http)]
    assert seqs == sorted(seqs, reverse=True)
    result = await server.engine.audit.verify()
    assert result.ok, result.problem
    assert result.checked == len(await stored_rows(server))

    # Filters.
    only = await audit_entries(http, action="secret.create")
    assert {entry["target_id"] for entry in only} == {"AUDIT_TOKEN", "BY_KEY"}
    keyed_entries = await audit_entries(http, actor_id=new_key["id"])
    assert [entry["action"] for entry in keyed_entries] == ["secret.create"]
    on_run = await audit_entries(http, target_type="run", target_id=slow_run)
    assert [entry["action"] for entry in on_run] == [
        "run.cancel",
        "run.retry",
        "run.cancel",
        "run.start",
    ]
    since = created.json()["created_at"]
    assert len(await audit_entries(http, since=since)) >= len(rec.expected) - 2
    assert await audit_entries(http, until=since) == []


async def test_secrets_passwords_and_keys_never_reach_the_log(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await http.post(f"{API}/secrets", json={"name": "HIDDEN", "value": SECRET_VALUE})
    await http.put(f"{API}/secrets/HIDDEN", json={"value": SECRET_VALUE + "-new"})
    await add_member(http, "hidden@example.com", Role.EDITOR, password=PASSWORD + "-hidden")
    key = await create_api_key(http, Role.VIEWER)
    rotated = (await http.post(f"{API}/api-keys/{key['id']}/rotate")).json()
    agent = await create_agent_token(http, "hidden")
    session = await session_token(server.url, "hidden@example.com", PASSWORD + "-hidden")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        await anonymous.post(
            f"{API}/auth/login", json={"email": ADMIN_EMAIL, "password": "Wrong-Password-Typed-9"}
        )
    secrets = [
        SECRET_VALUE,
        PASSWORD + "-hidden",
        ADMIN_PASSWORD,
        "Wrong-Password-Typed-9",
        key["key"],
        rotated["key"],
        agent["token"],
        session,
        server.token,
    ]
    dump = json.dumps(await stored_rows(server), default=str)
    assert len(await stored_rows(server)) >= 8
    for secret in secrets:
        assert secret not in dump
    listed = json.dumps(await audit_entries(http))
    for secret in secrets:
        assert secret not in listed


async def test_failed_logins_are_audited(server: LiveApp, http: httpx.AsyncClient) -> None:
    member = await add_member(http, "victim@example.com", Role.VIEWER)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        for email in ("victim@example.com", "nobody@example.com", "not an e-mail"):
            answer = await anonymous.post(
                f"{API}/auth/token",
                json={"email": email, "password": "guess-guess-guess-1"},
                headers={"User-Agent": "brute/1", "X-Request-ID": f"fail-{email[:3]}"},
            )
            assert_problem(answer, 401)
    rows = [row for row in await stored_rows(server) if row["action"] == "auth.login_failed"]
    assert [row["actor_label"] for row in rows] == [
        "victim@example.com",
        "nobody@example.com",
        "not an e-mail",
    ]
    for row in rows:
        assert row["actor_type"] == "anonymous"
        assert row["actor_id"] is None
        assert row["outcome"] == "failure"
        assert row["workspace_id"] is None
        assert row["source_ip"] == "127.0.0.1"
        assert row["user_agent"] == "brute/1"
        assert row["request_id"] == f"fail-{row['actor_label'][:3]}"
    assert (rows[0]["target_type"], rows[0]["target_id"]) == ("user", member["user_id"])
    assert (rows[1]["target_type"], rows[1]["target_id"]) == (None, None)
    # The admins of the account's workspace see attempts on it; not those on unknown e-mails.
    shown = await audit_entries(http, action="auth.login_failed")
    assert [entry["actor_label"] for entry in shown] == ["victim@example.com"]


async def test_a_long_request_id_is_kept_cut_to_the_column(http: httpx.AsyncClient) -> None:
    request_id = "r" * 100
    answer = await http.post(
        f"{API}/secrets",
        json={"name": "LONG_ID", "value": "x"},
        headers={"X-Request-ID": request_id},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == request_id
    (entry,) = await audit_entries(http, action="secret.create")
    assert entry["request_id"] == request_id[:64]


async def test_only_admins_read_the_audit_log(server: LiveApp, http: httpx.AsyncClient) -> None:
    callers: dict[Role, str] = {}
    for role in Role:
        if role is Role.OWNER:
            continue
        email = f"audit-{role.value}@example.com"
        await add_member(http, email, role)
        callers[role] = await session_token(server.url, email)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for role in (Role.VIEWER, Role.OPERATOR, Role.EDITOR):
            denied = await client.get(f"{API}/audit", headers=bearer(callers[role]))
            assert_problem(denied, 403, "forbidden")
        allowed = await client.get(f"{API}/audit", headers=bearer(callers[Role.ADMIN]))
        assert allowed.status_code == 200, allowed.text
        assert_problem(await client.get(f"{API}/audit"), 401)
        viewer_key = await create_api_key(http, Role.VIEWER)
        assert_problem(await client.get(f"{API}/audit", headers=bearer(viewer_key["key"])), 403)
        admin_key = await create_api_key(http, Role.ADMIN)
        assert (
            await client.get(f"{API}/audit", headers=bearer(admin_key["key"]))
        ).status_code == 200
        agent = await create_agent_token(http, "audit")
        assert_problem(await client.get(f"{API}/audit", headers=bearer(agent["token"])), 403)
    assert (await http.get(f"{API}/audit")).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 100_000},
        {"cursor": "garbage"},
        {"since": "yesterday"},
        {"until": "2026-01-01T00:00:00"},
        {"action": "a" * 65},
    ],
)
async def test_bad_queries_are_4xx_problems(
    http: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    answer = await http.get(f"{API}/audit", params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_each_workspace_sees_only_its_own_entries(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    await add_member(http, "tenant@example.com", Role.VIEWER)
    tenant = bearer(await session_token(server.url, "tenant@example.com"))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        made = await client.post(f"{API}/workspaces", json={"name": "Tenant B"}, headers=tenant)
        assert made.status_code == 201, made.text
        b = made.json()["id"]
        in_b = {**tenant, "X-QO-Workspace": b}
        await deployed(client, transform_spec("b-flow"), headers=in_b)
        await deployed(http, transform_spec("a-flow"))
        seen_in_b = await audit_entries(client, headers=in_b)
    seen_in_a = await audit_entries(http)
    names_b = {(e["action"], (e["details"] or {}).get("name")) for e in seen_in_b}
    names_a = {(e["action"], (e["details"] or {}).get("name")) for e in seen_in_a}
    assert ("workflow.create", "b-flow") in names_b
    assert ("workspace.create", "Tenant B") in names_b
    assert ("workflow.create", "a-flow") in names_a
    assert ("workflow.create", "a-flow") not in names_b
    assert ("workflow.create", "b-flow") not in names_a
    assert ("workspace.create", "Tenant B") not in names_a
    assert {e["workspace_id"] for e in seen_in_b} <= {b, None}
    assert {e["workspace_id"] for e in seen_in_a} <= {DEFAULT_WS, None}
    # The tenant's own login shows in both workspaces it belongs to; the admin's only in A.
    logins_b = {e["actor_label"] for e in seen_in_b if e["action"] == "auth.login"}
    assert logins_b == {"tenant@example.com"}
    # A, filtered by B's ids, finds nothing of B.
    b_entries = [e for e in seen_in_b if e["target_id"]]
    for entry in b_entries:
        if entry["workspace_id"] == b:
            assert await audit_entries(http, target_id=entry["target_id"]) == []


# Tamper detection: offline, against the SQLite file, through the command line.


async def _make_entries(settings: Settings) -> int:
    async with live_app(settings) as server:
        auth = server.auth
        async with httpx.AsyncClient(base_url=server.url, auth=auth, timeout=30) as http:
            for n in range(3):
                answer = await http.post(f"{API}/secrets", json={"name": f"S{n}", "value": "v"})
                assert answer.status_code == 201, answer.text
            await http.post(f"{API}/secrets/S0", json={})  # 405: not audited
            await http.delete(f"{API}/secrets/S1")
        return len(await stored_rows(server))


def _sqlite(path: Path, sql: str) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql)


def _verify(url: str, *args: str) -> Any:
    return CliRunner().invoke(qo, ["audit", "verify", *args], env={"QO_DATABASE__URL": url})


def test_qo_audit_verify_finds_tampering(settings: Settings, tmp_path: Path) -> None:
    entries = asyncio.run(_make_entries(settings))
    assert entries == 4
    url = settings.database_url()
    path = Path(url.split("///", 1)[1])
    clean = tmp_path / "clean.db"
    shutil.copy(path, clean)

    ok = _verify(url)
    assert ok.exit_code == 0, ok.output
    assert f"OK: {entries} audit entries checked" in ok.stdout
    head = ok.stdout.split("hash ")[1].split()[0]
    anchored = _verify(url, "--anchor", head)
    assert anchored.exit_code == 0, anchored.output
    as_json = _verify(url, "--json")
    assert json.loads(as_json.stdout)["ok"] is True

    _sqlite(path, "UPDATE audit_log SET actor_label = 'someone-else' WHERE seq = 2")
    changed = _verify(url)
    assert changed.exit_code == 1, changed.output
    assert "TAMPERED: audit entry seq 2 (changed)" in changed.stdout
    report = json.loads(_verify(url, "--json").stdout)
    assert report["problem"]["seq"] == 2
    assert report["problem"]["reason"] == "changed"

    deleted_copy = tmp_path / "deleted.db"
    shutil.copy(clean, deleted_copy)
    deleted_url = f"sqlite+aiosqlite:///{deleted_copy}"
    _sqlite(deleted_copy, "DELETE FROM audit_log WHERE seq = 2")
    deleted = _verify(deleted_url)
    assert deleted.exit_code == 1, deleted.output
    assert "TAMPERED: audit entry seq 3 (deleted)" in deleted.stdout
    assert "seq 2" in deleted.stdout

    # The newest entry removed: the chain still holds, but not the anchor taken before.
    truncated = tmp_path / "truncated.db"
    shutil.copy(clean, truncated)
    _sqlite(truncated, "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    truncated_url = f"sqlite+aiosqlite:///{truncated}"
    assert _verify(truncated_url).exit_code == 0
    missing = _verify(truncated_url, "--anchor", head)
    assert missing.exit_code == 1
    assert "anchor_missing" in missing.stdout

    absent = _verify(f"sqlite+aiosqlite:///{tmp_path / 'nothing.db'}")
    assert absent.exit_code == 2
    assert "no database" in absent.stderr


def test_qo_audit_verify_as_a_process(settings: Settings, tmp_path: Path) -> None:
    asyncio.run(_make_entries(settings))
    url = settings.database_url()
    qo_bin = Path(sys.executable).with_name("qo")
    env = {"QO_DATABASE__URL": url, "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    good = subprocess.run(
        [str(qo_bin), "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "OK: 4 audit entries checked" in good.stdout
    _sqlite(Path(url.split("///", 1)[1]), "UPDATE audit_log SET details = '{}' WHERE seq = 1")
    bad = subprocess.run(
        [str(qo_bin), "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "seq 1 (changed)" in bad.stdout
