"""Master key rotation: ``qo admin rotate-secret-key`` against a real database, with a server
running before, during and after it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from click.testing import Result
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import make_settings
from tests.integration.api.helpers import (
    create_and_deploy,
    start_run,
    transform_spec,
    wait_run,
)
from tests.support.engine import WORKSPACE, EngineEnv
from tests.support.server import LiveApp, live_app
from typer.testing import CliRunner

from quantum_orchestrator.cli.secret_key import rotate_secret_key
from quantum_orchestrator.domain.triggers import sign_webhook
from quantum_orchestrator.security.keyring import KeyFiles, key_id_of
from quantum_orchestrator.security.secrets import (
    SecretBox,
    SecretDecryptError,
    SecretKeyError,
    load_secret_box,
    secret_aad,
    webhook_secret_aad,
)
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.tables import secrets, triggers

API = "/api/v1"

# The command as the lead will register it: `qo admin rotate-secret-key`.
admin = typer.Typer(pretty_exceptions_enable=False)


@admin.callback()
def _admin() -> None:
    """Administration."""


admin.command("rotate-secret-key")(rotate_secret_key)


def _encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


async def rotate(
    settings: Settings, *args: str, env: dict[str, str | None] | None = None, stdin: str = ""
) -> Result:
    """Run the command for ``settings``' data dir and database, in a thread (it runs its own
    event loop, as from a shell)."""
    variables: dict[str, str | None] = {
        "QO_DATA_DIR": str(settings.data_dir),
        "QO_DATABASE__URL": settings.database_url(),
        "QO_SECRET_KEY": None,
        "QO_SECRET_KEYS_PREVIOUS": None,
        **(env or {}),
    }
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, admin, ["rotate-secret-key", *args], env=variables, input=stdin
    )


async def _rows(database_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    db = Database(options=DatabaseOptions(url=database_url))
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(secrets))).mappings().all()
    finally:
        await db.dispose()
    return {(row["workspace_id"], row["name"]): dict(row) for row in rows}


async def _webhooks(database_url: str) -> dict[str, dict[str, Any]]:
    db = Database(options=DatabaseOptions(url=database_url))
    try:
        async with db.read() as conn:
            query = select(triggers).where(triggers.c.kind == "webhook")
            rows = (await conn.execute(query)).mappings().all()
    finally:
        await db.dispose()
    return {row["id"]: dict(row) for row in rows}


def _signed(secret: str, payload: Any) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-QO-Timestamp": timestamp,
            "X-QO-Signature": sign_webhook(secret, timestamp, body),
        },
    }


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class _Echo(BaseHTTPRequestHandler):
    """Records the Authorization header of every GET."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def _create(http: httpx.AsyncClient, name: str, value: str, workspace: str) -> None:
    answer = await http.post(
        f"{API}/secrets",
        json={"name": name, "value": value},
        headers={"X-QO-Workspace": workspace},
    )
    assert answer.status_code == 201, answer.text


async def _resolve_all(live: LiveApp, expected: dict[tuple[str, str], str]) -> None:
    """Every secret resolves, through the running server's own engine."""
    by_workspace: dict[str, dict[str, str]] = {}
    for (workspace, name), value in expected.items():
        by_workspace.setdefault(workspace, {})[name] = value
    for workspace, values in by_workspace.items():
        async with live.engine.db.read() as conn:
            resolved = await live.engine.secrets.resolve(conn, workspace, set(values))
        assert resolved == values


