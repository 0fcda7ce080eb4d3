"""Slack: a Block Kit message through an incoming webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from buttress.incidents.notify.channel import IncomingWebhook
from buttress.incidents.notify.message import Kind, Notification

if TYPE_CHECKING:
    from buttress.config._notifiers import SlackNotifierConfig

__all__ = ["SlackChannel", "render_slack"]

EMOJI: dict[Kind, str] = {
    "triggered": ":rotating_light:",
    "escalated": ":arrow_double_up:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
    "reminder": ":alarm_clock:",
}
_HEADER_MAX = 150  # Block Kit's limit for a header's text
_TEXT_MAX = 3000  # for a section's text


def _esc(text: str) -> str:
    """Slack's mrkdwn escapes: ``&``, ``<`` and ``>`` (``<`` opens links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _mentions(notification: Notification) -> str:
    return " ".join(f"<@{r.slack}>" if r.slack else _esc(r.name) for r in notification.recipients)


def render_slack(notification: Notification, config: SlackNotifierConfig) -> dict[str, Any]:
    """The webhook payload: a fallback ``text`` and the blocks (header, section with fields,
    context with the recipients' mentions, actions with link buttons)."""
    n = notification
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{n.severity}"},
        {"type": "mrkdwn", "text": f"*Status*\n{_esc(n.status)}"},
    ]
    if n.services:
        fields.append({"type": "mrkdwn", "text": "*Services*\n" + _esc(", ".join(n.services))})
    if n.level is not None:
        fields.append({"type": "mrkdwn", "text": f"*Escalation level*\n{n.level}"})
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{EMOJI[n.kind]} {n.subject}", _HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(_esc(n.summary or n.title), _TEXT_MAX)},
            "fields": fields,
        },
    ]
    if n.impact:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip("*Impact*\n" + _esc(n.impact), _TEXT_MAX)},
            }
        )
    if n.recipients:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "For " + _mentions(n)}]}
        )
    buttons: list[dict[str, Any]] = []
    if n.open and n.ack_url:
        buttons.append(_button("Acknowledge", n.ack_url, "ack", "primary"))
    if n.kind != "resolved" and n.resolve_url:
        buttons.append(_button("Resolve", n.resolve_url, "resolve", "danger"))
    if n.url:
        buttons.append(_button("Open incident", n.url, "open", None))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    mentions = f" {_mentions(n)}" if n.recipients else ""
    payload: dict[str, Any] = {"text": _esc(n.subject) + mentions, "blocks": blocks}
    if config.channel:
        payload["channel"] = config.channel
    if config.username:
        payload["username"] = config.username
    return payload


def _button(text: str, url: str, action: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "url": url,
        "action_id": f"buttress-{action}",
    }
    if style:
        button["style"] = style
    return button


class SlackChannel(IncomingWebhook):
    """Posts :func:`render_slack` to the incoming webhook."""

    type = "slack"

    def __init__(self, name: str, config: SlackNotifierConfig) -> None:
        super().__init__(name, config.webhook_url.get_secret_value(), config.timeout)
        self.config = config

    def render(self, notification: Notification) -> dict[str, Any]:
        return render_slack(notification, self.config)
