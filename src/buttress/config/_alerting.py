"""``alerting:``: reserved for its domain; accepts no keys until the domain defines them."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["AlertingConfig"]


class AlertingConfig(Section):
    """SLOs and alert rules, generated for Prometheus, Alertmanager and Grafana."""
