"""The incidents domain as a component: the ``incidents`` section, its tables,
``buttress incident`` and ``buttress oncall``; in the control plane ``/api/v1/incidents``,
``/api/v1/oncall`` and the Alertmanager webhook
(``POST /api/v1/alerts/alertmanager``, which also keeps the alerting domain's history) that
turns notifications into incidents; the public status page (``/status``)."""

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
        from buttress.incidents.actions import Actions
        from buttress.incidents.actions_api import router as actions_router
        from buttress.incidents.api import router as incidents
        from buttress.incidents.escalation import SWEEP_HANDLER, Escalations
        from buttress.incidents.metrics import IncidentMetrics, OpenIncidents
        from buttress.incidents.notify import Dispatcher
        from buttress.incidents.notify.metrics import NotifyMetrics
        from buttress.incidents.oncall_api import router as oncall
        from buttress.incidents.postmortem_api import router as postmortems
        from buttress.incidents.receiver import router as receiver
        from buttress.incidents.status_component import status_page
        from buttress.incidents.wake import HANDLER
        from buttress.jobs import Every, Job
        from buttress.jobs.component import JOB_RUNNER
        from buttress.jobs.runner import JobRunner
        from buttress.resilience.component import server_registry

        metrics = IncidentMetrics.create()
        page_routers, page_state = status_page(ctx)
        notify_metrics = NotifyMetrics.create(None)
        # one dispatcher per process: each channel's breaker and retry budget live in it
        dispatcher = Dispatcher.from_config(ctx.config, metrics=notify_metrics)
        actions = Actions(ctx.catalog, ctx.config, policies=lambda: server_registry(ctx))
        escalations = Escalations(
            ctx.catalog,
            ctx.config.incidents,
            dispatcher.send_sync,
            on_breach=lambda severity, target: metrics.breaches.labels(severity, target).inc(),
            on_escalate=lambda severity, kind: metrics.escalations.labels(severity, kind).inc(),
            after_step=actions.after_step,  # automated actions, on the same timer
        )
        # the escalation timers run on the leader only, once, and survive restarts
        runner = ctx.require(JOB_RUNNER, JobRunner)
        runner.handler(HANDLER, escalations.run)
        # a replica killed mid-step takes that incident's timer with it: a sweep sets it again
        runner.handler(SWEEP_HANDLER, escalations.sweep)
        runner.register(Job("incidents:escalation-sweep", Every(60), SWEEP_HANDLER))
        return Contribution(
            # postmortems' /action-items before incidents' /{ref}
            routers=[receiver, postmortems, incidents, oncall, *page_routers, actions_router],
            collectors=[
                OpenIncidents(ctx.catalog),
                metrics.mtta,
                metrics.mttr,
                metrics.escalations,
                metrics.breaches,
                notify_metrics.notifications,
            ],
            state={
                "incidents_config": ctx.config.incidents,
                "incident_metrics": metrics,
                "incident_dispatcher": dispatcher,
                "incident_escalations": escalations,
                **page_state,
                "incident_actions": actions,
            },
        )


COMPONENT = IncidentsComponent()
