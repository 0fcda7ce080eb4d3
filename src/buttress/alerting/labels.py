"""The labels every generated alert carries: the contract between the rules (SLO burn-rate
alerts, presets) and the Alertmanager routing and inhibition that match on them.

- ``severity``: one of the severity tiers of ``alerting.alertmanager`` (``critical``,
  ``warning``, ``info`` by default); routing timing is chosen by it.
- ``service`` (always) and ``team`` (when the SLO or preset names one): the routing tree's
  branches.
- ``buttress_source``: ``slo`` for an SLO burn-rate alert, ``preset`` for a preset's.
- SLO alerts: ``slo`` (the SLO's name), ``tier`` (the burn tier's name, e.g. ``page-fast``),
  ``tier_kind`` (``page`` or ``ticket``: an SLO's page inhibits its tickets), ``long_window``
  and ``short_window`` (the window pair that fired, e.g. ``1h`` and ``5m``).
- Preset alerts: ``preset`` (the preset group, e.g. ``backups``), and the labels of the series
  they are computed from (``target`` for backups, ``policy`` for breakers, ``job`` and
  ``instance`` for scraped targets: a ``TargetDown`` inhibits the alerts with its ``job`` and
  ``instance``).
"""

from __future__ import annotations

__all__ = [
    "BUDGET_REMAINING_RULE",
    "CURRENT_BURN_RULE",
    "ERROR_BUDGET_RULE",
    "INFO_RULE",
    "LONG_WINDOW",
    "OBJECTIVE_RULE",
    "PERIOD_BURN_RULE",
    "PERIOD_DAYS_RULE",
    "PRESET",
    "SERVICE",
    "SEVERITY",
    "SHORT_WINDOW",
    "SLO",
    "SOURCE",
    "SOURCE_PRESET",
    "SOURCE_SLO",
    "TARGET_DOWN_ALERT",
    "TEAM",
    "TIER",
    "TIER_KIND",
    "sli_error_rule",
    "sli_events_rule",
]

SEVERITY = "severity"
SERVICE = "service"
TEAM = "team"
SOURCE = "buttress_source"
SOURCE_SLO = "slo"
SOURCE_PRESET = "preset"
SLO = "slo"
TIER = "tier"
TIER_KIND = "tier_kind"
LONG_WINDOW = "long_window"
SHORT_WINDOW = "short_window"
PRESET = "preset"
TARGET_DOWN_ALERT = "TargetDown"
"""The alert name of the system-health preset for a scrape target that is down."""


# The recording rules of an SLO (one scheme, documented in docs/alerting.md; the dashboards and
# `buttress slo report` read these). Every series carries the labels ``slo`` and ``service``
# (and ``team`` and the SLO's own labels). Windows are Prometheus durations: 5m, 30m, 1h, 2h,
# 6h, 1d, 3d, and the period (e.g. 30d).


def sli_error_rule(window: str) -> str:
    """The SLI's error ratio (bad / total) over ``window``: ``slo:sli_error:ratio_rate5m``."""
    return f"slo:sli_error:ratio_rate{window}"


def sli_events_rule(window: str) -> str:
    """Events per second over ``window`` (what the low-traffic guard compares with
    ``min_events``): ``slo:sli_events:rate5m``."""
    return f"slo:sli_events:rate{window}"


OBJECTIVE_RULE = "slo:objective:ratio"  # e.g. 0.999
ERROR_BUDGET_RULE = "slo:error_budget:ratio"  # 1 - objective, e.g. 0.001
PERIOD_DAYS_RULE = "slo:time_period:days"  # e.g. 30
CURRENT_BURN_RULE = "slo:current_burn_rate:ratio"  # error ratio over 5m / error budget
PERIOD_BURN_RULE = "slo:period_burn_rate:ratio"  # error ratio over the period / error budget
BUDGET_REMAINING_RULE = "slo:period_error_budget_remaining:ratio"  # 1 - period burn rate
INFO_RULE = "buttress_slo_info"  # 1, with the SLO's description-free metadata as labels
