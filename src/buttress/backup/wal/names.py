"""WAL file names, LSNs and segment arithmetic, as PostgreSQL defines them (``xlog_internal.h``).

A segment is named ``TTTTTTTTXXXXXXXXYYYYYYYY``: timeline, then the segment number split in
two (``segno // per_id``, ``segno % per_id``, with ``per_id = 2**32 // segment_size``). Besides
segments, ``archive_command`` is handed timeline history files (``00000002.history``), backup
history files (``000000010000000000000002.00000028.backup``) and, from ``pg_receivewal`` or a
promotion, partial segments (``...partial``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "Lsn",
    "WalName",
    "format_lsn",
    "parse_lsn",
    "parse_name",
    "segment_name",
    "segment_of",
]

DEFAULT_SEGMENT_SIZE = 16 << 20

_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_HISTORY = re.compile(r"^([0-9A-F]{8})\.history$")
_BACKUP = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.([0-9A-F]{8})\.backup$")
_PARTIAL = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.partial$")
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")

Lsn = int
Kind = Literal["segment", "history", "backup", "partial"]


def parse_lsn(text: str) -> Lsn:
    """``'0/3000028'`` -> 50331688; ValueError naming the text when it is not an LSN."""
    m = _LSN.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a WAL location (LSN) like 0/3000028")
    return (int(m.group(1), 16) << 32) | int(m.group(2), 16)


def format_lsn(lsn: Lsn) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _per_id(segment_size: int) -> int:
    if segment_size <= 0 or segment_size & (segment_size - 1) or segment_size > 1 << 30:
        raise ValueError(f"WAL segment size {segment_size} is not a power of two up to 1 GiB")
    return (1 << 32) // segment_size


def segment_name(timeline: int, segno: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    """The name of segment number ``segno`` of ``timeline``."""
    per = _per_id(segment_size)
    return f"{timeline:08X}{segno // per:08X}{segno % per:08X}"


def segment_of(lsn: Lsn, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """The number of the segment holding ``lsn``."""
    _per_id(segment_size)
    return lsn // segment_size


@dataclass(frozen=True, order=True)
class WalName:
    """A file ``archive_command`` may be handed, parsed. Ordered by timeline, then segment."""

    timeline: int
    segno: int  # for a history file: 0
    kind: Kind
    name: str

    @property
    def is_segment(self) -> bool:
        return self.kind == "segment"

    @property
    def directory(self) -> str:
        """The repository folder it goes in (see :mod:`.layout`): the first 16 characters of
        a segment's name, ``history`` for a timeline history file."""
        return "history" if self.kind == "history" else self.name[:16]

    def start_lsn(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> Lsn:
        return self.segno * segment_size

    def next(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WalName:
        """The segment after this one on the same timeline."""
        return WalName(
            self.timeline,
            self.segno + 1,
            "segment",
            segment_name(self.timeline, self.segno + 1, segment_size),
        )


def parse_name(name: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WalName:
    """Parse a WAL file name (no folder); ValueError naming it when it is none of the kinds."""
    per = _per_id(segment_size)
    for kind, pattern in (("segment", _SEGMENT), ("backup", _BACKUP), ("partial", _PARTIAL)):
        m = pattern.match(name)
        if m:
            high, low = int(m.group(2), 16), int(m.group(3), 16)
            if low >= per:
                raise ValueError(
                    f"{name!r}: segment {low:08X} is past the last of a {segment_size >> 20} MiB "
                    "segment size"
                )
            return WalName(int(m.group(1), 16), high * per + low, kind, name)  # type: ignore[arg-type]
    m = _HISTORY.match(name)
    if m:
        return WalName(int(m.group(1), 16), 0, "history", name)
    raise ValueError(
        f"{name!r} is not a WAL file name (a segment like 000000010000000000000003, "
        "a 00000002.history, a ...00000028.backup or a ...partial)"
    )
