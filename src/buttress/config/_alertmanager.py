"""Alertmanager routing, receivers, inhibition and maintenance windows (`alerting.alertmanager`)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["AlertmanagerConfig"]


class AlertmanagerConfig(Section):
    """Severity tiers, routes, receivers, inhibition, maintenance windows (filled in by the
    Alertmanager work)."""
