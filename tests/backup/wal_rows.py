"""Catalog rows of a physical target's WAL and base backups, for the WAL status tests: a
segment n handed over at T0 + n minutes, base backups with their ``detail["physical"]``."""

from __future__ import annotations

import datetime as dt

from buttress.backup.tables import BackupRun, WalSegment
from buttress.backup.wal.names import parse_name, segment_name
from buttress.catalog import Catalog

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PG_TARGET = (
    "    - {name: pg, source: postgresql, kind: physical,"
    " dsn: 'postgresql://postgres@127.0.0.1:1/postgres', wal: {archive_timeout: 60}}\n"
)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def add_segments(catalog: Catalog, timeline: int, numbers: list[int], target: str = "pg") -> None:
    """Index segments ``numbers`` of ``timeline``, segment n handed over at T0 + n minutes."""
    with catalog.begin() as session:
        for n in numbers:
            name = parse_name(segment_name(timeline, n))
            session.add(
                WalSegment(
                    target=target,
                    name=name.name,
                    kind=name.kind,
                    timeline=timeline,
                    segno=n,
                    sha256=f"{n:064x}",
                    raw_size=16 << 20,
                    stored_size=1 << 20,
                    ready_at=minutes(n),
                    archived_at=minutes(n + 0.1),
                    destinations=["local"],
                    mode="sync",
                )
            )


def add_history(catalog: Catalog, timeline: int, target: str = "pg") -> None:
    with catalog.begin() as session:
        session.add(
            WalSegment(
                target=target,
                name=f"{timeline:08X}.history",
                kind="history",
                timeline=timeline,
                segno=0,
                sha256="ab" * 32,
                raw_size=40,
                stored_size=200,
                ready_at=T0,
                archived_at=T0,
                destinations=["local"],
                mode="sync",
            )
        )


def add_backup(
    catalog: Catalog, bid: str, start: int, stop: int, minute: float, status: str = "succeeded"
) -> None:
    physical = {
        "timeline": 1,
        "start_wal": segment_name(1, start),
        "stop_wal": segment_name(1, stop),
        "start_lsn": f"0/{start << 24:X}",  # 16 MiB segments: segment n starts at n << 24
        "stop_lsn": f"0/{(stop << 24) + 0x100:X}",
        "stop_time": minutes(minute).isoformat(),
    }
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id=bid,
                target="pg",
                status=status,
                started_at=minutes(minute - 0.5),
                finished_at=minutes(minute),
                detail={"physical": physical},
            )
        )
