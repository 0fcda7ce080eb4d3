"""The health domain as a component: ``buttress health``; in the control plane the monitor that
runs the checks of ``health.checks`` (provided to later components as ``health.monitor``), its
collector, ``GET /api/v1/health`` and the critical checks in ``/readyz``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

__all__ = ["COMPONENT", "MONITOR", "HealthComponent"]

MONITOR = "health.monitor"
"""The key under which the running :class:`~buttress.health.monitor.HealthMonitor` is provided."""


class HealthComponent(Component):
    name = "health"
    section = "health"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.health.cli import health

        return [CliCommand("health", health)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.health.api import router
        from buttress.health.build import build_checks
        from buttress.health.metrics import HealthCollector
        from buttress.health.monitor import HealthMonitor
        from buttress.platform.schemas import Readiness

        config = ctx.config.health
        monitor = HealthMonitor(
            build_checks(config, ctx.config.base_dir), history=config.history, window=config.window
        )
        ctx.provide(MONITOR, monitor)

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            monitor.start()
            try:
                yield
            finally:
                await monitor.stop()

        def readiness() -> Mapping[str, Readiness]:
            return {
                check.name: Readiness(
                    ok=check.status in ("up", "degraded"), status=check.status, detail=check.detail
                )
                for check in monitor.snapshot().checks
                if check.critical
            }

        return Contribution(
            routers=[router],
            collectors=[HealthCollector(monitor)],
            lifespan=lifespan,
            readiness=readiness,
            state={"health": monitor},
            dashboard="/api/v1/health",
        )


COMPONENT = HealthComponent()
