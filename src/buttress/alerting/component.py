"""The alerting domain as a component: the ``alerting`` section, ``buttress alerts`` and
``buttress slo``."""

from __future__ import annotations

from collections.abc import Sequence

from buttress.platform.component import CliCommand, CliGroup, Component

__all__ = ["COMPONENT", "AlertingComponent"]


class AlertingComponent(Component):
    name = "alerting"
    section = "alerting"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.alerting.cli import app as alerts
        from buttress.alerting.slo_cli import app as slo

        return [CliGroup("alerts", alerts), CliGroup("slo", slo)]


COMPONENT = AlertingComponent()
