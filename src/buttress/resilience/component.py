"""The resilience domain as a component: its section is ``resilience``; in the control plane
``/api/v1/resilience`` (the configured policies with their effective settings and live state,
breakers forced or reset by operators) and, in ``/metrics``, the state gauges of those
policies as the control plane sees them (breaker state, bulkhead depth, limiter keys, store
mode) and the counters of their events. The policies themselves run in the application's
process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from buttress.platform.component import Component, Contribution, ServerContext

if TYPE_CHECKING:
    from buttress.resilience.registry import PolicyRegistry

__all__ = ["COMPONENT", "REGISTRY", "ResilienceComponent", "server_registry"]

REGISTRY = "resilience.registry"
"""The key under which the control plane's :class:`~buttress.resilience.registry.PolicyRegistry`
(the one its API shows and forces) is provided, when policies are configured."""


class ResilienceComponent(Component):
    name = "resilience"
    section = "resilience"

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.resilience.api import router

        if not ctx.config.resilience.policies:
            return Contribution(routers=[router], dashboard="/api/v1/resilience/policies")

        from buttress.resilience.instrumentation.prometheus import PrometheusMetrics
        from buttress.resilience.registry import UnknownPolicyError, current, for_config

        # the registry the API shows and forces is the one the metrics report (built now,
        # not at the first request: a breaker forced open is exported from then on)
        registry = for_config(ctx.config)
        ctx.provide(REGISTRY, registry)  # what else acts on these breakers (incident actions)
        metrics = PrometheusMetrics(ctx.registry)
        for name in registry.names():
            try:
                metrics.track(registry.get(name))
            except UnknownPolicyError:  # every kind disabled: nothing to report (the API says so)
                continue

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            metrics.install()
            try:
                yield
            finally:
                metrics.uninstall()

        return Contribution(
            routers=[router],
            lifespan=lifespan,
            state={"resilience": registry, "resilience_own": registry is not current()},
            dashboard="/api/v1/resilience/policies",
        )


COMPONENT = ResilienceComponent()


def server_registry(ctx: ServerContext) -> PolicyRegistry:
    """The control plane's resilience registry (the one its API forces: what incident
    actions and runbook steps act on), else (no policies configured: nothing to force) one
    of the configuration's."""
    from buttress.resilience.registry import PolicyRegistry, for_config

    try:
        return ctx.require(REGISTRY, PolicyRegistry)
    except LookupError:
        return for_config(ctx.config)
