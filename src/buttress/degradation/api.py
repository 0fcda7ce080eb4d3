"""``/api/v1/level`` and ``/api/v1/flags``: the degradation level (viewer), overrides
(operator; audited; kept in the catalog so every replica follows them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, Field

from buttress.config._types import parse_duration
from buttress.degradation import overrides
from buttress.degradation.controller import DegradationController
from buttress.degradation.schemas import (
    FlagsRead,
    LevelRead,
    OverrideCleared,
    OverrideRead,
    OverrideSet,
)
from buttress.errors import NotFoundError, UsageError
from buttress.platform.auth import Operator, Viewer
from buttress.platform.http import CatalogDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["degradation"])
_MAX_OVERRIDE_SECONDS = 366 * 86400  # a longer hold is a mistake, and 1e18 s overflows a date


class OverrideCreate(BaseModel):
    level: str = Field(description="A level name, e.g. ORANGE.")
    duration: Annotated[float, BeforeValidator(parse_duration)] = Field(
        alias="for",
        gt=0,
        le=_MAX_OVERRIDE_SECONDS,
        description="How long: `30m`, `2h`, or seconds (at most 366 days).",
    )
    reason: str = Field(min_length=1, max_length=1000, description="Why (shown and audited).")


def _controller(request: Request) -> DegradationController:
    controller = getattr(request.app.state, "degradation", None)
    if controller is None:
        raise NotFoundError("degradation levels", "(declare health.degradation in buttress.yaml)")
    if not isinstance(controller, DegradationController):
        raise TypeError(
            "app.state.degradation is not a DegradationController: build the app with create_app"
        )
    return controller


@router.get(
    "/level",
    response_model=LevelRead,
    summary="The level in force, why, overrides, features, limits, recovery",
)
def level(request: Request, catalog: CatalogDep, _who: Viewer) -> LevelRead:
    snap = _controller(request).snapshot()
    with catalog.begin() as session:
        history = [OverrideRead.model_validate(o) for o in overrides.recent(session=session)]
    return LevelRead(**dict(snap), override_history=history)


@router.post(
    "/level/override",
    name="level.override",
    response_model=OverrideSet,
    summary="Hold a level for a while",
)
def set_override(
    request: Request, body: OverrideCreate, catalog: CatalogDep, who: Operator
) -> OverrideSet:
    controller = _controller(request)
    if body.level not in controller.levels.names:
        raise UsageError(
            f"unknown level {body.level!r}; the levels are {', '.join(controller.levels.names)}"
        )
    with catalog.begin() as session:
        record = overrides.create(
            session=session,
            level=body.level,
            reason=body.reason,
            seconds=body.duration,
            actor=who.actor,
        )
    controller.set_override(body.level, body.reason, body.duration, actor=who.actor)
    controller.announce_override()
    request.state.audit_target = f"level={body.level}"
    request.state.audit_detail = {"for_seconds": body.duration, "reason": body.reason}
    return OverrideSet(
        override=OverrideRead.model_validate(record), level=controller.snapshot().level
    )


@router.delete(
    "/level/override",
    name="level.clear",
    response_model=OverrideCleared,
    summary="End the override in force",
)
def clear_override(request: Request, catalog: CatalogDep, who: Operator) -> OverrideCleared:
    controller = _controller(request)
    with catalog.begin() as session:
        cleared = overrides.clear(session=session, actor=who.actor)
    controller.clear_override(actor=who.actor)
    controller.announce_override()
    return OverrideCleared(
        cleared=[OverrideRead.model_validate(c) for c in cleared],
        level=controller.snapshot().level,
    )


@router.get(
    "/flags",
    response_model=FlagsRead,
    summary="Every feature (on/off) and limit at the level in force",
)
def flag_list(request: Request, _who: Viewer) -> FlagsRead:
    snap = _controller(request).snapshot()
    return FlagsRead(level=snap.level, features=snap.features, limits=snap.limits)
