"""alertmanager.yml and its route tests: amtool accepts every generated file, the route tests
pass with amtool and catch a wrong expectation, and no key is written that the chosen
Alertmanager version refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from buttress.alerting import alertmanager, tools
from buttress.alerting.generate import generate
from buttress.config import ButtressConfig, load_text, parse_matcher

ALL_RECEIVERS = """
alerting:
  alertmanager:
    receiver: ops
    receivers:
      - {name: ops, type: webhook, url: "http://127.0.0.1:1/ops"}
      - {name: pager, type: pagerduty, routing_key: "${PD_KEY}"}
      - {name: slack, type: slack, api_url: "https://hooks.slack.com/services/T/B/X",
         channel: "#ops"}
      - name: mail
        type: email
        to: ops@example.com
        from: alertmanager@example.com
        smarthost: smtp.example.com:587
        auth_username: am
        auth_password: "${SMTP_PASSWORD}"
      - {name: buttress, type: buttress, url: "http://127.0.0.1:8800", token: "${BT_TOKEN}"}
    severities:
      - {name: critical, group_wait: 10s, repeat_interval: 1h, receiver: pager}
      - {name: warning, group_wait: 1m, repeat_interval: 4h, receiver: slack}
      - {name: info, group_wait: 5m, repeat_interval: 12h}
    routes:
      - {receiver: buttress, continue: true}
      - {team: payments, severity: [critical], receiver: pager, continue: true}
      - {team: payments, receiver: mail, matchers: ['env=~"prod|staging"']}
      - {service: checkout, matchers: ['env!="dev"'], receiver: slack}
    inhibitions:
      - {source: warning, target: info, equal: [service, env]}
"""
ENV = {"PD_KEY": "pd-secret-key", "SMTP_PASSWORD": "smtp-secret", "BT_TOKEN": "bt_secret_tok"}

WINDOWS = """
alerting:
  alertmanager:
    version: "{version}"
    receivers:
      - {{name: ops, type: webhook, url: "http://127.0.0.1:1/ops"}}
    maintenance_windows:
      - name: weekly
        location: {location}
        intervals:
          - weekdays: [saturday, sunday]
            times: [{{start_time: "02:00", end_time: "04:00"}}]
          - days_of_month: ["-1"]
            months: ["january:march", "12"]
            years: ["2026:2027"]
    routes:
      - {{team: db, receiver: ops, mute_time_intervals: [weekly]}}
