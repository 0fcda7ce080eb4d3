"""The resilience domain as a component: its section is ``resilience``; it adds no command and,
so far, nothing to the control plane (its policies run in the application's process)."""

from __future__ import annotations

from buttress.platform.component import Component

__all__ = ["COMPONENT", "ResilienceComponent"]


class ResilienceComponent(Component):
    name = "resilience"
    section = "resilience"


COMPONENT = ResilienceComponent()
