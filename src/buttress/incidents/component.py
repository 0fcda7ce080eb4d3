"""The incidents domain as a component: the ``incidents`` section, its tables,
``buttress incident`` and ``buttress oncall``; in the control plane ``/api/v1/incidents``,
``/api/v1/oncall`` and the Alertmanager webhook
(``POST /api/v1/alerts/alertmanager``, which also keeps the alerting domain's history) that
turns notifications into incidents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

if TYPE_CHECKING:
    from buttress.config import ButtressConfig

__all__ = ["COMPONENT", "IncidentsComponent"]


class IncidentsComponent(Component):
    name = "incidents"
    section = "incidents"
    tables = "buttress.incidents.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.incidents.cli import app
        from buttress.incidents.oncall_cli import app as oncall

        return [CliGroup("incident", app), CliGroup("oncall", oncall)]

    def config_warnings(self, config: ButtressConfig) -> Sequence[str]:
        """Stretches of the next 14 days when an on-call schedule has nobody on call."""
        if not config.incidents.oncall.schedules:
            return ()
        import datetime as dt

        from buttress.incidents.oncall import gap_warnings

        return gap_warnings(config.incidents.oncall, dt.datetime.now(dt.UTC))

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.incidents.api import router as incidents
        from buttress.incidents.metrics import IncidentMetrics, OpenIncidents
        from buttress.incidents.oncall_api import router as oncall
        from buttress.incidents.receiver import router as receiver

        metrics = IncidentMetrics.create()
        return Contribution(
            routers=[receiver, incidents, oncall],
            collectors=[OpenIncidents(ctx.catalog), metrics.mtta, metrics.mttr],
            state={"incidents_config": ctx.config.incidents, "incident_metrics": metrics},
        )


COMPONENT = IncidentsComponent()
