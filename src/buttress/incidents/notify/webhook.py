"""Webhook: any HTTP endpoint, the body rendered from the channel's template (sandboxed
Jinja2 of ``incident``, ``recipients`` and ``kind``), or the notification as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from buttress.config._notifiers import template_environment
from buttress.incidents.notify.channel import DeliveryError, http_send
from buttress.incidents.notify.message import Notification

if TYPE_CHECKING:
    import httpx
    from jinja2 import Template

    from buttress.config._notifiers import WebhookNotifierConfig

__all__ = ["WebhookChannel", "render_webhook"]


def template_context(notification: Notification) -> dict[str, Any]:
    """What a body template sees."""
    incident = notification.context()
    return {"incident": incident, "recipients": incident["recipients"], "kind": notification.kind}


def render_webhook(notification: Notification, template: Template | None) -> str:
    """The body: ``template`` rendered, or (without one) the context as JSON.

    Raises:
        DeliveryError: the template failed to render (permanent: sending again renders the
            same way).
    """
    context = template_context(notification)
    if template is None:
        return json.dumps(context, ensure_ascii=False)
    try:
        return template.render(context)
    except Exception as exc:  # noqa: BLE001  # any template error is a failed delivery, not a crash
        raise DeliveryError(
            f"body template failed: {type(exc).__name__}: {exc}", permanent=True
        ) from None


class WebhookChannel:
    """Sends :func:`render_webhook` with the configured method and headers."""

    type = "webhook"

    def __init__(self, name: str, config: WebhookNotifierConfig) -> None:
        self.name = name
        self.timeout = config.timeout
        self._url = config.url.get_secret_value().strip()
        self._method = config.method
        self._headers = {k: v.get_secret_value() for k, v in config.headers.items()}
        if not any(k.lower() == "content-type" for k in self._headers):
            self._headers["Content-Type"] = config.content_type
        self._template = (
            None if config.body is None else template_environment().from_string(config.body)
        )

    def secrets(self) -> tuple[str, ...]:
        return (self._url, *(v for k, v in self._headers.items() if k.lower() != "content-type"))

    async def send(self, notification: Notification, client: httpx.AsyncClient) -> int | None:
        body = render_webhook(notification, self._template)
        return await http_send(
            client,
            self._url,
            timeout=self.timeout,
            secrets=self.secrets(),
            method=self._method,
            content=body.encode(),
            headers=self._headers,
        )
