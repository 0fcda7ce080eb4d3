"""The resilience domain as a component: its section is ``resilience``; in the control plane
``/api/v1/resilience`` (the configured policies with their effective settings and live state,
breakers forced or reset by operators). The policies themselves run in the application's
process."""

from __future__ import annotations

from buttress.platform.component import Component, Contribution, ServerContext

__all__ = ["COMPONENT", "ResilienceComponent"]


class ResilienceComponent(Component):
    name = "resilience"
    section = "resilience"

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress.resilience.api import router

        return Contribution(routers=[router], dashboard="/api/v1/resilience/policies")


COMPONENT = ResilienceComponent()
