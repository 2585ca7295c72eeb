"""``specialized.notify`` against a real SMTP server (aiosmtpd, STARTTLS) and a real webhook."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run

from quantum_orchestrator.agents import NodeResources, StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.domain.errors import StepError

API = "/api/v1"
LOOPBACK = ["127.0.0.0/8"]
USER, PASSWORD = "robot", "s3cret-pass"


def make_ctx(**overrides: Any) -> StepContext:
    values: dict[str, Any] = {
        "run_id": "r1",
        "step_id": "s",
        "node_id": "n",
        "node_type": "specialized.notify",
        "attempt": 1,
        "idempotency_key": "r1:n",
        "timeout": 30,
        "logger": logging.LoggerAdapter(logging.getLogger("test"), {}),
    }
    values.update(overrides)
    return StepContext(**values)


@dataclass
class Certificate:
    pem: str
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
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
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "cert.pem").write_text(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(pem=pem, cert_file=folder / "cert.pem", key_file=folder / "key.pem")


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_at_auth: list[bool] = field(default_factory=list)
    reply: str = "250 OK"

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.reply.startswith("250"):
            self.messages.append(envelope)
        return self.reply


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def smtp_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1: STARTTLS required, AUTH only after it, one known user."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert_file, certificate.key_file)
    mailbox = Mailbox()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            mailbox.logins.append(data.login.decode())
            mailbox.tls_at_auth.append(session.ssl is not None)
        # handled=False: aiosmtpd answers the refusal (535) itself.
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield SmtpServer(port=controller.port, mailbox=mailbox)
    finally:
        controller.stop()


@pytest.fixture
async def notify() -> AsyncIterator[Handler]:
    resources = NodeResources(http_allow=LOOPBACK)
    yield builtin_handlers(resources=resources)["specialized.notify"]
    await resources.aclose()


@pytest.fixture
async def guarded() -> AsyncIterator[Handler]:
    resources = NodeResources()
    yield builtin_handlers(resources=resources)["specialized.notify"]
    await resources.aclose()


def email_params(port: int, pem: str, **smtp: Any) -> dict[str, Any]:
    return {
        "channel": "email",
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "username": USER,
            "password": PASSWORD,
            "ca_cert": pem,
            **smtp,
        },
        "from": "qo@example.com",
        "to": ["ops@example.com", "dev@example.com"],
        "cc": "lead@example.com",
        "bcc": ["audit@example.com"],
        "subject": "Run finished",
        "text": "All green.",
        "html": "<p>All <b>green</b>.</p>",
    }


async def test_email_over_starttls_with_login(
    notify: Handler, smtp_server: SmtpServer, certificate: Certificate
) -> None:
    output = await notify(email_params(smtp_server.port, certificate.pem), make_ctx())
    assert output["channel"] == "email"
    assert output["refused"] == {}
    assert output["accepted"] == [
        "ops@example.com",
        "dev@example.com",
        "lead@example.com",
        "audit@example.com",
    ]
    assert smtp_server.mailbox.logins == [USER]
    assert smtp_server.mailbox.tls_at_auth == [True]
    (envelope,) = smtp_server.mailbox.messages
    assert envelope.mail_from == "qo@example.com"
    assert envelope.rcpt_tos == output["accepted"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "Run finished"
    assert message["To"] == "ops@example.com, dev@example.com"
    assert message["Cc"] == "lead@example.com"
    assert message["Bcc"] is None  # blind copies stay out of the headers
    assert message["Message-ID"] == output["message_id"]
    assert "r1.n" in output["message_id"]
    assert isinstance(message, email.message.EmailMessage)
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "All green."
    assert "<b>green</b>" in html.get_content()


async def test_wrong_password_is_not_retryable(
    notify: Handler, smtp_server: SmtpServer, certificate: Certificate
) -> None:
    with pytest.raises(StepError) as caught:
        await notify(email_params(smtp_server.port, certificate.pem, password="wrong"), make_ctx())
    assert caught.value.code == "smtp_auth"
    assert caught.value.retryable is False
    assert smtp_server.mailbox.messages == []


async def test_untrusted_certificate_is_refused(notify: Handler, smtp_server: SmtpServer) -> None:
    params = email_params(smtp_server.port, "")
    del params["smtp"]["ca_cert"]
    with pytest.raises(StepError) as caught:
        await notify(params, make_ctx())
    assert caught.value.code == "tls_error"
    assert caught.value.retryable is False
    assert smtp_server.mailbox.logins == []


async def test_transient_and_permanent_smtp_replies(
    notify: Handler, smtp_server: SmtpServer, certificate: Certificate
) -> None:
    smtp_server.mailbox.reply = "451 try again later"
    with pytest.raises(StepError) as transient:
        await notify(email_params(smtp_server.port, certificate.pem), make_ctx())
    assert (transient.value.code, transient.value.retryable) == ("smtp_451", True)
    smtp_server.mailbox.reply = "554 rejected"
    with pytest.raises(StepError) as permanent:
        await notify(email_params(smtp_server.port, certificate.pem), make_ctx())
    assert (permanent.value.code, permanent.value.retryable) == ("smtp_554", False)


async def test_without_starttls(notify: Handler, smtp_server: SmtpServer) -> None:
    params = email_params(smtp_server.port, "", starttls=False)
    # Credentials are never sent in clear text.
    with pytest.raises(StepError) as caught:
        await notify(params, make_ctx())
    assert caught.value.code == "invalid_params"
    del params["smtp"]["username"], params["smtp"]["password"], params["smtp"]["ca_cert"]
    # This server wants STARTTLS before any mail: a permanent refusal.
    with pytest.raises(StepError) as refused:
        await notify(params, make_ctx())
    assert refused.value.retryable is False
    assert refused.value.code.startswith("smtp_5")


async def test_smtp_goes_through_the_address_policy(
    guarded: Handler, smtp_server: SmtpServer, certificate: Certificate
) -> None:
    params = email_params(smtp_server.port, certificate.pem)
    with pytest.raises(StepError) as caught:
        await guarded(params, make_ctx())
    assert caught.value.code == "ssrf_blocked"
    for host in ("127.0.0.1", "localhost"):
        params["smtp"]["host"] = host
        with pytest.raises(StepError) as blocked:
            await guarded(params, make_ctx())
        assert blocked.value.code == "ssrf_blocked"
    assert smtp_server.mailbox.logins == []
    # The workspace's allowance travels with the step, and is enough.
    output = await guarded(params, make_ctx(http_allow=("127.0.0.0/8",)))
    assert output["accepted"]


async def test_closed_port_is_a_retryable_network_error(
    notify: Handler, closed_port: int, certificate: Certificate
) -> None:
    with pytest.raises(StepError) as caught:
        await notify(email_params(closed_port, certificate.pem), make_ctx())
    assert (caught.value.code, caught.value.retryable) == ("network_error", True)


class Hook:
    """A Slack-compatible incoming webhook that keeps what it got."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        self.status = 200

    async def endpoint(self, request: Request) -> Response:
        self.received.append(await request.json())
        self.keys.append(request.headers.get("idempotency-key"))
        if self.status != 200:
            return PlainTextResponse("no_service", status_code=self.status)
        return PlainTextResponse("ok")


