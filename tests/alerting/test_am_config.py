"""alerting.alertmanager: what a file may say, and each mistake reported at its line and
field (the CLI exits 2 on these)."""

from __future__ import annotations

import pytest

from buttress.config import (
    ButtressReceiverConfig,
    ConfigError,
    SlackReceiverConfig,
    load_text,
)


def issues(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml", env=env or {})
    assert info.value.exit_code == 2
    return [str(i) for i in info.value.issues]


AM = "alerting:\n  alertmanager:\n"


def test_defaults_are_the_three_tiers_and_a_silent_root() -> None:
    am = load_text("", env={}).alerting.alertmanager
    assert [(s.name, s.group_wait, s.group_interval, s.repeat_interval) for s in am.severities] == [
        ("critical", 10.0, 300.0, 3600.0),
        ("warning", 60.0, 300.0, 4 * 3600.0),
        ("info", 300.0, 300.0, 12 * 3600.0),
    ]
    assert am.version == "0.25"
    assert am.receiver == "default"
    assert am.receivers == []


def test_receivers_are_kinds_with_secrets_from_the_environment() -> None:
    am = load_text(
        AM + "    receivers:\n"
        "      - {name: s, type: slack, api_url: '${SLACK_URL}', channel: '#ops'}\n"
        "      - {name: b, type: buttress, url: 'http://bt:8800/', token_file: /run/token}\n",
        env={"SLACK_URL": "https://hooks.slack.com/services/T/B/secret"},
    ).alerting.alertmanager
    slack, own = am.receivers
    assert isinstance(slack, SlackReceiverConfig)
    assert slack.api_url is not None
    assert slack.api_url.get_secret_value().endswith("/secret")
    assert "secret" not in repr(slack)
    assert isinstance(own, ButtressReceiverConfig)
    assert own.webhook_url == "http://bt:8800/api/v1/alerts/alertmanager"


def test_a_route_to_an_undefined_receiver_is_an_error_at_it() -> None:
    assert issues(
        AM + "    receivers: [{name: ops, type: webhook, url: 'http://h/x'}]\n"
        "    routes:\n      - team: payments\n        receiver: pager\n"
    ) == [
        "b.yaml:6:19 alerting.alertmanager.routes[0].receiver: unknown receiver 'pager' "
        "(declared: ops)"
    ]


def test_an_undefined_root_or_tier_receiver_is_an_error() -> None:
    found = issues(
        AM + "    receiver: nobody\n"
        "    severities: [{name: page, group_wait: 10s, repeat_interval: 1h, receiver: pd}]\n"
    )
    assert found == [
        "b.yaml:3:15 alerting.alertmanager.receiver: unknown receiver 'nobody' (declared: none)",
        "b.yaml:4:79 alerting.alertmanager.severities[0].receiver: unknown receiver 'pd' "
        "(declared: none)",
    ]


def test_an_inhibition_naming_an_unknown_tier_is_an_error_at_it() -> None:
    assert issues(AM + "    inhibitions:\n      - {source: critical, target: sev2}\n") == [
        "b.yaml:4:36 alerting.alertmanager.inhibitions[0].target: unknown severity tier "
        "'sev2' (tiers: critical, warning, info)"
    ]


def test_a_route_or_burn_tier_naming_an_unknown_tier_is_an_error() -> None:
    found = issues(
        "alerting:\n"
        "  burn_tiers: [{name: p, kind: page, severity: urgent, long_window: 1h,"
        " short_window: 5m, factor: 14.4}]\n"
        "  alertmanager:\n"
        "    receivers: [{name: ops, type: webhook, url: 'http://h/x'}]\n"
        "    routes: [{receiver: ops, severity: [critical, urgent]}]\n"
    )
    assert found == [
        "b.yaml:5:51 alerting.alertmanager.routes[0].severity[1]: unknown severity tier "
        "'urgent' (tiers: critical, warning, info)"
    ]
    assert issues(
        "alerting:\n"
        "  burn_tiers: [{name: p, kind: page, severity: urgent, long_window: 1h,"
        " short_window: 5m, factor: 14.4}]\n"
    ) == [
        "b.yaml:2:48 alerting.burn_tiers[0].severity: unknown severity tier 'urgent' "
        "(alerting.alertmanager.severities: critical, warning, info)"
    ]


def test_a_route_muted_by_an_unknown_window_is_an_error_at_it() -> None:
    assert issues(
        AM + "    receivers: [{name: ops, type: webhook, url: 'http://h/x'}]\n"
        "    maintenance_windows:\n"
        "      - {name: sunday, intervals: [{weekdays: [sunday]}]}\n"
        "    routes: [{receiver: ops, mute_time_intervals: [sunday, weekend]}]\n"
    ) == [
        "b.yaml:6:60 alerting.alertmanager.routes[0].mute_time_intervals[1]: unknown "
        "maintenance window 'weekend' (declared: sunday)"
    ]


WINDOW = AM + "    maintenance_windows:\n      - name: w\n"


def test_a_window_with_an_invalid_time_range_is_an_error_at_it() -> None:
    assert issues(
        WINDOW + "        intervals:\n"
        "          - times: [{start_time: '22:00', end_time: '02:00'}]\n"
    ) == [
        "b.yaml:6:53 alerting.alertmanager.maintenance_windows[0].intervals[0].times[0]."
        "end_time: end_time 02:00 is not after start_time 22:00 (a window across midnight is "
        "two ranges: ...-24:00 and 00:00-...)"
    ]
    assert issues(
        WINDOW + "        intervals:\n"
        "          - times: [{start_time: '01:99', end_time: '24:01'}]\n"
    ) == [
        "b.yaml:6:34 alerting.alertmanager.maintenance_windows[0].intervals[0].times[0]."
        "start_time: invalid time '01:99': expected HH:MM from 00:00 to 24:00",
        "b.yaml:6:53 alerting.alertmanager.maintenance_windows[0].intervals[0].times[0]."
        "end_time: invalid time '24:01': expected HH:MM from 00:00 to 24:00",
    ]


def test_a_window_with_an_unknown_time_zone_is_an_error_at_it() -> None:
    assert issues(
        WINDOW + "        location: Europe/Atlantis\n        intervals: [{weekdays: [sunday]}]\n"
    ) == [
        "b.yaml:5:19 alerting.alertmanager.maintenance_windows[0].location: unknown time "
        "zone 'Europe/Atlantis': use an IANA name such as UTC or Europe/Berlin"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weekdays", "['friday:monday']", "'friday:monday': the start day comes after"),
        ("weekdays", "['1:3']", "'1' is not a valid weekday"),
        ("weekdays", "[blurgsday]", "'blurgsday' is not a valid weekday"),
        ("days_of_month", "[0]", "0 is not a valid day of the month"),
        ("days_of_month", "['-3:5']", "the end day must be negative when the start day is"),
        ("days_of_month", "['10:-25']", "the end day -25 is always before the start day 10"),
        ("months", "['march:january']", "the end month is before the start month"),
        ("months", "[13]", "13 is not a valid month"),
        ("years", "['2027:2026']", "the end year 2026 is before the start year 2027"),
        ("years", "['2020:2021:2022']", "expected one value or begin:end"),
    ],
)
def test_window_ranges_alertmanager_refuses_are_refused(
    field: str, value: str, message: str
) -> None:
    (found,) = issues(WINDOW + f"        intervals: [{{{field}: {value}}}]\n")
    assert f"maintenance_windows[0].intervals[0].{field}[0]: " in found
    assert message in found


