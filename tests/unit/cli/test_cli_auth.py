"""``qo login`` / ``qo logout``, the stored token, and which credentials a command sends."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fake_accounts import ADMIN_EMAIL, ADMIN_PASSWORD
from fake_qo_server import FakeQO, free_port
from typer.testing import CliRunner

from quantum_orchestrator.cli.main import app
from quantum_orchestrator.sdk.credentials import CredentialStore, StoredLogin


def credentials(config_home: Path) -> Path:
    return config_home / "quantum-orchestrator" / "credentials.json"


def stored(config_home: Path) -> dict[str, dict[str, str]]:
    servers: dict[str, dict[str, str]] = json.loads(credentials(config_home).read_text())["servers"]
    return servers


def login(runner: CliRunner, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    result = runner.invoke(
        app, ["login", "--email", email, "--password-stdin"], input=f"{password}\n"
    )
    assert result.exit_code == 0, result.output


def test_login_stores_a_private_token_used_by_later_commands(
    runner: CliRunner, qo_server: FakeQO, config_home: Path
) -> None:
    qo_server.token = "only-logins-get-in"
    result = runner.invoke(
        app, ["login", "--email", ADMIN_EMAIL, "--password-stdin"], input=f"{ADMIN_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"logged in to {qo_server.url} as {ADMIN_EMAIL}",
        "workspace: default (role owner)",
    ]
    path = credentials(config_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entry = stored(config_home)[qo_server.url]
    assert entry["token"] in qo_server.accounts.sessions
    assert entry["email"] == ADMIN_EMAIL
    assert entry["expires_at"] > entry["created_at"]

    listed = runner.invoke(app, ["workflow", "list"])
    assert listed.exit_code == 0, listed.output
    assert qo_server.seen_headers[-1]["authorization"] == f"Bearer {entry['token']}"


def test_login_prompts_for_what_is_missing(
    runner: CliRunner, qo_server: FakeQO, config_home: Path
) -> None:
    result = runner.invoke(app, ["login"], input=f"{ADMIN_EMAIL}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    # The password is asked for without echo: it is not in the output.
    assert ADMIN_PASSWORD not in result.output
    assert "Password" in result.output
    assert qo_server.url in stored(config_home)


def test_login_refused(runner: CliRunner, qo_server: FakeQO, config_home: Path) -> None:
    wrong = runner.invoke(
        app, ["login", "--email", ADMIN_EMAIL, "--password-stdin"], input="nope-nope-nope\n"
    )
    assert wrong.exit_code == 1
    assert wrong.stderr == f"error: cannot log in to {qo_server.url}: wrong e-mail or password\n"
    assert not credentials(config_home).exists()
    no_email = runner.invoke(app, ["login", "--password-stdin"], input="x\n")
    assert no_email.exit_code == 2
    assert "--password-stdin needs --email" in no_email.stderr
    empty = runner.invoke(app, ["login", "--email", ADMIN_EMAIL, "--password-stdin"], input="")
    assert empty.exit_code == 2
    assert "stdin holds no password" in empty.stderr


def test_login_without_a_workspace_says_what_to_do(
    runner: CliRunner, qo_server: FakeQO, config_home: Path
) -> None:
    qo_server.accounts.add_user("new@example.com", "new-password-123")
    result = runner.invoke(
        app,
        ["login", "--email", "new@example.com", "--password-stdin"],
        input="new-password-123\n",
    )
    assert result.exit_code == 0, result.output
    assert "create one with `qo workspaces create NAME`" in result.stderr


def test_logout_revokes_and_forgets(
    runner: CliRunner, qo_server: FakeQO, config_home: Path
) -> None:
    CredentialStore().save("http://other:1", StoredLogin(token="keep-me"))
    login(runner)
    token = stored(config_home)[qo_server.url]["token"]
    result = runner.invoke(app, ["logout"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"logged out of {qo_server.url}\n"
    assert qo_server.accounts.revoked == [token]
    assert stored(config_home) == {"http://other:1": {"token": "keep-me"}}
    again = runner.invoke(app, ["logout"])
    assert again.exit_code == 0
    assert again.stderr == f"not logged in to {qo_server.url}\n"


def test_logout_of_an_expired_session_still_forgets_it(
    runner: CliRunner, qo_server: FakeQO, config_home: Path
) -> None:
    login(runner)
    qo_server.accounts.sessions.clear()
    result = runner.invoke(app, ["logout"])
    assert result.exit_code == 0, result.output
    assert qo_server.url not in stored(config_home)


def test_logout_from_an_unreachable_server_forgets_and_fails(
    runner: CliRunner, config_home: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    CredentialStore().save(url, StoredLogin(token="t"))
    result = runner.invoke(app, ["logout", "--server", url])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: forgot the token of {url}, but could not end")
    assert stored(config_home) == {}


def test_token_precedence_option_env_stored(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    CredentialStore().save(qo_server.url, StoredLogin(token="stored"))

    def sent(*args: str) -> str | None:
        result = runner.invoke(app, ["agents", "list", *args])
        assert result.exit_code == 0, result.output
        return qo_server.seen_headers[-1].get("authorization")

    assert sent() == "Bearer stored"
    monkeypatch.setenv("QO_TOKEN", "from-env")
    assert sent() == "Bearer from-env"
    assert sent("--token", "from-option") == "Bearer from-option"


def test_a_401_says_to_log_in(runner: CliRunner, qo_server: FakeQO) -> None:
    qo_server.token = "s3cret"
    CredentialStore().save(qo_server.url, StoredLogin(token="expired"))
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: a valid API token is required (HTTP 401 unauthorized); run `qo login` "
        "(or pass --token / set QO_TOKEN)\n"
    )


def test_workspace_option_and_env_are_sent(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["runs", "list", "--workspace", "team-a"]).exit_code == 0
    assert qo_server.seen_headers[-1]["x-qo-workspace"] == "team-a"
    monkeypatch.setenv("QO_WORKSPACE", "team-b")
    assert runner.invoke(app, ["workflow", "list"]).exit_code == 0
    assert qo_server.seen_headers[-1]["x-qo-workspace"] == "team-b"
    monkeypatch.delenv("QO_WORKSPACE")
    assert runner.invoke(app, ["agents", "list"]).exit_code == 0
    assert "x-qo-workspace" not in qo_server.seen_headers[-1]


def test_a_broken_credentials_file(runner: CliRunner, qo_server: FakeQO, config_home: Path) -> None:
    path = credentials(config_home)
    path.parent.mkdir(parents=True)
    path.write_text("garbage")
    # Commands given a token do not care; logout names the file; login replaces it.
    assert runner.invoke(app, ["agents", "list", "--token", "t"]).exit_code == 0
    broken = runner.invoke(app, ["logout"])
    assert broken.exit_code == 1
    assert broken.stderr == (
        f"error: {path} is not a credentials file of qo; delete it and run `qo login` again\n"
    )
    login(runner)
    assert qo_server.url in stored(config_home)
