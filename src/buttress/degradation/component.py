"""The degradation domain as a component: its section is ``health.degradation`` (in the
``health`` section of buttress.yaml); ``buttress level`` and ``buttress flags``; in the control
plane the controller (when levels are configured) fed by the health monitor, its collector and
``/api/v1/level``, ``/api/v1/flags``; its table is ``level_overrides``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

__all__ = ["COMPONENT", "DegradationComponent"]


class DegradationComponent(Component):
    name = "degradation"
    section = "health.degradation"
    tables = "buttress.degradation.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.degradation.cli import flags_app, level_app

        return [CliGroup("level", level_app), CliGroup("flags", flags_app)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.degradation.api import router

        if ctx.config.health.degradation is None:  # the routes answer 404 and say what to add
            return Contribution(routers=[router], state={"degradation": None})

        from buttress.degradation.embed import controller_from_config
        from buttress.degradation.metrics import LevelCollector
        from buttress.health.component import MONITOR
        from buttress.health.monitor import HealthMonitor

        # it follows the overrides kept in the catalog, so that the CLI and every replica agree
        controller = controller_from_config(
            ctx.config, ctx.require(MONITOR, HealthMonitor), ctx.catalog
        )

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            controller.start()
            try:
                yield
            finally:
                await controller.stop()
                controller.close()  # its hooks' subscriptions to LevelChanged

        return Contribution(
            routers=[router],
            collectors=[LevelCollector(controller)],
            lifespan=lifespan,
            state={"degradation": controller},
            dashboard="/api/v1/level",
        )


COMPONENT = DegradationComponent()
