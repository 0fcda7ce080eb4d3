"""The shared-state domain as a component: the ``state`` section and ``buttress state``."""

from __future__ import annotations

from collections.abc import Sequence

from buttress.platform.component import CliCommand, CliGroup, Component

__all__ = ["COMPONENT", "StateComponent"]


class StateComponent(Component):
    name = "state"
    section = "state"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.state.cli import app

        return [CliGroup("state", app)]


COMPONENT = StateComponent()
