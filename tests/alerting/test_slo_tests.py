"""The generated promtool tests: they pass with the real promtool, say what the issue asks
(a fast burn pages within the documented time, half a burn and zero traffic never alert,
each tier fires on its own where the windows allow), and fail when a rule is wrong. The
latency and threshold SLIs' real rules meet synthetic series here too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from buttress.alerting import slo_tests, tools
from buttress.alerting.generate import GeneratedFile, generate
from buttress.alerting.slo import alert_rule, dump, plan, rule_file
from buttress.config import ButtressConfig, load_text


def config(*slos: dict[str, Any], **alerting: Any) -> ButtressConfig:
    return load_text(yaml.safe_dump({"alerting": {"slos": list(slos), **alerting}}))


def ratio_slo(name: str = "checkout", **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "service": "shop",
        "objective": "99.9",
        "sli": {
            "kind": "ratio",
            "errors": 'sum(rate(http_requests_total{code=~"5.."}[$window]))',
            "total": "sum(rate(http_requests_total[$window]))",
        },
        **more,
    }


def write(tmp_path: Path, files: list[GeneratedFile]) -> list[Path]:
    tests = []
    for f in files:
        path = tmp_path / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content)
        if f.kind == "rules-test":
            tests.append(path)
    return tests


def scenarios_of(cfg: ButtressConfig, index: int = 0) -> dict[str, slo_tests.Scenario]:
    p = plan(cfg.alerting.slos[index], cfg.alerting.burn_tiers)
    return {s.name: s for s in slo_tests.scenarios(p)}


def test_generated_tests_pass_with_promtool(tmp_path: Path) -> None:
    """Default tiers at 99.9 %, a 28-day 99.5 % SLO with min_events, custom tiers with for:
    every generated test file passes promtool test rules."""
    tiers = [
        {
            "name": "fast",
            "kind": "page",
            "severity": "critical",
            "long_window": "1h",
            "short_window": "5m",
            "factor": 10,
            "for": "10m",
        },
        {
            "name": "slow",
            "kind": "ticket",
            "severity": "warning",
            "long_window": "12h",
            "short_window": "1h",
            "factor": 2,
        },
    ]
    files = [
        *generate(
            config(ratio_slo(), ratio_slo("search", objective="99.5", period="28d", min_events=20))
        ),
        *(f for f in generate(config(ratio_slo("custom"), burn_tiers=tiers)) if "custom" in f.path),
    ]
    tests = write(tmp_path, files)
    assert len(tests) == 3
    result = tools.run("promtool", ["test", "rules", *(t.name for t in tests)], cwd=tests[0].parent)
    assert result.ok, result.output


def test_a_fast_burn_pages_within_the_documented_time() -> None:
    """2 % errors on a 99.9 % SLO: page-fast is quiet before 1h x 0.0144 / 0.02 = 43.2 min and
    fires within one evaluation (5 min) after it."""
    cfg = config(ratio_slo())
    p = plan(cfg.alerting.slos[0], cfg.alerting.burn_tiers)
    assert (
        slo_tests.detection_seconds(p.tiers[0], p.budget, slo_tests.FAST_BURN * p.budget) == 2592.0
    )
    (fast,) = [s for n, s in scenarios_of(cfg).items() if n.startswith("fast burn")]
    assert fast.name == "fast burn: 0.02 errors, page-fast fires"
    history = fast.segments[0][0]
    page = [(k, state) for k, name, state in fast.checks if name == "page-fast"]
    (quiet, q_state), (fire, f_state) = page
    assert (q_state, f_state) == ("quiet", "firing")
    assert (quiet - history) * 60 < 2592 <= (fire - history) * 60 <= 2592 + slo_tests.EVAL


def test_half_a_burn_and_zero_traffic_never_alert() -> None:
    """Every check of the half-burn and zero-traffic scenarios expects no alert, for every tier,
    every hour of the test."""
    scenarios = scenarios_of(config(ratio_slo()))
    for name in ("half burn: 0.0005 errors, no alert", "zero traffic: no alert"):  # 30 d: all >= 1x
        checks = scenarios[name].checks
        assert {state for _, _, state in checks} == {"quiet"}
        assert {tier for _, tier, _ in checks} == {
            "page-fast",
            "page-slow",
            "ticket-fast",
            "ticket-slow",
        }
        assert len({k for k, _, _ in checks}) >= 12  # every hour of 12 hours


def test_each_tier_fires_on_its_own_where_the_windows_allow() -> None:
    """Each default tier has a scenario where it fires; all others are quiet, except that
    ticket-fast (1d/2h at 3x) cannot fire without ticket-slow (3d/6h at 1x): a 2h burst of 3x
    is at least 1x over the 6h window."""
    scenarios = scenarios_of(config(ratio_slo()))
    for tier in ("page-fast", "page-slow", "ticket-fast", "ticket-slow"):
        states = {name: state for _, name, state in scenarios[f"tier {tier}"].checks}
        assert states.pop(tier) == "firing"
        if tier == "ticket-fast":
            assert states.pop("ticket-slow") == "firing"
        assert set(states.values()) == {"quiet"}, (tier, states)


def test_a_single_failed_request_does_not_page_with_min_events() -> None:
    """min_events: 10 adds a scenario where one request, failed, is all the traffic: quiet."""
    scenarios = scenarios_of(config(ratio_slo(min_events=10)))
    checks = scenarios["one failed request alone: no alert (min_events)"].checks
    assert {state for _, _, state in checks} == {"quiet"}
    assert "one failed request alone: no alert (min_events)" not in scenarios_of(
        config(ratio_slo())
    )


def test_the_generated_tests_fail_when_a_threshold_is_wrong(tmp_path: Path) -> None:
    """The same tests on rules whose page threshold is doubled fail: they test something."""
    files = generate(config(ratio_slo()))
    (test_file,) = write(tmp_path, files)
    fixture = test_file.parent / "checkout.fixture.yml"
    fixture.write_text(fixture.read_text().replace("> 0.0144", "> 0.0288"))
    result = tools.run("promtool", ["test", "rules", test_file.name], cwd=test_file.parent)
    assert not result.ok
    assert "SLOErrorBudgetBurnPageFast" in result.output


def _run_test(
    tmp_path: Path,
    cfg: ButtressConfig,
    series: list[dict[str, str]],
    checks: list[tuple[str, bool]],
    series_labels: dict[str, str] | None = None,
) -> None:
    p = plan(cfg.alerting.slos[0], cfg.alerting.burn_tiers)
    (tmp_path / "rules.yml").write_text(rule_file(p))
    page = p.tiers[0]
    rule = alert_rule(p, page)
    labels = {**rule["labels"], **(series_labels or {})}
    expected = {"exp_labels": labels, "exp_annotations": rule["annotations"]}
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": page.alert,
                        "exp_alerts": [expected] if firing else [],
                    }
                    for at, firing in checks
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(dump(test))
    result = tools.run("promtool", ["test", "rules", "test.yml"], cwd=tmp_path)
    assert result.ok, result.output


def test_a_latency_slo_pages_on_slow_requests(tmp_path: Path) -> None:
    """The real rules of a latency SLI: 1 request in 4 above 0.3 s for 10 minutes, after an
    hour of fast ones, pages (and not before)."""
    slo = ratio_slo("latency")
    slo["sli"] = {
        "kind": "latency",
        "metric": "http_request_duration_seconds",
        "threshold": 0.3,
        "selector": '{job="api"}',
    }
    series = [
        {
            "series": 'http_request_duration_seconds_bucket{job="api",le="0.3"}',
            "values": "0+4x60 243+3x20",
        },
        {"series": 'http_request_duration_seconds_bucket{job="api",le="+Inf"}', "values": "0+4x80"},
        {"series": 'http_request_duration_seconds_count{job="api"}', "values": "0+4x80"},
    ]
    _run_test(tmp_path, config(slo, burn_tiers=[_page()]), series, [("58m", False), ("70m", True)])


def test_a_threshold_slo_pages_when_the_probe_fails(tmp_path: Path) -> None:
    """The real rules of a threshold SLI: a probe failing for 10 minutes after an hour of
    success pages (and not before); the alert keeps the series' labels (one per series)."""
    slo = ratio_slo("probe")
    slo["sli"] = {"kind": "threshold", "expr": 'probe_success{job="web"}', "op": "==", "bound": 1}
    series = [{"series": 'probe_success{job="web"}', "values": "1x60 0x20"}]
    _run_test(
        tmp_path,
        config(slo, burn_tiers=[_page()]),
        series,
        [("58m", False), ("70m", True)],
        {"job": "web"},
    )


def _page() -> dict[str, Any]:
    return {
        "name": "page-fast",
        "kind": "page",
        "severity": "critical",
        "long_window": "1h",
        "short_window": "5m",
        "budget_consumed": "0.02",
    }


def test_half_a_burn_fires_the_tiers_below_half() -> None:
    """A 7-day period makes ticket-slow's factor 0.23: half a burn fires it (as it should), the
    scenario says so, and every other tier stays quiet."""
    scenarios = scenarios_of(config(ratio_slo(period="7d")))
    (half,) = [s for n, s in scenarios.items() if n.startswith("half burn")]
    assert half.name == "half burn: 0.0005 errors, only ticket-slow (factor below 0.5) fires"
    states = {(name, state) for _, name, state in half.checks}
    assert states == {
        ("page-fast", "quiet"),
        ("page-slow", "quiet"),
        ("ticket-fast", "quiet"),
        ("ticket-slow", "firing"),
    }
