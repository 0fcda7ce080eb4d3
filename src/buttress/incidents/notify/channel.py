"""What every channel shares: the :class:`Channel` protocol, :class:`DeliveryError`, and the
one HTTP request the HTTP channels make (errors without the URL's path or query)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from buttress.secrets import MASK, redact

if TYPE_CHECKING:
    import httpx

    from buttress.incidents.notify.message import Notification

__all__ = ["Channel", "DeliveryError", "IncomingWebhook", "http_send", "scrub", "shown_url"]

_SNIPPET = 200


class DeliveryError(Exception):
    """A send failed; the message is safe to show (no secret, no URL path or query).

    Args:
        reason: what went wrong.
        status: the HTTP status (or SMTP reply code) received, if any.
        permanent: sending again will not help (a 4xx other than 408/429, a refused login).
        retry_after: seconds the receiver asked to wait (``Retry-After``), if it said.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """One configured channel.

    ``send`` makes one attempt (the dispatcher retries): it returns the status received (HTTP
    status or SMTP reply code; ``None`` when there is none) or raises :class:`DeliveryError`.
    Other exceptions are failures too, and are shown only after :func:`scrub` with
    ``secrets()``.
    """

    name: str
    type: str
    timeout: float

    def secrets(self) -> tuple[str, ...]:
        """The secret values an error message must never show."""
        ...

    async def send(self, notification: Notification, client: httpx.AsyncClient) -> int | None:
        """One attempt to deliver ``notification``."""
        ...


def shown_url(url: str) -> str:
    """``https://hooks.slack.com/services/T/B/X`` → ``https://hooks.slack.com`` (no user info,
    path or query: those hold the tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret value (and every known secret shape) masked."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return redact(text)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def http_send(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    secrets: tuple[str, ...],
    method: str = "POST",
    json: Any = None,
    content: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """One request; the status when it is 2xx, else :class:`DeliveryError` (permanent for a
    4xx other than 408 and 429)."""
    import httpx

    where = shown_url(url)
    try:
        response = await client.request(
            method, url, json=json, content=content, headers=headers, timeout=timeout
        )
    except httpx.TimeoutException:
        # `from None`: httpx's errors hold the request, and so the URL with its token
        raise DeliveryError(f"{where}: timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        reason = scrub(str(exc), (url, *secrets)) or type(exc).__name__
        raise DeliveryError(f"{where}: {type(exc).__name__}: {reason}") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    snippet = scrub(response.text[:_SNIPPET].strip(), (url, *secrets))
    detail = f": {snippet}" if snippet else ""
    raise DeliveryError(
        f"{where}: HTTP {status}{detail}",
        status=status,
        permanent=400 <= status < 500 and status not in (408, 429),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


class IncomingWebhook:
    """A channel that posts a JSON rendering of the notification to a secret webhook URL
    (Slack's incoming webhooks, Teams' workflow webhooks): subclasses say how to render."""

    type = "webhook"

    def __init__(self, name: str, url: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        self._url = url.strip()

    def secrets(self) -> tuple[str, ...]:
        return (self._url,)

    def render(self, notification: Notification) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, notification: Notification, client: httpx.AsyncClient) -> int | None:
        return await http_send(
            client,
            self._url,
            timeout=self.timeout,
            secrets=self.secrets(),
            json=self.render(notification),
        )
