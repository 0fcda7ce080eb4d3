"""Bad `alerting.dashboards` input: an error at the line of the field, naming what is wrong."""

from __future__ import annotations

import pytest

from buttress.config import ConfigError, load_text


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml", env={})
    return [str(i) for i in info.value.issues]


def test_defaults_enable_every_board() -> None:
    """With nothing said, all five boards, uid prefix buttress, data source Prometheus."""
    section = load_text("alerting: {}\n", env={}).alerting.dashboards
    assert section.enabled == ["slo-overview", "slo-detail", "backups", "resilience", "executive"]
    assert (section.uid_prefix, section.datasource, section.folder) == (
        "buttress",
        "Prometheus",
        "buttress",
    )


def test_an_unknown_board_lists_the_known_ones() -> None:
    assert issues("alerting:\n  dashboards:\n    enabled: [backups, slo]\n") == [
        "b.yaml:3:24 alerting.dashboards.enabled[1]: Input should be 'slo-overview', "
        "'slo-detail', 'backups', 'resilience' or 'executive' (got 'slo')"
    ]


def test_a_board_listed_twice_is_an_error() -> None:
    assert issues("alerting:\n  dashboards:\n    enabled: [backups, backups]\n") == [
        "b.yaml:3:14 alerting.dashboards.enabled: a dashboard is listed twice: backups"
    ]


def test_a_uid_prefix_grafana_would_refuse_is_an_error() -> None:
    """A uid holds letters, digits, - and _ (40 at most: the prefix gets 20)."""
    (problem,) = issues("alerting:\n  dashboards:\n    uid_prefix: my boards\n")
    assert problem.startswith("b.yaml:3:17 alerting.dashboards.uid_prefix: String should match")
    (problem,) = issues("alerting:\n  dashboards:\n    uid_prefix: " + "x" * 21 + "\n")
    assert "alerting.dashboards.uid_prefix" in problem


@pytest.mark.parametrize("value", ["0", "100.5", "-1"])
def test_an_sla_outside_0_100_is_an_error_at_its_service(value: str) -> None:
    assert issues(f"alerting:\n  dashboards:\n    sla:\n      web: 99\n      api: {value}\n") == [
        f"b.yaml:5:12 alerting.dashboards.sla.api: the SLA of 'api' is {value}: give a "
        "percentage above 0 and at most 100 (e.g. 99.5)"
    ]


def test_an_empty_data_source_name_is_an_error() -> None:
    (problem,) = issues("alerting:\n  dashboards:\n    datasource: ''\n")
    assert problem.startswith("b.yaml:3:17 alerting.dashboards.datasource:")
