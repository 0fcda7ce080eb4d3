"""The job runner's catalog tables: the jobs and their next due time, every run of a job, the
leader's lease (with its fencing term), and the replicas that share the catalog."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from buttress.catalog.tables import Base, UTCDateTime

__all__ = ["JobRow", "JobRunRow", "LeaderLease", "ReplicaRow"]


class JobRow(Base):
    """A registered job: its schedule as stored (``cron 0 3 * * * UTC``, ``every 2s``,
    ``at 2026-12-03T10:00:00+00:00``) and when it is due next."""

    __tablename__ = "jobs"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    handler: Mapped[str] = mapped_column(String(200))
    schedule: Mapped[str] = mapped_column(String(200))
    missed: Mapped[str] = mapped_column(String(20))
    timeout: Mapped[float | None] = mapped_column(Float, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_due: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class JobRunRow(Base):
    """One run of a job (or a due time skipped), by which replica, under which leader term."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(200), index=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # running, succeeded, failed, timed_out, interrupted, skipped, missed
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(Text, default="")
    late: Mapped[float] = mapped_column(Float, default=0.0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    replica: Mapped[str] = mapped_column(String(100))
    term: Mapped[int] = mapped_column(Integer)


class LeaderLease(Base):
    """Who leads (one row per election ``name``): the lease it renews and its term, a fencing
    token that grows by one at every change of leader."""

    __tablename__ = "leader_lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(200))
    machine: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    pid_started: Mapped[float] = mapped_column(Float)
    term: Mapped[int] = mapped_column(Integer)
    # PostgreSQL: the backend PID of the leader's session holding the advisory lock
    backend: Mapped[int | None] = mapped_column(Integer, nullable=True)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReplicaRow(Base):
    """A control-plane process sharing the catalog, as it last reported itself."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    machine: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
