"""docs/incidents.md's "Notifiers" example is what buttress loads: every channel as shown,
its secrets hidden, its webhook body rendering as documented."""

from __future__ import annotations

import json
import re

from buttress.config import load_text
from buttress.config._notifiers import WebhookNotifierConfig, template_environment
from buttress.incidents.notify.webhook import render_webhook
from tests.incidents.test_docs import section
from tests.incidents.test_notify_render import notification

ENV = {
    "SLACK_WEBHOOK": "https://hooks.slack.com/services/T/B/X",
    "SMTP_PASSWORD": "pw",
    "PD_KEY": "key",
    "TEAMS_WEBHOOK": "https://example.webhook.office.com/x",
    "HOOK_TOKEN": "tok",
}


def test_the_notifiers_example_loads() -> None:
    """The example's five channels load, and its webhook body renders to the JSON shown."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section("Notifiers"), re.DOTALL)
    notifiers = load_text(example, env=ENV).incidents.notifiers
    assert sorted(n.type for n in notifiers.values()) == [
        "email",
        "pagerduty",
        "slack",
        "teams",
        "webhook",
    ]
    hook = notifiers["hook"]
    assert isinstance(hook, WebhookNotifierConfig)
    assert hook.body is not None
    body = render_webhook(
        notification(title='a "quoted" title'), template_environment().from_string(hook.body)
    )
    assert json.loads(body) == {"id": "INC-2026-0042", "sev": "P1", "title": 'a "quoted" title'}
