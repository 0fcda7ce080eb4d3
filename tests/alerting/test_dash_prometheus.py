"""Every dashboard query answers with data from a real Prometheus that holds the series the
boards name, labelled as buttress and the SLO rules label them: a wrong label in a `by`,
an `on` that matches nothing or a filter that drops everything leaves a panel empty, and
fails here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from buttress import metric_names as m
from buttress.alerting import dashboards, labels
from buttress.config import ButtressConfig, load_text
from tests.alerting.test_report_prometheus import running_prometheus

END = (int(time.time()) // 3600) * 3600 - 3600  # a whole hour, an hour ago
STEP = 60
TIMES = [END - 2 * 3600 + STEP * k for k in range(1, 2 * 3600 // STEP + 1)]  # 2 h of samples

CONFIG = """
alerting:
  slos:
    - name: checkout
      service: shop
      objective: 99.9
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
        total: sum(rate(http_requests_total[$window]))
    - name: search.latency
      service: search
      objective: 99
      sli: {kind: latency, metric: http_request_duration_seconds, threshold: 0.25}
"""

# the series the exporters write, with the labels metric_names.py documents
GAUGES: dict[str, list[dict[str, str]]] = {
    m.BACKUP_LAST_SUCCESS: [{"target": "db"}],
    m.BACKUP_LAST_DURATION: [{"target": "db"}],
    m.BACKUP_LAST_SIZE: [{"target": "db", "kind": "raw"}, {"target": "db", "kind": "stored"}],
    m.BACKUP_LAST_VERIFIED: [{"target": "db", "check": "checksum"}],
    m.BREAKER_STATE: [{"policy": "pay", "state": "open"}, {"policy": "pay", "state": "closed"}],
    m.BULKHEAD_ACTIVE: [{"policy": "pay"}],
    m.BULKHEAD_QUEUED: [{"policy": "pay"}],
    m.RATE_LIMITER_KEYS: [{"policy": "pay"}],
    m.STATE_STORE_MODE: [{"policy": "pay", "mode": "fallback"}],
    m.HEALTH_SCORE: [{}],
    m.DEGRADATION_LEVEL: [{}],
    m.DEGRADATION_LEVEL_INFO: [{"level": "YELLOW", "automatic": "true"}],
    m.DEGRADATION_OVERRIDE: [{}],
    m.FEATURE_ENABLED: [{"feature": "search"}],
}
COUNTERS: dict[str, list[dict[str, str]]] = {
    m.BACKUP_RUNS: [{"target": "db", "status": "succeeded", "trigger": "schedule"}],
    m.BACKUP_FAILURES: [{"target": "db"}],
    m.BACKUP_VERIFICATIONS: [{"target": "db", "check": "checksum", "result": "ok"}],
    m.RESILIENCE_CALLS: [{"policy": "pay", "outcome": "success"}],
    m.RESILIENCE_REJECTIONS: [{"policy": "pay", "kind": "circuit_open"}],
    m.RESILIENCE_RETRIES: [{"policy": "pay"}],
    m.RESILIENCE_RETRY_GIVE_UPS: [{"policy": "pay", "reason": "attempts"}],
    m.RESILIENCE_TIMEOUTS: [{"policy": "pay"}],
    m.RESILIENCE_FALLBACKS: [{"policy": "pay"}],
    m.BREAKER_TRANSITIONS: [{"policy": "pay", "from_state": "closed", "to_state": "open"}],
    m.STATE_STORE_ERRORS: [{"policy": "pay"}],
}
# gauges that are 1 for the current state: only those rows are 1
ONE_HOT = {m.BREAKER_STATE: {"open"}, m.STATE_STORE_MODE: {"fallback"}}


def _labels(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items()) + "}" if pairs else ""


def _value(name: str, pairs: dict[str, str]) -> float:
    if name in ONE_HOT:
        return 1.0 if pairs.get("state", pairs.get("mode")) in ONE_HOT[name] else 0.0
    if name == m.BACKUP_LAST_SUCCESS:
        return float(END - 1800)
    if name in (m.BACKUP_LAST_VERIFIED, m.DEGRADATION_LEVEL_INFO, m.FEATURE_ENABLED):
        return 1.0
    return 3.0


def history(config: ButtressConfig) -> str:
    """Two hours of every series the boards read, ending at END."""
    lines: list[str] = []
    windows = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    slo_series: dict[str, float] = {
        labels.OBJECTIVE_RULE: 0.999,
        labels.ERROR_BUDGET_RULE: 0.001,
        labels.PERIOD_DAYS_RULE: 30,
        labels.CURRENT_BURN_RULE: 2.0,
        labels.PERIOD_BURN_RULE: 0.5,
        labels.BUDGET_REMAINING_RULE: 0.5,
        **{labels.sli_error_rule(w): 0.002 for w in windows},
        **{labels.sli_events_rule(w): 10.0 for w in windows},
    }
    for name, value in slo_series.items():
        lines.append(f"# TYPE {name} gauge")
        for slo in config.alerting.slos:
            selector = _labels({"slo": slo.name, "service": slo.service})
            lines += [f"{name}{selector} {value} {t}" for t in TIMES]
    lines.append(f"# TYPE {dashboards.ALERTS_METRIC} gauge")
    alert = {
        "alertname": "SLOBurnRate",
        "alertstate": "firing",
        labels.SOURCE: labels.SOURCE_SLO,
        labels.SLO: "checkout",
        labels.SERVICE: "shop",
        labels.TIER: "page-fast",
        labels.TIER_KIND: "page",
        labels.SEVERITY: "critical",
        labels.LONG_WINDOW: "1h",
        labels.SHORT_WINDOW: "5m",
    }
    lines += [f"{dashboards.ALERTS_METRIC}{_labels(alert)} 1 {t}" for t in TIMES]
    for name, series in GAUGES.items():
        lines.append(f"# TYPE {name} gauge")
        for pairs in series:
            lines += [f"{name}{_labels(pairs)} {_value(name, pairs)} {t}" for t in TIMES]
    for name, series in COUNTERS.items():
        lines.append(f"# TYPE {name} counter")
        for pairs in series:
            lines += [f"{name}_total{_labels(pairs)} {k * 5} {t}" for k, t in enumerate(TIMES)]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = load_text(CONFIG, env={})
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), history(config)) as url:
        yield url


VARIABLES = {
    "$__rate_interval": "5m",
    "$__range": "1h",
    "$slo": "checkout",  # the SLO with an alert firing
    "$target": ".*",
    "$policy": ".*",
}


def test_every_panel_query_has_data(prometheus: str, tmp_path: Path) -> None:
    """Each query of each board, Grafana's variables filled in, returns at least one series
    at END."""
    config = load_text(CONFIG, env={})
    empty: list[str] = []
    checked = 0
    with httpx.Client(base_url=prometheus, timeout=10) as client:
        for file in dashboards.generate(config):
            data = json.loads(file.content)
            for title, expr in dashboards.panel_queries(data):
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                answer = client.post("/api/v1/query", data={"query": expr, "time": str(END)})
                body = answer.json()
                assert body["status"] == "success", (title, expr, body)
                checked += 1
                if not body["data"]["result"]:
                    empty.append(f"{data['uid']} {title!r}: {expr}")
    assert not empty, "\n".join(empty)
    assert checked > 50


def test_the_slo_table_has_one_row_per_slo(prometheus: str) -> None:
    """The overview's joined queries each give one series per SLO (labels slo and service),
    so Grafana's merge makes one row per SLO; an SLO without firing alerts shows 0."""
    config = load_text(CONFIG, env={})
    (overview,) = [
        json.loads(f.content)
        for f in dashboards.generate(config)
        if f.path == "dashboards/buttress-slo-overview.json"
    ]
    queries = [e for t, e in dashboards.panel_queries(overview) if t == "SLOs"]
    assert len(queries) == 6
    with httpx.Client(base_url=prometheus, timeout=10) as client:
        for expr in queries:
            result = client.post("/api/v1/query", data={"query": expr, "time": str(END)}).json()[
                "data"
            ]["result"]
            assert sorted((r["metric"]["slo"], r["metric"]["service"]) for r in result) == [
                ("checkout", "shop"),
                ("search.latency", "search"),
            ], expr
        alerts = client.post("/api/v1/query", data={"query": queries[-1], "time": str(END)}).json()[
            "data"
        ]["result"]
    firing = {r["metric"]["slo"]: float(r["value"][1]) for r in alerts}
    assert firing == {"checkout": 1.0, "search.latency": 0.0}
