"""The SLO rule generator: rule names, windows, exact factors and thresholds, the label
contract, the low-traffic guard, each SLI kind's PromQL, and promtool accepting the output."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from buttress.alerting import labels as L
from buttress.alerting import promql, tools
from buttress.alerting.generate import generate
from buttress.alerting.slo import plan, rule_file
from buttress.config import ButtressConfig, load_text


def config(*slos: dict[str, Any], **alerting: Any) -> ButtressConfig:
    return load_text(yaml.safe_dump({"alerting": {"slos": list(slos), **alerting}}))


def ratio_slo(name: str = "checkout", **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "service": "shop",
        "team": "payments",
        "objective": "99.9",
        "sli": {
            "kind": "ratio",
            "errors": 'sum(rate(http_requests_total{code=~"5.."}[$window]))',
            "total": "sum(rate(http_requests_total[$window]))",
        },
        **more,
    }


def rules_of(cfg: ButtressConfig, index: int = 0) -> list[dict[str, Any]]:
    p = plan(cfg.alerting.slos[index], cfg.alerting.burn_tiers)
    document = yaml.safe_load(rule_file(p))
    (group,) = document["groups"]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def alerts_of(cfg: ButtressConfig) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rules_of(cfg) if "alert" in r}


def test_the_default_tiers_give_the_workbook_factors_exactly() -> None:
    """30 days and the default tiers: 14.4, 6, 3 and 1, thresholds without float noise."""
    cfg = config(ratio_slo())
    p = plan(cfg.alerting.slos[0], cfg.alerting.burn_tiers)
    assert [(t.name, promql.decimal(t.factor)) for t in p.tiers] == [
        ("page-fast", "14.4"),
        ("page-slow", "6"),
        ("ticket-fast", "3"),
        ("ticket-slow", "1"),
    ]
    assert [promql.decimal(p.threshold(t)) for t in p.tiers] == [
        "0.0144",
        "0.006",
        "0.003",
        "0.001",
    ]
    expr = alerts_of(cfg)["SLOErrorBudgetBurnPageFast"]["expr"]
    assert 'slo:sli_error:ratio_rate1h{slo="checkout"} > 0.0144' in expr
    assert 'slo:sli_error:ratio_rate5m{slo="checkout"} > 0.0144' in expr


def test_factors_follow_the_period_by_the_formula() -> None:
    """budget_consumed x period / long window, exactly: 2 % over 1h of 28 days is 13.44."""
    cfg = config(ratio_slo(period="4w", objective="99.95"))
    p = plan(cfg.alerting.slos[0], cfg.alerting.burn_tiers)
    assert [promql.decimal(t.factor) for t in p.tiers] == [
        "13.44",
        "5.6",
        "2.8",
        "0.9333333333333333333333333333",
    ]
    assert promql.decimal(p.objective) == "0.9995"
    assert promql.decimal(p.budget) == "0.0005"
    assert promql.decimal(p.threshold(p.tiers[0])) == "0.00672"


def test_objectives_render_exactly() -> None:
    """The metadata rules carry the objective and budget as written: no 0.0009999999999999432."""
    cfg = config(ratio_slo(objective="99.99"))
    by_record = {r["record"]: r for r in rules_of(cfg) if "record" in r}
    assert by_record[L.OBJECTIVE_RULE]["expr"] == "vector(0.9999)"
    assert by_record[L.ERROR_BUDGET_RULE]["expr"] == "vector(0.0001)"
    assert by_record[L.PERIOD_DAYS_RULE]["expr"] == "vector(30)"
    assert (
        by_record[L.CURRENT_BURN_RULE]["expr"]
        == 'slo:sli_error:ratio_rate5m{slo="checkout"} / 0.0001'
    )
    assert (
        by_record[L.PERIOD_BURN_RULE]["expr"]
        == 'slo:sli_error:ratio_rate30d{slo="checkout"} / 0.0001'
    )
    assert (
        by_record[L.BUDGET_REMAINING_RULE]["expr"] == f'1 - {L.PERIOD_BURN_RULE}{{slo="checkout"}}'
    )
    assert by_record[L.INFO_RULE]["labels"]["objective"] == "99.99"


def test_windows_are_those_of_the_enabled_tiers_plus_5m_and_the_period() -> None:
    """A tier switched off, or not chosen by the SLO, adds no recording rule."""
    tiers = [
        {
            "name": "page",
            "kind": "page",
            "severity": "critical",
            "long_window": "1h",
            "short_window": "5m",
            "factor": 14.4,
        },
        {
            "name": "slow",
            "kind": "ticket",
            "severity": "warning",
            "long_window": "3d",
            "short_window": "6h",
            "factor": 1,
        },
        {
            "name": "off",
            "kind": "ticket",
            "severity": "warning",
            "long_window": "2d",
            "short_window": "4h",
            "factor": 1,
            "enabled": False,
        },
        {
            "name": "other",
            "kind": "ticket",
            "severity": "warning",
            "long_window": "1d",
            "short_window": "2h",
            "factor": 3,
        },
    ]
    cfg = config(ratio_slo(burn_tiers=["page", "slow", "off"]), burn_tiers=tiers)
    records = [r["record"] for r in rules_of(cfg) if "record" in r]
    errors = [r for r in records if r.startswith("slo:sli_error:")]
    assert errors == [L.sli_error_rule(w) for w in ("5m", "1h", "6h", "3d", "30d")]
    assert [r for r in records if r.startswith("slo:sli_events:")] == [
        L.sli_events_rule(w) for w in ("5m", "1h", "3d")
    ]
    assert sorted(alerts_of(cfg)) == ["SLOErrorBudgetBurnPage", "SLOErrorBudgetBurnSlow"]


def test_every_alert_carries_the_label_contract() -> None:
    """severity, service, team, slo, tier, tier_kind, the window pair, buttress_source, and
    the tier's and the SLO's own labels; annotations from the links."""
    tiers = [
        {
            "name": "page-fast",
            "kind": "page",
            "severity": "critical",
            "long_window": "1h",
            "short_window": "5m",
            "budget_consumed": "0.02",
            "labels": {"escalate": "yes"},
            "for": "2m",
        },
    ]
    cfg = config(
        ratio_slo(
            labels={"env": "prod"},
            links={"runbook": "https://r.example/c", "dashboard": "https://g.example/d"},
        ),
        burn_tiers=tiers,
    )
    alert = alerts_of(cfg)["SLOErrorBudgetBurnPageFast"]
    assert alert["labels"] == {
        L.SLO: "checkout",
        L.SERVICE: "shop",
        L.TEAM: "payments",
        "env": "prod",
        "escalate": "yes",
        L.SEVERITY: "critical",
        L.TIER: "page-fast",
        L.TIER_KIND: "page",
        L.LONG_WINDOW: "1h",
        L.SHORT_WINDOW: "5m",
        L.SOURCE: L.SOURCE_SLO,
    }
    assert alert["for"] == "2m"
    assert alert["annotations"]["runbook_url"] == "https://r.example/c"
    assert alert["annotations"]["dashboard_url"] == "https://g.example/d"
    assert "14.4" in alert["annotations"]["summary"]
    assert "2.1 days" in alert["annotations"]["description"]
    for rule in rules_of(cfg):
        if "record" in rule:
            assert {L.SLO, L.SERVICE, L.TEAM, "env"} <= set(rule["labels"])


def test_the_low_traffic_guard_needs_min_events_over_the_long_window() -> None:
    """min_events: 0 still needs events (never none); min_events: 50 needs 50 over the window."""
    assert (
        'slo:sli_events:rate1h{slo="checkout"} * 3600 >= 0.001'
        in alerts_of(config(ratio_slo()))["SLOErrorBudgetBurnPageFast"]["expr"]
    )
    guarded = alerts_of(config(ratio_slo(min_events=50)))
    assert guarded["SLOErrorBudgetBurnTicketSlow"]["expr"].endswith(
        'slo:sli_events:rate3d{slo="checkout"} * 259200 >= 50'
    )


def test_a_ratio_of_good_events_is_one_minus_good_over_total() -> None:
    """good/total: the error ratio is 1 - good/total, $window replaced by each window."""
    slo = ratio_slo()
    slo["sli"] = {
        "kind": "ratio",
        "good": "sum(rate(ok_total[$window]))",
        "total": "sum(rate(all_total[$window]))",
    }
    rule = next(r for r in rules_of(config(slo)) if r.get("record") == L.sli_error_rule("6h"))
    assert (
        rule["expr"] == "1 - (\n  (sum(rate(ok_total[6h])))\n  /\n  (sum(rate(all_total[6h])))\n)"
    )


def test_a_latency_sli_reads_the_bucket_at_its_threshold() -> None:
    """The bucket's le as client libraries write it, the selector kept, rate over the window."""
    slo = ratio_slo()
    slo["sli"] = {
        "kind": "latency",
        "metric": "http_request_duration_seconds",
        "threshold": 0.3,
        "selector": '{job="api"}',
    }
    rule = next(r for r in rules_of(config(slo)) if r.get("record") == L.sli_error_rule("1h"))
    assert 'http_request_duration_seconds_bucket{job="api",le="0.3"}[1h]' in rule["expr"]
    assert 'sum(rate(http_request_duration_seconds_count{job="api"}[1h]))' in rule["expr"]
    slo["sli"] = {"kind": "latency", "metric": "h", "threshold": 1}
    rule = next(r for r in rules_of(config(slo)) if r.get("record") == L.sli_error_rule("1h"))
    assert r'h_bucket{le=~"1|1\\.0"}[1h]' in rule["expr"]  # Go writes 1, Python 1.0


