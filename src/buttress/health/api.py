"""``GET /api/v1/health``: the health score, readiness and every check with its history."""

from __future__ import annotations

from fastapi import APIRouter, Request

from buttress.health.monitor import HealthMonitor
from buttress.health.schemas import HealthRead
from buttress.platform.auth import Viewer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["health"])


def _monitor(request: Request) -> HealthMonitor:
    monitor = getattr(request.app.state, "health", None)
    if not isinstance(monitor, HealthMonitor):
        raise TypeError("app.state.health is not a HealthMonitor: build the app with create_app")
    return monitor


@router.get(
    "/health",
    response_model=HealthRead,
    summary="Health score, readiness, every dependency check, and whether degradation levels "
    "are configured (`degradation`: false means GET /api/v1/level answers 404)",
)
def health(request: Request, _who: Viewer) -> HealthRead:
    snapshot = _monitor(request).snapshot()
    degradation = getattr(request.app.state, "degradation", None) is not None
    return HealthRead(**dict(snapshot), degradation=degradation)
