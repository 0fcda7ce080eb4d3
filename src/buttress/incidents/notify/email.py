"""Email: a multipart (text and HTML) message through SMTP, optionally with STARTTLS or
implicit TLS and AUTH; stdlib ``smtplib`` in a worker thread."""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from buttress.incidents.notify.channel import DeliveryError, scrub
from buttress.incidents.notify.message import Notification

if TYPE_CHECKING:
    import httpx

    from buttress.config._notifiers import EmailNotifierConfig

__all__ = ["EmailChannel", "addresses", "render_email"]


def addresses(notification: Notification, config: EmailNotifierConfig) -> list[str]:
    """The channel's ``to`` then the recipients' own addresses, each once."""
    seen: dict[str, None] = {}
    for address in (*config.to, *(r.email for r in notification.recipients if r.email)):
        seen.setdefault(address, None)
    return list(seen)


def _text(n: Notification) -> str:
    lines = [n.subject, "", f"Severity: {n.severity}", f"Status: {n.status}"]
    if n.services:
        lines.append("Services: " + ", ".join(n.services))
    if n.level is not None:
        lines.append(f"Escalation level: {n.level}")
    if n.recipients:
        lines.append("For: " + ", ".join(r.name for r in n.recipients))
    if n.summary:
        lines += ["", n.summary]
    if n.impact:
        lines += ["", f"Impact: {n.impact}"]
    links = [("Acknowledge", n.ack_url if n.open else None), ("Resolve", n.resolve_url)]
    links.append(("Open", n.url))
    shown = [f"{label}: {url}" for label, url in links if url]
    if shown:
        lines += ["", *shown]
    return "\n".join(lines) + "\n"


def _html(n: Notification) -> str:
    e = html.escape
    rows = [("Severity", n.severity), ("Status", n.status)]
    if n.services:
        rows.append(("Services", ", ".join(n.services)))
    if n.level is not None:
        rows.append(("Escalation level", str(n.level)))
    if n.recipients:
        rows.append(("For", ", ".join(r.name for r in n.recipients)))
    table = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    parts = [f"<h2>{e(n.subject)}</h2>", f"<table>{table}</table>"]
    if n.summary:
        parts.append(f"<p>{e(n.summary)}</p>")
    if n.impact:
        parts.append(f"<p><b>Impact:</b> {e(n.impact)}</p>")
    links = [("Acknowledge", n.ack_url if n.open else None), ("Resolve", n.resolve_url)]
    links.append(("Open incident", n.url))
    anchors = [f"<a href='{e(url)}'>{e(label)}</a>" for label, url in links if url]
    if anchors:
        parts.append("<p>" + " · ".join(anchors) + "</p>")
    return "<html><body>" + "".join(parts) + "</body></html>\n"


def render_email(notification: Notification, config: EmailNotifierConfig) -> EmailMessage:
    """The message: subject ``[P1] INC-2026-0042 triggered: title``, a text part and an HTML
    alternative, addressed to :func:`addresses`."""
    message = EmailMessage()
    message["Subject"] = notification.subject
    message["From"] = config.sender
    message["To"] = ", ".join(addresses(notification, config))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message["X-Buttress-Incident"] = notification.ref
    message.set_content(_text(notification))
    message.add_alternative(_html(notification), subtype="html")
    return message


class EmailChannel:
    """Sends :func:`render_email` over SMTP (one connection per send)."""

    type = "email"

    def __init__(self, name: str, config: EmailNotifierConfig) -> None:
        self.name = name
        self.config = config
        self.timeout = config.timeout
        self._password = config.password.get_secret_value() if config.password else None

    def secrets(self) -> tuple[str, ...]:
        return (self._password,) if self._password else ()

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def send(self, notification: Notification, client: httpx.AsyncClient) -> int | None:
        message = render_email(notification, self.config)
        to = addresses(notification, self.config)
        if not to:
            raise DeliveryError(
                "no address to send to (set `to`, or recipients' email)", permanent=True
            )
        return await asyncio.to_thread(self._send, message, to)

    def _send(self, message: EmailMessage, to: list[str]) -> int:
        c = self.config
        where = f"smtp://{c.host}:{c.port}"
        try:
            smtp: smtplib.SMTP
            if c.ssl:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.starttls:
                    smtp.starttls(context=self._tls())
                if c.username:
                    smtp.login(c.username, self._password or "")
                # the addresses the server refused (some accepted): delivered to the others
                smtp.send_message(message, from_addr=c.sender, to_addrs=to)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where}: login refused ({exc.smtp_code})", status=exc.smtp_code, permanent=True
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"{where}: every recipient refused: {', '.join(exc.recipients)}", permanent=True
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode(errors="replace")
            raise DeliveryError(
                f"{where}: {exc.smtp_code} {scrub(reply, self.secrets())}",
                status=exc.smtp_code,
                permanent=500 <= exc.smtp_code < 600,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}", permanent=True) from None
        except ssl.SSLError as exc:
            raise DeliveryError(
                f"{where}: TLS failed: {exc.reason or exc}", permanent=True
            ) from None
        except TimeoutError:
            raise DeliveryError(f"{where}: timed out after {c.timeout:g}s") from None
        except (OSError, smtplib.SMTPException) as exc:
            reason = scrub(str(exc), self.secrets()) or type(exc).__name__
            raise DeliveryError(f"{where}: {type(exc).__name__}: {reason}") from None
        return 250
