"""PagerDuty: Events API v2, with the incident's ref as the dedup key (so the trigger, the
acknowledgement and the resolution are one PagerDuty alert)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from buttress.incidents.notify.channel import http_send
from buttress.incidents.notify.message import Kind, Notification

if TYPE_CHECKING:
    import httpx

    from buttress.config._notifiers import PagerdutyNotifierConfig

__all__ = ["ACTIONS", "SEVERITIES", "PagerdutyChannel", "render_pagerduty"]

SEVERITIES = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
ACTIONS: dict[Kind, str] = {
    "triggered": "trigger",
    "escalated": "trigger",
    "reminder": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}
_SUMMARY_MAX = 1024  # the Events API's limit


def render_pagerduty(
    notification: Notification, *, routing_key: str, source: str
) -> dict[str, Any]:
    """The event: ``trigger`` (with the payload) for triggered, escalated and reminder;
    ``acknowledge`` / ``resolve`` (the dedup key alone) for the others."""
    n = notification
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": ACTIONS[n.kind],
        "dedup_key": n.ref,
    }
    if event["event_action"] != "trigger":
        return event
    summary = f"[{n.severity}] {n.ref}: {n.title}"
    details: dict[str, Any] = {"ref": n.ref, "kind": n.kind, "status": n.status}
    if n.summary:
        details["summary"] = n.summary
    if n.impact:
        details["impact"] = n.impact
    if n.services:
        details["services"] = list(n.services)
    if n.level is not None:
        details["escalation_level"] = n.level
    if n.recipients:
        details["recipients"] = [r.name for r in n.recipients]
    payload: dict[str, Any] = {
        "summary": summary[:_SUMMARY_MAX],
        "severity": SEVERITIES[n.severity],
        "source": source,
        "custom_details": details,
    }
    if n.services:
        payload["component"] = n.services[0]
    event["payload"] = payload
    event["client"] = "buttress"
    if n.url:
        event["client_url"] = n.url
        event["links"] = [{"href": n.url, "text": f"{n.ref} in buttress"}]
    return event


class PagerdutyChannel:
    """Posts :func:`render_pagerduty` to the Events API."""

    type = "pagerduty"

    def __init__(self, name: str, config: PagerdutyNotifierConfig) -> None:
        self.name = name
        self.timeout = config.timeout
        self._key = config.routing_key.get_secret_value().strip()
        self._url = config.url
        self._source = config.source

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    async def send(self, notification: Notification, client: httpx.AsyncClient) -> int | None:
        event = render_pagerduty(notification, routing_key=self._key, source=self._source)
        return await http_send(
            client, self._url, timeout=self.timeout, secrets=self.secrets(), json=event
        )
