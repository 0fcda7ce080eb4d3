"""``incidents.escalation_policies:`` and ``incidents.escalation:``: who is notified of an
incident, on which channels, and how the notification climbs while nobody acknowledges it.

A policy is an ordered list of levels. Level 1 is notified when the incident opens; each level
waits (its ``wait``, else the severity's ``response_targets.<P>.escalate``) and, if the incident
is still unacknowledged, the next level is notified. After the last level the whole policy runs
again up to ``repeat`` times. An acknowledgement stops it; an acknowledged incident still not
resolved after ``renotify_acknowledged_after`` is sent a reminder (and again after as long).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from buttress.config._base import Section
from buttress.config._oncall import TimeZone
from buttress.config._types import Duration, PositiveDuration

__all__ = [
    "BusinessHours",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationRule",
    "EscalationTargets",
    "check_match",
    "match_labels",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def check_match(match: dict[str, str]) -> dict[str, str]:
    """``match`` if each ``~regex`` value compiles, else a ValueError naming its label."""
    for label, value in match.items():
        if value.startswith("~"):
            try:
                re.compile(value[1:])
            except re.error as exc:
                raise ValueError(f"label {label!r}: not a regular expression ({exc})") from None
    return match


def match_labels(match: dict[str, str], labels: dict[str, str]) -> bool:
    """True when every label of ``match`` equals its value in ``labels`` (or, written
    ``~regex``, fully matches the regular expression)."""
    for label, want in match.items():
        have = labels.get(label)
        if have is None:
            return False
        if want.startswith("~"):
            if re.fullmatch(want[1:], have) is None:
                return False
        elif have != want:
            return False
    return True


class BusinessHours(Section):
    """When a team works: weekdays and a daily window in the policy's time zone."""

    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS[:5]), description="Working days (default mon to fri)."
    )
    start: str = Field(default="09:00", description="The working day starts (HH:MM, local).")
    end: str = Field(default="17:00", description="The working day ends (HH:MM, local).")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM")
        return value

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        if not self.days:
            raise ValueError("business hours need at least one day")
        return self

    def next_start(self, after: dt.datetime, zone: str) -> dt.datetime:
        """The first start of a working day strictly after ``after`` (aware), in UTC."""
        tz = zoneinfo.ZoneInfo(zone)
        local = after.astimezone(tz)
        hour, minute = (int(part) for part in self.start.split(":"))
        for offset in range(9):  # today's start too, when it is still to come
            day = (local + dt.timedelta(days=offset)).date()
            if WEEKDAYS[day.weekday()] in self.days:
                start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                if start > local:
                    return start.astimezone(dt.UTC)
        raise AssertionError("unreachable: a week has every weekday")  # pragma: no cover


class EscalationTargets(Section):
    """Who one level notifies: named users, the current on-call of schedules, teams."""

    users: list[str] = Field(default_factory=list, description="Users (incidents.oncall.users).")
    schedules: list[str] = Field(
        default_factory=list,
        description="Schedules whose on-call person, at the time, is notified.",
    )
    teams: list[str] = Field(
        default_factory=list,
        description="Teams: the on-call of the team's schedule, else every member.",
    )


class EscalationLevel(Section):
    """One level of a policy: notify these, on these channels, then wait."""

    notify: EscalationTargets = Field(
        default_factory=EscalationTargets, description="Who this level notifies."
    )
    channels: list[str] | None = Field(
        default=None,
        description="Notifiers (incidents.notifiers) to send on; default: the policy's channels.",
    )
    wait: Duration | None = Field(
        default=None,
        description=(
            "How long to wait for an acknowledgement before the next level; default: the "
            "severity's response_targets escalate delay."
        ),
    )


class EscalationPolicy(Section):
    """Ordered levels, repeated up to ``repeat`` times, stopped by an acknowledgement."""

    levels: list[EscalationLevel] = Field(min_length=1, description="Notified in order.")
    channels: list[str] = Field(
        default_factory=list, description="Notifiers used by the levels that name none."
    )
    repeat: int = Field(
        default=0, ge=0, le=20, description="Run the whole policy again this many times."
    )
    renotify_acknowledged_after: PositiveDuration | None = Field(
        default=None,
        description=(
            "An acknowledged incident not resolved this long after its acknowledgement is sent "
            "a reminder (and again after each such period)."
        ),
    )
    time_zone: TimeZone = Field(default="UTC", description="The time zone of the business hours.")
    business_hours: BusinessHours = Field(
        default_factory=BusinessHours,
        description="Working hours, for targets that escalate on the next business day.",
    )


class EscalationRule(Section):
    """Which incidents a policy takes: every label of ``match`` equal (or ``~regex``) and the
    severity among ``severities`` (all when empty)."""

    match: dict[str, str] = Field(
        default_factory=dict,
        description="Labels to match: a value, or `~` then a regular expression (full match).",
    )
    severities: list[Literal["P1", "P2", "P3", "P4"]] = Field(
        default_factory=list, description="Severities this rule takes (default: all)."
    )
    policy: str = Field(description="The escalation policy (incidents.escalation_policies).")

    @field_validator("match")
    @classmethod
    def _regexes(cls, match: dict[str, str]) -> dict[str, str]:
        return check_match(match)

    def matches(self, labels: dict[str, str], severity: str) -> bool:
        """True when the severity is taken and every label of ``match`` agrees."""
        if self.severities and severity not in self.severities:
            return False
        return match_labels(self.match, labels)
