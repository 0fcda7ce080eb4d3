"""The Grafana dashboards: valid JSON that the SDK's own model reads back unchanged, every
panel with a query through ${datasource}, every query naming only metrics buttress exports or
the SLO rules, uids unique and stable, and every query parsed by promtool."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from buttress import metric_names
from buttress.alerting import dashboards, generate, labels, tools
from buttress.config import ButtressConfig, ConfigError, load_text

CONFIG = """
alerting:
  slos:
    - name: checkout-availability
      service: checkout
      objective: 99.9
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{job="checkout", code=~"5.."}[$window]))
        total: sum(rate(http_requests_total{job="checkout"}[$window]))
    - name: checkout.latency
      service: checkout
      objective: 99
      sli: {kind: latency, metric: http_request_duration_seconds, threshold: 0.3}
    - name: search-up
      service: search
      objective: 99.5
      period: 7d
      sli: {kind: threshold, expr: 'up{job="search"}'}
  burn_tiers:
    - {name: page, kind: page, severity: critical, long_window: 90m, short_window: 5m, factor: 10}
  dashboards:
    sla: {checkout: 99.5}
"""

PROMQL_WORDS = {
    # aggregations, keywords and functions the boards use (followed by "(" or a keyword)
    "by", "on", "or", "and", "unless", "without", "group_left", "group_right", "ignoring",
    "bool", "offset",
}  # fmt: skip


def config(text: str = CONFIG) -> ButtressConfig:
    return load_text(text, env={})


def documents(cfg: ButtressConfig | None = None) -> dict[str, dict[str, Any]]:
    files = dashboards.generate(cfg or config())
    return {f.path: json.loads(f.content) for f in files}


def known_metrics() -> set[str]:
    """Every series name a board may read: buttress's metrics (with the suffixes
    prometheus_client adds), the SLO recording rules, and ALERTS."""
    names: set[str] = set()
    for value in vars(metric_names).values():
        if isinstance(value, str) and value.startswith(metric_names.PREFIX + "_"):
            names.update(value + s for s in ("", "_total", "_bucket", "_count", "_sum"))
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "90m"]
    names.update(labels.sli_error_rule(w) for w in windows)
    names.update(labels.sli_events_rule(w) for w in windows)
    for rule in (
        labels.OBJECTIVE_RULE,
        labels.ERROR_BUDGET_RULE,
        labels.PERIOD_DAYS_RULE,
        labels.CURRENT_BURN_RULE,
        labels.PERIOD_BURN_RULE,
        labels.BUDGET_REMAINING_RULE,
        labels.INFO_RULE,
    ):
        names.add(rule)
    names.add(dashboards.ALERTS_METRIC)
    return names


def metric_names_in(expr: str) -> set[str]:
    """The series names a PromQL expression reads: identifiers that are not in a string, a
    label matcher, a range, a by/on/without list or a function call."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    found = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        after = text[match.end() :].lstrip()
        if after.startswith("(") or name in PROMQL_WORDS:
            continue  # a function or an aggregation
        found.add(name)
    return found


def test_the_five_boards_are_written_as_dashboards_with_stable_unique_uids() -> None:
    """One `dashboards/<uid>.json` file per board, kind dashboard, uids <prefix>-<board>,
    identical from one run to the next."""
    first = dashboards.generate(config())
    assert [f.path for f in first] == [
        "dashboards/buttress-slo-overview.json",
        "dashboards/buttress-slo-detail.json",
        "dashboards/buttress-backups.json",
        "dashboards/buttress-resilience.json",
        "dashboards/buttress-executive.json",
    ]
    assert {f.kind for f in first} == {"dashboard"}
    uids = [json.loads(f.content)["uid"] for f in first]
    assert len(set(uids)) == len(uids)
    for f in first:
        assert f.path == f"dashboards/{json.loads(f.content)['uid']}.json"
    assert dashboards.generate(config()) == first


def test_the_whole_output_carries_the_dashboards() -> None:
    """`alerting.generate.generate` includes the boards (so `buttress alerts generate` writes
    them)."""
    paths = [f.path for f in generate.generate(config()) if f.kind == "dashboard"]
    assert "dashboards/buttress-backups.json" in paths


def test_the_sdk_model_reads_each_board_back_unchanged() -> None:
    """Importable without Grafana: Dashboard.from_json of the file, dumped again by the SDK,
    is the same document (nothing the model does not know, nothing lost)."""
    for path, document in documents().items():
        again = json.loads(json.dumps(Dashboard.from_json(document), cls=JSONEncoder))
        assert again == document, path


