"""``GET /api/v1/health``: the health score, readiness and every check with its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from buttress.health.monitor import HealthMonitor
from buttress.platform.auth import Viewer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get(
    "/health",
    summary="Health score, readiness, every dependency check, and whether degradation levels "
    "are configured (`degradation`: false means GET /api/v1/level answers 404)",
)
def health(request: Request, _who: Viewer) -> dict[str, Any]:
    monitor = request.app.state.health
    assert isinstance(monitor, HealthMonitor)
    snapshot = monitor.snapshot()
    snapshot["degradation"] = getattr(request.app.state, "degradation", None) is not None
    return snapshot
