"""The runbooks domain as a component: the ``runbooks`` section, its tables
(``runbook_runs``, ``runbook_steps``), ``buttress runbook``; in the control plane
``/api/v1/runbooks`` (runs started there run in a thread of the server) and the dashboard's
"Runbooks" page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

log = logging.getLogger("buttress.runbooks")

__all__ = ["COMPONENT", "RunbooksComponent"]


class RunbooksComponent(Component):
    name = "runbooks"
    section = "runbooks"
    tables = "buttress.runbooks.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.runbooks.cli import app

        return [CliGroup("runbook", app)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.resilience.component import server_registry
        from buttress.runbooks.api import router
        from buttress.runbooks.runs import Runbooks, engine_factory

        # breaker.force steps act on the breakers the control plane's own API forces
        policies = lambda: server_registry(ctx)  # noqa: E731  # a late lookup
        engine = engine_factory(ctx.config, ctx.catalog, policies)
        service = Runbooks(ctx.config, ctx.catalog, engine)

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            from buttress.runbooks._command import kill_running

            try:
                yield
            finally:  # the server stops: no step process outlives the runs it belongs to
                if killed := kill_running():
                    log.warning("stopped %d running runbook step process(es)", killed)

        return Contribution(
            routers=[router],
            lifespan=lifespan,
            state={"runbooks": service},
            dashboard="/api/v1/runbooks",
        )


COMPONENT = RunbooksComponent()
