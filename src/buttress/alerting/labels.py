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
    "LONG_WINDOW",
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
