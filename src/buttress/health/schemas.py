"""What ``GET /api/v1/health`` answers and :meth:`HealthMonitor.snapshot` returns (pydantic
only, so the monitor stays light)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["CheckResultRead", "CheckView", "HealthRead", "HealthSnapshot"]

CheckStatus = Literal["up", "degraded", "down"]


class CheckResultRead(BaseModel):
    """One run of a check."""

    name: str
    status: CheckStatus
    latency_ms: float
    detail: str
    at: dt.datetime


class CheckView(BaseModel):
    """A check: its settings, its latest result, recent availability, history (oldest first)."""

    name: str
    kind: str = Field(description="The check's type: http, tcp, postgresql, ...")
    critical: bool = Field(description="Readiness needs it (not down).")
    weight: float
    interval: float = Field(description="Seconds between runs.")
    status: CheckStatus | Literal["unknown"] = Field(description="unknown: not run yet.")
    latency_ms: float | None
    detail: str
    checked_at: dt.datetime | None
    availability: float | None = Field(
        description="Mean of the last results (1 up, 0.5 degraded, 0 down); None: not run yet."
    )
    history: list[CheckResultRead]


class HealthSnapshot(BaseModel):
    """The health score, readiness, and every check."""

    score: float | None = Field(description="0-100; None until a check has run.")
    ready: bool = Field(description="Every critical check has run and is not down.")
    checks: list[CheckView]


class HealthRead(HealthSnapshot):
    """The snapshot, and whether degradation levels are configured."""

    degradation: bool = Field(description="False: GET /api/v1/level answers 404.")
