"""The incidents domain as a component: the ``incidents`` section and its tables; in the
control plane the Alertmanager webhook (``POST /api/v1/alerts/alertmanager``, which also keeps
the alerting domain's history) that turns notifications into incidents."""

from __future__ import annotations

from buttress.platform.component import Component, Contribution, ServerContext

__all__ = ["COMPONENT", "IncidentsComponent"]


class IncidentsComponent(Component):
    name = "incidents"
    section = "incidents"
    tables = "buttress.incidents.tables"

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.incidents.api import router as incidents
        from buttress.incidents.receiver import router as receiver

        return Contribution(
            routers=[receiver, incidents], state={"incidents_config": ctx.config.incidents}
        )


COMPONENT = IncidentsComponent()
