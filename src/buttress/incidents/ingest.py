"""Alertmanager notifications into incidents, idempotently, inside the caller's transaction.

An incident is keyed on the payload's ``groupKey`` (``Incident.open_key`` while not closed),
its alerts on ``fingerprint``. A delivery only writes what changes: the same delivery again
adds no timeline event and writes nothing but, at most once per :data:`LAST_SEEN_EVERY`, the
alerts' ``last_seen``. A group whose alerts are all resolved and
that has no incident opens none (a resolved notification that overtook its firing one). A
group firing again within ``incidents.reopen_after`` of its incident's resolution reopens it;
later, the old incident lets go of the group key and a new one opens. With
``incidents.auto_resolve`` the incident resolves when every one of its alerts is resolved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from buttress.alerting.api import WebhookPayload
from buttress.config._incidents import IncidentsConfig
from buttress.incidents.tables import Incident, IncidentAlert, IncidentEscalation, IncidentEvent
from buttress.incidents.wake import kick

__all__ = ["ACTOR", "Ingested", "ingest", "new_incident"]

ACTOR = "alertmanager"
"""The actor of what the receiver does."""

_ATTEMPTS = 20


@dataclass(frozen=True)
class Ingested:
    """What one delivery did to the incidents."""

    incident: str | None
    """The incident's id (``INC-…``), or None when none was opened."""
    opened: bool
    reopened: bool
    resolved: bool
    row: Incident | None = None
    """The incident's row (in the caller's session)."""


LAST_SEEN_EVERY = 60.0
"""Seconds between refreshes of an alert's ``last_seen`` by repeats of one delivery (a repeat
inside them reads and writes nothing: Prometheus and Alertmanager resend often)."""


def _event(
    session: Session, incident: Incident, now: dt.datetime, kind: str, actor: str, **detail: Any
) -> None:
    session.add(
        IncidentEvent(incident_id=incident.id, at=now, kind=kind, actor=actor, detail=detail)
    )


def _escalate_afresh(session: Session, incident_id: int) -> None:
    """A reopened incident escalates from level 1 again, whatever its escalation's state was
    when the next step runs (exhausted, or the resolution not yet sent). Its respond target
    was measured on its first episode: it is not reported breached again."""
    row = session.get(IncidentEscalation, incident_id)
    if row is not None:
        row.state, row.level, row.cycle, row.next_at, row.reminders = "new", -1, 0, None, 0
        row.breaches = sorted({*row.breaches, "respond"})


def new_incident(session: Session, now: dt.datetime, **fields: Any) -> Incident:
    """Insert an incident with the next number of ``now``'s year. Two writers that pick the
    same number collide on ``uq_incidents_year_seq`` (or, for one group, on ``open_key``); the
    loser's savepoint rolls back and it tries again, so numbers stay unique without a lock.
    Raises :class:`IntegrityError` when the ``open_key`` is taken (the caller re-reads)."""
    for _ in range(_ATTEMPTS):
        seq = (
            session.scalar(select(func.max(Incident.seq)).where(Incident.year == now.year)) or 0
        ) + 1
        incident = Incident(year=now.year, seq=seq, triggered_at=now, **fields)
        try:
            with session.begin_nested():
                session.add(incident)
        except IntegrityError:
            if fields.get("open_key") is not None and session.scalar(
                select(Incident.id).where(Incident.open_key == fields["open_key"])
            ):
                raise
            continue
        return incident
    raise RuntimeError(f"no free incident number after {_ATTEMPTS} attempts")


def _title(payload: WebhookPayload) -> str:
    labels = payload.common_labels or payload.group_labels
    name = labels.get("alertname") or next(
        (a.labels.get("alertname", "") for a in payload.alerts), ""
    )
    summary = payload.common_annotations.get("summary", "")
    title = f"{name}: {summary}" if name and summary else (name or summary or payload.group_key)
    return title[:500]


def _services(payload: WebhookPayload) -> list[str]:
    found = {a.labels["service"] for a in payload.alerts if "service" in a.labels}
    return sorted(found)


def ingest(
    session: Session, payload: WebhookPayload, config: IncidentsConfig, now: dt.datetime
) -> Ingested:
    """Apply one notification to the incidents (see the module docstring)."""
    firing = any(alert.status == "firing" for alert in payload.alerts)
    incident = session.scalar(select(Incident).where(Incident.open_key == payload.group_key))
    opened = reopened = False
    if incident is not None and incident.status == "resolved" and firing:
        resolved_at = incident.resolved_at  # set with the status; a row without one: long ago
        if resolved_at is not None and (now - resolved_at).total_seconds() <= config.reopen_after:
            incident.status = "triggered"
            incident.resolved_at = incident.resolved_by = None
            _event(session, incident, now, "reopened", ACTOR)
            _escalate_afresh(session, incident.id)
            reopened = True
        else:
            incident.open_key = None  # it keeps its history; the group starts a new one
            session.flush()
            incident = None
    if incident is None:
        if not firing:
            return Ingested(None, opened=False, reopened=False, resolved=False)
        labels = dict(payload.common_labels or payload.group_labels)
        try:
            incident = new_incident(
                session,
                now,
                title=_title(payload),
                severity=config.classify(labels),
                status="triggered",
                source="alertmanager",
                group_key=payload.group_key,
                open_key=payload.group_key,
                services=_services(payload),
                impact="",
                roles={},
                labels=labels,
                triggered_by=ACTOR,
            )
        except IntegrityError:  # another replica opened it a moment ago
            incident = session.scalars(
                select(Incident).where(Incident.open_key == payload.group_key)
            ).one()
        else:
            opened = True
            _event(session, incident, now, "triggered", ACTOR, severity=incident.severity)
    known = {
        row.fingerprint: row
        for row in session.scalars(
            select(IncidentAlert).where(IncidentAlert.incident_id == incident.id)
        )
    }
    for alert in payload.alerts:
        row = known.get(alert.fingerprint)
        if row is None:
            row = IncidentAlert(
                incident_id=incident.id,
                fingerprint=alert.fingerprint,
                status=alert.status,
                labels=dict(alert.labels),
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                last_seen=now,
            )
            session.add(row)
            known[alert.fingerprint] = row
        elif row.status != alert.status:
            row.status, row.ends_at, row.last_seen = alert.status, alert.ends_at, now
            if alert.starts_at is not None:
                row.starts_at = alert.starts_at
        else:  # a repeat: nothing changes but, now and then, when it was last seen
            if (now - row.last_seen).total_seconds() >= LAST_SEEN_EVERY:
                row.last_seen = now
            continue
        _event(
            session,
            incident,
            now,
            f"alert_{alert.status}",
            ACTOR,
            fingerprint=alert.fingerprint,
            alertname=alert.labels.get("alertname", ""),
        )
    resolved = False
    if (
        config.auto_resolve
        and incident.status in ("triggered", "acknowledged", "mitigated")
        and known
        and all(row.status == "resolved" for row in known.values())
    ):
        incident.status = "resolved"
        incident.resolved_at = now
        incident.resolved_by = ACTOR
        _event(session, incident, now, "resolved", ACTOR, reason="all alerts resolved")
        resolved = True
    session.flush()
    if opened or reopened or resolved:
        kick(session, incident, now)
    return Ingested(incident.ref, opened, reopened, resolved, incident)
