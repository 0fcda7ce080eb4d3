"""``incidents.notifiers``: each kind loads, wrong kinds and missing fields name their path,
webhook templates are compiled at load, and secrets never show."""

from __future__ import annotations

import json

import pytest

from buttress.config import load_text
from buttress.config._notifiers import (
    EmailNotifierConfig,
    PagerdutyNotifierConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from buttress.errors import ConfigError

ENV = {
    "SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/slacksecret123",
    "SMTP_PASSWORD": "smtpsecret456",
    "PD_KEY": "pdsecret789",
    "TEAMS_WEBHOOK": "https://example.webhook.office.com/teamssecret000",
    "TOK": "toksecret111",
}
SECRETS = tuple(ENV.values())

FULL = """
incidents:
  notifiers:
    ops-slack: {type: slack, webhook_url: "${SLACK_WEBHOOK}", channel: "#ops"}
    ops-mail:
      type: email
      host: 127.0.0.1
      port: 587
      starttls: true
      username: ops
      password: "${SMTP_PASSWORD}"
      sender: buttress@example.com
      to: [ops@example.com]
    pager: {type: pagerduty, routing_key: "${PD_KEY}", url: "https://events.pagerduty.com/v2/enqueue"}
    ops-teams: {type: teams, webhook_url: "${TEAMS_WEBHOOK}", timeout: 5s, retries: 1}
    hook:
      type: webhook
      url: https://example.com/hook
      headers: {Authorization: "Bearer ${TOK}"}
      body: '{"id": "{{ incident.ref }}", "sev": "{{ incident.severity }}"}'
"""


def issues(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(text, env=ENV)
    return str(caught.value)


def test_every_kind_loads_with_its_defaults() -> None:
    """The five kinds load from one mapping; the shared fields have their defaults."""
    notifiers = load_text(FULL, env=ENV).incidents.notifiers
    assert list(notifiers) == ["ops-slack", "ops-mail", "pager", "ops-teams", "hook"]
    slack = notifiers["ops-slack"]
    assert isinstance(slack, SlackNotifierConfig)
    assert slack.webhook_url.get_secret_value() == ENV["SLACK_WEBHOOK"]
    assert (slack.timeout, slack.retries, slack.enabled, slack.policy) == (10.0, 3, True, None)
    mail = notifiers["ops-mail"]
    assert isinstance(mail, EmailNotifierConfig)
    assert mail.starttls
    assert mail.to == ["ops@example.com"]
    assert isinstance(notifiers["pager"], PagerdutyNotifierConfig)
    assert (notifiers["ops-teams"].timeout, notifiers["ops-teams"].retries) == (5.0, 1)
    hook = notifiers["hook"]
    assert isinstance(hook, WebhookNotifierConfig)
    assert hook.method == "POST"
    assert hook.content_type == "application/json"


def test_no_notifiers_is_the_default() -> None:
    """Without the key, there are no channels."""
    assert load_text("incidents: {}").incidents.notifiers == {}


def test_secrets_are_masked_when_dumped() -> None:
    """``model_dump(mode="json")`` (what `config show` prints) shows no secret value."""
    config = load_text(FULL, env=ENV)
    shown = json.dumps(config.model_dump(mode="json"))
    assert not [s for s in SECRETS if s in shown]
    notifiers = config.model_dump(mode="json")["incidents"]["notifiers"]
    assert notifiers["ops-slack"]["webhook_url"] == "***"
    assert notifiers["hook"]["headers"]["Authorization"] == "***"
    assert notifiers["hook"]["url"] == "***"
    assert not [s for s in SECRETS if s in repr(config.incidents.notifiers)]


def test_an_unknown_type_names_the_path_and_the_kinds() -> None:
    """`type: slak` is an error at that key, listing the kinds."""
    message = issues("incidents:\n  notifiers:\n    ops: {type: slak, webhook_url: x}\n")
    assert "incidents.notifiers.ops.type" in message
    assert "unknown notifier type 'slak'" in message
    assert "slack, email, pagerduty, teams, webhook" in message


def test_a_missing_type_is_named() -> None:
    """A channel without `type` says the key is missing."""
    message = issues("incidents:\n  notifiers:\n    ops: {webhook_url: x}\n")
    assert "incidents.notifiers.ops.type: required field is missing" in message


def test_a_missing_webhook_url_names_the_path() -> None:
    """A slack channel without webhook_url says so at the channel's line."""
    message = issues("incidents:\n  notifiers:\n    ops-slack: {type: slack}\n")
    assert "<string>:3:" in message
    assert "incidents.notifiers.ops-slack: a slack notifier needs `webhook_url`" in message


def test_a_field_of_another_kind_is_refused() -> None:
    """`routing_key` on a teams channel is an unknown key there."""
    message = issues(
        'incidents:\n  notifiers:\n    t: {type: teams, webhook_url: "${TEAMS_WEBHOOK}", '
        "routing_key: k}\n"
    )
    assert "incidents.notifiers.t.routing_key" in message


def test_an_empty_secret_is_refused() -> None:
    """A secret whose variable is empty (`${VAR:-}`) is an error naming the field."""
    message = issues(
        'incidents:\n  notifiers:\n    p: {type: pagerduty, routing_key: "${NOPE:-}"}\n'
    )
    assert "incidents.notifiers.p.routing_key: routing_key is empty" in message


def test_a_webhook_url_that_is_not_http_is_refused_without_echoing_it() -> None:
    """A non-URL secret is refused, and the value is not in the message."""
    message = issues('incidents:\n  notifiers:\n    s: {type: slack, webhook_url: "${PD_KEY}"}\n')
    assert "incidents.notifiers.s.webhook_url: webhook_url is not an http(s) URL" in message
    assert ENV["PD_KEY"] not in message


def test_a_template_syntax_error_names_the_path_and_the_template_line() -> None:
    """A body that does not compile is an error at the body, with the template's line."""
    text = (
        "incidents:\n  notifiers:\n    hook:\n      type: webhook\n"
        "      url: https://example.com/h\n"
        '      body: |\n        {"a": 1,\n         "b": {{ incident.ref }\n        }\n'
    )
    message = issues(text)
    assert "<string>:6:" in message
    assert "incidents.notifiers.hook.body: template syntax error at line 2" in message


def test_secrets_stay_out_of_error_messages() -> None:
    """A file with errors next to secrets shows none of the secret values."""
    text = (
        FULL + "    broken: {type: email, host: h, sender: nobody, password: '${SMTP_PASSWORD}'}\n"
    )
    message = issues(text)
    assert "incidents.notifiers.broken" in message
    assert not [s for s in SECRETS if s in message]


def test_email_password_needs_a_username_and_tls_modes_exclude_each_other() -> None:
    """A password without username, or ssl with starttls, is an error at the field."""
    message = issues(
        "incidents:\n  notifiers:\n    m: {type: email, host: h, sender: a@b.c, "
        "password: '${SMTP_PASSWORD}', ssl: true, starttls: true}\n"
    )
    assert "incidents.notifiers.m.username: a password needs a username" in message
    assert "incidents.notifiers.m.starttls: give ssl (implicit TLS) or starttls" in message


def test_a_bad_channel_name_is_refused() -> None:
    """Names follow the usual pattern (letters, digits, _ . -)."""
    message = issues(
        "incidents:\n  notifiers:\n"
        '    "has space": {type: teams, webhook_url: "${TEAMS_WEBHOOK}"}\n'
    )
    assert "incidents.notifiers.has space: String should match pattern" in message