def test_a_secret_inline_and_as_a_file_or_neither_is_an_error() -> None:
    found = issues(
        AM + "    receivers:\n"
        "      - {name: s, type: slack, api_url: x, api_url_file: /f}\n"
        "      - {name: p, type: pagerduty}\n"
        "      - {name: b, type: buttress, url: 'http://h', token: '${TOKEN}'}\n",
        env={"TOKEN": ""},
    )
    assert found == [
        "b.yaml:4:58 alerting.alertmanager.receivers[0].api_url_file: give api_url or "
        "api_url_file, not both",
        "b.yaml:5:9 alerting.alertmanager.receivers[1].routing_key: a pagerduty receiver "
        "needs routing_key or routing_key_file",
        "b.yaml:6:59 alerting.alertmanager.receivers[2].token: token is empty (is its ${VAR} set?)",
    ]


def test_a_secret_is_never_echoed_in_an_error() -> None:
    found = issues(
        AM + "    receivers:\n"
        "      - {name: b, type: buttress, url: 'http://h', token: '${TOKEN}', token_file: /t}\n",
        env={"TOKEN": "bt_very_secret_value"},
    )
    assert len(found) == 1
    assert "bt_very_secret_value" not in found[0]


def test_keys_the_chosen_version_lacks_are_errors() -> None:
    """Before 0.22 no window nor negative matcher nor Slack URL file; a location needs 0.25,
    PagerDuty's and email's password files too."""
    found = issues(
        AM + "    version: '0.21'\n"
        "    receivers: [{name: s, type: slack, api_url_file: /f}]\n"
        "    maintenance_windows: [{name: w, intervals: [{weekdays: [sunday]}]}]\n"
        "    routes: [{receiver: s, matchers: ['env!=dev'], mute_time_intervals: [w]}]\n"
    )
    assert [f.split(": ", 1)[0].split(" ", 1)[1] for f in found] == [
        "alerting.alertmanager.receivers[0].api_url_file",
        "alerting.alertmanager.maintenance_windows[0]",
        "alerting.alertmanager.routes[0].matchers[0]",
        "alerting.alertmanager.routes[0].mute_time_intervals[0]",
    ]
    assert all(
        "needs Alertmanager 0.22 or later (alertmanager.version is 0.21)" in f for f in found
    )
    (twice,) = issues(
        AM + "    version: '0.21'\n"
        "    receivers: [{name: s, type: webhook, url: 'http://h/x'}]\n"
        "    routes: [{receiver: s, team: a, matchers: ['team=b']}]\n"
    )
    assert "routes[0]: two matchers of one kind on one label needs Alertmanager 0.22" in twice
    (location,) = issues(
        AM + "    version: '0.24'\n"
        "    maintenance_windows: [{name: w, location: Europe/Berlin, intervals: [{}]}]\n"
    )
    assert "maintenance_windows[0].location: a window's location needs Alertmanager 0.25" in (
        location
    )
    assert issues(AM + "    version: '0.20'\n") == [
        "b.yaml:3:14 alerting.alertmanager.version: Alertmanager 0.20 is not supported: "
        "buttress writes for 0.21 or later (got '0.20')"
    ]