def test_a_threshold_sli_averages_the_bound_over_a_subquery() -> None:
    """1 - avg_over_time((expr op bool bound)[w:1m]); events are the subquery's samples."""
    slo = ratio_slo()
    slo["sli"] = {"kind": "threshold", "expr": 'up{job="api"}', "op": ">=", "bound": 1}
    rules = {r["record"]: r for r in rules_of(config(slo)) if "record" in r}
    assert (
        rules[L.sli_error_rule("30m")]["expr"]
        == '1 - avg_over_time((up{job="api"} >= bool 1.0)[30m:1m])'
    )
    assert (
        rules[L.sli_events_rule("1h")]["expr"] == 'count_over_time((up{job="api"})[1h:1m]) / 3600'
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (5400, "90m"), (3600, "1h"), (86400 * 28, "28d"), (90, "90s")],
)
def test_windows_are_named_in_their_largest_whole_unit(seconds: int, text: str) -> None:
    """Durations in the rule names: never weeks, never a fraction."""
    assert promql.duration(seconds) == text


def test_decimals_never_use_an_exponent() -> None:
    """Decimal('1E+2') is 100, Decimal('0.00010') is 0.0001."""
    assert [promql.decimal(Decimal(x)) for x in ("1E+2", "0.00010", "14.40", "0")] == [
        "100",
        "0.0001",
        "14.4",
        "0",
    ]


