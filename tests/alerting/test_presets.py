"""The preset alert groups: what they generate (the label contract, one file per group, a bound
per backup target from its schedule), the metrics they read (every buttress_* one is exported by
a live buttress), and the configuration errors (exit 2, naming file:line and field)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from buttress.alerting import labels as contract
from buttress.alerting import presets, tools
from buttress.alerting.generate import generate
from buttress.catalog import Catalog, catalog_url
from buttress.config import ButtressConfig, load_text
from buttress.config_checks import register_domain_checks
from buttress.errors import ConfigError
from buttress.resilience import CircuitBreaker
from buttress.resilience.instrumentation.prometheus import PrometheusMetrics
from buttress.server.app import create_app
from tests.alerting.docs import section

BACKUP = """
backup:
  destinations: [{name: local, path: repo}]
  targets:
    - {name: db, source: sqlite, path: app.db, schedule: "0 3 * * *"}
    - {name: site, source: directory, path: site, schedule: "0 */6 * * 1-5"}
    - {name: manual, source: directory, path: manual}
"""

HEALTH = """
health:
  checks:
    - {name: main-db, type: postgresql, dsn: "postgresql://nobody@127.0.0.1:1/x"}
    - {name: cache, type: tcp, host: 127.0.0.1, port: 1}
  degradation:
    level:
      YELLOW: {when: {health_score: 60}}
"""

EVERY_GROUP = (
    BACKUP
    + HEALTH
    + """
alerting:
  presets:
    team: ops
    labels: {env: prod}
    system: {enabled: true}
    performance: {enabled: true}
    security: {enabled: true, failed_logins: {metric: auth_failed_logins_total}}
    business:
      enabled: true
      service: shop
      order_volume: {metric: shop_orders_total}
      payments_failed_metric: shop_payments_failed_total
      payments_total_metric: shop_payments_total
    backups: {enabled: true}
    buttress: {enabled: true, degradation: {level: YELLOW}}