"""


def files(config: ButtressConfig, out: Path) -> dict[str, str]:
    """Write the Alertmanager part of the output to ``out``; {path: content}."""
    written = {}
    for file in generate(config):
        if file.kind in ("alertmanager", "alertmanager-test"):
            (out / file.path).write_text(file.content)
            written[file.path] = file.content
    assert set(written) == {alertmanager.CONFIG_FILE, alertmanager.TESTS_FILE}
    return written


def check_config(path: Path) -> None:
    result = tools.run("amtool", ["check-config", str(path)])
    assert result.ok, result.output


def test_the_default_configuration_is_accepted_and_routes_each_tier(tmp_path: Path) -> None:
    written = files(load_text("", env={}), tmp_path)
    check_config(tmp_path / "alertmanager.yml")
    document = yaml.safe_load(written["alertmanager.yml"])
    assert document["receivers"] == [{"name": "default"}]
    tiers = {
        route["matchers"][0]: (route["group_wait"], route["repeat_interval"])
        for route in document["route"]["routes"]
    }
    assert tiers == {
        'severity="critical"': ("10s", "1h"),
        'severity="warning"': ("1m", "4h"),
        'severity="info"': ("5m", "12h"),
    }
    results = alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json")
    assert [r.labels.get("severity") for r in results] == ["critical", "warning", "info", None]
    assert all(r.ok for r in results), [r.describe() for r in results]


def test_every_receiver_kind_is_accepted_and_every_route_test_passes(tmp_path: Path) -> None:
    written = files(load_text(ALL_RECEIVERS, env=ENV), tmp_path)
    check_config(tmp_path / "alertmanager.yml")
    results = alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json")
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]
    expected = {json.dumps(r.labels, sort_keys=True): r.expected for r in results}
    assert expected[json.dumps({"alertname": "RouteTest", "severity": "critical"})] == (
        "buttress",
        "pager",
    )
    payments = {"alertname": "RouteTest", "env": "prod", "severity": "warning", "team": "payments"}
    assert expected[json.dumps(payments, sort_keys=True)] == ("buttress", "mail")
    checkout = {"alertname": "RouteTest", "service": "checkout", "severity": "info"}
    assert expected[json.dumps(checkout, sort_keys=True)] == ("buttress", "slack")
    # Alertmanager needs the secrets themselves: they are in the file, and nowhere else
    for secret in ENV.values():
        assert secret in written["alertmanager.yml"]
        assert secret not in written["alertmanager-tests.json"]
    hook = next(
        r
        for r in yaml.safe_load(written["alertmanager.yml"])["receivers"]
        if r["name"] == "buttress"
    )
    assert hook["webhook_configs"] == [
        {
            "send_resolved": True,
            "url": "http://127.0.0.1:8800/api/v1/alerts/alertmanager",
            "http_config": {"authorization": {"type": "Bearer", "credentials": "bt_secret_tok"}},
        }
    ]


def test_secret_files_keep_the_secrets_out_of_the_file(tmp_path: Path) -> None:
    secrets = {}
    for name in ("slack", "pd", "smtp", "token"):
        secrets[name] = tmp_path / f"{name}.secret"
        secrets[name].write_text(f"{name}-value\n")
    config = load_text(
        "alerting:\n  alertmanager:\n    receivers:\n"
        f"      - {{name: s, type: slack, api_url_file: {secrets['slack']}}}\n"
        f"      - {{name: p, type: pagerduty, routing_key_file: {secrets['pd']}}}\n"
        "      - {name: m, type: email, to: a@b.c, from: d@e.f, smarthost: 'h:25',"
        f" auth_username: u, auth_password_file: {secrets['smtp']}}}\n"
        f"      - {{name: b, type: buttress, url: 'http://h:1', token_file: {secrets['token']}}}\n",
        env={},
    )
    written = files(config, tmp_path)
    check_config(tmp_path / "alertmanager.yml")
    assert "-value" not in written["alertmanager.yml"]
    receivers = {r["name"]: r for r in yaml.safe_load(written["alertmanager.yml"])["receivers"]}
    assert receivers["s"]["slack_configs"][0]["api_url_file"] == str(secrets["slack"])
    assert receivers["p"]["pagerduty_configs"][0]["routing_key_file"] == str(secrets["pd"])
    assert receivers["m"]["email_configs"][0]["auth_password_file"] == str(secrets["smtp"])
    assert receivers["b"]["webhook_configs"][0]["http_config"] == {
        "authorization": {"type": "Bearer", "credentials_file": str(secrets["token"])}
    }


def test_maintenance_windows_are_accepted_and_mute_every_branch_of_their_route(
    tmp_path: Path,
) -> None:
    config = load_text(WINDOWS.format(version="0.25", location="Europe/Berlin"), env={})
    written = files(config, tmp_path)
    check_config(tmp_path / "alertmanager.yml")
    document = yaml.safe_load(written["alertmanager.yml"])
    (interval,) = document["time_intervals"]
    assert interval["name"] == "weekly"
    assert interval["time_intervals"][0] == {
        "times": [{"start_time": "02:00", "end_time": "04:00"}],
        "weekdays": ["saturday", "sunday"],
        "location": "Europe/Berlin",
    }
    db = document["route"]["routes"][0]
    assert db["mute_time_intervals"] == ["weekly"]
    # Alertmanager does not pass mute_time_intervals down: each tier's branch names it too
    assert [child["mute_time_intervals"] for child in db["routes"]] == [["weekly"]] * 3
    assert all(r.ok for r in alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json"))


# keys a version introduced (the Alertmanager changelog): the output for an older version
# must not hold them
INTRODUCED = {
    "matchers": (0, 22),
    "source_matchers": (0, 22),
    "target_matchers": (0, 22),
    "mute_time_intervals": (0, 22),
    "authorization": (0, 22),
    "credentials": (0, 22),
    "credentials_file": (0, 22),
    "api_url_file": (0, 22),
    "location": (0, 25),
    "routing_key_file": (0, 25),
    "auth_password_file": (0, 25),
}
TOP_LEVEL_INTRODUCED = {"mute_time_intervals": (0, 22), "time_intervals": (0, 24)}


def keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys(v)}
    return set()


@pytest.mark.parametrize("version", ["0.21", "0.22", "0.23", "0.24", "0.25"])
def test_no_key_the_version_lacks_is_written(version: str, tmp_path: Path) -> None:
    windows = version >= "0.22"
    text = ALL_RECEIVERS.replace("alertmanager:\n", f"alertmanager:\n    version: '{version}'\n", 1)
    if not windows:
        text = text.replace(", matchers: ['env!=\"dev\"']", "")
    config = load_text(text, env=ENV)
    if windows:
        am = config.alerting.alertmanager.model_copy(
            update={
                "maintenance_windows": load_text(
                    WINDOWS.format(version=version, location="UTC"), env={}
                ).alerting.alertmanager.maintenance_windows
            }
        )
        config = config.model_copy(
            update={"alerting": config.alerting.model_copy(update={"alertmanager": am})}
        )
    written = files(config, tmp_path)
    document = yaml.safe_load(written["alertmanager.yml"])
    found = tuple(int(p) for p in version.split("."))
    too_new = {k for k, since in INTRODUCED.items() if since > found} & keys(document)
    too_new |= {k for k, since in TOP_LEVEL_INTRODUCED.items() if since > found} & set(document)
    assert too_new == set()
    if found < (0, 22):
        assert {"match", "match_re", "source_match", "bearer_token"} <= keys(document)
    if (0, 22) <= found < (0, 24):
        assert "mute_time_intervals" in document
    check_config(tmp_path / "alertmanager.yml")  # 0.25 still reads the older keys
    results = alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json")
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]


def test_a_wrong_expectation_fails_its_route_test(tmp_path: Path) -> None:
    files(load_text(ALL_RECEIVERS, env=ENV), tmp_path)
    tests_file = tmp_path / "alertmanager-tests.json"
    document = json.loads(tests_file.read_text())
    document["cases"][0]["receivers"] = ["slack"]
    tests_file.write_text(json.dumps(document))
    first, *rest = alertmanager.run_route_tests(tests_file)
    assert not first.ok
    assert first.got == ("buttress", "pager")
    assert "FAILED: got buttress,pager" in first.describe()
    assert "did not match" in first.output
    assert all(r.ok for r in rest)


def test_a_bad_tests_file_is_a_clear_error(tmp_path: Path) -> None:
    tests_file = tmp_path / "t.json"
    tests_file.write_text(json.dumps({"config": "missing.yml", "cases": []}))
    with pytest.raises(ValueError, match=r"missing\.yml, does not exist"):
        alertmanager.run_route_tests(tests_file)
    tests_file.write_text("{")
    with pytest.raises(ValueError, match="not a route tests file"):
        alertmanager.run_route_tests(tests_file)


def test_missing_amtool_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files(load_text("", env={}), tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tools.ToolMissingError, match="prometheus-alertmanager"):
        alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json")


def test_the_inhibition_pairs_described_match_the_generated_rules(tmp_path: Path) -> None:
    written = files(load_text(ALL_RECEIVERS, env=ENV), tmp_path)
    rules = yaml.safe_load(written["alertmanager.yml"])["inhibit_rules"]
    pairs = json.loads(written["alertmanager-tests.json"])["inhibitions"]
    assert len(rules) == len(pairs) == 4
    for rule, pair in zip(rules, pairs, strict=True):
        assert all(parse_matcher(m).matches(pair["source"]) for m in rule["source_matchers"])
        assert all(parse_matcher(m).matches(pair["target"]) for m in rule["target_matchers"])
        assert not all(parse_matcher(m).matches(pair["source"]) for m in rule["target_matchers"])
        assert rule["equal"] == pair["equal"]
        assert all(pair["source"][label] == pair["target"][label] for label in pair["equal"])
    assert rules[0] == {
        "source_matchers": ['buttress_source="slo"', 'tier_kind="page"'],
        "target_matchers": ['buttress_source="slo"', 'tier_kind="ticket"'],
        "equal": ["slo"],
    }
    assert rules[2]["source_matchers"] == ['alertname="TargetDown"']
    assert rules[2]["equal"] == ["job", "instance"]


def test_no_default_inhibitions_when_switched_off() -> None:
    am = load_text(
        "alerting:\n  alertmanager:\n    default_inhibitions: false\n", env={}
    ).alerting.alertmanager
    assert "inhibit_rules" not in alertmanager.build(am)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (43200, "12h"),
        (0.5, "500ms"),
        (86400 * 8, "1w1d"),
    ],
)
def test_durations_are_written_as_alertmanager_reads_them(seconds: float, text: str) -> None:
    assert alertmanager.prom_duration(seconds) == text


def test_the_example_of_the_docs_is_accepted_and_its_route_tests_pass(tmp_path: Path) -> None:
    from tests.alerting.docs import yaml_examples

    (example,) = yaml_examples("Routing, receivers")
    files(load_text(example, env={"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"}), tmp_path)
    check_config(tmp_path / "alertmanager.yml")
    results = alertmanager.run_route_tests(tmp_path / "alertmanager-tests.json")
    assert len(results) == 8
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]
