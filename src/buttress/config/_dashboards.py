"""Grafana dashboards (`alerting.dashboards`) and the Prometheus the SLO report reads
(`alerting.prometheus`)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["DashboardsConfig", "PrometheusConfig"]


class DashboardsConfig(Section):
    """Which Grafana dashboards are generated (filled in by the dashboards work)."""


class PrometheusConfig(Section):
    """The Prometheus that ``buttress slo report`` reads (filled in by the report work)."""
