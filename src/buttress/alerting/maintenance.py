"""Maintenance windows: whether a moment is inside one, as Alertmanager decides it.

:func:`in_window` is a port of Alertmanager 0.25's ``timeinterval.TimeInterval.ContainsTime``
(``Intervener.Mutes``): a moment is in a window when it is in any of its intervals; it is in an
interval when every field the interval gives holds for the moment read in the window's
``location`` (times: start inclusive, end exclusive, to the minute; weekdays, days of month,
months and years: inclusive ranges; a negative day counts from the month's end, clamped to the
month). ``buttress slo report`` uses it to leave maintenance out of the error budget, so that
what it leaves out is what Alertmanager muted.

One quirk is kept on purpose, because every released Alertmanager has it (fixed upstream in
2026, prometheus/alertmanager#5447, after 0.29): the length of a month is the hours from its
first midnight to the next month's, divided by 24 and truncated, in the window's location. In
a month with a spring-forward transition (March in Europe/Berlin) that is one day short, so a
negative day such as ``-1`` names the 30th of March there, not the 31st.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from buttress.config import MaintenanceWindowConfig, TimeIntervalConfig

__all__ = ["contains", "days_in_month", "in_window"]

_UTC = dt.UTC


def in_window(window: MaintenanceWindowConfig, ts: dt.datetime | float) -> bool:
    """True when ``ts`` (an aware datetime, or seconds since the epoch) is in ``window``."""
    moment = _aware(ts).astimezone(zoneinfo.ZoneInfo(window.location))
    return any(contains(interval, moment) for interval in window.intervals)


def _aware(ts: dt.datetime | float) -> dt.datetime:
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("in_window needs an aware datetime (a naive one has no time zone)")
        return ts
    return dt.datetime.fromtimestamp(float(ts), tz=_UTC)


def days_in_month(moment: dt.datetime) -> int:
    """Alertmanager's month length at ``moment`` (in its time zone): elapsed hours between the
    month's first midnight and the next month's, over 24, truncated (see the module's note)."""
    zone = moment.tzinfo
    start = dt.datetime(moment.year, moment.month, 1, tzinfo=zone)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    end = dt.datetime(year, month, 1, tzinfo=zone)
    elapsed = end.astimezone(_UTC) - start.astimezone(_UTC)  # absolute, not wall-clock
    return int(elapsed.total_seconds() / 3600 / 24)


def _clamp(n: int, low: int, high: int) -> int:
    return low if n <= low else high if n >= high else n


def contains(interval: TimeIntervalConfig, moment: dt.datetime) -> bool:
    """Whether ``moment`` (already in the window's time zone) is in ``interval``."""
    if interval.times:
        minute = moment.hour * 60 + moment.minute
        if not any(t.start_minute <= minute < t.end_minute for t in interval.times):
            return False
    if interval.days_of_month:
        length = days_in_month(moment)
        found = False
        for begin, end in interval.day_ranges():
            first = length + begin + 1 if begin < 0 else begin
            last = length + end + 1 if end < 0 else end
            if first > length:  # the range starts after this month's end
                continue
            first, last = _clamp(first, -length, length), _clamp(last, -length, length)
            if first <= moment.day <= last:
                found = True
                break
        if not found:
            return False
    if interval.months and not any(b <= moment.month <= e for b, e in interval.month_ranges()):
        return False
    weekday = (moment.weekday() + 1) % 7  # Go's: Sunday is 0
    if interval.weekdays and not any(b <= weekday <= e for b, e in interval.weekday_ranges()):
        return False
    return not interval.years or any(b <= moment.year <= e for b, e in interval.year_ranges())
