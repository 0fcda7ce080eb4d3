"""Who is on call when: the pure rotation math of ``incidents.oncall`` (no I/O; the time is
always passed in, as an aware datetime).

A layer's hand-offs are at ``start + n * rotation`` on the schedule's **local clock**, so a
weekly 09:00 hand-off stays at 09:00 across DST changes (the shift that spans the change is an
hour shorter or longer). A hand-off whose local time is skipped by a spring-forward change
happens when the clock jumps; one in the hour a fall-back change repeats happens at its first
occurrence. ``restrict`` windows are local too. Layers are in priority order, lowest first: a
later layer wins wherever it has someone on call (PagerDuty's order), and overrides win over
every layer (a later override over an earlier one where they overlap).

Who is on call at an instant costs O(layers + overrides): the shift number is the elapsed local
time divided by the rotation, never a walk from ``start``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from buttress.config._oncall import OnCallConfig, ScheduleConfig
from buttress.errors import NotFoundError

__all__ = [
    "OVERRIDE",
    "Shift",
    "UnknownNameError",
    "UnknownScheduleError",
    "UnknownTeamError",
    "UnknownUserError",
    "current",
    "gap_warnings",
    "gaps",
    "on_call",
    "resolve_targets",
    "shifts",
]

OVERRIDE = "override"
"""The ``layer`` of a shift that comes from ``overrides``."""

_UTC = dt.UTC
_DAY = dt.timedelta(days=1)
_TINY = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Shift:
    """``user`` is on call from ``start`` to ``end`` (aware, UTC) through ``layer`` (a layer's
    name, or ``"override"``)."""

    user: str
    start: dt.datetime
    end: dt.datetime
    layer: str


class UnknownNameError(NotFoundError, KeyError):
    """A user, team or schedule name the configuration does not have (exit code 2, API 404)."""

    exit_code = 2
    noun = "name"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"on-call {self.noun}", name)
        names = sorted(known)
        listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        self.args = (
            f"unknown on-call {self.noun} {name!r} "
            f"(incidents.oncall.{self.noun}s: {listed or 'none'})",
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownScheduleError(UnknownNameError):
    """A schedule name that is not in ``incidents.oncall.schedules``."""

    noun = "schedule"


class UnknownTeamError(UnknownNameError):
    """A team name that is not in ``incidents.oncall.teams``."""

    noun = "team"


class UnknownUserError(UnknownNameError):
    """A user name that is not in ``incidents.oncall.users``."""

    noun = "user"


# ---------------------------------------------------------------------------------------------
# the local clock


def _local(at: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def _utc(naive: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant a local clock reading stands for: its first occurrence when a fall-back
    change repeats it; the moment of the jump when a spring-forward change skips it (so the
    mapping never goes backwards)."""
    later = naive.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    if _local(later, zone) == naive:
        return later
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(_UTC)  # before the jump
    hi, before = later, lo.astimezone(zone).utcoffset()
    while hi - lo > _TINY:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def _aware(at: dt.datetime, what: str = "at") -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (with a time zone), got {at!r}")
    return at.astimezone(_UTC)


# ---------------------------------------------------------------------------------------------
# one schedule, compiled


@dataclass(frozen=True, slots=True)
class _Window:
    days: frozenset[int]  # weekday() of the day it starts on
    start: dt.timedelta  # after that day's midnight
    end: dt.timedelta


