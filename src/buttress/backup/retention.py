"""Retention: which backups of a target to keep, and why (restic's ``forget`` rules).

``select`` is pure: it sees the good backups of one target, newest first, and returns a
decision per backup with every reason it is kept. The rules:

- ``keep_last N``: the N newest backups.
- ``keep_hourly/daily/weekly/monthly/yearly N``: for the N most recent hours (days, ISO weeks,
  months, years) that have a backup, the newest backup of each. Periods are in UTC. While a
  rule still has periods to fill when it reaches the oldest backup, that oldest backup is kept
  too ("oldest daily 5"), as restic does since 0.16 (restic #3624, PR #4366): the longest
  history the counts allow.
- ``keep_within D``: every backup taken within D of the *newest* backup (not of now: a target
  whose backups stopped does not lose them all while nobody looks).
- Always: the newest backup, and the newest verified backup (checksums or restore test ok).
- No rule at all: everything is kept (pruning needs an explicit policy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Decision", "RetentionPolicy", "Snapshot", "duration_text", "select"]


@dataclass(frozen=True)
class RetentionPolicy:
    """How many backups to keep per period (0: that rule is off); ``keep_within`` in seconds."""

    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: float | None = None

    def __post_init__(self) -> None:
        for name in _PERIODS_AND_LAST:
            if getattr(self, name) < 0:
                raise ValueError(f"retention: {name} must be >= 0")
        if self.keep_within is not None and self.keep_within <= 0:
            raise ValueError("retention: keep_within must be a positive duration")

    @property
    def empty(self) -> bool:
        return self.keep_within is None and not any(
            getattr(self, name) for name in _PERIODS_AND_LAST
        )


@dataclass(frozen=True)
class Snapshot:
    """A good backup as retention sees it."""

    id: str
    time: dt.datetime  # when it was taken (aware, any zone)
    verified: bool = False


@dataclass(frozen=True)
class Decision:
    snapshot: Snapshot
    keep: bool
    reasons: tuple[str, ...]  # why it is kept; empty when it is removed


def _hour(t: dt.datetime) -> object:
    return (t.year, t.month, t.day, t.hour)


def _day(t: dt.datetime) -> object:
    return (t.year, t.month, t.day)


def _week(t: dt.datetime) -> object:
    return t.isocalendar()[:2]


def _month(t: dt.datetime) -> object:
    return (t.year, t.month)


def _year(t: dt.datetime) -> object:
    return t.year


_BUCKETS: tuple[tuple[str, str, Callable[[dt.datetime], object]], ...] = (
    ("keep_hourly", "hourly", _hour),
    ("keep_daily", "daily", _day),
    ("keep_weekly", "weekly", _week),
    ("keep_monthly", "monthly", _month),
    ("keep_yearly", "yearly", _year),
)
_PERIODS_AND_LAST = ("keep_last", *(name for name, _, _ in _BUCKETS))


def select(snapshots: Sequence[Snapshot], policy: RetentionPolicy) -> list[Decision]:
    """One decision per snapshot, newest first (see the module docstring for the rules)."""
    ordered = sorted(snapshots, key=lambda s: (s.time, s.id), reverse=True)
    if not ordered:
        return []
    if policy.empty:
        return [Decision(s, True, ("no retention policy",)) for s in ordered]
    utc = [s.time.astimezone(dt.UTC) for s in ordered]
    reasons: list[list[str]] = [[] for _ in ordered]
    reasons[0].append("newest backup")
    newest_verified = next((i for i, s in enumerate(ordered) if s.verified), None)
    if newest_verified is not None:
        reasons[newest_verified].append("newest verified backup")
    for i in range(min(policy.keep_last, len(ordered))):
        reasons[i].append(f"last {policy.keep_last}")
    oldest = len(ordered) - 1
    for field, label, bucket in _BUCKETS:
        total = wanted = int(getattr(policy, field))
        seen: object = None
        for i, t in enumerate(utc):
            if wanted == 0:
                break
            b = bucket(t)
            if b != seen:  # the newest backup of a period not seen yet
                reasons[i].append(f"{label} {total}")
                seen = b
                wanted -= 1
            elif i == oldest:  # periods left unfilled: keep the oldest too, as restic does
                reasons[i].append(f"oldest {label} {total}")
    if policy.keep_within is not None:
        horizon = utc[0] - dt.timedelta(seconds=policy.keep_within)
        for i, t in enumerate(utc):
            if t >= horizon:
                reasons[i].append(f"within {duration_text(policy.keep_within)} of the newest")
    return [Decision(s, bool(r), tuple(r)) for s, r in zip(ordered, reasons, strict=True)]


def duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