async def test_rotation_reencrypts_every_secret_and_running_servers_follow(
    tmp_path: Path, database_url: str, echo_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        (home,) = [w["id"] for w in (await http.get(f"{API}/workspaces")).json()["items"]]
        other = (await http.post(f"{API}/workspaces", json={"name": "Other"})).json()["id"]
        expected: dict[tuple[str, str], str] = {}
        for workspace, count in ((home, 3), (other, 2)):
            for index in range(count):
                name, value = f"S{index}", f"value-{workspace[-4:]}-{index}"
                await _create(http, name, value, workspace)
                expected[(workspace, name)] = value
        key_file = settings.data_dir / "secret.key"
        keyring_file = settings.data_dir / "secret.keyring"
        old_key = base64.urlsafe_b64decode(key_file.read_text().strip())
        before = await _rows(database_url)
        assert {row["key_id"] for row in before.values()} == {key_id_of(old_key)}
        assert not keyring_file.exists()

        result = await rotate(settings, "--batch-size", "2")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        new_key = base64.urlsafe_b64decode(key_file.read_text().strip())
        assert new_key != old_key
        assert (
            f"re-encrypted 5 secret(s) and 0 webhook secret(s) under the key {key_id_of(new_key)}"
            in result.stdout
        )
        assert _encode(new_key) not in result.stdout + result.stderr

        after = await _rows(database_url)
        assert set(after) == set(before)
        for where, row in after.items():
            assert row["key_id"] == key_id_of(new_key)
            assert row["ciphertext"] != before[where]["ciphertext"]
            # Re-encrypting is not a change of value.
            assert row["updated_at"] == before[where]["updated_at"]
        # The old key is kept, private, where servers and later starts find it.
        assert _mode(key_file) == 0o600
        assert _mode(keyring_file) == 0o600
        assert json.loads(keyring_file.read_text()) == [_encode(old_key)]

        # The server started before the rotation knows only the old key: it meets the new
        # key's id, reads the keyring again, and every secret still resolves.
        await _resolve_all(live, expected)
        assert live.engine.secrets._box is not None
        assert live.engine.secrets._box.key_id == key_id_of(new_key)

        # ...including in a real run, handed to a real agent...
        allow = await http.put(
            f"{API}/workspaces/{home}/http-allow", json={"networks": ["127.0.0.1/32"]}
        )
        assert allow.status_code == 200, allow.text
        spec = {
            "name": "uses-secret",
            "nodes": [
                {
                    "id": "call",
                    "type": "specialized.http_request",
                    "params": {"url": echo_url, "headers": {"Authorization": "{{ secrets.S1 }}"}},
                    "retry": {"max_attempts": 1},
                }
            ],
        }
        await create_and_deploy(http, spec)
        run = await wait_run(http, (await start_run(http, "uses-secret"))["id"])
        assert run["state"] == "succeeded", run
        assert _Echo.seen == [expected[(home, "S1")]]

        # ...and what it stores from now on is sealed with the new key.
        await _create(http, "LATER", "later-value", home)
        assert (await _rows(database_url))[(home, "LATER")]["key_id"] == key_id_of(new_key)

        # A second rotation keeps both older keys, newest first.
        again = await rotate(settings, "--json")
        assert again.exit_code == 0, again.stderr
        report = json.loads(again.stdout)
        third = base64.urlsafe_b64decode(key_file.read_text().strip())
        assert report["key_id"] == key_id_of(third)
        assert report["reencrypted"] == 6
        assert report["remaining"] == 0
        assert report["failed"] == []
        assert report["previous_key_ids"] == [key_id_of(new_key), key_id_of(old_key)]
        assert json.loads(keyring_file.read_text()) == [_encode(new_key), _encode(old_key)]
        await _resolve_all(live, {**expected, (home, "LATER"): "later-value"})

    # A server started later opens everything from the files alone.
    box = load_secret_box(settings)
    for (workspace, name), row in (await _rows(database_url)).items():
        value = box.decrypt(
            row["ciphertext"], aad=secret_aad(workspace, name), key_id=row["key_id"]
        )
        assert value == expected.get((workspace, name), "later-value")


async def test_rotation_reencrypts_webhook_secrets(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        await create_and_deploy(http, transform_spec("hooked"))
        hooks: dict[str, str] = {}
        for index in range(3):
            answer = await http.post(
                f"{API}/workflows/hooked/triggers", json={"kind": "webhook", "name": f"in{index}"}
            )
            assert answer.status_code == 201, answer.text
            hooks[answer.json()["id"]] = answer.json()["secret"]
        await _create(http, "S", "value", WORKSPACE)
        key_file = settings.data_dir / "secret.key"
        old_key = base64.urlsafe_b64decode(key_file.read_text().strip())
        before = await _webhooks(database_url)
        assert {row["secret_key_id"] for row in before.values()} == {key_id_of(old_key)}

        # Rotated while the server runs, in pages smaller than the table.
        result = await rotate(settings, "--batch-size", "2")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        new_key = base64.urlsafe_b64decode(key_file.read_text().strip())
        new_id = key_id_of(new_key)
        assert (
            f"re-encrypted 1 secret(s) and 3 webhook secret(s) under the key {new_id}"
            in result.stdout
        )
        for secret in hooks.values():
            assert secret not in result.stdout + result.stderr

    after = await _webhooks(database_url)
    assert set(after) == set(hooks)
    for trigger_id, row in after.items():
        assert row["secret_key_id"] == new_id
        assert row["secret_ciphertext"] != before[trigger_id]["secret_ciphertext"]
        # Re-encrypting is not a change of the trigger.
        assert row["updated_at"] == before[trigger_id]["updated_at"]
        # Sealed with the new key alone, bound to its workspace and trigger.
        opened = SecretBox(new_key).decrypt(
            row["secret_ciphertext"],
            aad=webhook_secret_aad(row["workspace_id"], trigger_id),
            key_id=row["secret_key_id"],
        )
        assert opened == hooks[trigger_id]

    # The old key is dropped: a server started now has the new key only, and every webhook
    # still accepts a request signed with its (unchanged) secret.
    (settings.data_dir / "secret.keyring").unlink()
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, timeout=30) as anonymous,
    ):
        assert live.engine.secrets._box is not None
        assert live.engine.secrets._box.key_ids == [new_id]
        for trigger_id, secret in hooks.items():
            answer = await anonymous.post(
                f"{API}/hooks/{trigger_id}", **_signed(secret, {"who": trigger_id})
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["created"] is True
        some = next(iter(hooks))
        forged = await anonymous.post(
            f"{API}/hooks/{some}", **_signed("whsec_not-the-secret", {"who": "x"})
        )
        assert forged.status_code == 401, forged.text


async def test_a_webhook_secret_no_key_opens_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        await create_and_deploy(http, transform_spec("hooked"))
        answer = await http.post(
            f"{API}/workflows/hooked/triggers", json={"kind": "webhook", "name": "good"}
        )
        assert answer.status_code == 201, answer.text
        good = answer.json()["id"]
        lost = "f" * 32
        async with live.engine.db.write() as conn:
            row = {
                **(await _webhooks(sqlite_url))[good],
                "id": lost,
                "name": "lost",
                "secret_key_id": "deadbeefdeadbeef",
                "secret_ciphertext": os.urandom(40),
            }
            await conn.execute(triggers.insert().values(**row))
    result = await rotate(settings, "--json")
    assert result.exit_code == 1
    assert f"error: webhook secret of trigger {lost} of workspace {WORKSPACE}:" in result.stderr
    assert "deadbeefdeadbeef" in result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["webhooks_reencrypted"] == 1
    assert report["webhooks_remaining"] == 1
    assert [f["trigger_id"] for f in report["webhooks_failed"]] == [lost]
    rows = await _webhooks(sqlite_url)
    assert rows[lost]["secret_key_id"] == "deadbeefdeadbeef"
    assert rows[good]["secret_key_id"] == report["key_id"]


async def test_a_row_written_meanwhile_is_not_clobbered(engine_env: EngineEnv) -> None:
    service = engine_env.engine.secrets
    await service.create(workspace_id=WORKSPACE, name="RACE", value="first")
    store = engine_env.engine.uow.repos.secrets
    async with engine_env.db.read() as conn:
        (read,) = await store.sealed_with_other_keys(conn, key_id="0" * 16, after=None, limit=10)
    # A server writes a new value, with the same (old) key, after the rotation read the row.
    await service.update(workspace_id=WORKSPACE, name="RACE", value="second")
    async with engine_env.db.write() as conn:
        replaced = await store.reseal(
            conn,
            workspace_id=WORKSPACE,
            name="RACE",
            old_key_id=read["key_id"],
            old_ciphertext=read["ciphertext"],
            ciphertext=b"x" * 40,
            key_id="0" * 16,
        )
    assert replaced is False
    async with engine_env.db.read() as conn:
        assert await service.resolve(conn, WORKSPACE, {"RACE"}) == {"RACE": "second"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not base64 !!", "is not URL-safe base64 of 32 bytes"),
        (_encode(b"k" * 16), "decodes to 16 bytes"),
        ("", "decodes to 0 bytes"),
        ("x" * 5000, "too long to be a key"),
    ],
)
async def test_a_bad_new_key_is_a_clear_error(
    tmp_path: Path, sqlite_url: str, content: str, message: str
) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    async with live_app(settings):
        pass  # a migrated database and a key file
    key_file = settings.data_dir / "secret.key"
    before = key_file.read_text()
    bad = tmp_path / "new.key"
    bad.write_text(content)
    for args, stdin in ((["--new-key-file", str(bad)], ""), (["--new-key-file", "-"], content)):
        result = await rotate(settings, *args, stdin=stdin)
        assert result.exit_code == 1, result.stdout
        assert result.stderr.startswith("error: the new key"), result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    missing = await rotate(settings, "--new-key-file", str(tmp_path / "nope.key"))
    assert missing.exit_code == 1
    assert "nope.key" in missing.stderr
    assert "Traceback" not in missing.stderr
    # Nothing changed.
    assert key_file.read_text() == before
    assert not (settings.data_dir / "secret.keyring").exists()


