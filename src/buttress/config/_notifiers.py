"""``incidents.notifiers:``: the channels incidents are sent on (reserved: accepts no keys
until the notifier work defines them)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["NotifiersConfig"]


class NotifiersConfig(Section):
    """Slack, email, PagerDuty, Teams and webhook channels."""
