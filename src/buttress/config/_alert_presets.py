"""The preset alert groups (`alerting.presets`)."""

from __future__ import annotations

from buttress.config._base import Section

__all__ = ["PresetsConfig"]


class PresetsConfig(Section):
    """Which preset alert groups are switched on, and their tuning (filled in by the presets
    work)."""
