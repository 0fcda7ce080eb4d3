"""``alerting:``: SLOs and alerts as code, generated for Prometheus, Alertmanager and Grafana.

The section is made of parts, each in its own module: the SLOs and the burn-rate alert tiers
(:mod:`._slo`), the preset alert groups (:mod:`._alert_presets`), the Alertmanager routing
(:mod:`._alertmanager`), the Grafana dashboards and the Prometheus the report reads
(:mod:`._dashboards`). Cross-references between the parts (a route's receiver, an inhibition's
tier) are checked here, where every part is known.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from buttress.config._alert_presets import PresetAlertConfig, PresetGroupConfig, PresetsConfig
from buttress.config._alertmanager import AlertmanagerConfig
from buttress.config._base import Section, raise_at
from buttress.config._dashboards import DashboardsConfig, PrometheusConfig
from buttress.config._slo import DEFAULT_BURN_TIERS, BurnTierConfig, SLOConfig

__all__ = ["AlertingConfig"]


class AlertingConfig(Section):
    """SLOs and alert rules, generated for Prometheus, Alertmanager and Grafana."""

    slos: list[SLOConfig] = Field(
        default_factory=list, description="Service level objectives, one per SLI."
    )
    burn_tiers: list[BurnTierConfig] = Field(
        default_factory=lambda: list(DEFAULT_BURN_TIERS),
        description=(
            "The multi-window, multi-burn-rate alert tiers every SLO gets (default: the SRE "
            "workbook's two pages and two tickets)."
        ),
    )
    presets: PresetsConfig = Field(default_factory=PresetsConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    dashboards: DashboardsConfig = Field(default_factory=DashboardsConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)

    @model_validator(mode="after")
    def _severity_references(self) -> AlertingConfig:
        """A burn tier's severity, and every preset alert's, is one of the Alertmanager
        severity tiers (checked for the preset groups switched on)."""
        tiers = self.alertmanager.tier_names
        used: list[tuple[tuple[str | int, ...], str]] = [
            (("burn_tiers", i, "severity"), tier.severity) for i, tier in enumerate(self.burn_tiers)
        ]
        for group_name, group in self.presets:
            if not isinstance(group, PresetGroupConfig) or not group.enabled:
                continue
            for alert_name, alert in group:
                if isinstance(alert, PresetAlertConfig) and alert.enabled:
                    used.append((("presets", group_name, alert_name, "severity"), alert.severity))
        raise_at(
            "AlertingConfig",
            [
                (
                    where,
                    f"unknown severity tier {severity!r} (alerting.alertmanager.severities: "
                    f"{', '.join(tiers)})",
                )
                for where, severity in used
                if severity not in tiers
            ],
        )
        return self
