"""Degradation levels, the controller that moves between them, manual overrides, feature flags
and limits per level (:mod:`buttress.flags` is the short import), the OpenFeature provider,
load-shedding middleware and the level shared by a fleet through Redis.

It reads the health score of :mod:`buttress.health` as one of its triggers; health knows
nothing of levels. Like ``buttress.health`` this package stays light: importing it pulls in no
server, database or Redis client (checked by ``tests/test_imports.py``).
"""

from __future__ import annotations

from buttress.degradation.levels import Level, Levels, LevelState, Override, Prediction, Trigger

__all__ = ["Level", "LevelState", "Levels", "Override", "Prediction", "Trigger"]
