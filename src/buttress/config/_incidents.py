"""``incidents:``: incident management, on-call and notification channels."""

from __future__ import annotations

from pydantic import Field

from buttress.config._base import Section
from buttress.config._notifiers import NotifiersConfig
from buttress.config._oncall import OnCallConfig

__all__ = ["IncidentsConfig"]


class IncidentsConfig(Section):
    """Incident management, escalation and on-call."""

    oncall: OnCallConfig = Field(
        default_factory=OnCallConfig, description="Users, teams and on-call schedules."
    )
    notifiers: NotifiersConfig = Field(
        default_factory=NotifiersConfig, description="The channels incidents are sent on."
    )