async def test_a_secret_no_key_opens_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        await _create(http, "GOOD", "good-value", WORKSPACE)
        async with live.engine.db.write() as conn:
            row = {
                **(await _rows(sqlite_url))[(WORKSPACE, "GOOD")],
                "name": "LOST",
                "key_id": "deadbeefdeadbeef",
                "ciphertext": os.urandom(40),
            }
            await conn.execute(secrets.insert().values(**row))
    result = await rotate(settings)
    assert result.exit_code == 1
    assert "re-encrypted 1 secret(s)" in result.stdout
    assert f"error: secret LOST of workspace {WORKSPACE}:" in result.stderr
    assert "deadbeefdeadbeef" in result.stderr
    rows = await _rows(sqlite_url)
    assert rows[(WORKSPACE, "LOST")]["key_id"] == "deadbeefdeadbeef"
    assert rows[(WORKSPACE, "GOOD")]["key_id"] != "deadbeefdeadbeef"


async def test_a_missing_or_unmigrated_database_changes_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    missing = await rotate(settings)
    assert missing.exit_code == 1
    assert "there is no database at" in missing.stderr
    database = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    assert not database.exists()
    db = Database(options=DatabaseOptions(url=sqlite_url))
    try:
        await db.ping()  # creates the file, with no schema
    finally:
        await db.dispose()
    unmigrated = await rotate(settings)
    assert unmigrated.exit_code == 1
    assert "run `qo db upgrade` first" in unmigrated.stderr
    assert "Traceback" not in unmigrated.stderr
    assert not (settings.data_dir / "secret.key").exists()