def test_a_bad_matcher_is_an_error_at_it() -> None:
    found = issues(
        AM + "    receivers: [{name: s, type: webhook, url: 'http://h/x'}]\n"
        "    routes: [{receiver: s, matchers: ['team=\"a\"', 'env ~ prod', 'x=~\"(\"']}]\n"
    )
    assert [f.split(": ", 1)[0].rsplit(" ", 1)[1] for f in found] == [
        "alerting.alertmanager.routes[0].matchers[1]",
        "alerting.alertmanager.routes[0].matchers[2]",
    ]
    assert "invalid matcher 'env ~ prod'" in found[0]
    assert "invalid regular expression" in found[1]


def test_names_must_be_unique() -> None:
    found = issues(
        AM + "    receivers:\n"
        "      - {name: s, type: webhook, url: 'http://h/x'}\n"
        "      - {name: s, type: webhook, url: 'http://h/y'}\n"
    )
    assert found == [
        "b.yaml:5:16 alerting.alertmanager.receivers[1].name: receiver 's' is declared twice"
    ]


def test_matchers_are_read_and_written_in_alertmanagers_syntax() -> None:
    from buttress.config import parse_matcher

    quoted = parse_matcher('summary="say \\"hi\\" \\\\o/"')
    assert (quoted.name, quoted.op, quoted.value) == ("summary", "=", 'say "hi" \\o/')
    assert parse_matcher(quoted.text()) == quoted
    bare = parse_matcher("env =~ prod|staging")
    assert (bare.op, bare.value) == ("=~", "prod|staging")
    assert bare.matches({"env": "prod"})
    assert not bare.matches({"env": "production"})  # anchored, as in Alertmanager
    assert parse_matcher('team!=""').matches({"team": "a"})
    assert not parse_matcher('team!=""').matches({})  # a missing label is ""