def test_promtool_accepts_every_kind_with_lint_fatal(tmp_path: Path) -> None:
    """The rule files of a ratio, a latency and a threshold SLO pass promtool check rules
    --lint=all --lint-fatal."""
    latency = ratio_slo("latency")
    latency["sli"] = {"kind": "latency", "metric": "h", "threshold": 0.25, "selector": '{job="a"}'}
    threshold = ratio_slo("probe", min_events=3)
    threshold["sli"] = {"kind": "threshold", "expr": "probe_success", "op": "==", "bound": 1}
    files = [f for f in generate(config(ratio_slo(), latency, threshold)) if f.kind == "rules"]
    paths = []
    for f in files:
        path = tmp_path / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content)
        paths.append(str(path))
    result = tools.run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", *paths])
    assert result.ok, result.output
    assert len(paths) == 6  # each SLO's rules and its test fixture


def test_an_slo_with_no_tier_records_but_does_not_alert() -> None:
    """burn_tiers: [] gives the recording and metadata rules and no alert, and no test file."""
    cfg = config(ratio_slo(burn_tiers=[]))
    assert alerts_of(cfg) == {}
    assert [f.kind for f in generate(cfg) if f.path.startswith("slo/")] == ["rules"]


@given(
    objective=st.decimals(min_value="99.5", max_value="99.999", places=3),
    days=st.integers(min_value=3, max_value=90),
)
def test_thresholds_are_exact_for_any_objective_and_period(objective: Decimal, days: int) -> None:
    """Any objective and period: budget = 1 - objective/100, factor = budget consumed x period
    / long window and threshold = factor x budget exactly, written without an exponent."""
    cfg = config(ratio_slo(objective=str(objective), period=f"{days}d"))
    p = plan(cfg.alerting.slos[0], cfg.alerting.burn_tiers)
    assert p.budget == 1 - objective / 100
    consumed = {t.name: t.budget_consumed or Decimal(0) for t in cfg.alerting.burn_tiers}
    alerts = [r for r in rules_of(cfg) if "alert" in r]
    for tier, alert in zip(p.tiers, alerts, strict=True):
        assert tier.factor == consumed[tier.name] * days * 86400 / tier.long
        text = promql.decimal(p.threshold(tier))
        assert "E" not in text
        assert Decimal(text) == p.threshold(tier)
        assert f"> {text}\n" in alert["expr"]


def test_a_failed_write_leaves_the_previous_output(tmp_path: Path) -> None:
    """A file that cannot be written (its directory is a file) fails the write: the previous
    output is untouched and no temporary directory is left beside it."""
    from buttress.alerting import slo_output
    from buttress.alerting.generate import GeneratedFile

    out = tmp_path / "out"
    slo_output.write(out, [GeneratedFile("a.yml", "rules", "groups: []\n")])
    broken = [GeneratedFile("x", "rules", "1\n"), GeneratedFile("x/y.yml", "rules", "2\n")]
    with pytest.raises(FileExistsError):
        slo_output.write(out, broken)
    assert (out / "a.yml").read_text() == "groups: []\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
