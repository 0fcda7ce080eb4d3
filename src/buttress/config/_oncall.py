"""``incidents.oncall:``: users, teams and on-call schedules.

A schedule is a list of layers, each a rotation of users handing off at ``start`` + n x
``rotation`` on the schedule's local clock, optionally restricted to some windows of the week;
a later layer overrides earlier ones wherever it has someone on call, and overrides win over
every layer. Who is on call when is computed by :mod:`buttress.incidents.oncall`.

Times without an offset (``2026-01-05T09:00``) are in the schedule's ``time_zone``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from buttress.config._base import NAME_PATTERN, Section, raise_at
from buttress.config._types import _DURATION_PATTERN as DURATION_PATTERN
from buttress.config._types import parse_duration

__all__ = [
    "DAYS",
    "LayerConfig",
    "OnCallConfig",
    "OverrideConfig",
    "RestrictionConfig",
    "ScheduleConfig",
    "TeamConfig",
    "TimeZone",
    "UserConfig",
    "check_time_zone",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The day names of ``restrict[].days``, Monday first (``datetime.weekday()`` order)."""

MIN_ROTATION = 60.0
"""The shortest rotation, in seconds."""

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ALL_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def check_time_zone(value: str) -> str:
    """``value`` if it is an IANA time zone name this machine knows (``Europe/Berlin``)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin', "
            "'America/New_York' or 'UTC'"
        ) from None
    return value


def _when(value: Any) -> Any:
    """A date alone (YAML ``2026-03-01``) is its midnight."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def _clock(value: Any) -> Any:
    """``"09:00"``; YAML reads ``17:00`` unquoted as the number 1020 (base 60), so say so."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            f'write times of day in quotes, e.g. "17:00" (YAML reads 17:00 unquoted as the '
            f"number {value:g})"
        )
    if isinstance(value, str) and not _CLOCK.fullmatch(value):
        raise ValueError(f"invalid time of day {value!r}: expected HH:MM, 00:00 to 24:00")
    if isinstance(value, str) and value > "24:00":
        raise ValueError(f"invalid time of day {value!r}: expected HH:MM, 00:00 to 24:00")
    return value


LocalTime = Annotated[dt.datetime, BeforeValidator(_when)]
Clock = Annotated[str, BeforeValidator(_clock)]
TimeZone = Annotated[str, AfterValidator(check_time_zone)]


class UserConfig(Section):
    """Someone who can be on call or notified; the notifiers read the contact details."""

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", description="Address.")
    slack: str | None = Field(default=None, min_length=1, description="Slack member id.")
    phone: str | None = Field(
        default=None, pattern=r"^\+?[0-9 ()./-]{3,}$", description="Phone number (E.164)."
    )
    time_zone: TimeZone | None = Field(
        default=None, description="The user's IANA time zone (for display)."
    )


class TeamConfig(Section):
    """A team: its members, and optionally the schedule that says which of them is on call."""

    members: list[Name] = Field(default_factory=list, description="User names.")
    schedule: Name | None = Field(
        default=None,
        description="Notify this schedule's on-call person (default: every member).",
    )

    @model_validator(mode="after")
    def _someone(self) -> TeamConfig:
        if not self.members and self.schedule is None:
            raise ValueError("a team needs members or a schedule")
        return self


class RestrictionConfig(Section):
    """A window of the week a layer counts in: from ``from`` to ``to`` on each of ``days``
    (local time; a window whose ``to`` is not after ``from`` ends the next day)."""

    days: list[Day] = Field(
        default_factory=lambda: list(_ALL_DAYS), min_length=1, description="The days it starts on."
    )
    from_: Clock = Field(alias="from", description='Start, "HH:MM" local time.')
    to: Clock = Field(description='End, "HH:MM" local time ("24:00": midnight).')

    @model_validator(mode="after")
    def _not_empty(self) -> RestrictionConfig:
        if self.from_ == self.to:
            raise ValueError(f"the window is empty: from and to are both {self.to!r}")
        return self

    def minutes(self) -> tuple[int, int]:
        """(start, end) in minutes after the start day's midnight; end > start."""
        h, m = self.from_.split(":")
        start = int(h) * 60 + int(m)
        h, m = self.to.split(":")
        end = int(h) * 60 + int(m)
        if start >= 1440:
            start -= 1440  # "24:00" as a start is the next midnight: the same as 00:00
        return start, end if end > start else end + 1440


def _rotation(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in _NAMED_ROTATIONS:
        return _NAMED_ROTATIONS[value.strip()]
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"expected daily, weekly or a duration: {exc}") from None
    if isinstance(seconds, float) and seconds < MIN_ROTATION:
        raise ValueError("a rotation is at least 1 minute")
    return seconds