def test_every_panel_has_a_query_through_the_datasource_variable() -> None:
    """No panel without a query; every panel and query reads ${datasource}, which every board
    declares as a Prometheus data-source variable defaulting to the configured name."""
    for path, document in documents().items():
        (variable,) = [
            v for v in document["templating"]["list"] if v["name"] == dashboards.DATASOURCE_VARIABLE
        ]
        assert variable["type"] == "datasource"
        assert variable["query"] == "prometheus"
        assert variable["current"]["value"] == "Prometheus"
        panels = [p for p in document["panels"] if p["type"] != "row"]
        assert panels, path
        for panel in panels:
            assert panel["targets"], f"{path}: panel {panel['title']!r} has no query"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert ref_ids == [chr(ord("A") + i) for i in range(len(ref_ids))]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert target["expr"].strip()
        ids = [p["id"] for p in document["panels"]]
        assert len(set(ids)) == len(ids), f"{path}: panel ids repeat"


def test_every_query_names_only_exported_metrics_or_slo_rules() -> None:
    """A board never reads a series nobody writes: each name is in metric_names.py, one of
    the SLO recording rules of labels.py, or ALERTS."""
    known = known_metrics()
    seen: set[str] = set()
    for path, document in documents().items():
        for title, expr in dashboards.panel_queries(document):
            names = metric_names_in(expr)
            assert names, f"{path} {title!r}: no metric in {expr!r}"
            unknown = names - known
            assert not unknown, f"{path} {title!r}: {sorted(unknown)} in {expr!r}"
            seen |= names
    # the boards cover what the brief lists: burn, budget, alert state, backups, resilience
    for name in (
        labels.BUDGET_REMAINING_RULE,
        labels.CURRENT_BURN_RULE,
        labels.PERIOD_BURN_RULE,
        labels.sli_error_rule("90m"),  # the configured tier's window
        dashboards.ALERTS_METRIC,
        metric_names.BACKUP_LAST_SUCCESS,
        metric_names.BACKUP_LAST_VERIFIED,
        metric_names.BACKUP_LAST_SIZE,
        metric_names.BREAKER_STATE,
        metric_names.RESILIENCE_REJECTIONS + "_total",
        metric_names.RESILIENCE_RETRIES + "_total",
        metric_names.RATE_LIMITER_KEYS,
        metric_names.DEGRADATION_LEVEL,
        metric_names.FEATURE_ENABLED,
    ):
        assert name in seen, name


def test_the_metric_name_check_can_fail() -> None:
    """The extraction finds a misspelt series, so the check above is not vacuous."""
    found = metric_names_in('sum by (slo) (rate(buttress_backup_runz_total{a="b"}[5m])) or up')
    assert found == {"buttress_backup_runz_total", "up"}
    assert not found <= known_metrics()


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, is valid PromQL: promtool checks them
    as recording rules."""
    values = {
        "$__rate_interval": "5m",
        "$__range": "1d",
        "$slo": "checkout-availability",
        "$target": ".*",
        "$policy": ".*",
    }
    rules: list[dict[str, str]] = []
    for document in documents().values():
        for _, expr in dashboards.panel_queries(document):
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, expr
            rules.append({"record": f"dashboard:query_{len(rules)}", "expr": expr})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = tools.run("promtool", ["check", "rules", str(path)])
    assert result.ok, result.output
    assert f"SUCCESS: {len(rules)} rules found" in result.output


def test_slo_names_are_matched_exactly() -> None:
    """A `.` in an SLO name is escaped in the regex matchers, so `checkout.latency` does not
    also match `checkoutXlatency`."""
    overview = documents()["dashboards/buttress-slo-overview.json"]
    exprs = [expr for _, expr in dashboards.panel_queries(overview)]
    assert any('slo=~"checkout-availability|checkout\\\\.latency|search-up"' in e for e in exprs)


def test_the_slo_table_shows_ratios_as_percentages() -> None:
    """The overview's ratio columns are percentages, the burn rate a multiple."""
    overview = documents()["dashboards/buttress-slo-overview.json"]
    (table,) = [p for p in overview["panels"] if p["title"] == "SLOs"]
    units = {
        o["matcher"]["options"]: o["properties"][0]["value"]
        for o in table["fieldConfig"]["overrides"]
    }
    assert units["budget left"] == units["SLI (period)"] == "percentunit"
    assert units["burn rate (5m)"] == "x"
    renamed = table["transformations"][1]["options"]["renameByName"]
    assert set(units) <= set(renamed.values())


