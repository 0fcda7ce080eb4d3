"""The generated promtool unit tests of the presets pass on the generated rules, and fail when
a rule is broken: each alert fires on its synthetic failure and stays quiet on healthy series
(slow: runs promtool on every group, a week of samples for the order volume)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from buttress.alerting import presets, tools
from buttress.config import ButtressConfig
from tests.alerting.test_presets import BACKUP, EVERY_GROUP, HEALTH, config

TUNED = (
    BACKUP.replace('"0 */6 * * 1-5"', '"0 4 * * 0"')  # weekly
    + HEALTH
    + """
alerting:
  alertmanager:  # a tier of one's own, for the tuned severity below
    severities:
      - {name: page, group_wait: 10s, group_interval: 5m, repeat_interval: 1h}
      - {name: critical, group_wait: 10s, group_interval: 5m, repeat_interval: 1h}
      - {name: warning, group_wait: 1m, group_interval: 5m, repeat_interval: 4h}
      - {name: info, group_wait: 5m, group_interval: 5m, repeat_interval: 12h}
  presets:
    service: shop
    system:
      enabled: true
      match: {env: prod}
      target_down: {for: 1m, severity: page}
      database_unreachable: {source: exporters, kinds: [mariadb], mariadb_metric: mariadb_up}
      pod_restarting: {restarts: 0, window: 10m, for: 2m}
    performance:
      enabled: true
      resources: process
      cores: 4
      memory_limit_bytes: 4000000000
      latency: {bound: 0.3, quantile: 0.9, by: [route], for: 3m}
      error_rate: {errors_match: {code: "5..|429"}, errors_sample: {code: "429"}, by: [job]}
      cpu: {bound: 0.5}
      memory_warning: {bound: 0.7}
    security:
      enabled: true
      failed_logins: {metric: login_failures_total, per_minute: 20, by: []}
      rate_limit_surge: {kind: rate_limited, min_rate: 5, factor: 2, baseline: 2h, by: [policy]}
    business:
      enabled: true
      order_volume: {metric: orders_total, compare_to: 1d, drop: 0.3, window: 1h, by: [shop]}
      payments_failed_metric: payments_failed_total
      payments_total_metric: payments_total
      payments_window: 10m
      payments_by: [provider]
      payment_failures_critical: {bound: 0.1}
    backups:
      enabled: true
      targets: [site, manual]
      stale: {max_age: {manual: 2h}, factor: 2}
      size_drop: {ratio: 0.25, kind: raw, for: 1h}
    buttress:
      enabled: true
      degradation: {level: 2, for: 30s}
      health_score: {bound: 80}
      breaker_open: {for: 10m}
"""
)

EDGES = (
    BACKUP.replace('"0 3 * * *"', '"*/30 * * * *"')
    + """
alerting:
  presets:
    system:
      enabled: true
      pod_restarting: {restarts: 50, window: 5m}
      database_unreachable: {for: 0s}
    performance:
      enabled: true
      latency: {quantile: 0.999, bound: 0.005, by: []}
      error_rate: {bound: 0.9}
      cpu: {bound: 0.99, window: 2m}
      memory_warning: {bound: 0.98}
      memory_critical: {bound: 0.99}
    security:
      enabled: true
      failed_logins: {metric: logins_failed_total, per_minute: 0.5}
      rate_limit_surge: {min_rate: 0, factor: 10, baseline: 3h}
    business:
      enabled: true
      order_volume: {metric: orders_total, drop: 0.95, compare_to: 1d, window: 10m, for: 0s}
      payments_failed_metric: payments_failed_total
      payments_total_metric: payments_total
      payment_failures_warning: {bound: 0.9}
      payment_failures_critical: {bound: 0.99}
    backups: {enabled: true, size_drop: {ratio: 0.9}}
    buttress:
      enabled: true
      health_score: {bound: 100}
      degradation: {level: 3}
      breaker_open: {for: 0s}
"""
)


def _write(cfg: ButtressConfig, out: Path) -> list[str]:
    groups = []
    for file in presets.generate(cfg):
        path = out / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
        if file.kind == "rules":
            groups.append(path.name.removesuffix(".rules.yml"))
    return groups


def _failed(output: str) -> set[str]:
    return set(re.findall(r"^\s*name: (.*),$", output, re.MULTILINE))


def _names(out: Path, group: str) -> list[str]:
    body = yaml.safe_load((out / "presets" / "tests" / f"{group}.test.yml").read_text())
    return [test["name"] for test in body["tests"]]


@pytest.mark.parametrize("text", [EVERY_GROUP, TUNED, EDGES], ids=["defaults", "tuned", "edges"])
def test_the_generated_tests_pass(tmp_path: Path, text: str) -> None:
    groups = _write(config(text), tmp_path)
    assert groups == list(presets.GROUPS)
    rules = [str(tmp_path / "presets" / f"{g}.rules.yml") for g in groups]
    lint = tools.run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", *rules])
    assert lint.ok, lint.output
    for group in groups:
        names = _names(tmp_path, group)
        assert len(names) == len(set(names))  # every test is told apart in promtool's output
        result = tools.run(
            "promtool", ["test", "rules", str(tmp_path / "presets" / "tests" / f"{group}.test.yml")]
        )
        assert result.ok, f"{group}:\n{result.output}"


@pytest.mark.parametrize("group", presets.GROUPS)
def test_the_generated_tests_catch_a_broken_rule(tmp_path: Path, group: str) -> None:
    _write(config(EVERY_GROUP), tmp_path)
    path = tmp_path / "presets" / f"{group}.rules.yml"
    test = str(tmp_path / "presets" / "tests" / f"{group}.test.yml")
    good = yaml.safe_load(path.read_text())
    names = _names(tmp_path, group)
    firing = {n for n in names if " fires: " in n}
    healthy = set(names) - firing
    assert firing
    assert len(firing) == len(healthy)

    def mutated(expr: str) -> str:
        body = yaml.safe_load(yaml.safe_dump(good))
        for rule in body["groups"][0]["rules"]:
            rule["expr"] = expr
        path.write_text(yaml.safe_dump(body, sort_keys=False))
        result = tools.run("promtool", ["test", "rules", test])
        assert not result.ok
        return result.output

    assert _failed(mutated("vector(1) > 1")) == firing  # never fires: every firing test fails
    assert healthy <= _failed(mutated("vector(1)"))  # always fires: every healthy test fails
