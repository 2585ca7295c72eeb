"""``qo workspaces``, ``qo members``, ``qo api-keys`` and ``qo agent-tokens`` against the fake."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from fake_accounts import ADMIN_EMAIL, ADMIN_PASSWORD
from fake_qo_server import FakeQO
from typer.testing import CliRunner

from quantum_orchestrator.cli.keys import parse_expiry
from quantum_orchestrator.cli.main import app


@pytest.fixture
def admin(runner: CliRunner, qo_server: FakeQO) -> FakeQO:
    """The fake server with the admin logged in through ``qo login``."""
    result = runner.invoke(
        app, ["login", "--email", ADMIN_EMAIL, "--password-stdin"], input=f"{ADMIN_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    return qo_server


def ok(runner: CliRunner, *args: str, input: str | None = None) -> tuple[str, str]:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_workspaces_create_and_list(runner: CliRunner, admin: FakeQO) -> None:
    out, err = ok(runner, "workspaces", "create", "Team A")
    assert out.startswith("created workspace Team A (slug team-a, id ws_")
    assert err == "act in it with --workspace team-a or QO_WORKSPACE=team-a\n"
    table, _ = ok(runner, "workspaces", "list")
    lines = table.splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "ROLE", "ID", "CREATED"]
    assert [line.split()[0] for line in lines[1:]] == ["default", "team-a"]
    as_json, _ = ok(runner, "workspaces", "list", "--json")
    assert [w["role"] for w in json.loads(as_json)] == ["owner", "owner"]
    created, _ = ok(runner, "workspaces", "create", "Team B", "--json")
    assert json.loads(created)["slug"] == "team-b"


def test_workspaces_list_when_none(runner: CliRunner, qo_server: FakeQO) -> None:
    qo_server.accounts.add_user("lonely@example.com", "lonely-password-1")
    ok(runner, "login", "-e", "lonely@example.com", "--password-stdin", input="lonely-password-1\n")
    out, err = ok(runner, "workspaces", "list")
    assert out == ""
    assert "create one with `qo workspaces create NAME`" in err


def test_members_add_list_set_role_remove(runner: CliRunner, admin: FakeQO) -> None:
    ok(runner, "workspaces", "create", "Team A")
    ws = ["--workspace", "team-a"]
    out, _ = ok(
        runner,
        "members",
        "add",
        "viewer@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        *ws,
        input="viewer-password-1\n",
    )
    assert out.startswith("added viewer@example.com as viewer (user id usr_")
    assert admin.accounts.users["viewer@example.com"]["password"] == "viewer-password-1"
    table, _ = ok(runner, "members", "list", *ws)
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["USER", "ID", "EMAIL", "NAME", "ROLE", "SINCE"]
    assert [r[1] for r in rows[1:]] == [ADMIN_EMAIL, "viewer@example.com"]
    # By e-mail (any case) or by user id.
    out, _ = ok(runner, "members", "set-role", "Viewer@Example.com", "operator", *ws)
    assert out == "viewer@example.com is now operator\n"
    user_id = admin.accounts.users["viewer@example.com"]["id"]
    as_json, _ = ok(runner, "members", "set-role", user_id, "editor", *ws, "--json")
    assert json.loads(as_json)["role"] == "editor"
    out, _ = ok(runner, "members", "remove", user_id, *ws)
    assert out == f"removed {user_id}\n"
    listed, _ = ok(runner, "members", "list", *ws, "--json")
    assert [m["email"] for m in json.loads(listed)] == [ADMIN_EMAIL]
    gone = runner.invoke(app, ["members", "remove", "viewer@example.com", *ws])
    assert gone.exit_code == 1
    assert gone.stderr == "error: viewer@example.com is not a member of this workspace\n"


def test_members_add_of_an_unknown_email_says_how(runner: CliRunner, admin: FakeQO) -> None:
    result = runner.invoke(app, ["members", "add", "ghost@example.com", "--role", "viewer"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no account has the e-mail 'ghost@example.com': to create it, give its "
        "password on stdin with --password-stdin\n"
    )
    existing = runner.invoke(
        app,
        ["members", "add", "ghost@example.com", "-r", "viewer", "--password-stdin", "--json"],
        input="ghost-password-1\n",
    )
    assert existing.exit_code == 0, existing.output
    assert json.loads(existing.stdout)["role"] == "viewer"


def test_bad_roles_are_usage_errors(runner: CliRunner, admin: FakeQO) -> None:
    result = runner.invoke(app, ["members", "add", "x@example.com", "--role", "boss"])
    assert result.exit_code == 2
    assert "'boss' is not one of" in result.stderr
    missing = runner.invoke(app, ["api-keys", "create", "ci"])
    assert missing.exit_code == 2
    assert "Missing option '--role'" in missing.stderr


def test_a_viewer_is_refused_with_the_server_reason(runner: CliRunner, admin: FakeQO) -> None:
    ok(
        runner,
        "members",
        "add",
        "viewer@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        input="viewer-password-1\n",
    )
    ok(runner, "login", "-e", "viewer@example.com", "--password-stdin", input="viewer-password-1\n")
    result = runner.invoke(app, ["members", "add", "x@example.com", "--role", "viewer"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: your role viewer may not do this (it needs members:write) (HTTP 403 forbidden)\n"
    )


def test_api_keys_lifecycle(runner: CliRunner, admin: FakeQO) -> None:
    out, err = ok(runner, "api-keys", "create", "ci", "--role", "editor")
    key = out.strip()
    # stdout is the key alone, for KEY=$(qo api-keys create ...).
    assert out == f"{key}\n"
    assert key.startswith("qo_k_")
    key_id = next(iter(admin.accounts.api_keys))
    assert err.splitlines() == [
        f"created API key ci (id {key_id}, role editor, expires never)",
        "warning: store this key now: it is not shown again (only its hash is kept)",
    ]
    # The key works as a token.
    admin.token = "required"
    ok(runner, "runs", "list", "--token", key)

    as_json, err = ok(
        runner, "api-keys", "create", "ro", "-r", "viewer", "--expires-at", "2030-01-31", "--json"
    )
    created = json.loads(as_json)
    assert created["key"].startswith("qo_k_")
    assert "warning: store this key now" in err
    assert datetime.fromisoformat(created["expires_at"]) == datetime(2030, 1, 31).astimezone()

    table, _ = ok(runner, "api-keys", "list")
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["ID", "NAME", "PREFIX", "ROLE", "CREATED", "EXPIRES", "LAST", "USED"]
    assert [r[1] for r in rows[1:]] == ["ci", "ro"]
    assert rows[1][2] == key[:12] + "…"
    assert key not in table

    out, err = ok(runner, "api-keys", "rotate", key_id, "--grace-hours", "1.5")
    new_key = out.strip()
    assert new_key.startswith("qo_k_")
    assert new_key != key
    assert "the old one keeps working for 1.5 h" in err
    assert "warning: store this key now" in err
    _, err = ok(runner, "api-keys", "rotate", key_id)
    assert "the old one keeps working for the server's grace period" in err

    out, _ = ok(runner, "api-keys", "revoke", key_id)
    assert out == f"revoked API key {key_id}\n"
    listed, _ = ok(runner, "api-keys", "list", "--json")
    assert key_id not in [k["id"] for k in json.loads(listed)]
    unknown = runner.invoke(app, ["api-keys", "revoke", key_id])
    assert unknown.exit_code == 1
    assert f"API key '{key_id}' not found (HTTP 404 not_found)" in unknown.stderr


def test_api_keys_empty_list_and_bad_expiry(runner: CliRunner, admin: FakeQO) -> None:
    out, err = ok(runner, "api-keys", "list")
    assert out == ""
    assert "no API keys" in err
    bad = runner.invoke(app, ["api-keys", "create", "ci", "-r", "viewer", "--expires-at", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is not an ISO 8601 date or time" in bad.stderr
    assert admin.accounts.api_keys == {}


def test_parse_expiry() -> None:
    assert parse_expiry(None) is None
    aware = parse_expiry("2030-01-31T18:00:00+02:00")
    assert aware is not None
    assert aware.utcoffset() is not None
    assert aware.isoformat() == "2030-01-31T18:00:00+02:00"
    naive = parse_expiry(" 2030-01-31 18:00 ")
    assert naive == datetime(2030, 1, 31, 18, 0).astimezone()


def test_agent_tokens_lifecycle(runner: CliRunner, admin: FakeQO) -> None:
    out, err = ok(runner, "agent-tokens", "create", "workers", "--pool", "text")
    token = out.strip()
    assert token.startswith("qo_a_")
    token_id = next(iter(admin.accounts.agent_tokens))
    assert err.splitlines() == [
        f"created agent token workers (id {token_id}, pool text, expires never); start agents "
        "with `QO_AGENT_TOKEN=<token> qo agent --pool text ...`",
        "warning: store this token now: it is not shown again (only its hash is kept)",
    ]
    as_json, _ = ok(runner, "agent-tokens", "create", "more", "--pool", "ml", "--json")
    assert json.loads(as_json)["pool"] == "ml"
    table, _ = ok(runner, "agent-tokens", "list")
    rows = [line.split() for line in table.splitlines()]
    assert [r[3] for r in rows[1:]] == ["text", "ml"]
    assert token not in table
    out, _ = ok(runner, "agent-tokens", "revoke", token_id)
    assert out == f"revoked agent token {token_id}\n"
    listed, _ = ok(runner, "agent-tokens", "list", "--json")
    assert [t["name"] for t in json.loads(listed)] == ["more"]
    more_id = json.loads(listed)[0]["id"]
    ok(runner, "agent-tokens", "revoke", more_id)
    out, err = ok(runner, "agent-tokens", "list")
    assert out == ""
    assert "no agent tokens" in err
