"""Served over TLS: HSTS on every answer and Secure session cookies; bad TLS settings refused."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings
from tests.support.server import live_app

from quantum_orchestrator.api.server import ServerStartError, check_start_settings, serve
from quantum_orchestrator.settings import Settings


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_https_sends_hsts_and_secure_cookies(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'qo.db'}")
    settings.tls_certfile, settings.tls_keyfile = cert, key
    trust = ssl.create_default_context(cafile=str(cert))
    async with live_app(settings) as app, httpx.AsyncClient(base_url=app.url, verify=trust) as http:
        assert app.url.startswith("https://")
        health = await http.get("/healthz")
        assert health.headers["strict-transport-security"].startswith("max-age=")
        login = await http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        cookies = login.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("qo_session="))
        assert "Secure" in session
        assert "HttpOnly" in session
        assert "SameSite=strict" in session or "SameSite=Strict" in session


async def test_plain_http_sends_no_hsts_nor_secure_cookies(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert "strict-transport-security" not in health.headers
    login = await http.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    session = next(c for c in login.headers.get_list("set-cookie") if c.startswith("qo_session"))
    assert "Secure" not in session


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"admin_password": "admin"}, "at least 12"),
        ({"admin_password": "password1234"}, "too common"),
        ({"admin_email": "not-an-email"}, "e-mail"),
        ({"tls_certfile": "/nonexistent/cert.pem"}, "both"),
        (
            {"tls_certfile": "/nonexistent/cert.pem", "tls_keyfile": "/nonexistent/key.pem"},
            "does not exist",
        ),
    ],
)
async def test_unsafe_start_settings_are_refused(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    settings = Settings(data_dir=tmp_path, port=0, **values)  # type: ignore[arg-type]
    with pytest.raises(ServerStartError, match=message):
        check_start_settings(settings)
    with pytest.raises(ServerStartError, match=message):
        await serve(settings)
    assert not (tmp_path / "qo.db").exists()