@dataclass(frozen=True, slots=True)
class _Layer:
    name: str
    users: tuple[str, ...]
    zone: zoneinfo.ZoneInfo
    origin: dt.datetime  # local, naive: the first hand-off
    rotation: dt.timedelta
    windows: tuple[_Window, ...]

    def handoff(self, n: int) -> dt.datetime:
        return _utc(self.origin + n * self.rotation, self.zone)

    def index(self, at: dt.datetime) -> int | None:
        """The shift number at ``at`` (None before the first hand-off)."""
        if at < self.handoff(0):
            return None
        n = max((_local(at, self.zone) - self.origin) // self.rotation, 0)
        # the local reading is off by at most a DST change's size: step to the right shift
        while self.handoff(n + 1) <= at:
            n += 1
        while n > 0 and self.handoff(n) > at:
            n -= 1
        return n

    def user_at(self, at: dt.datetime) -> str | None:
        n = self.index(at)
        if n is None or not self.counts(at):
            return None
        return self.users[n % len(self.users)]

    def _spans(self, day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        midnight = dt.datetime.combine(day, dt.time())
        for w in self.windows:
            if day.weekday() in w.days:
                yield _utc(midnight + w.start, self.zone), _utc(midnight + w.end, self.zone)

    def counts(self, at: dt.datetime) -> bool:
        """True when ``at`` is in one of the ``restrict`` windows (or there are none)."""
        if not self.windows:
            return True
        day = _local(at, self.zone).date()
        return any(
            start <= at < end
            for d in (day - _DAY, day, day + _DAY)
            for start, end in self._spans(d)
        )

    def changes(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        """Every instant in (start, end) where this layer may change hands, in order."""
        n = self.index(start)
        hand_offs = self._hand_offs(-1 if n is None else n, start, end)
        if not self.windows:
            yield from hand_offs
            return
        first = _local(start, self.zone).date() - _DAY
        days = (_local(end, self.zone).date() - first).days + 2
        edges = sorted(
            t
            for k in range(days)
            for span in self._spans(first + k * _DAY)
            for t in span
            if start < t < end
        )
        yield from heapq.merge(hand_offs, edges)

    def _hand_offs(self, n: int, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        while True:
            n += 1
            t = self.handoff(n)
            if t >= end:
                return
            if t > start:
                yield t


@dataclass(frozen=True, slots=True)
class _Override:
    user: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class _Schedule:
    layers: tuple[_Layer, ...]
    overrides: tuple[_Override, ...]

    def who(self, at: dt.datetime) -> tuple[str, str] | None:
        """(user, layer) on call at ``at``, else None."""
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return o.user, OVERRIDE
        for layer in reversed(self.layers):
            user = layer.user_at(at)
            if user is not None:
                return user, layer.name
        return None

    def timeline(
        self, start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[dt.datetime, dt.datetime, tuple[str, str] | None]]:
        """[start, end) cut where the person on call changes: (from, to, (user, layer) or
        None); lazy, so the first piece costs little however far ``end`` is."""
        edges = sorted(t for o in self.overrides for t in (o.start, o.end) if start < t < end)
        changes = heapq.merge(edges, *(layer.changes(start, end) for layer in self.layers))
        since, now = start, self.who(start)
        for t in changes:
            if t <= since:
                continue
            who = self.who(t)
            if (who and who[0]) != (now and now[0]):
                yield since, t, now
                since, now = t, who
        if since < end:
            yield since, end, now


def _compile(schedule: ScheduleConfig) -> _Schedule:
    zone = schedule.zone()
    layers = []
    for layer in schedule.layers:
        origin = layer.start
        if origin.tzinfo is not None:
            origin = _local(origin, zone)
        windows = []
        for r in layer.restrict:
            start, end = r.minutes()
            windows.append(
                _Window(
                    days=frozenset(_DAY_NUMBERS[d] for d in r.days),
                    start=dt.timedelta(minutes=start),
                    end=dt.timedelta(minutes=end),
                )
            )
        layers.append(
            _Layer(
                name=layer.name,
                users=tuple(layer.users),
                zone=zone,
                origin=origin,
                rotation=layer.rotation_length(),
                windows=tuple(windows),
            )
        )
    overrides = tuple(
        _Override(o.user, schedule.aware(o.start), schedule.aware(o.end))
        for o in schedule.overrides
    )
    return _Schedule(tuple(layers), overrides)


_DAY_NUMBERS = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}


def _schedule(config: OnCallConfig, name: str) -> _Schedule:
    found = config.schedules.get(name)
    if found is None:
        raise UnknownScheduleError(name, config.schedules)
    return _compile(found)


def _range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
    return start, end


# ---------------------------------------------------------------------------------------------
# the public questions


def on_call(config: OnCallConfig, schedule: str, at: dt.datetime) -> str | None:
    """Who is on call on ``schedule`` at ``at`` (overrides, then the layers, last first).

    Returns:
        The user's name, or None when nobody is (a gap).

    Raises:
        UnknownScheduleError: no schedule has that name (a KeyError).
        ValueError: ``at`` has no time zone.
    """
    found = _schedule(config, schedule).who(_aware(at))
    return None if found is None else found[0]


def shifts(
    config: OnCallConfig, schedule: str, start: dt.datetime, end: dt.datetime
) -> list[Shift]:
    """The final timeline of ``schedule`` in [start, end): who is on call when, after layers
    and overrides, cut at ``start`` and ``end``; back-to-back shifts of one user are merged
    into one (whose ``layer`` is that of its first part). Gaps are left out (see
    :func:`gaps`)."""
    start, end = _range(start, end)
    return [
        Shift(user=who[0], start=a, end=b, layer=who[1])
        for a, b, who in _schedule(config, schedule).timeline(start, end)
        if who is not None
    ]


def gaps(
    config: OnCallConfig, schedule: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of [start, end) when nobody is on call on ``schedule`` (aware, UTC)."""
    start, end = _range(start, end)
    return [(a, b) for a, b, who in _schedule(config, schedule).timeline(start, end) if not who]


def current(
    config: OnCallConfig,
    schedule: str,
    at: dt.datetime,
    *,
    horizon: dt.timedelta = dt.timedelta(days=90),
) -> tuple[str | None, dt.datetime | None]:
    """Who is on call at ``at`` (None: nobody) and until when: the next hand-off, or None when
    nothing changes within ``horizon`` of ``at``."""
    at = _aware(at)
    for _, until, who in _schedule(config, schedule).timeline(at, at + horizon):
        return (who and who[0]), (None if until >= at + horizon else until)
    return None, None  # horizon of zero length


def resolve_targets(
    config: OnCallConfig,
    *,
    users: Sequence[str] = (),
    schedules: Sequence[str] = (),
    teams: Sequence[str] = (),
    at: dt.datetime,
) -> list[str]:
    """The users to notify at ``at``, each once, in order: ``users`` as given, then each
    schedule's on-call person, then each team's (its schedule's on-call person when it has a
    schedule and someone is on call on it; otherwise every member, so that a team is never
    paged into a gap silently).

    Raises:
        UnknownUserError, UnknownScheduleError, UnknownTeamError: a name not in the config.
    """
    at = _aware(at)
    out: dict[str, None] = {}
    for name in users:
        if name not in config.users:
            raise UnknownUserError(name, config.users)
        out[name] = None
    for name in schedules:
        person = on_call(config, name, at)
        if person is not None:
            out[person] = None
    for name in teams:
        team = config.teams.get(name)
        if team is None:
            raise UnknownTeamError(name, config.teams)
        person = None if team.schedule is None else on_call(config, team.schedule, at)
        for member in [person] if person is not None else team.members:
            out[member] = None
    return list(out)


MAX_GAPS_SHOWN = 5
"""The most gaps :func:`gap_warnings` lists per schedule before counting the rest."""


def gap_warnings(
    config: OnCallConfig, now: dt.datetime, horizon: dt.timedelta = dt.timedelta(days=14)
) -> list[str]:
    """One line per stretch of the next ``horizon`` when nobody is on call, per schedule, e.g.
    ``incidents.oncall.schedules.dba: nobody is on call Sat 2026-12-05 02:00-06:00
    (Europe/Berlin)``; past :data:`MAX_GAPS_SHOWN` per schedule, one line counts the rest."""
    now = _aware(now, "now")
    lines: list[str] = []
    for name, schedule in config.schedules.items():
        where = f"incidents.oncall.schedules.{name}"
        found = gaps(config, name, now, now + horizon)
        zone = schedule.zone()
        for start, end in found[:MAX_GAPS_SHOWN]:
            lines.append(
                f"{where}: nobody is on call {_span(start, end, zone)} ({schedule.time_zone})"
            )
        if len(found) > MAX_GAPS_SHOWN:
            days = horizon / _DAY
            lines.append(
                f"{where}: ... and {len(found) - MAX_GAPS_SHOWN} more gaps in the next "
                f"{days:g} days"
            )
    return lines


def _span(start: dt.datetime, end: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return f"{a:%a %Y-%m-%d %H:%M}\u2013{b:%H:%M}"
    return f"{a:%a %Y-%m-%d %H:%M} \u2013 {b:%a %Y-%m-%d %H:%M}"
