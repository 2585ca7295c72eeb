"""``qo admin ...`` on a real SQLite database in a temporary data dir, with no server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_orchestrator.cli._common import build_settings
from quantum_orchestrator.cli.admin import offline_engine
from quantum_orchestrator.cli.main import app
from quantum_orchestrator.domain.auth import AuthenticationError

PASSWORD = "correct-horse-42-battery"
OTHER = "another-secret-phrase-7"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir that ``qo admin`` finds through QO_DATA_DIR."""
    for name in ("QO_DATABASE__URL", "QO_ADMIN_PASSWORD", "QO_ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "data"
    monkeypatch.setenv("QO_DATA_DIR", str(path))
    return path


def can_log_in(email: str, password: str) -> tuple[bool, list[str]]:
    """Whether the password works, and the roles of the user's workspaces (as ``slug:role``)."""

    async def check() -> tuple[bool, list[str]]:
        async with offline_engine(build_settings()) as engine:
            try:
                login = await engine.accounts.login(
                    email=email, password=password, source_ip=None, user_agent=None
                )
            except AuthenticationError:
                return False, []
            rows = await engine.workspaces.list_for(user_id=login.user["id"])
            return True, [f"{row['slug']}:{row['role']}" for row in rows]

    return asyncio.run(check())


def test_create_user_in_a_workspace(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "admin",
            "create-user",
            "Ops@Example.com",
            "--password-stdin",
            "--workspace",
            "default",
            "--role",
            "editor",
            "--name",
            "Ops",
        ],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created user ops@example.com (id ")
    assert result.stdout.endswith(", editor of default)\n")
    assert (data_dir / "qo.db").is_file()
    assert can_log_in("ops@example.com", PASSWORD) == (True, ["default:editor"])


def test_create_user_prompts_twice_and_may_have_no_workspace(
    runner: CliRunner, data_dir: Path
) -> None:
    result = runner.invoke(
        app, ["admin", "create-user", "solo@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert "belongs to no workspace yet" in result.stderr
    assert can_log_in("solo@example.com", PASSWORD) == (True, [])


def test_create_user_refusals(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    def create(*args: str, password: str = PASSWORD) -> tuple[int, str]:
        result = runner.invoke(
            app,
            ["admin", "create-user", *args, "--password-stdin"],
            input=f"{password}\n",
        )
        return result.exit_code, result.stderr

    assert create("dup@example.com")[0] == 0
    assert create("dup@example.com") == (
        1,
        "error: a user with the e-mail 'dup@example.com' already exists\n",
    )
    assert create("weak@example.com", password="short") == (
        1,
        "error: password: must be at least 12 characters long\n",
    )
    assert create("not-an-email") == (1, "error: email: 'not-an-email' is not an e-mail address\n")
    assert create("x@example.com", "--workspace", "nowhere", "--role", "viewer") == (
        1,
        "error: no workspace has the id or slug 'nowhere'\n",
    )
    assert create("x@example.com", "--workspace", "default") == (
        2,
        "error: --workspace and --role go together\n",
    )
    assert create("x@example.com", "--role", "viewer")[0] == 2
    bad = runner.invoke(app, ["admin", "create-user", "x@example.com", "--role", "king"])
    assert bad.exit_code == 2
    # The data dir comes from --data-dir as well; bad settings are explained.
    other = tmp_path / "other"
    assert create("y@example.com", "--data-dir", str(other))[0] == 0
    assert (other / "qo.db").is_file()


def test_reset_password(runner: CliRunner, data_dir: Path) -> None:
    created = runner.invoke(
        app,
        [
            "admin",
            "create-user",
            "ops@example.com",
            "--password-stdin",
            "--workspace",
            "00000000000000000000000000000001",
            "--role",
            "viewer",
        ],
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    result = runner.invoke(
        app, ["admin", "reset-password", "ops@example.com"], input=f"{OTHER}\n{OTHER}\n"
    )
    assert result.exit_code == 0, result.output
    assert "New password" in result.output
    assert result.stdout.endswith("password of ops@example.com reset; its sessions are ended\n")
    assert can_log_in("ops@example.com", PASSWORD) == (False, [])
    assert can_log_in("ops@example.com", OTHER) == (True, ["default:viewer"])

    unknown = runner.invoke(
        app, ["admin", "reset-password", "nobody@example.com", "--password-stdin"], input=OTHER
    )
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no user has the e-mail 'nobody@example.com'\n"
    mismatch = runner.invoke(
        app, ["admin", "reset-password", "ops@example.com"], input=f"{OTHER}\nsomething-else\n"
    )
    assert mismatch.exit_code != 0
    empty = runner.invoke(
        app, ["admin", "reset-password", "ops@example.com", "--password-stdin"], input="\n"
    )
    assert empty.exit_code == 2
    assert empty.stderr == "error: --password-stdin: stdin holds no password\n"
