"""The incidents domain as a component: the ``incidents`` section, its tables and
``buttress incident``; in the control plane ``/api/v1/incidents`` and the Alertmanager webhook
(``POST /api/v1/alerts/alertmanager``, which also keeps the alerting domain's history) that
turns notifications into incidents."""

from __future__ import annotations

from collections.abc import Sequence

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

__all__ = ["COMPONENT", "IncidentsComponent"]


class IncidentsComponent(Component):
    name = "incidents"
    section = "incidents"
    tables = "buttress.incidents.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.incidents.cli import app

        return [CliGroup("incident", app)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.incidents.api import router as incidents
        from buttress.incidents.metrics import IncidentMetrics, OpenIncidents
        from buttress.incidents.postmortem_api import router as postmortems
        from buttress.incidents.receiver import router as receiver

        metrics = IncidentMetrics.create()
        return Contribution(
            routers=[receiver, postmortems, incidents],  # postmortems' /action-items first
            collectors=[OpenIncidents(ctx.catalog), metrics.mtta, metrics.mttr],
            state={"incidents_config": ctx.config.incidents, "incident_metrics": metrics},
        )


COMPONENT = IncidentsComponent()
