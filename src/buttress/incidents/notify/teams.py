"""Microsoft Teams: an Adaptive Card posted to a workflow webhook.

Teams' Workflows ("Post to a channel when a webhook request is received") take a message
whose ``attachments`` hold the card, ``contentType: application/vnd.microsoft.card.adaptive``;
the retired Office 365 connectors took MessageCards, which workflows do not render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from buttress.incidents.notify.channel import IncomingWebhook
from buttress.incidents.notify.message import Notification

if TYPE_CHECKING:
    from buttress.config._notifiers import TeamsNotifierConfig

__all__ = ["ADAPTIVE_CARD", "TeamsChannel", "render_teams"]

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_COLOR = {"P1": "Attention", "P2": "Warning", "P3": "Accent", "P4": "Default"}


def render_teams(notification: Notification) -> dict[str, Any]:
    """The webhook payload: a ``message`` with one Adaptive Card (version 1.4) attached."""
    n = notification
    facts = [
        {"title": "Severity", "value": n.severity},
        {"title": "Status", "value": n.status},
    ]
    if n.services:
        facts.append({"title": "Services", "value": ", ".join(n.services)})
    if n.level is not None:
        facts.append({"title": "Escalation level", "value": str(n.level)})
    if n.recipients:
        facts.append({"title": "For", "value": ", ".join(r.name for r in n.recipients)})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": n.subject,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": "Good" if n.kind == "resolved" else _COLOR[n.severity],
        },
    ]
    if n.summary:
        body.append({"type": "TextBlock", "text": n.summary, "wrap": True})
    if n.impact:
        body.append({"type": "TextBlock", "text": f"Impact: {n.impact}", "wrap": True})
    body.append({"type": "FactSet", "facts": facts})
    actions = []
    if n.open and n.ack_url:
        actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": n.ack_url})
    if n.kind != "resolved" and n.resolve_url:
        actions.append({"type": "Action.OpenUrl", "title": "Resolve", "url": n.resolve_url})
    if n.url:
        actions.append({"type": "Action.OpenUrl", "title": "Open incident", "url": n.url})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


class TeamsChannel(IncomingWebhook):
    """Posts :func:`render_teams` to the workflow webhook."""

    type = "teams"

    def __init__(self, name: str, config: TeamsNotifierConfig) -> None:
        super().__init__(name, config.webhook_url.get_secret_value(), config.timeout)

    def render(self, notification: Notification) -> dict[str, Any]:
        return render_teams(notification)
