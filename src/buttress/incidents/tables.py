"""The incidents domain's catalog tables: ``incidents`` (one row per incident, its lifecycle
times and actors), ``incident_alerts`` (the Alertmanager alerts of an incident, one row per
fingerprint) and ``incident_events`` (the timeline).

Ids read ``INC-2026-0042``: ``year`` and ``seq`` are stored, unique together, so two replicas
that pick the same next number collide on the constraint and the loser retries. ``open_key``
holds the Alertmanager ``groupKey`` while the incident may still take that group's alerts
(not closed); it is unique, so one group has at most one open incident, and NULL once closed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from buttress.catalog.tables import Base, UTCDateTime

__all__ = [
    "Incident",
    "IncidentActionItem",
    "IncidentActionRun",
    "IncidentAlert",
    "IncidentEscalation",
    "IncidentEvent",
    "IncidentPostmortem",
]


class Incident(Base):
    """One incident: what it is, how bad, where it stands and who moved it there."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_incidents_year_seq"),
        Index("ix_incidents_status_id", "status", "id"),
        Index("ix_incidents_severity_id", "severity", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(2))  # P1..P4
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # alertmanager / manual
    group_key: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(2000), nullable=True, unique=True)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    impact: Mapped[str] = mapped_column(Text, default="")
    roles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    triggered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    triggered_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    mitigated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    mitigated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    @property
    def ref(self) -> str:
        """The incident's display id, ``INC-<year>-<seq, 4 digits>``."""
        return f"INC-{self.year}-{self.seq:04d}"


class IncidentAlert(Base):
    """One Alertmanager alert (by fingerprint) of one incident, as last seen."""

    __tablename__ = "incident_alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint", name="uq_incident_alerts_fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # firing / resolved
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IncidentEvent(Base):
    """One timeline entry of an incident."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IncidentEscalation(Base):
    """Where an incident's escalation stands (the timer that moves it is a job runner timer,
    ``incident:<id>``; this row is what the timer reads, so a restart loses nothing).

    ``state``: ``escalating`` (levels being notified), ``acknowledged`` (stopped; reminders
    may follow), ``exhausted`` (every level and repeat notified, nobody acknowledged),
    ``resolved`` (the resolution was sent). ``level`` is the last level notified (-1: none
    yet), ``cycle`` the repeat of the policy (0: the first pass). ``channels`` lists every
    notifier sent to, so acknowledgement and resolution reach the same places; ``breaches``
    the response targets already reported as breached."""

    __tablename__ = "incident_escalations"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    policy: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    breaches: Mapped[list[str]] = mapped_column(JSON, default=list)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IncidentPostmortem(Base):
    """The post-mortem of one incident: a Markdown body (drafted from the timeline, then
    edited by hand) and whether it is still a ``draft`` or ``published``."""

    __tablename__ = "incident_postmortems"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # draft / published
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class IncidentActionItem(Base):
    """One follow-up of an incident's post-mortem: what, who, by when, and where it stands
    (``open``, ``done``, ``wontfix``). The (status, due) index serves the overdue list."""

    __tablename__ = "incident_action_items"
    __table_args__ = (
        Index("ix_incident_action_items_status_due", "status", "due"),
        Index("ix_incident_action_items_incident_id", "incident_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(200))
    due: Mapped[dt.date | None] = mapped_column(Date(), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # open / done / wontfix
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IncidentActionRun(Base):
    """One run of an automated action rule (``incidents.actions``) for one incident and
    status: ``outcome`` ``ok``, ``failed``, ``dry_run`` or ``throttled`` (the rule had run
    ``max_runs`` times within ``per``: nothing was done). A rule runs at most once per
    (incident, rule, status): the unique constraint makes a second replica's run lose; the
    window counts these rows, over all incidents."""

    __tablename__ = "incident_action_runs"
    __table_args__ = (
        UniqueConstraint("incident_id", "rule", "status", name="uq_incident_action_runs_once"),
        Index("ix_incident_action_runs_rule_at", "rule", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
