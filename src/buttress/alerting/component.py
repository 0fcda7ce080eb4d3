"""The alerting domain as a component: the ``alerting`` section, ``buttress alerts`` and
``buttress slo``; in the control plane the alert history (``GET /api/v1/alerts/history``,
table ``alert_notifications``) and the counter of what the webhook received (the webhook
route itself is the incidents component's, :mod:`buttress.incidents.receiver`)."""

from __future__ import annotations

from collections.abc import Sequence

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

__all__ = ["COMPONENT", "AlertingComponent"]


class AlertingComponent(Component):
    name = "alerting"
    section = "alerting"
    tables = "buttress.alerting.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.alerting.cli import app as alerts
        from buttress.alerting.slo_cli import app as slo

        return [CliGroup("alerts", alerts), CliGroup("slo", slo)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.alerting.api import notifications_counter, router

        counter = notifications_counter()
        return Contribution(
            routers=[router], collectors=[counter], state={"alert_notifications": counter}
        )


COMPONENT = AlertingComponent()
