"""Alerts link to buttress runbooks by name: a preset's ``runbook`` and an SLO's
``links.runbook`` naming a runbook become the ``runbook_url`` annotation pointing at that
runbook's dashboard page; a name no runbook has, or a name without ``incidents.public_url``,
is an error at its file and line; a URL stays as written."""

from __future__ import annotations

import pytest
import yaml

from buttress.alerting import presets
from buttress.alerting.slo import plans, rule_file
from buttress.config import ConfigError, load_text
from buttress.config_checks import register_domain_checks

RUNBOOKS = """\
runbooks:
  definitions:
    - name: restore-orders
      steps: [{name: go, command: {argv: ["true"]}}]
"""
PRESET = """\
backup:
  targets: [{name: db, source: postgresql, dsn: 'postgresql://u@h/d', schedule: '0 3 * * *'}]
alerting:
  presets:
    backups:
      enabled: true
      stale: {runbook: RUNBOOK}
"""
SLO = """\
alerting:
  slos:
    - name: checkout
      service: shop
      objective: 99.9
      sli: {kind: ratio, errors: 'sum(rate(e[$window]))', total: 'sum(rate(t[$window]))'}
      links: {runbook: RUNBOOK, dashboard: 'https://grafana.example/d/1'}
"""
PUBLIC = "incidents: {public_url: 'https://buttress.example'}\n"


def _load(text: str):  # type: ignore[no-untyped-def]
    register_domain_checks()
    return load_text(text, filename="buttress.yaml", env={})


def test_a_preset_alert_links_its_runbook_page_by_name() -> None:
    """`runbook: restore-orders` is the runbook's page at the control plane's address."""
    config = _load(RUNBOOKS + PUBLIC + PRESET.replace("RUNBOOK", "restore-orders"))
    rules = [r for r in presets.group_rules(config, "backups")[0] if r.alert == "BackupTooOld"]
    (stale,) = rules
    assert stale.rule()["annotations"]["runbook_url"] == (
        "https://buttress.example/#/runbooks?name=restore-orders"
    )


def test_an_slo_links_its_runbook_page_by_name_and_keeps_urls() -> None:
    """links.runbook by name becomes runbook_url; links.dashboard (a URL) is kept as is."""
    config = _load(RUNBOOKS + PUBLIC + SLO.replace("RUNBOOK", "restore-orders"))
    document = yaml.safe_load(rule_file(plans(config)[0]))
    alerts = [r for r in document["groups"][0]["rules"] if "alert" in r]
    assert alerts
    for alert in alerts:
        notes = alert["annotations"]
        assert notes["runbook_url"] == "https://buttress.example/#/runbooks?name=restore-orders"
        assert notes["dashboard_url"] == "https://grafana.example/d/1"


@pytest.mark.parametrize("template", [PRESET, SLO])
def test_an_unknown_runbook_name_is_an_error_with_a_suggestion(template: str) -> None:
    """A name no runbook has: the error is at the line that names it, with a close name."""
    with pytest.raises(ConfigError) as caught:
        _load(RUNBOOKS + PUBLIC + template.replace("RUNBOOK", "restore-order"))
    (issue,) = caught.value.issues
    assert "no runbook 'restore-order' (did you mean 'restore-orders'?)" in str(issue)
    line = next(
        n
        for n, text in enumerate((RUNBOOKS + PUBLIC + template).splitlines(), 1)
        if "RUNBOOK" in text
    )
    assert issue.line == line


def test_a_runbook_name_needs_the_public_url() -> None:
    """Without incidents.public_url a runbook's page has no address: said, with the fix."""
    with pytest.raises(ConfigError) as caught:
        _load(RUNBOOKS + SLO.replace("RUNBOOK", "restore-orders"))
    assert "set incidents.public_url" in str(caught.value)


def test_a_url_is_kept_as_written() -> None:
    """A URL needs neither a runbook nor the public URL."""
    config = _load(SLO.replace("RUNBOOK", "'https://wiki.example/checkout'"))
    document = yaml.safe_load(rule_file(plans(config)[0]))
    alert = next(r for r in document["groups"][0]["rules"] if "alert" in r)
    assert alert["annotations"]["runbook_url"] == "https://wiki.example/checkout"
