"""Incidents by hand: declare, ack, mitigate, resolve, close, note, set roles, list and show.

Keyword-only functions taking the caller's ``session`` (the caller owns the transaction). An
action the lifecycle refuses (:mod:`buttress.incidents.lifecycle`) raises
:class:`~buttress.errors.ConflictError` (API: 409); an unknown id raises
:class:`~buttress.errors.NotFoundError` (404). Every change is a timeline event with its actor.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from buttress.errors import ConflictError, NotFoundError, UsageError
from buttress.incidents.ingest import new_incident
from buttress.incidents.lifecycle import ORDER, Action, next_status
from buttress.incidents.tables import Incident, IncidentAlert, IncidentEvent
from buttress.incidents.wake import kick

__all__ = [
    "ROLES",
    "act",
    "alerts_of",
    "declare",
    "get",
    "list_incidents",
    "note",
    "set_roles",
    "timeline",
]

ROLES = ("commander", "tech_lead", "communications")
SEVERITIES = ("P1", "P2", "P3", "P4")
_REF = re.compile(r"^INC-(\d{4})-(\d{1,9})$")


def _event(
    session: Session, incident: Incident, now: dt.datetime, kind: str, actor: str, **detail: Any
) -> None:
    session.add(
        IncidentEvent(incident_id=incident.id, at=now, kind=kind, actor=actor, detail=detail)
    )


def get(*, session: Session, ref: str) -> Incident:
    """The incident ``INC-<year>-<seq>``; NotFoundError otherwise."""
    found = _REF.match(ref.strip().upper())
    incident = (
        session.scalar(
            select(Incident).where(Incident.year == int(found[1]), Incident.seq == int(found[2]))
        )
        if found
        else None
    )
    if incident is None:
        raise NotFoundError("incident", ref)
    return incident


def declare(
    *,
    session: Session,
    title: str,
    severity: str,
    actor: str,
    services: Sequence[str] = (),
    impact: str = "",
    now: dt.datetime | None = None,
) -> Incident:
    """Open an incident by hand (source ``manual``)."""
    if severity not in SEVERITIES:
        raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if not title.strip():
        raise UsageError("an incident needs a title")
    now = now or dt.datetime.now(dt.UTC)
    incident = new_incident(
        session,
        now,
        title=title.strip()[:500],
        severity=severity,
        status="triggered",
        source="manual",
        services=list(services),
        impact=impact,
        roles={},
        labels={},
        triggered_by=actor,
    )
    _event(session, incident, now, "declared", actor, severity=severity)
    kick(session, incident, now)
    return incident


def act(
    *,
    session: Session,
    ref: str,
    action: Action,
    actor: str,
    now: dt.datetime | None = None,
    postmortem_required: Collection[str] | None = None,
) -> Incident:
    """Move the incident on (ack/mitigate/resolve/close); ConflictError when the lifecycle
    refuses. Closing lets go of the Alertmanager group (a later firing opens a new incident),
    and needs a published post-mortem for the severities of ``postmortem_required``
    (``incidents.postmortem_required``; None: its default)."""
    incident = get(session=session, ref=ref)
    target = next_status(incident.status, action)
    if target not in ORDER:
        raise ConflictError(f"{incident.ref}: {target}")
    if target == "closed":
        from buttress.incidents.postmortem import require_for_close

        require_for_close(session=session, incident=incident, required=postmortem_required)
    now = now or dt.datetime.now(dt.UTC)
    incident.status = target
    setattr(incident, f"{target}_at", now)
    setattr(incident, f"{target}_by", actor)
    if target == "closed":
        incident.open_key = None
    _event(session, incident, now, target, actor)
    kick(session, incident, now)
    return incident


def note(
    *, session: Session, ref: str, text: str, actor: str, now: dt.datetime | None = None
) -> Incident:
    """Add a free-form note to the timeline."""
    if not text.strip():
        raise UsageError("a note needs some text")
    incident = get(session=session, ref=ref)
    _event(session, incident, now or dt.datetime.now(dt.UTC), "note", actor, text=text)
    session.flush()
    return incident


def set_roles(
    *,
    session: Session,
    ref: str,
    roles: dict[str, str | None],
    actor: str,
    now: dt.datetime | None = None,
) -> Incident:
    """Set (a name) or clear (None) the commander, tech lead and communications roles."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise UsageError(f"unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    incident = get(session=session, ref=ref)
    merged = dict(incident.roles)
    for role, person in roles.items():
        if person:
            merged[role] = person
        else:
            merged.pop(role, None)
    incident.roles = merged
    _event(session, incident, now or dt.datetime.now(dt.UTC), "roles", actor, roles=roles)
    session.flush()
    return incident


def list_incidents(
    *,
    session: Session,
    status: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Newest first, keyset-paginated on the row id (``before``: the last id of the previous
    page), so any page costs an index range scan. ``service`` filters in Python over the
    JSON list, page by page."""
    query = select(Incident).order_by(Incident.id.desc())
    if status is not None:
        query = query.where(Incident.status == status)
    if severity is not None:
        query = query.where(Incident.severity == severity)
    if before is not None:
        query = query.where(Incident.id < before)
    if service is None:
        return list(session.scalars(query.limit(limit)))
    found: list[Incident] = []
    for row in session.scalars(query.execution_options(yield_per=500)):
        if service in row.services:
            found.append(row)
            if len(found) == limit:
                break
    return found


def alerts_of(*, session: Session, incident: Incident) -> list[IncidentAlert]:
    """The incident's alerts, in the order they came."""
    query = select(IncidentAlert).where(IncidentAlert.incident_id == incident.id)
    return list(session.scalars(query.order_by(IncidentAlert.id)))


def timeline(*, session: Session, incident: Incident) -> list[IncidentEvent]:
    """The incident's timeline, oldest first."""
    query = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
    return list(session.scalars(query.order_by(IncidentEvent.id)))