_NAMED_ROTATIONS = {"daily": 86400.0, "weekly": 7 * 86400.0}
Rotation = Annotated[
    float,
    BeforeValidator(_rotation),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["daily", "weekly"]},
                {"type": "number", "minimum": MIN_ROTATION},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "daily, weekly, or a duration of at least 1 minute ('3d', '12h')",
            "x-kind": "duration",
        }
    ),
]


class LayerConfig(Section):
    """One rotation: ``users`` take turns, ``users[0]`` from ``start``, handing off every
    ``rotation`` at the same local time."""

    name: Name = Field(description="Unique in its schedule (shown in shifts and the feed).")
    users: list[Name] = Field(min_length=1, description="User names, in rotation order.")
    rotation: Rotation = Field(
        description=(
            "`daily`, `weekly` or a duration (`3d`, `12h`), at least 1 minute, counted on the "
            "local clock (seconds)."
        )
    )
    start: LocalTime = Field(description="The first hand-off (schedule's local time).")
    restrict: list[RestrictionConfig] = Field(
        default_factory=list,
        description="Only these windows of the week count (default: all the time).",
    )

    def rotation_length(self) -> dt.timedelta:
        """The rotation on the local clock."""
        return dt.timedelta(seconds=self.rotation)


class OverrideConfig(Section):
    """Someone on call instead of the layers, from ``start`` to ``end``."""

    user: Name = Field(description="The user on call.")
    start: LocalTime = Field(description="From (schedule's local time unless an offset is given).")
    end: LocalTime = Field(description="Until (schedule's local time unless an offset is given).")


class ScheduleConfig(Section):
    """Who is on call when: layers (the last one with someone on call wins), then overrides
    (which win over every layer; the last one wins where they overlap)."""

    time_zone: TimeZone = Field(default="UTC", description="The IANA time zone of its times.")
    layers: list[LayerConfig] = Field(min_length=1, description="Rotations, lowest first.")
    overrides: list[OverrideConfig] = Field(default_factory=list, description="Exceptions.")

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, layer in enumerate(self.layers):
            if layer.name in seen:
                errors.append((("layers", i, "name"), f"layer name {layer.name!r} is used twice"))
            seen.add(layer.name)
        for i, override in enumerate(self.overrides):
            if self.aware(override.end) <= self.aware(override.start):
                errors.append(
                    (("overrides", i, "end"), "an override's end must be after its start")
                )
        raise_at("ScheduleConfig", errors)
        return self

    def zone(self) -> zoneinfo.ZoneInfo:
        """The schedule's time zone."""
        return zoneinfo.ZoneInfo(self.time_zone)

    def aware(self, when: dt.datetime) -> dt.datetime:
        """``when`` in UTC, read in the schedule's zone when it has no offset."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.zone())
        return when.astimezone(dt.UTC)


class OnCallConfig(Section):
    """Who can be notified, and who is on call when."""

    users: dict[Name, UserConfig] = Field(
        default_factory=dict, description="People, by the name schedules and teams use."
    )
    teams: dict[Name, TeamConfig] = Field(default_factory=dict, description="Teams by name.")
    schedules: dict[Name, ScheduleConfig] = Field(
        default_factory=dict, description="On-call schedules by name."
    )

    @model_validator(mode="after")
    def _references(self) -> OnCallConfig:
        """Every user a team, layer or override names is in ``users``; every team's schedule
        is in ``schedules``."""
        errors: list[tuple[tuple[str | int, ...], str]] = []

        def user(where: tuple[str | int, ...], name: str, what: str) -> None:
            if name not in self.users:
                errors.append((where, f"unknown user {name!r} in {what}{_hint(name, self.users)}"))

        for team_name, team in self.teams.items():
            for i, member in enumerate(team.members):
                user(("teams", team_name, "members", i), member, f"team {team_name!r}")
            if team.schedule is not None and team.schedule not in self.schedules:
                errors.append(
                    (
                        ("teams", team_name, "schedule"),
                        f"unknown schedule {team.schedule!r} for team {team_name!r}"
                        f"{_hint(team.schedule, self.schedules)}",
                    )
                )
        for name, schedule in self.schedules.items():
            for i, layer in enumerate(schedule.layers):
                for j, member in enumerate(layer.users):
                    user(
                        ("schedules", name, "layers", i, "users", j),
                        member,
                        f"layer {layer.name!r} of schedule {name!r}",
                    )
            for i, override in enumerate(schedule.overrides):
                user(
                    ("schedules", name, "overrides", i, "user"),
                    override.user,
                    f"an override of schedule {name!r}",
                )
        raise_at("OnCallConfig", errors)
        return self


def _hint(name: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(sorted(known)[:10]) or 'none'})"
