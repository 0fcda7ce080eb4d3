"""``incidents:``: reserved for its domain; accepts no keys until the domain defines them."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["IncidentsConfig"]


class IncidentsConfig(Section):
    """Incident management, escalation and on-call."""