"""
)


def config(text: str) -> ButtressConfig:
    register_domain_checks()
    return load_text(text, filename="buttress.yaml", env={})


def issues(text: str) -> list[str]:
    register_domain_checks()
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="buttress.yaml", env={})
    return [str(i) for i in info.value.issues]


def rules_of(cfg: ButtressConfig) -> dict[str, list[dict[str, Any]]]:
    """group -> its rules, as the generated files say."""
    out = {}
    for file in presets.generate(cfg):
        if file.kind == "rules":
            body = yaml.safe_load(file.content)
            (group,) = body["groups"]
            out[file.path] = group["rules"]
    return out


# --- what is generated ---------------------------------------------------------------------


def test_nothing_is_generated_until_a_group_is_enabled() -> None:
    assert presets.generate(config(BACKUP)) == []
    assert not [f for f in generate(config(BACKUP)) if f.path.startswith("presets/")]


def test_one_rule_file_and_one_test_file_per_enabled_group() -> None:
    files = presets.generate(config(EVERY_GROUP))
    assert [(f.path, f.kind) for f in files] == [
        (path, kind)
        for group in presets.GROUPS
        for path, kind in (
            (f"presets/{group}.rules.yml", "rules"),
            (f"presets/tests/{group}.test.yml", "rules-test"),
        )
    ]
    tests = yaml.safe_load(files[1].content)
    assert tests["rule_files"] == ["../system.rules.yml"]
    assert files == presets.generate(config(EVERY_GROUP))  # stable output
    assert set(files) <= set(generate(config(EVERY_GROUP)))  # part of the whole output


def test_every_alert_carries_the_label_contract() -> None:
    alerts = rules_of(config(EVERY_GROUP))
    seen = set()
    for path, rules in alerts.items():
        group = path.removeprefix("presets/").removesuffix(".rules.yml")
        for rule in rules:
            seen.add(rule["alert"])
            got = rule["labels"]
            assert got[contract.SOURCE] == contract.SOURCE_PRESET
            assert got[contract.PRESET] == group
            assert got[contract.TEAM] == "ops"
            assert got["env"] == "prod"
            assert got[contract.SERVICE] == ("shop" if group == "business" else "buttress")
            assert got[contract.SEVERITY] in ("critical", "warning")
            assert set(rule["annotations"]) == {"summary", "description"}
    assert seen == {
        contract.TARGET_DOWN_ALERT,
        "PostgresqlUnreachable",
        "MariadbUnreachable",
        "RedisUnreachable",
        "PodRestarting",
        "HighLatencyP99",
        "HighErrorRate",
        "HighCpuUsage",
        "MemoryUsageHigh",
        "MemoryUsageCritical",
        "FailedLoginsHigh",
        "RateLimitRejectionsSurging",
        "OrderVolumeDropped",
        "PaymentFailuresHigh",
        "PaymentFailuresCritical",
        "BackupTooOld",
        "BackupNeverSucceeded",
        "BackupSizeDropped",
        "BackupVerifyFailed",
        "BackupRestoreTestFailed",
        "CircuitBreakerOpen",
        "DegradationLevelHigh",
        "HealthScoreLow",
        "StateStoreFallback",
    }


def _by_alert(cfg: ButtressConfig) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rules in rules_of(cfg).values():
        for rule in rules:
            out.setdefault(rule["alert"], []).append(rule)
    return out


def test_the_documented_defaults() -> None:
    alerts = _by_alert(config(EVERY_GROUP))
    (down,) = alerts["TargetDown"]
    assert (down["expr"], down["for"], down["labels"]["severity"]) == ("up == 0", "5m", "critical")
    (pg,) = alerts["PostgresqlUnreachable"]  # buttress's own check of that type
    assert pg["expr"] == 'buttress_health_check_up{check=~"main-db"} == 0'
    (redis,) = alerts["RedisUnreachable"]  # no redis check: the exporter's
    assert redis["expr"] == "redis_up == 0"
    (p99,) = alerts["HighLatencyP99"]
    assert p99["for"] == "10m"
    assert p99["expr"] == (
        "histogram_quantile(0.99, sum by (le, job, instance) "
        "(rate(buttress_http_request_duration_seconds_bucket[5m]))) > 1"
    )
    (errors,) = alerts["HighErrorRate"]
    assert (errors["for"], errors["expr"].endswith("> 0.05")) == ("5m", True)
    assert 'buttress_http_requests_total{status=~"5.."}' in errors["expr"]
    (cpu,) = alerts["HighCpuUsage"]
    assert (cpu["for"], cpu["expr"].endswith("> 0.8")) == ("5m", True)
    assert alerts["MemoryUsageHigh"][0]["expr"].endswith("> 0.85")
    assert alerts["MemoryUsageHigh"][0]["labels"]["severity"] == "warning"
    assert alerts["MemoryUsageCritical"][0]["expr"].endswith("> 0.9")
    assert alerts["MemoryUsageCritical"][0]["labels"]["severity"] == "critical"
    (logins,) = alerts["FailedLoginsHigh"]
    assert "* 60 > 5" in logins["expr"]
    (surge,) = alerts["RateLimitRejectionsSurging"]
    assert 'buttress_resilience_rejections_total{kind="rate_limited"}' in surge["expr"]
    (orders,) = alerts["OrderVolumeDropped"]
    assert "offset 1w" in orders["expr"]
    assert alerts["PaymentFailuresHigh"][0]["expr"].endswith("> 0.02")
    assert alerts["PaymentFailuresCritical"][0]["expr"].endswith("> 0.05")
    (breaker,) = alerts["CircuitBreakerOpen"]
    assert breaker["expr"] == 'buttress_circuit_breaker_state{state="open"} == 1'
    (level,) = alerts["DegradationLevelHigh"]
    assert level["expr"] == "buttress_degradation_level >= 1"  # YELLOW
    (store,) = alerts["StateStoreFallback"]
    assert store["expr"] == 'buttress_state_store_mode{mode!="shared"} == 1'


def test_each_scheduled_backup_target_gets_its_own_bound() -> None:
    alerts = _by_alert(config(EVERY_GROUP))
    stale = {r["labels"]["target"]: r for r in alerts["BackupTooOld"]}
    assert set(stale) == {"db", "site"}  # `manual` has no schedule (and no max_age)
    # daily: 1.5 x 24h; 6-hourly on weekdays: 1.5 x the weekend's 54h (Friday 18:00 to Monday)
    assert stale["db"]["expr"] == (
        'time() - buttress_backup_last_success_timestamp_seconds{target="db"} > 129600'
    )
    assert stale["site"]["expr"].endswith("> 291600")
    assert (
        "1.5 x the 2d6h between runs of its schedule 0 */6 * * 1-5"
        in (stale["site"]["annotations"]["description"])
    )
    never = {r["labels"]["target"]: r for r in alerts["BackupNeverSucceeded"]}
    assert never["db"]["for"] == "1d12h"
    sizes = {r["labels"]["target"]: r["expr"] for r in alerts["BackupSizeDropped"]}
    assert sizes["db"] == (
        'buttress_backup_last_size_bytes{target="db", kind="stored"} < 0.5 * '
        'max_over_time(buttress_backup_last_size_bytes{target="db", kind="stored"}[1d12h])'
    )
    (restore,) = alerts["BackupRestoreTestFailed"]
    assert restore["expr"] == 'buttress_backup_last_verified{check="restore_test"} == 0'
    assert restore["labels"]["severity"] == "critical"


def test_max_age_targets_factor_and_runbook_are_tuned_per_preset() -> None:
    text = BACKUP + (
        "alerting:\n  presets:\n    backups:\n      enabled: true\n      targets: [db, manual]\n"
        "      stale: {factor: 2, max_age: {manual: 1w}, runbook: 'https://wiki/backups'}\n"
        "      verify_failed: {enabled: false}\n"
    )
    alerts = _by_alert(config(text))
    stale = {r["labels"]["target"]: r for r in alerts["BackupTooOld"]}
    assert stale["db"]["expr"].endswith("> 172800")  # 2 x 1d
    assert stale["manual"]["expr"].endswith("> 604800")
    assert stale["db"]["annotations"]["runbook_url"] == "https://wiki/backups"
    assert "BackupVerifyFailed" not in alerts
    (restore,) = alerts["BackupRestoreTestFailed"]
    assert 'target=~"db|manual"' in restore["expr"]


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        ("0 3 * * *", 86400),
        ("*/15 * * * *", 900),
        ("0 3 * * 1-5", 3 * 86400),  # Friday 03:00 to Monday 03:00
        ("@weekly", 7 * 86400),
        ("0 0 31 * *", 61 * 86400),  # 31 August to 31 October (months of 30 days skip)
        ("30 2 1 */3 *", 92 * 86400),  # quarterly: the longest quarter
        ("* * * * * */10", 10),  # with seconds (schedule_seconds)
    ],
)
def test_expected_interval_is_the_longest_gap_between_runs(schedule: str, seconds: int) -> None:
    assert presets.expected_interval(schedule) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (129600, "1d12h"), (90, "1m30s"), (604800, "1w"), (0.25, "250ms"), (0, "0s")],
)
def test_durations_are_written_as_prometheus_reads_them(seconds: float, text: str) -> None:
    assert presets.prom_duration(seconds) == text


def test_process_resources_match_labels_and_aggregation_are_tuned() -> None:
    text = (
        "alerting:\n  presets:\n    performance:\n      enabled: true\n      resources: process\n"
        "      cores: 2\n      memory_limit_bytes: 2000000000\n      match: {job: api}\n"
        "      latency: {bound: 0.25, quantile: 0.95, by: [route], for: 2m}\n"
        "      error_rate: {enabled: false}\n"
    )
    alerts = _by_alert(config(text))
    assert alerts["HighCpuUsage"][0]["expr"] == (
        'rate(process_cpu_seconds_total{job="api"}[5m]) / 2 > 0.8'
    )
    assert alerts["MemoryUsageCritical"][0]["expr"] == (
        'process_resident_memory_bytes{job="api"} / 2000000000 > 0.9'
    )
    (p95,) = alerts["HighLatencyP95"]
    assert p95["for"] == "2m"
    assert p95["expr"] == (
        "histogram_quantile(0.95, sum by (le, route) "
        '(rate(buttress_http_request_duration_seconds_bucket{job="api"}[5m]))) > 0.25'
    )
    assert "HighErrorRate" not in alerts


# --- the metrics the presets read exist ----------------------------------------------------


def _exported(text: str) -> set[str]:
    """Every series name a Prometheus text exposition can have."""
    found = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            base = name.removesuffix("_total")
            suffixes = {
                "counter": ("_total",),
                "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("", "_count", "_sum"),
            }.get(kind, ("",))
            found |= {base + s if kind != "gauge" else name for s in suffixes}
        elif line and not line.startswith("#"):
            found.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return found


def test_every_buttress_metric_a_preset_reads_is_exported_by_a_live_buttress(
    tmp_path: Path,
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "manual").mkdir()
    cfg = config(EVERY_GROUP.replace("path: repo", f"path: {tmp_path / 'repo'}"))
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    try:
        with TestClient(create_app(catalog, cfg)) as client:
            served = client.get("/metrics")
            assert served.status_code == 200
            exported = _exported(served.text)
    finally:
        catalog.dispose()
    # the resilience metrics come from the application's process (PrometheusMetrics)
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    breaker = CircuitBreaker(name="payments", minimum_calls=2, window_size=2, wait=60)
    metrics.track(breaker)
    exported |= _exported(generate_latest(registry).decode())

    read = set()
    for group in presets.GROUPS:
        rules, _ = presets.group_rules(cfg, group)
        for rule in rules:
            read |= {m for m in rule.metrics if m.startswith("buttress_")}
            # the expression names no buttress metric its rule does not declare
            assert set(re.findall(r"\bbuttress_[a-z_]+", rule.expr)) <= set(rule.metrics)
    assert read  # the presets do read buttress's metrics
    missing = sorted(read - exported)
    assert not missing, f"presets read metrics buttress does not export: {missing}"


def test_the_checked_names_come_from_metric_names() -> None:
    from buttress.config._alert_presets import exported_metric_names

    names = exported_metric_names()
    assert "buttress_backup_failures_total" in names
    assert "buttress_http_request_duration_seconds_bucket" in names
    assert "buttress_backup_restore_tests_total" not in names


# --- configuration errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presets_yaml", "expected"),
    [
        (
            "business: {enabled: true, payment_failures_warning: {enabled: false},\n"
            "      payment_failures_critical: {enabled: false}}",
            "buttress.yaml:3:15 alerting.presets.business.order_volume.metric: order_volume "
            "needs the metric counting orders (or enabled: false)",
        ),
        (
            "performance:\n      latency: {histogram: buttress_http_latency_seconds}",
            "buttress.yaml:4:28 alerting.presets.performance.latency.histogram: buttress exports "
            "no metric 'buttress_http_latency_seconds'",
        ),
        (
            "security: {failed_logins: {metric: 'auth-failures'}}",
            "buttress.yaml:3:40 alerting.presets.security.failed_logins.metric: 'auth-failures' "
            "is not a valid Prometheus metric name",
        ),
        (
            "security: {enabled: true}",
            "buttress.yaml:3:15 alerting.presets.security.failed_logins.metric: failed_logins "
            "needs the metric counting failed logins",
        ),
        (
            "system: {labels: {severity: page}}",
            "buttress.yaml:3:33 alerting.presets.system.labels.severity: label 'severity' is set "
            "by the preset itself",
        ),
        (
            "performance: {enabled: true, resources: process}",
            "buttress.yaml:3:18 alerting.presets.performance.memory_limit_bytes: resources: "
            "process needs memory_limit_bytes",
        ),
        (
            "performance: {error_rate: {errors_match: {code: '5..'}}}",
            "alerting.presets.performance.error_rate.errors_sample.code: give a value of 'code' "
            "that matches '5..'",
        ),
        (
            "security: {rate_limit_surge: {baseline: 20m}}",
            "alerting.presets.security.rate_limit_surge.baseline: baseline must be longer than "
            "factor x (for + window)",
        ),
        (
            "backups: {enabled: true, targets: [db, nope]}",
            "alerting.presets.backups.targets[1]: 'nope' is not one of backup.targets",
        ),
        (
            "backups: {enabled: true, targets: [manual]}",
            "alerting.presets.backups.targets[0]: target 'manual' has no schedule: give "
            "stale.max_age.manual",
        ),
        (
            "backups: {enabled: true, stale: {max_age: {web: 1d}}}",
            "alerting.presets.backups.stale.max_age.web: 'web' is not one of backup.targets",
        ),
        (
            "backups: {enabled: true, size_drop: {for: 2d}}",
            "alerting.presets.backups.size_drop.for: must be shorter than the bound of target "
            "'db' (1d12h)",
        ),
        (
            "buttress: {enabled: true, degradation: {level: PURPLE}}",
            "alerting.presets.buttress.degradation.level: 'PURPLE' is not a degradation level "
            "(levels: none: health.degradation is not set)",
        ),
        (
            "system: {enabled: true, database_unreachable: {source: health_checks}}",
            "alerting.presets.system.database_unreachable.source: health_checks: health.checks "
            "has no check of type postgresql, mariadb, redis",
        ),
        (
            "performance: {memory_warning: {bound: 0.95}}",
            "alerting.presets.performance.memory_warning.bound: must be under memory_critical's "
            "bound",
        ),
        (
            "business: {payment_failures_critical: {bound: 0.01}}",
            "alerting.presets.business.payment_failures_warning.bound: must be under "
            "payment_failures_critical's bound",
        ),
        (
            "backups: {enabled: true, stale: {severity: pager}}",
            "alerting.presets.backups.stale.severity: unknown severity tier 'pager' "
            "(alerting.alertmanager.severities: critical, warning, info)",
        ),
    ],
)
def test_bad_presets_are_errors_naming_the_field(presets_yaml: str, expected: str) -> None:
    text = "alerting:\n  presets:\n    " + presets_yaml + "\n" + BACKUP
    found = issues(text)
    assert any(expected in issue for issue in found), found


def test_database_checks_of_each_listed_kind_are_needed_with_source_health_checks() -> None:
    text = HEALTH + (
        "alerting:\n  presets:\n    system:\n      enabled: true\n"
        "      database_unreachable: {source: health_checks, kinds: [postgresql, redis]}\n"
    )
    (issue,) = issues(text)
    assert "has no check of type redis (list only the kinds it checks" in issue
    fixed = text.replace("[postgresql, redis]", "[postgresql]")
    alerts = _by_alert(config(fixed))
    assert set(alerts) == {"TargetDown", "PostgresqlUnreachable", "PodRestarting"}


def test_backups_enabled_without_any_backup_target_is_an_error() -> None:
    (issue,) = issues("alerting:\n  presets:\n    backups: {enabled: true}\n")
    assert issue == (
        "buttress.yaml:3:24 alerting.presets.backups.enabled: no backup.targets to alert on"
    )


def test_a_degradation_level_past_the_last_is_an_error() -> None:
    text = HEALTH + "alerting:\n  presets:\n    buttress: {enabled: true, degradation: {level: 4}}"
    (issue,) = issues(text)
    assert "index 4 is past the last level (3: RED)" in issue


def test_config_check_exits_2_on_a_preset_naming_a_metric_that_does_not_exist(
    tmp_path: Path,
) -> None:
    (tmp_path / "buttress.yaml").write_text(
        "alerting:\n  presets:\n    buttress:\n      enabled: true\n"
        "    performance:\n      error_rate: {metric: buttress_requests_total}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", "buttress.yaml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "buttress.yaml:6:28 alerting.presets.performance.error_rate.metric: buttress exports no "
        "metric 'buttress_requests_total'"
    ) in done.stdout + done.stderr


# --- promtool check rules (fast: no unit tests run) ----------------------------------------


def test_promtool_lints_every_generated_rule_file_clean(tmp_path: Path) -> None:
    for file in presets.generate(config(EVERY_GROUP)):
        path = tmp_path / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
    rules = sorted((tmp_path / "presets").glob("*.rules.yml"))
    assert len(rules) == len(presets.GROUPS)
    result = tools.run(
        "promtool", ["check", "rules", "--lint=all", "--lint-fatal", *map(str, rules)]
    )
    assert result.ok, result.output
    assert result.output.count("SUCCESS") == len(rules)


# --- the docs ------------------------------------------------------------------------------

DOC = section("Preset alerts")


def test_the_docs_yaml_example_loads_and_generates_every_group() -> None:
    (example,) = re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL)
    files = presets.generate(config(example))
    assert [f.path for f in files if f.kind == "rules"] == [
        f"presets/{g}.rules.yml" for g in presets.GROUPS
    ]


def test_the_docs_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
    exec(compile(code, "docs/alerting.md", "exec"), {"__name__": "__docs__"})  # noqa: S102  # our own docs
    assert capsys.readouterr().out.splitlines() == [
        "rules presets/system.rules.yml",
        "rules-test presets/tests/system.test.yml",
        "    expr: up == 0",
    ]
