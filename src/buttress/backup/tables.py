"""The backup domain's catalog tables: one row per backup run, one per archived WAL file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from buttress.catalog.tables import Base, UTCDateTime

__all__ = ["BackupRun", "WalSegment"]


class BackupRun(Base):
    """One backup run: what it stored where, and what verify and restore tests found."""

    __tablename__ = "backup_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    # running/succeeded/failed/abandoned/pruned
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_size: Mapped[int] = mapped_column(BigInteger, default=0)
    destinations: Mapped[list[str]] = mapped_column(JSON, default=list)
    failed_destinations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(String(2000), default="")
    verify_status: Mapped[str] = mapped_column(String(16), default="")  # ""/ok/failed
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    restore_test_status: Mapped[str] = mapped_column(String(16), default="")
    restore_tested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WalSegment(Base):
    """One WAL file archived into a target (a segment, a timeline history, a backup history
    or a partial segment): what PostgreSQL handed over, when, and where it is stored. The
    repository is the truth (``T/wal/...``); this is its index, for status, metrics and the
    recoverable window."""

    __tablename__ = "wal_segments"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # segment/history/backup/partial
    timeline: Mapped[int] = mapped_column(BigInteger)
    segno: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_size: Mapped[int] = mapped_column(BigInteger, default=0)
    # when PostgreSQL handed it over (`wal push` called, or spooled): everything committed
    # before the segment switch is in it or an earlier one, so this bounds the newest point
    ready_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    archived_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    destinations: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(8), default="sync")  # sync/async
