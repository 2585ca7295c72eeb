"""``specialized.notify``: a message to a Slack-compatible webhook or by e-mail over SMTP.

Webhooks go through the runtime's guarded HTTP client. SMTP connections are checked against the
same address policy (``agents/netguard.py``): the host is resolved, every address is checked and
the connection goes to the checked address, while STARTTLS still verifies the certificate against
the host name that was asked for.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import anyio
import httpx

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.netguard import AddressPolicy, BlockedAddressError
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.errors import StepError

DEFAULT_TIMEOUT = 30.0
DEFAULT_SMTP_PORT = 587
_EXCERPT_CHARS = 200


def _invalid(message: str) -> StepError:
    return StepError(message, code="invalid_params")


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise _invalid("timeout must be a positive number of seconds")
    return float(value)


def _policy(resources: NodeResources, ctx: StepContext) -> AddressPolicy:
    try:
        return resources.address_policy(extra_allow=ctx.http_allow)
    except ValueError as exc:
        raise StepError(
            f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
        ) from exc


async def _send_webhook(
    resources: NodeResources, params: dict[str, Any], ctx: StepContext
) -> dict[str, Any]:
    url = params.get("webhook_url")
    if not isinstance(url, str) or not url:
        raise _invalid("a slack notification needs a webhook_url")
    text = params.get("text")
    blocks = params.get("blocks")
    if not isinstance(text, str) and blocks is None:
        raise _invalid("a slack notification needs text or blocks")
    extra = params.get("payload") or {}
    if not isinstance(extra, dict):
        raise _invalid("payload must be an object")
    body: dict[str, Any] = dict(extra)
    if isinstance(text, str):
        body["text"] = text
    if blocks is not None:
        body["blocks"] = blocks
    timeout = _timeout(params.get("timeout"))
    try:
        client = resources.http_client(extra_allow=ctx.http_allow)
    except ValueError as exc:
        raise StepError(
            f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
        ) from exc
    try:
        response = await resources.breakers.request(
            client,
            "POST",
            url,
            json=body,
            timeout=timeout,
            # Receivers that deduplicate can use it: delivery is at least once.
            headers={"Idempotency-Key": ctx.idempotency_key},
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise StepError(f"invalid webhook_url {url!r}: {exc}", code="invalid_url") from exc
    except httpx.HTTPError as exc:
        raise StepError(
            f"POST {url} failed: {type(exc).__name__}: {exc}",
            code="network_error",
            retryable=True,
        ) from exc
    status = response.status_code
    if not 200 <= status < 300:
        raise StepError(
            f"the webhook answered {status}: {response.text[:_EXCERPT_CHARS]}",
            code=f"http_{status}",
            retryable=status >= 500 or status == 429,
        )
    return {"channel": "slack", "status": status, "response": response.text}


class _PinnedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that connects only to addresses the policy permits.

    The host name stays what the caller gave, so STARTTLS verifies the certificate against it;
    only the TCP connection goes to the address that was checked (no second DNS lookup).
    """

    def __init__(self, *, host: str, port: int, policy: AddressPolicy, timeout: float) -> None:
        self._policy = policy
        # Connecting here also records ``host`` as the name STARTTLS verifies.
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = []
            for *_rest, sockaddr in infos:
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if address not in addresses:
                    addresses.append(address)
        if not addresses:
            raise OSError(f"{host} has no address")
        for address in addresses:
            self._policy.check(host, address)
        return socket.create_connection((str(addresses[0]), port), timeout)


