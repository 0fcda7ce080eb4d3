"""``incidents.actions``: the rules load with their defaults; a type not in allowed_actions,
a bad regex and a duplicate name are errors at their line; the levels, backup targets and
resilience policies the rules name are checked in the validation step, at their line; a
webhook's URL never shows."""

from __future__ import annotations

import pytest

from buttress.config import load_text
from buttress.config._incident_actions import DegradationActionConfig, WebhookActionConfig
from buttress.config_checks import register_domain_checks
from buttress.errors import ConfigError


@pytest.fixture(autouse=True)
def _checks() -> None:
    register_domain_checks()


def at(message: str, path: str) -> str:
    """The problem at ``path`` as ``file:line: message`` (the column left out)."""
    (line,) = [row for row in message.splitlines() if f" {path}: " in row]
    where, _, what = line.partition(f" {path}: ")
    return f"{where.rsplit(':', 1)[0]}: {what}"


def issues(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(text)
    return str(caught.value)


def test_rules_load_with_their_defaults() -> None:
    """statuses [triggered], dry_run false, 3 runs per hour; `for` reads a duration."""
    config = load_text(
        "health: {degradation: {levels: traffic_light}}\n"
        "incidents:\n"
        "  allowed_actions: [degradation_level, webhook]\n"
        "  actions:\n"
        "    - {name: shed, match: {service: '~check.*'}, do: "
        "{type: degradation_level, level: ORANGE, for: 2h}}\n"
        "    - {name: hook, do: {type: webhook, url: 'https://hooks.example/t0k3n'}}\n"
    )
    shed, hook = config.incidents.actions
    assert (shed.statuses, shed.dry_run, shed.max_runs, shed.per) == (
        ["triggered"], False, 3, 3600.0,
    )  # fmt: skip
    assert isinstance(shed.do, DegradationActionConfig)
    assert shed.do.for_ == 7200.0
    assert shed.matches({"service": "checkout"}, "P2", "triggered")
    assert not shed.matches({"service": "checkout"}, "P2", "acknowledged")
    assert not shed.matches({"service": "search"}, "P2", "triggered")
    assert isinstance(hook.do, WebhookActionConfig)
    assert "t0k3n" not in repr(config.incidents)


def test_a_type_that_is_not_allowed_is_an_error_at_its_line() -> None:
    """No allowed_actions: a breaker rule is refused at its `type`, line 5."""
    message = issues(
        "incidents:\n"
        "  allowed_actions: [webhook]\n"
        "  actions:\n"
        "    - name: cut\n"
        "      do: {type: breaker, policy: db, state: open}\n"
    )
    assert "<string>:5:" in message
    assert "incidents.actions[0].do.type: action type 'breaker' is not allowed" in message
    assert "(incidents.allowed_actions: webhook allowed)" in message


def test_by_default_no_type_is_allowed() -> None:
    """allowed_actions defaults to none."""
    message = issues("incidents:\n  actions:\n    - {name: s, do: {type: backup, target: db}}\n")
    assert (
        "action type 'backup' is not allowed (incidents.allowed_actions: none is allowed)"
        in message
    )


def test_a_duplicate_name_and_a_bad_regex_are_named() -> None:
    """Two rules named `a`; a match value `~(` that does not compile."""
    message = issues(
        "incidents:\n"
        "  allowed_actions: [backup]\n"
        "  actions:\n"
        "    - {name: a, do: {type: backup, target: db}}\n"
        "    - {name: a, match: {x: '~('}, do: {type: backup, target: db}}\n"
    )
    assert "incidents.actions[1].match: label 'x': not a regular expression" in message


def test_a_duplicate_name_is_named() -> None:
    """Two rules named `a`: the second's name is the error."""
    message = issues(
        "incidents:\n"
        "  allowed_actions: [webhook]\n"
        "  actions:\n"
        "    - {name: a, do: {type: webhook, url: 'https://x.example/1'}}\n"
        "    - {name: a, do: {type: webhook, url: 'https://x.example/2'}}\n"
    )
    assert "<string>:5:" in message
    assert "incidents.actions[1].name: another rule is already named 'a'" in message


def test_unknown_level_target_and_policy_are_problems_at_their_lines() -> None:
    """The validation step names each unknown name at its line, with what is defined."""
    message = issues(
        "health: {degradation: {levels: traffic_light}}\n"
        "backup:\n"
        "  targets: [{name: shop, source: sqlite, path: shop.db}]\n"
        "resilience: {policies: {payments: {circuit_breaker: {wait: 5s}}}}\n"
        "incidents:\n"
        "  allowed_actions: [degradation_level, backup, restore_test, breaker]\n"
        "  actions:\n"
        "    - name: a\n"
        "      do: {type: degradation_level, level: PURPLE}\n"
        "    - name: b\n"
        "      do: {type: backup, target: shoe}\n"
        "    - name: c\n"
        "      do: {type: restore_test, target: shop}\n"
        "    - name: d\n"
        "      do:\n"
        "        type: breaker\n"
        "        policy: paymints\n"
        "        state: open\n"
    )
    assert at(message, "incidents.actions[0].do.level") == (
        "<string>:9: unknown level 'PURPLE' (health.degradation levels: GREEN, ORANGE, RED, YELLOW)"
    )
    assert at(message, "incidents.actions[1].do.target") == (
        "<string>:11: unknown backup target 'shoe' (backup.targets: shop)"
    )
    assert "actions[2]" not in message
    assert at(message, "incidents.actions[3].do.policy") == (
        "<string>:17: unknown resilience policy 'paymints' (resilience.policies: payments)"
    )


def test_a_level_without_degradation_levels_says_none_is_defined() -> None:
    """No health.degradation: a level action's level is unknown, none is defined."""
    message = issues(
        "incidents:\n"
        "  allowed_actions: [degradation_level]\n"
        "  actions: [{name: a, do: {type: degradation_level, level: RED}}]\n"
    )
    assert at(message, "incidents.actions[0].do.level") == (
        "<string>:3: unknown level 'RED' (health.degradation levels: none is defined)"
    )


def test_a_webhook_url_that_is_not_http_is_refused_without_echoing_it() -> None:
    """The URL is a secret: a bad one is refused, never shown."""
    message = issues(
        "incidents:\n"
        "  allowed_actions: [webhook]\n"
        "  actions: [{name: a, do: {type: webhook, url: 'ftp-s3cr3t'}}]\n"
    )
    assert "incidents.actions[0].do.url: url is not an http(s) URL" in message
    assert "s3cr3t" not in message
