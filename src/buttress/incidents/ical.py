"""An on-call schedule as an iCalendar feed (RFC 5545): one ``VEVENT`` per shift, in UTC.

Written here rather than with a library: the feed needs four properties per event, text
escaping (3.3.11), CRLF line ends and lines folded at 75 octets (3.1). A shift's ``UID`` is
made of the schedule, its start and its user, so a calendar that refreshes the feed updates
the events it already has instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from buttress.incidents.oncall import Shift

__all__ = ["MAX_OCTETS", "escape_text", "fold", "schedule_calendar"]

MAX_OCTETS = 75
"""The longest content line, CRLF excluded (RFC 5545 3.1)."""

PRODID = "-//buttress//on-call schedules//EN"


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newlines escaped (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """``line`` folded into content lines of at most :data:`MAX_OCTETS` octets of UTF-8, each
    continuation starting with a space; never splits a character."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > MAX_OCTETS:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n".join(out)


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def schedule_calendar(
    schedule: str, shifts: Iterable[Shift], *, now: dt.datetime, time_zone: str = "UTC"
) -> str:
    """The feed of ``schedule``'s ``shifts``; ``now`` is every event's ``DTSTAMP``."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(f'On call: {schedule}')}",
        f"X-WR-TIMEZONE:{escape_text(time_zone)}",
    ]
    stamp = _stamp(now)
    for shift in shifts:
        lines += [
            "BEGIN:VEVENT",
            f"UID:oncall-{schedule}-{_stamp(shift.start)}-{shift.user}@buttress",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_stamp(shift.start)}",
            f"DTEND:{_stamp(shift.end)}",
            f"SUMMARY:{escape_text(f'On call: {shift.user} ({schedule})')}",
            f"DESCRIPTION:{escape_text(f'{schedule}, layer {shift.layer}')}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