def _recipients(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(f"{name} must be an address or a list of addresses")
    return list(value)


def _message(params: dict[str, Any], ctx: StepContext) -> tuple[EmailMessage, list[str]]:
    sender = params.get("from")
    if not isinstance(sender, str) or not sender:
        raise _invalid("an email notification needs a from address")
    to = _recipients(params.get("to"), "to")
    cc = _recipients(params.get("cc"), "cc")
    bcc = _recipients(params.get("bcc"), "bcc")
    if not to and not cc and not bcc:
        raise _invalid("an email notification needs at least one recipient")
    subject = params.get("subject")
    if not isinstance(subject, str):
        raise _invalid("an email notification needs a subject")
    text = params.get("text")
    html = params.get("html")
    if not isinstance(text, str) and not isinstance(html, str):
        raise _invalid("an email notification needs text or html")
    message = EmailMessage()
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # The same id on every attempt of the step lets mail systems recognise a resend.
    message["Message-ID"] = make_msgid(idstring=ctx.idempotency_key.replace(":", "."))
    message.set_content(text if isinstance(text, str) else "")
    if isinstance(html, str):
        message.add_alternative(html, subtype="html")
    return message, [*to, *cc, *bcc]


def _tls_context(ca_cert: Any) -> ssl.SSLContext:
    if ca_cert is None:
        return ssl.create_default_context()
    if not isinstance(ca_cert, str) or "BEGIN CERTIFICATE" not in ca_cert:
        raise _invalid("smtp.ca_cert must be PEM certificates")
    try:
        return ssl.create_default_context(cadata=ca_cert)
    except ssl.SSLError as exc:
        raise _invalid(f"smtp.ca_cert cannot be loaded: {exc}") from exc


def _smtp_settings(params: dict[str, Any]) -> dict[str, Any]:
    smtp = params.get("smtp")
    if not isinstance(smtp, dict):
        raise _invalid("an email notification needs smtp settings")
    host = smtp.get("host")
    if not isinstance(host, str) or not host:
        raise _invalid("smtp.host is required")
    port = smtp.get("port", DEFAULT_SMTP_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise _invalid("smtp.port must be a port number")
    starttls = smtp.get("starttls", True)
    if not isinstance(starttls, bool):
        raise _invalid("smtp.starttls must be true or false")
    username, password = smtp.get("username"), smtp.get("password")
    if (username is None) != (password is None):
        raise _invalid("give smtp.username and smtp.password together")
    if username is not None and not starttls:
        # Credentials never cross the network in clear text.
        raise _invalid("smtp credentials need starttls")
    return {
        "host": host,
        "port": port,
        "starttls": starttls,
        "username": username,
        "password": password,
        "timeout": _timeout(smtp.get("timeout")),
        "tls": _tls_context(smtp.get("ca_cert")) if starttls else None,
    }


def _deliver(
    settings: dict[str, Any], policy: AddressPolicy, message: EmailMessage, recipients: list[str]
) -> dict[str, Any]:
    with _PinnedSMTP(
        host=settings["host"], port=settings["port"], policy=policy, timeout=settings["timeout"]
    ) as smtp:
        smtp.ehlo()
        if settings["starttls"]:
            smtp.starttls(context=settings["tls"])
            smtp.ehlo()
        if settings["username"] is not None:
            smtp.login(str(settings["username"]), str(settings["password"]))
        refused = smtp.send_message(message, to_addrs=recipients)
    return {
        "channel": "email",
        "message_id": message["Message-ID"],
        "accepted": [r for r in recipients if r not in refused],
        "refused": {
            r: f"{code} {reply.decode(errors='replace')}" for r, (code, reply) in refused.items()
        },
    }


def _smtp_error(exc: Exception, where: str) -> StepError:
    if isinstance(exc, BlockedAddressError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return StepError(f"{where}: authentication failed ({exc.smtp_code})", code="smtp_auth")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return StepError(f"{where}: {exc}", code="smtp_not_supported")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return StepError(f"{where}: every recipient was refused", code="smtp_recipients_refused")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        # SMTP's own rule: 4xx replies are transient, 5xx are permanent.
        return StepError(
            f"{where} answered {exc.smtp_code}: {reply[:_EXCERPT_CHARS]}",
            code=f"smtp_{exc.smtp_code}",
            retryable=400 <= exc.smtp_code < 500,
        )
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return StepError(f"{where}: TLS failed: {exc}", code="tls_error")
    # Disconnects, refused connections, timeouts, DNS failures: worth another attempt.
    return StepError(
        f"{where} failed: {type(exc).__name__}: {exc}", code="network_error", retryable=True
    )


async def _send_email(
    resources: NodeResources, params: dict[str, Any], ctx: StepContext
) -> dict[str, Any]:
    settings = _smtp_settings(params)
    message, recipients = _message(params, ctx)
    policy = _policy(resources, ctx)
    where = f"SMTP {settings['host']}:{settings['port']}"
    try:
        # smtplib blocks; a worker thread keeps the agent's event loop free.
        return await anyio.to_thread.run_sync(_deliver, settings, policy, message, recipients)
    except (smtplib.SMTPException, OSError, BlockedAddressError) as exc:
        raise _smtp_error(exc, where) from exc


def notify_handler(resources: NodeResources) -> Handler:
    """Build the ``specialized.notify`` handler, bound to the runtime's shared resources."""

    async def notify(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Send the notification; failures raise ``StepError`` (network ones retryable)."""
        channel = params.get("channel")
        if channel == "slack":
            return await _send_webhook(resources, params, ctx)
        if channel == "email":
            return await _send_email(resources, params, ctx)
        raise _invalid(f"channel must be 'slack' or 'email', not {channel!r}")

    return notify
