"""When a job is due: cron (UTC or a time zone of its own), a fixed interval, or once at a
time; and what to do with a due time found late. Pure: no I/O, the time is passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from buttress.errors import ConfigError

__all__ = [
    "At",
    "Cron",
    "Decision",
    "Every",
    "Missed",
    "Schedule",
    "decide",
    "parse_schedule",
]

Missed = Literal["skip", "run_once"]
"""What a recurring job does with due times that passed unnoticed (the control plane was down,
or no replica led): ``skip`` them (as cron does) or ``run_once`` now for all of them."""


@dataclass(frozen=True, slots=True)
class Cron:
    """A five-field cron expression (minute hour day-of-month month day-of-week) read in
    ``tz``; with ``seconds``, a sixth field of seconds, last (croniter's order)."""

    expression: str
    tz: str = "UTC"
    seconds: bool = False

    def __post_init__(self) -> None:
        from croniter import croniter

        fields = len(self.expression.split())
        if fields == 6 and not self.seconds:
            raise ConfigError(
                f"schedule {self.expression!r} has six fields: a five-field cron expression "
                "(minute hour day-of-month month day-of-week) fires at most once a minute; "
                "a sixth field, seconds, last, needs the seconds option"
            )
        if fields not in (5, 6) or not croniter.is_valid(self.expression):
            raise ConfigError(
                f"schedule {self.expression!r} is not a five-field cron expression "
                "(minute hour day-of-month month day-of-week)"
            )
        _zone(self.tz)

    def next_after(self, after: dt.datetime) -> dt.datetime:
        from croniter import croniter

        local = after.astimezone(_zone(self.tz))
        value = croniter(self.expression, local).get_next(dt.datetime)
        if not isinstance(value, dt.datetime):  # pragma: no cover - croniter's contract
            raise TypeError("croniter returned no datetime")
        return value.astimezone(dt.UTC)

    @property
    def spec(self) -> str:
        return f"cron {self.expression} {self.tz}"


@dataclass(frozen=True, slots=True)
class Every:
    """A fixed interval, counted from the previous due time (so ticks do not drift)."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ConfigError(f"interval must be more than 0 seconds, got {self.seconds!r}")

    def next_after(self, after: dt.datetime) -> dt.datetime:
        return after + dt.timedelta(seconds=self.seconds)

    @property
    def spec(self) -> str:
        return f"every {self.seconds!r}s"  # exact: read back as the same float


@dataclass(frozen=True, slots=True)
class At:
    """Once, at ``when`` (UTC-aware)."""

    when: dt.datetime

    def __post_init__(self) -> None:
        if self.when.tzinfo is None:
            raise ConfigError("a one-shot job's time must carry a time zone")

    @property
    def spec(self) -> str:
        return f"at {self.when.astimezone(dt.UTC).isoformat()}"


Schedule = Cron | Every | At


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None


def parse_schedule(spec: str) -> Schedule:
    """The inverse of ``schedule.spec`` (the form stored in the catalog)."""
    kind, _, rest = spec.partition(" ")
    if kind == "cron":
        expression, _, tz = rest.rpartition(" ")
        return Cron(expression, tz, seconds=len(expression.split()) == 6)
    if kind == "every" and rest.endswith("s"):
        return Every(float(rest[:-1]))
    if kind == "at":
        return At(dt.datetime.fromisoformat(rest))
    raise ConfigError(f"not a stored schedule: {spec!r}")


def first_due(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The first due time of a job registered at ``now``."""
    if isinstance(schedule, At):
        return schedule.when.astimezone(dt.UTC)
    return schedule.next_after(now)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a job whose due time has come.

    Attributes:
        run: start it now.
        missed: how many due times are dropped without a run (``skip``), or folded into this
            one run (``run_once``): the due time itself is counted when it is late.
        late: seconds between the due time and now.
        next_due: the next due time (None: a one-shot, done).
    """

    run: bool
    missed: int
    late: float
    next_due: dt.datetime | None


def decide(
    schedule: Schedule,
    due: dt.datetime,
    now: dt.datetime,
    *,
    missed: Missed = "skip",
    grace: float = 60.0,
    limit: int = 10_000,
) -> Decision:
    """The decision for a job due at ``due`` (<= ``now``).

    A due time later than ``grace`` seconds is *missed*. A one-shot always runs, however
    late (its lateness is reported). A recurring job runs a due time within its grace; late
    ones are skipped (``skip``) or run once for all (``run_once``); the next due time is the
    first one after ``now``, so nothing is caught up twice. ``limit`` bounds the count of
    missed times walked (a one-second interval down for a month).
    """
    late = max(0.0, (now - due).total_seconds())
    if isinstance(schedule, At):
        return Decision(True, 1 if late > grace else 0, late, None)
    following = schedule.next_after(due)
    count = 0
    while following <= now and count < limit:
        count += 1
        following = schedule.next_after(following)
    if following <= now:  # gave up walking: jump from now
        following = schedule.next_after(now)
    if late <= grace:
        # on time (or a little late): run it; any later due times already past are dropped
        return Decision(True, count, late, following)
    return Decision(missed == "run_once", count + 1, late, following)
