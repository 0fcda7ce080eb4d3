"""``drills:``: reserved for its domain; accepts no keys until the domain defines them."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["DrillsConfig"]


class DrillsConfig(Section):
    """Disaster-recovery drills, chaos experiments and load profiles."""