async def test_with_qo_secret_key_the_operator_gives_the_keys(
    tmp_path: Path, database_url: str
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    settings = make_settings(tmp_path, database_url).model_copy(
        update={"secret_key": SecretStr(_encode(old))}
    )
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
    ):
        await _create(http, "A", "alpha", WORKSPACE)
        await _create(http, "B", "beta", WORKSPACE)
    env: dict[str, str | None] = {"QO_SECRET_KEY": _encode(old)}

    refused = await rotate(settings, env=env)
    assert refused.exit_code == 1
    assert "--new-key-file" in refused.stderr
    assert "QO_SECRET_KEY is set" in refused.stderr

    result = await rotate(settings, "--new-key-file", "-", env=env, stdin=_encode(new) + "\n")
    assert result.exit_code == 0, result.stderr
    assert "re-encrypted 2 secret(s)" in result.stdout
    assert "QO_SECRET_KEYS_PREVIOUS" in result.stdout
    rows = await _rows(database_url)
    assert {row["key_id"] for row in rows.values()} == {key_id_of(new)}
    # The operator's keys stay the operator's: nothing was written to the data dir.
    assert not (settings.data_dir / "secret.key").exists()
    assert not (settings.data_dir / "secret.keyring").exists()

    # Servers that list the new key (as current, or as the next one) read every row; the old
    # key alone no longer does.
    for current, previous in ((new, [old]), (old, [new])):
        configured = settings.model_copy(
            update={
                "secret_key": SecretStr(_encode(current)),
                "secret_keys_previous": [SecretStr(_encode(k)) for k in previous],
            }
        )
        box = load_secret_box(configured)
        for (workspace, name), row in rows.items():
            aad = secret_aad(workspace, name)
            assert box.decrypt(row["ciphertext"], aad=aad, key_id=row["key_id"]) in {
                "alpha",
                "beta",
            }
    lonely = SecretBox(old)
    row = rows[(WORKSPACE, "A")]
    with pytest.raises(SecretDecryptError, match="QO_SECRET_KEYS_PREVIOUS"):
        lonely.decrypt(row["ciphertext"], aad=secret_aad(WORKSPACE, "A"), key_id=row["key_id"])


def test_the_keyring_files(tmp_path: Path) -> None:
    files = KeyFiles(data_dir=tmp_path / "data")
    first = files.load()
    box = SecretBox.from_source(files)
    sealed = box.encrypt("v", aad=b"a")
    second = files.install(os.urandom(32))
    assert second.previous == (first.current,)
    # The box has not seen the new key yet; it follows the files before sealing again.
    assert box.key_id == first.key_id
    assert box.decrypt(sealed, aad=b"a", key_id=first.key_id) == "v"
    resealed = box.encrypt("v", aad=b"a")
    assert box.key_id == second.key_id
    assert box.decrypt(resealed, aad=b"a", key_id=second.key_id) == "v"
    assert box.key_ids == [second.key_id, first.key_id]
    # Installing the current key again changes nothing.
    assert files.install(second.current) == second

    files.keyring_path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        files.load()
    files.keyring_path.chmod(0o600)
    files.keyring_path.write_text('{"not": "a list"}')
    with pytest.raises(SecretKeyError, match="JSON list of keys"):
        files.load()


def test_bad_previous_keys_in_the_environment(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secret_key=SecretStr(_encode(os.urandom(32))),
        secret_keys_previous=[SecretStr("short")],
    )
    with pytest.raises(SecretKeyError, match=r"QO_SECRET_KEYS_PREVIOUS\[0\]"):
        load_secret_box(settings)
