"""Bad SLO input: each mistake is reported at its buttress.yaml line and field, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run, cli

__all__ = ["cli"]

GOOD_SLI = """\
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
        total: sum(rate(http_requests_total[$window]))
"""


def slo(name: str = "checkout", extra: str = "", sli: str = GOOD_SLI) -> str:
    return f"    - name: {name}\n      service: shop\n      objective: 99.9\n{extra}{sli}"


def problems(cli: Run, tmp_path: Path, text: str, *command: str) -> list[str]:
    (tmp_path / "b.yaml").write_text(text)
    result = cli(*(command or ("config", "check")), "b.yaml") if not command else cli(*command)
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    return [line.strip() for line in result.err.splitlines()[1:]]


def test_an_objective_of_100_or_more_is_refused(cli: Run, tmp_path: Path) -> None:
    """objective: 100 -> an error at the objective's line."""
    text = "alerting:\n  slos:\n" + slo().replace("objective: 99.9", "objective: 100")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith("b.yaml:5:18 alerting.slos[0].objective: objective is a percentage")


def test_an_objective_of_0_or_less_is_refused(cli: Run, tmp_path: Path) -> None:
    """objective: 0 -> an error at the objective's line."""
    text = "alerting:\n  slos:\n" + slo().replace("objective: 99.9", "objective: -1")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith("b.yaml:5:18 alerting.slos[0].objective:")


def test_a_period_not_in_whole_days_is_refused(cli: Run, tmp_path: Path) -> None:
    """period: 36h -> whole days or weeks only."""
    text = "alerting:\n  slos:\n" + slo(extra="      period: 36h\n")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith("b.yaml:6:15 alerting.slos[0].period: period is a whole number of days")


def test_a_period_shorter_than_the_longest_window_is_refused(cli: Run, tmp_path: Path) -> None:
    """period: 2d with the default 3d ticket tier -> an error at period naming the tier."""
    text = "alerting:\n  slos:\n" + slo(extra="      period: 2d\n")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith(
        "b.yaml:6:15 alerting.slos[0].period: the period 2d is shorter than the long window 3d "
        "of burn tier 'ticket-slow'"
    )


def test_a_short_period_is_fine_without_the_long_tier(cli: Run, tmp_path: Path) -> None:
    """period: 2d with burn_tiers leaving the 3d tier out is valid."""
    text = "alerting:\n  slos:\n" + slo(
        extra="      period: 2d\n      burn_tiers: [page-fast, ticket-fast]\n"
    )
    (tmp_path / "b.yaml").write_text(text)
    assert cli("config", "check", "b.yaml").code == 0


def test_two_slos_with_one_name_are_refused(cli: Run, tmp_path: Path) -> None:
    """The second SLO's name is the error."""
    text = "alerting:\n  slos:\n" + slo() + slo()
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith("b.yaml:10:13 alerting.slos[1].name: two SLOs are named 'checkout'")


def test_an_unknown_burn_tier_is_refused(cli: Run, tmp_path: Path) -> None:
    """burn_tiers: [page-fast, pager] -> an error at the unknown name, listing the known."""
    text = "alerting:\n  slos:\n" + slo(extra="      burn_tiers: [page-fast, pager]\n")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith(
        "b.yaml:6:31 alerting.slos[0].burn_tiers[1]: no burn tier is named 'pager'"
    )
    assert "page-fast, page-slow, ticket-fast, ticket-slow" in line


@pytest.mark.parametrize("both", [True, False])
def test_a_ratio_sli_needs_errors_or_good_not_both(cli: Run, tmp_path: Path, both: bool) -> None:
    """errors and good together, or neither -> an error at the SLI."""
    sli = (
        GOOD_SLI.replace(
            "        total:", "        good: sum(rate(ok_total[$window]))\n        total:"
        )
        if both
        else "      sli:\n        kind: ratio\n        total: sum(rate(x[$window]))\n"
    )
    (line,) = problems(cli, tmp_path, "alerting:\n  slos:\n" + slo(sli=sli))
    assert "alerting.slos[0].sli" in line
    assert ("not both" if both else "not neither") in line


def test_a_ratio_query_without_window_is_refused(cli: Run, tmp_path: Path) -> None:
    """A query with a fixed range instead of $window -> an error at that query."""
    sli = GOOD_SLI.replace("[$window]))\n        total", "[5m]))\n        total")
    (line,) = problems(cli, tmp_path, "alerting:\n  slos:\n" + slo(sli=sli))
    assert line.startswith("b.yaml:8:17 alerting.slos[0].sli.errors: the query has no $window")


def test_promql_that_does_not_parse_is_placed_at_the_slo(cli: Run, tmp_path: Path) -> None:
    """config check runs promtool: its message, at the SLO's field and line."""
    sli = GOOD_SLI.replace("[$window]))\n        total", "[$window])\n        total")
    (line,) = problems(cli, tmp_path, "alerting:\n  slos:\n" + slo(sli=sli))
    assert line.startswith(
        "b.yaml:8:17 alerting.slos[0].sli.errors: promtool says: could not parse expression: "
    )
    assert "unclosed left parenthesis" in line


def test_alerts_check_places_promql_problems_too(cli: Run, tmp_path: Path) -> None:
    """buttress alerts check: the same placement, exit 2, for a threshold SLI's expr."""
    sli = '      sli: {kind: threshold, expr: "up{job=}"}\n'
    (tmp_path / "b.yaml").write_text("alerting:\n  slos:\n" + slo(sli=sli))
    result = cli("alerts", "check", "--config", "b.yaml")
    assert result.code == 2
    assert (
        "b.yaml:6:36 alerting.slos[0].sli.expr: promtool says: could not parse expression"
        in result.err
    )


def test_a_tier_no_error_ratio_can_reach_is_refused(cli: Run, tmp_path: Path) -> None:
    """A 90 % SLO with the 14.4x page: its threshold 1.44 is above 1, the alert could never fire."""
    text = "alerting:\n  slos:\n" + slo().replace("objective: 99.9", "objective: 90")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith(
        "b.yaml:5:18 alerting.slos[0].objective: burn tier 'page-fast' fires above"
    )
    assert "14.4 x 0.1 = 1.44" in line


def test_a_tier_needs_factor_or_budget_consumed(cli: Run, tmp_path: Path) -> None:
    """A tier with neither -> an error at the tier; short_window >= long_window too."""
    text = (
        "alerting:\n  burn_tiers:\n"
        "    - {name: p, kind: page, severity: critical, long_window: 1h, short_window: 2h}\n"
    )
    lines = problems(cli, tmp_path, text)
    assert any(
        "alerting.burn_tiers[0]: a burn tier takes factor or budget_consumed, not neither" in x
        for x in lines
    )
    assert any(
        "alerting.burn_tiers[0].short_window: short_window must be shorter" in x for x in lines
    )


def test_labels_the_generator_sets_are_refused(cli: Run, tmp_path: Path) -> None:
    """An SLO label named severity would fight the tier's: an error at labels."""
    text = "alerting:\n  slos:\n" + slo(extra="      labels: {severity: low}\n")
    (line,) = problems(cli, tmp_path, text)
    assert line.startswith(
        "b.yaml:6:15 alerting.slos[0].labels: label 'severity' is set by the generator"
    )
