"""What ``/api/v1/level`` and ``/api/v1/flags`` answer and
:meth:`DegradationController.snapshot` returns (pydantic only)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from buttress.platform.schemas import JsonObject

__all__ = [
    "FlagsRead",
    "LevelRead",
    "LevelSnapshot",
    "OverrideCleared",
    "OverrideHeld",
    "OverrideRead",
    "OverrideSet",
    "RecoveryRead",
]


class OverrideHeld(BaseModel):
    """The override in force."""

    level: str
    reason: str
    actor: str
    expires_in: float = Field(description="Seconds left.")
    expires_at: float = Field(description="When it ends (Unix time, seconds).")


class RecoveryRead(BaseModel):
    """When a trigger that holds is expected to clear, from its metric's trend."""

    trigger: str
    seconds: float | None = Field(description="None: the trend supports no estimate.")
    why: str


class LevelSnapshot(BaseModel):
    """The level in force and why, the override, the metrics, features, limits, recovery."""

    level: str = Field(description="The level in force (the override's, if one holds).")
    index: int = Field(description="Its position in levels (0: normal).")
    automatic: str = Field(description="The level the triggers alone give.")
    levels: list[str] = Field(description="Every level, from normal up.")
    reasons: list[str] = Field(description="The triggers that hold (or the fleet's level).")
    since: float = Field(description="When the level in force was entered (Unix time).")
    fleet: str | None = Field(description="The fleet's level through Redis, if shared.")
    override: OverrideHeld | None
    metrics: dict[str, float | None] = Field(description="The metrics last read, by name.")
    features: dict[str, bool] = Field(description="Each declared feature: on at this level.")
    limits: JsonObject = Field(description="The limits in force (values as configured).")
    recovery: list[RecoveryRead]


class OverrideRead(BaseModel):
    """An override as the catalog keeps it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    level: str
    reason: str
    actor: str
    created_at: dt.datetime
    expires_at: dt.datetime
    cleared_at: dt.datetime | None
    cleared_by: str


class LevelRead(LevelSnapshot):
    """The snapshot, and the recent overrides (newest first)."""

    override_history: list[OverrideRead]


class OverrideSet(BaseModel):
    """The override just set, and the level in force now."""

    override: OverrideRead
    level: str


class OverrideCleared(BaseModel):
    """The overrides just ended, and the level in force now."""

    cleared: list[OverrideRead]
    level: str


class FlagsRead(BaseModel):
    """Every feature (on/off) and limit at the level in force."""

    level: str
    features: dict[str, bool]
    limits: JsonObject = Field(description="The limits in force (values as configured).")