@pytest.fixture
def hook(live_server: Callable[[Any], Any]) -> tuple[Hook, str]:
    receiver = Hook()
    app = Starlette(routes=[Route("/services/T/B/X", receiver.endpoint, methods=["POST"])])
    return receiver, f"{live_server(app).url}/services/T/B/X"


async def test_slack_webhook(notify: Handler, hook: tuple[Hook, str]) -> None:
    receiver, url = hook
    output = await notify(
        {
            "channel": "slack",
            "webhook_url": url,
            "text": "Deploy *done*",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
            "payload": {"username": "qo", "icon_emoji": ":robot_face:"},
        },
        make_ctx(),
    )
    assert output == {"channel": "slack", "status": 200, "response": "ok"}
    assert receiver.received == [
        {
            "username": "qo",
            "icon_emoji": ":robot_face:",
            "text": "Deploy *done*",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
        }
    ]
    assert receiver.keys == ["r1:n"]


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (404, False)])
async def test_slack_errors(
    notify: Handler, hook: tuple[Hook, str], status: int, retryable: bool
) -> None:
    receiver, url = hook
    receiver.status = status
    with pytest.raises(StepError) as caught:
        await notify({"channel": "slack", "webhook_url": url, "text": "x"}, make_ctx())
    assert (caught.value.code, caught.value.retryable) == (f"http_{status}", retryable)


async def test_slack_is_guarded(guarded: Handler, hook: tuple[Hook, str]) -> None:
    receiver, url = hook
    with pytest.raises(StepError) as caught:
        await guarded({"channel": "slack", "webhook_url": url, "text": "x"}, make_ctx())
    assert caught.value.code == "ssrf_blocked"
    assert receiver.received == []


async def test_a_workflow_mails_with_a_secret_password(
    http: httpx.AsyncClient, smtp_server: SmtpServer, certificate: Certificate
) -> None:
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": LOOPBACK}
    )
    assert allowed.status_code == 200, allowed.text
    created = await http.post(f"{API}/secrets", json={"name": "SMTP_PASSWORD", "value": PASSWORD})
    assert created.status_code == 201, created.text
    params = email_params(smtp_server.port, certificate.pem)
    params["smtp"]["password"] = "{{ secrets.SMTP_PASSWORD }}"
    params["subject"] = "Hello {{ inputs.who }}"
    spec = {
        "name": "mail",
        "nodes": [
            {
                "id": "mail",
                "type": "specialized.notify",
                "params": params,
                "retry": {"max_attempts": 1},
            }
        ],
        "connections": [],
    }
    await create_and_deploy(http, spec)
    run = await start_run(http, "mail", {"who": "team"})
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    (envelope,) = smtp_server.mailbox.messages
    assert isinstance(envelope.content, bytes)
    assert b"Subject: Hello team" in envelope.content
    assert PASSWORD not in (await http.get(f"{API}/runs/{run['id']}")).text


async def test_spec_validation_knows_the_channels(http: httpx.AsyncClient) -> None:
    spec = {
        "name": "bad-notify",
        "nodes": [{"id": "n", "type": "specialized.notify", "params": {"channel": "email"}}],
        "connections": [],
    }
    answer = await http.post(f"{API}/workflows", json={"spec": spec})
    assert answer.status_code == 422, answer.text
    assert "smtp" in answer.text
