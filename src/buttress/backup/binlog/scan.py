"""What a binlog file holds, read from its event headers (binlog format v4: a magic number,
then events, each with a 19-byte header: timestamp, type, server id, size, next position,
flags): the times of its first and last events, where its last whole event ends, and whether
the server finished it (a rotate or stop event last)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAGIC", "BinlogFacts", "scan"]

MAGIC = b"\xfebin"
_HEADER = struct.Struct("<IBIIIH")
_STOP, _ROTATE = 3, 4


@dataclass(frozen=True)
class BinlogFacts:
    first_time: int | None  # Unix seconds of the first event (None: no whole event)
    last_time: int | None  # the latest event time in the file
    end: int  # bytes up to the end of the last whole event
    finished: bool  # the last event is a rotate or stop: the server writes no more to it
    events: int


def scan(path: Path) -> BinlogFacts:
    """Walk ``path``'s event headers (a file being written may end in a partial event: it
    is left out). ValueError when it is not a binlog file."""
    with open(path, "rb") as f:
        if f.read(4) != MAGIC:
            raise ValueError(f"{path}: not a binlog file (no binlog magic number)")
        total = path.stat().st_size
        offset, first, last, kind, count = 4, None, None, -1, 0
        while True:
            f.seek(offset)
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                break
            when, kind_now, _server, size, _next, _flags = _HEADER.unpack(head)
            if size < _HEADER.size:
                raise ValueError(f"{path}: damaged event at byte {offset} (size {size})")
            if offset + size > total:
                break  # a partial event: the server is still sending it
            offset += size
            count += 1
            kind = kind_now
            first = when if first is None else first
            last = when if last is None else max(last, when)
    return BinlogFacts(first, last, offset, kind in (_STOP, _ROTATE), count)
