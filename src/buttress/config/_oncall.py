"""``incidents.oncall:``: users, teams and on-call schedules (reserved: accepts no keys until
the on-call work defines them)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["OnCallConfig"]


class OnCallConfig(Section):
    """Who can be notified, and who is on call when."""
