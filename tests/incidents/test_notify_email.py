"""The email channel against a real SMTP server (aiosmtpd on 127.0.0.1): plain, with AUTH,
with STARTTLS (a self-signed certificate, trusted through `ca_file` or not verified), and the
failures: a refused login is not retried, a server that is down is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress.config import load_text
from buttress.incidents.notify import Dispatcher
from tests.incidents.notify_receivers import (
    Cert,
    Smtp,
    authenticator,
    closed_port,
    self_signed,
    start_smtp,
)
from tests.incidents.test_notify_render import notification

PASSWORD = "smtp-pass-secret"


def mail_dispatcher(host: str, port: int, extra: str = "") -> Dispatcher:
    text = (
        "incidents:\n  notifiers:\n"
        f"    mail: {{type: email, host: '{host}', port: {port}, sender: buttress@example.com, "
        f"to: [ops@example.com], retry_delay: 10ms{extra}}}\n"
    )
    return Dispatcher(load_text(text, env={"SMTP_PASSWORD": PASSWORD}).incidents.notifiers)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    controller, server = start_smtp()
    yield server
    controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[Smtp]:
    controller, server = start_smtp(
        authenticator=authenticator("ops", PASSWORD), auth_require_tls=False
    )
    yield server
    controller.stop()


@pytest.fixture
def cert(tmp_path: Path) -> Cert:
    return self_signed(tmp_path)


@pytest.fixture
def smtp_tls(cert: Cert) -> Iterator[Smtp]:
    controller, server = start_smtp(
        tls_context=cert.server_context(),
        require_starttls=True,
        authenticator=authenticator("ops", PASSWORD),
    )
    yield server
    controller.stop()


def test_a_plain_server_receives_the_multipart_message(smtp: Smtp) -> None:
    """The envelope has the channel's `to` and the recipients' addresses; the message has
    the subject and both parts."""
    delivery = mail_dispatcher(smtp.host, smtp.port).send_sync(notification(), ["mail"])[0]
    assert (delivery.ok, delivery.attempts, delivery.status, delivery.type) == (
        True, 1, 250, "email",
    )  # fmt: skip
    ((envelope, message),) = smtp.mailbox.messages
    assert envelope.mail_from == "buttress@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "alice@example.com", "bob@example.com"]
    assert message["Subject"] == "[P1] INC-2026-0042 triggered: Checkout is down"
    assert message.get_body(("plain",)) is not None
    assert message.get_body(("html",)) is not None


def test_auth_with_username_and_password(smtp_auth: Smtp) -> None:
    """The channel logs in with its username and password."""
    d = mail_dispatcher(
        smtp_auth.host, smtp_auth.port, ", username: ops, password: '${SMTP_PASSWORD}'"
    )
    assert d.send_sync(notification(), ["mail"])[0].ok
    assert len(smtp_auth.mailbox.messages) == 1


def test_a_refused_login_fails_at_once_without_the_password(smtp_auth: Smtp) -> None:
    """A wrong password is permanent: one attempt, the reply code, no password shown."""
    d = mail_dispatcher(smtp_auth.host, smtp_auth.port, ", username: ops, password: wrong-pass")
    delivery = d.send_sync(notification(), ["mail"])[0]
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 535)
    assert delivery.error == f"smtp://{smtp_auth.host}:{smtp_auth.port}: login refused (535)"
    assert smtp_auth.mailbox.messages == []


def test_starttls_with_the_certificate_as_ca_file(smtp_tls: Smtp, cert: Cert) -> None:
    """STARTTLS, verified against `ca_file`, then AUTH, then the message."""
    d = mail_dispatcher(
        smtp_tls.host,
        smtp_tls.port,
        f", starttls: true, ca_file: '{cert.cert}', username: ops, password: '${{SMTP_PASSWORD}}'",
    )
    assert d.send_sync(notification(), ["mail"])[0].ok
    assert len(smtp_tls.mailbox.messages) == 1


def test_starttls_without_verification(smtp_tls: Smtp) -> None:
    """`tls_verify: false` accepts the self-signed certificate."""
    d = mail_dispatcher(
        smtp_tls.host,
        smtp_tls.port,
        ", starttls: true, tls_verify: false, username: ops, password: '${SMTP_PASSWORD}'",
    )
    assert d.send_sync(notification(), ["mail"])[0].ok


def test_starttls_refuses_an_untrusted_certificate(smtp_tls: Smtp) -> None:
    """Verified against the system CAs, the self-signed certificate fails, and nothing is sent."""
    d = mail_dispatcher(smtp_tls.host, smtp_tls.port, ", starttls: true, retries: 0")
    delivery = d.send_sync(notification(), ["mail"])[0]
    assert not delivery.ok
    assert delivery.error is not None
    assert "TLS failed" in delivery.error
    assert smtp_tls.mailbox.messages == []


def test_a_server_that_requires_starttls_refuses_plain_mail(smtp_tls: Smtp) -> None:
    """Without `starttls`, a server that requires it refuses; the reply is the error."""
    d = mail_dispatcher(smtp_tls.host, smtp_tls.port, ", retries: 0")
    delivery = d.send_sync(notification(), ["mail"])[0]
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None
    assert "STARTTLS" in delivery.error


def test_a_server_that_is_down_is_retried() -> None:
    """Connection refused is transient: 1 + retries attempts, then a failed delivery."""
    port = closed_port()
    delivery = mail_dispatcher("127.0.0.1", port, ", retries: 2").send_sync(
        notification(), ["mail"]
    )[0]
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 3, None)
    assert delivery.error is not None
    assert delivery.error.startswith(f"smtp://127.0.0.1:{port}: ConnectionRefusedError")
