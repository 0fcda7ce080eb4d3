"""``/api/v1/oncall``: who is on call, from ``incidents.oncall`` in the app's config (viewer).

``GET /api/v1/oncall`` lists every schedule's on-call user and next hand-off;
``GET /api/v1/oncall/{schedule}?at=`` adds the shifts and gaps of the 14 days from ``at``;
``GET /api/v1/oncall/{schedule}.ics`` is the schedule as an iCalendar feed (30 days back, 90
ahead). An ``at`` without an offset is in the schedule's time zone. An unknown schedule is 404.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from buttress.config._incidents import IncidentsConfig
from buttress.config._oncall import OnCallConfig
from buttress.errors import UsageError
from buttress.incidents import oncall
from buttress.incidents.ical import schedule_calendar
from buttress.platform.auth import Viewer

__all__ = [
    "FEED_AHEAD",
    "FEED_BEHIND",
    "UPCOMING",
    "GapRead",
    "OnCallNow",
    "OnCallOverview",
    "ScheduleOnCall",
    "ShiftRead",
    "router",
]

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"])

UPCOMING = dt.timedelta(days=14)
"""How far ahead ``GET /api/v1/oncall/{schedule}`` lists shifts."""
FEED_BEHIND = dt.timedelta(days=30)
FEED_AHEAD = dt.timedelta(days=90)
"""The feed's window: from 30 days ago to 90 days ahead."""
_WHOLE = dt.timedelta(days=30)  # the feed starts its first shift whole when it began this soon


class OnCallNow(BaseModel):
    """Who is on call on one schedule, and until when."""

    schedule: str
    time_zone: str = Field(description="The schedule's IANA time zone.")
    on_call: str | None = Field(description="The user on call (None: nobody, a gap).")
    until: dt.datetime | None = Field(
        description="The next hand-off (None: no change in the next 90 days)."
    )


class OnCallOverview(BaseModel):
    """Every schedule's on-call user, in the config's order."""

    at: dt.datetime
    schedules: list[OnCallNow]


class ShiftRead(BaseModel):
    """One shift: ``user`` is on call from ``start`` to ``end``."""

    user: str
    start: dt.datetime
    end: dt.datetime
    layer: str = Field(description="The layer it comes from, or `override`.")


class GapRead(BaseModel):
    """A stretch when nobody is on call."""

    start: dt.datetime
    end: dt.datetime


class ScheduleOnCall(OnCallNow):
    """One schedule at ``at``: who is on call, and the shifts and gaps of the next 14 days."""

    at: dt.datetime
    shifts: list[ShiftRead]
    gaps: list[GapRead]


def _config(request: Request) -> OnCallConfig:
    config = getattr(request.app.state, "incidents_config", None)
    return config.oncall if isinstance(config, IncidentsConfig) else OnCallConfig()


def _at(config: OnCallConfig, schedule: str, at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    if not 1900 <= at.year <= 9000:
        raise UsageError(f"at: {at.isoformat()} is out of range (years 1900 to 9000)")
    if at.tzinfo is None:
        if schedule not in config.schedules:
            raise oncall.UnknownScheduleError(schedule, config.schedules)
        return config.schedules[schedule].aware(at)
    return at.astimezone(dt.UTC)


def _now(config: OnCallConfig, schedule: str, at: dt.datetime) -> OnCallNow:
    user, until = oncall.current(config, schedule, at)
    zone = config.schedules[schedule].time_zone
    return OnCallNow(schedule=schedule, time_zone=zone, on_call=user, until=until)


@router.get("", summary="Who is on call on every schedule")
def overview(request: Request, _who: Viewer) -> OnCallOverview:
    config, at = _config(request), dt.datetime.now(dt.UTC)
    return OnCallOverview(at=at, schedules=[_now(config, name, at) for name in config.schedules])


@router.get(
    "/{schedule}.ics",
    summary="A schedule's shifts as an iCalendar feed",
    response_class=Response,
    # text/calendar, not JSON: kept out of the document, whose answers are all JSON models
    include_in_schema=False,
)
def feed(request: Request, schedule: str, _who: Viewer) -> Response:
    config, now = _config(request), dt.datetime.now(dt.UTC)
    start = now - FEED_BEHIND
    found = [
        s
        for s in oncall.shifts(config, schedule, start - _WHOLE, now + FEED_AHEAD)
        if s.end > start
    ]
    body = schedule_calendar(
        schedule, found, now=now, time_zone=config.schedules[schedule].time_zone
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{schedule}.ics"'},
    )


@router.get("/{schedule}", summary="Who is on call on a schedule, and its next 14 days")
def show(
    request: Request, schedule: str, _who: Viewer, at: dt.datetime | None = None
) -> ScheduleOnCall:
    config = _config(request)
    when = _at(config, schedule, at)
    now = _now(config, schedule, when)
    end = when + UPCOMING
    return ScheduleOnCall(
        **now.model_dump(),
        at=when,
        shifts=[
            ShiftRead(user=s.user, start=s.start, end=s.end, layer=s.layer)
            for s in oncall.shifts(config, schedule, when, end)
        ],
        gaps=[GapRead(start=a, end=b) for a, b in oncall.gaps(config, schedule, when, end)],
    )
