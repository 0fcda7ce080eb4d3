"""Each channel renders a notification its own way: Slack Block Kit, a Teams Adaptive Card,
PagerDuty events, multipart mail, a templated webhook body (pure functions, no I/O)."""

from __future__ import annotations

import json

import pytest

from buttress.config import load_text
from buttress.config._notifiers import (
    EmailNotifierConfig,
    SlackNotifierConfig,
    template_environment,
)
from buttress.incidents.notify import DeliveryError, Notification, Recipient
from buttress.incidents.notify.email import render_email
from buttress.incidents.notify.pagerduty import render_pagerduty
from buttress.incidents.notify.slack import render_slack
from buttress.incidents.notify.teams import ADAPTIVE_CARD, render_teams
from buttress.incidents.notify.webhook import render_webhook

ALICE = Recipient("Alice", email="alice@example.com", slack="U0ALICE")
BOB = Recipient("Bob <ops>", email="bob@example.com")


def notification(**changes: object) -> Notification:
    values: dict[str, object] = {
        "kind": "triggered",
        "ref": "INC-2026-0042",
        "title": "Checkout is down",
        "severity": "P1",
        "status": "triggered",
        "services": ["checkout", "payments"],
        "summary": "5xx above 50% for 5 minutes",
        "impact": "No orders",
        "url": "https://buttress.example/incidents/42",
        "ack_url": "https://buttress.example/incidents/42/ack",
        "resolve_url": "https://buttress.example/incidents/42/resolve",
        "recipients": [ALICE, BOB],
        "level": 1,
    }
    values.update(changes)
    return Notification(**values)  # type: ignore[arg-type]  # the fields, by name


def slack_config(**extra: str) -> SlackNotifierConfig:
    return SlackNotifierConfig(type="slack", webhook_url="https://hooks.slack.com/x", **extra)


def test_slack_is_block_kit_with_mentions_and_link_buttons() -> None:
    """Header, section fields, context mentions, and ack/resolve/open buttons as URLs."""
    payload = render_slack(notification(), slack_config(channel="#ops"))
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "section", "section", "context", "actions"]
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text"
    assert "[P1] INC-2026-0042 triggered: Checkout is down" in header["text"]
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert "*Severity*\nP1" in fields
    assert "*Services*\ncheckout, payments" in fields
    context = payload["blocks"][3]["elements"][0]["text"]
    assert "<@U0ALICE>" in context
    assert "Bob &lt;ops&gt;" in context
    buttons = payload["blocks"][4]["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Acknowledge", "https://buttress.example/incidents/42/ack"),
        ("Resolve", "https://buttress.example/incidents/42/resolve"),
        ("Open incident", "https://buttress.example/incidents/42"),
    ]
    assert payload["channel"] == "#ops"
    assert payload["text"].startswith("[P1] INC-2026-0042")


def test_a_resolved_slack_message_has_no_ack_or_resolve_button() -> None:
    """Once resolved, only the link to the incident is left."""
    payload = render_slack(notification(kind="resolved", status="resolved"), slack_config())
    (actions,) = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert [b["action_id"] for b in actions["elements"]] == ["buttress-open"]


def test_teams_is_an_adaptive_card_in_an_attachments_envelope() -> None:
    """The workflow webhook shape: a message with one Adaptive Card attachment."""
    payload = render_teams(notification())
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["text"] == "[P1] INC-2026-0042 triggered: Checkout is down"
    facts = {f["title"]: f["value"] for f in card["body"][-1]["facts"]}
    assert facts["Severity"] == "P1"
    assert facts["For"] == "Alice, Bob <ops>"
    assert [a["title"] for a in card["actions"]] == ["Acknowledge", "Resolve", "Open incident"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("P1", "critical"), ("P2", "error"), ("P3", "warning"), ("P4", "info")],
)
def test_pagerduty_maps_severities(severity: str, expected: str) -> None:
    """P1..P4 become critical, error, warning, info."""
    event = render_pagerduty(notification(severity=severity), routing_key="k", source="b")
    assert event["payload"]["severity"] == expected


def test_pagerduty_actions_share_the_dedup_key() -> None:
    """Trigger, acknowledge and resolve carry the incident's ref as dedup_key."""
    events = [
        render_pagerduty(notification(kind=kind), routing_key="k", source="buttress")
        for kind in ("triggered", "escalated", "acknowledged", "resolved")
    ]
    assert [e["event_action"] for e in events] == ["trigger", "trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"INC-2026-0042"}
    trigger = events[0]
    assert trigger["payload"]["summary"] == "[P1] INC-2026-0042: Checkout is down"
    assert trigger["payload"]["source"] == "buttress"
    assert trigger["payload"]["custom_details"]["services"] == ["checkout", "payments"]
    assert "payload" not in events[3]


def test_email_is_multipart_with_the_subject_and_every_address() -> None:
    """Subject `[P1] ref kind: title`; text and HTML parts; channel `to` plus recipients."""
    config = EmailNotifierConfig(
        type="email", host="h", sender="buttress@example.com", to=["ops@example.com"]
    )
    message = render_email(notification(), config)
    assert message["Subject"] == "[P1] INC-2026-0042 triggered: Checkout is down"
    assert message["To"] == "ops@example.com, alice@example.com, bob@example.com"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Services: checkout, payments" in text.get_content()
    assert "Bob &lt;ops&gt;" in html.get_content()


def test_the_webhook_template_sees_incident_recipients_and_kind() -> None:
    """The body renders the notification's fields; `tojson` writes JSON."""
    template = template_environment().from_string(
        '{"id": "{{ incident.ref }}", "kind": "{{ kind }}", '
        '"who": {{ recipients | map(attribute="name") | list | tojson }}, '
        '"title": {{ incident.title | tojson }}}'
    )
    body = json.loads(render_webhook(notification(title='say "hi"'), template))
    assert body == {
        "id": "INC-2026-0042",
        "kind": "triggered",
        "who": ["Alice", "Bob <ops>"],
        "title": 'say "hi"',
    }


def test_without_a_template_the_webhook_body_is_the_notification_as_json() -> None:
    """The default body is JSON of incident, recipients and kind."""
    body = json.loads(render_webhook(notification(), None))
    assert body["kind"] == "triggered"
    assert body["incident"]["ref"] == "INC-2026-0042"
    assert body["recipients"][0]["slack"] == "U0ALICE"


def test_a_template_failing_at_render_time_is_a_delivery_error() -> None:
    """An undefined name, or the sandbox refusing an attribute, is a permanent failure."""
    env = template_environment()
    for source in ("{{ incident.nope }}", "{{ incident.__class__.__mro__ }}"):
        with pytest.raises(DeliveryError) as caught:
            render_webhook(notification(), env.from_string(source))
        assert caught.value.permanent
        assert "body template failed" in str(caught.value)


def test_the_yaml_template_is_the_one_compiled_at_load() -> None:
    """A body loaded from YAML renders as written."""
    config = load_text(
        "incidents:\n  notifiers:\n    h:\n      type: webhook\n      url: http://127.0.0.1:1/\n"
        "      body: '{{ incident.severity }}/{{ incident.services | join(\",\") }}'\n"
    ).incidents.notifiers["h"]
    assert config.type == "webhook"
    assert config.body is not None
    body = render_webhook(notification(), template_environment().from_string(config.body))
    assert body == "P1/checkout,payments"