def test_the_detail_board_picks_one_slo_of_the_config() -> None:
    """The detail board has an $slo variable over the configured SLOs, the first selected,
    and charts the burn rate over every window the rules record (the tier's 90m too)."""
    detail = documents()["dashboards/buttress-slo-detail.json"]
    (slo,) = [v for v in detail["templating"]["list"] if v["name"] == "slo"]
    assert slo["query"] == "checkout-availability,checkout.latency,search-up"
    assert slo["current"]["value"] == "checkout-availability"
    (burn,) = [p for p in detail["panels"] if p["title"] == "Burn rate per window"]
    assert [t["legendFormat"] for t in burn["targets"]] == [
        "5m", "30m", "1h", "90m", "2h", "6h", "1d", "3d"
    ]  # fmt: skip


def test_the_executive_summary_holds_each_service_to_its_sla() -> None:
    """Per service, availability over the period with its SLA as the green threshold: the
    configured one (checkout 99.5) or the strictest objective (search 99.5 of its one SLO)."""
    executive = documents()["dashboards/buttress-executive.json"]
    panels = {p["title"]: p for p in executive["panels"]}
    checkout = panels["checkout: availability (SLA 99.5 %)"]
    steps = checkout["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"value": None, "color": "red"}, {"value": 0.995, "color": "green"}]
    search = panels["search: availability (SLA 99.5 %)"]
    assert 'service="search"' in search["targets"][0]["expr"]
    assert "checkout" not in search["targets"][0]["expr"]
    unset = documents(config(CONFIG.replace("sla: {checkout: 99.5}", "sla: {}")))
    titles = [p["title"] for p in unset["dashboards/buttress-executive.json"]["panels"]]
    assert "checkout: availability (SLA 99.9 %)" in titles  # the stricter of 99.9 and 99


def test_enabled_boards_prefix_and_datasource_are_configurable() -> None:
    """Only the enabled boards are written, under the uid prefix, with the data source the
    variable selects by default."""
    text = CONFIG.replace(
        "    sla: {checkout: 99.5}",
        "    sla: {checkout: 99.5}\n    enabled: [backups, slo-overview]\n"
        "    uid_prefix: shop\n    datasource: Mimir\n    folder: Operations",
    )
    docs = documents(config(text))
    assert list(docs) == ["dashboards/shop-slo-overview.json", "dashboards/shop-backups.json"]
    backups = docs["dashboards/shop-backups.json"]
    assert backups["templating"]["list"][0]["current"]["value"] == "Mimir"
    assert backups["tags"] == ["buttress", "Operations", "backups"]


def test_without_slos_only_the_buttress_boards_are_written() -> None:
    """The SLO boards need SLOs: with none, backups and resilience only (no empty board)."""
    assert list(documents(config("alerting: {}\n"))) == [
        "dashboards/buttress-backups.json",
        "dashboards/buttress-resilience.json",
    ]


def test_an_sla_for_an_unknown_service_is_refused() -> None:
    """An SLA naming no SLO's service (a typo) is an error at its line when the file is
    loaded (the validation step), not an ignored line."""
    from buttress.config_checks import register_domain_checks

    register_domain_checks()
    text = CONFIG.replace("sla: {checkout: 99.5}", "sla: {chekout: 99.5}")
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="buttress.yaml", env={})
    (issue,) = (str(i) for i in info.value.issues)
    assert re.fullmatch(
        r"buttress\.yaml:\d+:\d+ alerting\.dashboards\.sla\.chekout: no SLO of alerting\.slos "
        r"has the service 'chekout' \(known: checkout, search\)",
        issue,
    ), issue


@pytest.mark.parametrize(
    ("seconds", "name"),
    [(300, "5m"), (3600, "1h"), (5400, "90m"), (86400, "1d"), (2592000, "30d"), (45, "45s")],
)
def test_window_names(seconds: float, name: str) -> None:
    """A window's name in a rule uses the largest unit that divides it."""
    assert dashboards.window_name(seconds) == name


def test_a_fractional_window_has_no_rule_name() -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        dashboards.window_name(0.5)
