"""``GET /api/v1/health``: the health score, readiness and every check with its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from buttress.health.monitor import HealthMonitor
from buttress.platform.auth import Viewer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", summary="Health score, readiness, and every dependency check")
def health(request: Request, _who: Viewer) -> dict[str, Any]:
    monitor = request.app.state.health
    assert isinstance(monitor, HealthMonitor)
    return monitor.snapshot()
