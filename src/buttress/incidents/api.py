"""``/api/v1/incidents``: incidents read (viewer) and acted on (operator).

Lists are newest first with keyset pagination: ``before`` is the ``next_before`` of the
previous page. Actions answer 409 when the lifecycle refuses (closing an unresolved incident,
acknowledging a resolved one) and 404 for an unknown id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from buttress.incidents import service
from buttress.incidents.lifecycle import Action, Status
from buttress.incidents.metrics import IncidentMetrics
from buttress.incidents.tables import Incident
from buttress.platform.auth import Operator, Viewer
from buttress.platform.http import CatalogDep
from buttress.platform.schemas import JsonObject

__all__ = [
    "IncidentAlertRead",
    "IncidentDeclare",
    "IncidentDetail",
    "IncidentEventRead",
    "IncidentNote",
    "IncidentPage",
    "IncidentRead",
    "IncidentResponse",
    "IncidentRoles",
    "router",
]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
Severity = Literal["P1", "P2", "P3", "P4"]


class IncidentRead(BaseModel):
    """One incident (its labels stay internal to the API's viewers)."""

    model_config = ConfigDict(from_attributes=True)

    ref: str = Field(description="The incident's id, INC-<year>-<number>.")
    title: str
    severity: Severity
    status: Status
    source: Literal["alertmanager", "manual"]
    services: list[str]
    impact: str
    roles: dict[str, str]
    labels: dict[str, str]
    triggered_at: dt.datetime
    triggered_by: str
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    mitigated_at: dt.datetime | None
    mitigated_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None


class IncidentAlertRead(BaseModel):
    """One alert of an incident, as last seen."""

    model_config = ConfigDict(from_attributes=True)

    fingerprint: str
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    last_seen: dt.datetime


class IncidentEventRead(BaseModel):
    """One timeline entry."""

    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    kind: str
    actor: str
    detail: JsonObject


class IncidentDetail(IncidentRead):
    """An incident with its alerts and timeline."""

    alerts: list[IncidentAlertRead]
    timeline: list[IncidentEventRead]


class IncidentPage(BaseModel):
    """One page of incidents, newest first."""

    items: list[IncidentRead]
    next_before: int | None = Field(description="Pass as `before` for the next page (None: last).")


class IncidentDeclare(BaseModel):
    """An incident declared by hand."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    severity: Severity
    services: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    impact: str = Field(default="", max_length=10_000)


class IncidentNote(BaseModel):
    """A note for the timeline."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


def _read(incident: Incident) -> IncidentRead:
    return IncidentRead.model_validate(incident)


def observe(request: Request, incident: Incident) -> None:
    """Feed the MTTA/MTTR histograms, when the app has them."""
    metrics = getattr(request.app.state, "incident_metrics", None)
    if isinstance(metrics, IncidentMetrics):
        metrics.observe(incident, incident.status)


@router.get("", summary="Incidents, newest first, with filters")
def list_incidents(
    catalog: CatalogDep,
    _who: Viewer,
    status: Status | None = None,
    severity: Severity | None = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=200)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IncidentPage:
    with catalog.begin() as session:
        rows = service.list_incidents(
            session=session,
            status=status,
            severity=severity,
            service=service_name,
            before=before,
            limit=limit,
        )
        items = [_read(row) for row in rows]
        last = rows[-1].id if len(rows) == limit else None
    return IncidentPage(items=items, next_before=last)


@router.get("/{ref}", summary="One incident with its alerts and timeline")
def show(ref: str, catalog: CatalogDep, _who: Viewer) -> IncidentDetail:
    with catalog.begin() as session:
        incident = service.get(session=session, ref=ref)
        return IncidentDetail(
            **_read(incident).model_dump(),
            alerts=[
                IncidentAlertRead.model_validate(a)
                for a in service.alerts_of(session=session, incident=incident)
            ],
            timeline=[
                IncidentEventRead.model_validate(e)
                for e in service.timeline(session=session, incident=incident)
            ],
        )


@router.post("", summary="Declare an incident by hand", status_code=201)
def declare(
    request: Request, body: IncidentDeclare, catalog: CatalogDep, who: Operator
) -> IncidentRead:
    with catalog.begin() as session:
        incident = service.declare(
            session=session,
            title=body.title,
            severity=body.severity,
            services=body.services,
            impact=body.impact,
            actor=who.name,
        )
        read = _read(incident)
    request.state.audit_target = read.ref
    return read


def postmortem_required(request: Request) -> list[str] | None:
    """The severities whose closing needs a published post-mortem, from the app's config."""
    config = getattr(request.app.state, "incidents_config", None)
    return None if config is None else list(config.postmortem_required)


def _acting(action: Action) -> Any:
    def route(request: Request, ref: str, catalog: CatalogDep, who: Operator) -> IncidentRead:
        with catalog.begin() as session:
            incident = service.act(
                session=session,
                ref=ref,
                action=action,
                actor=who.name,
                postmortem_required=postmortem_required(request),
            )
            read = _read(incident)
            observe(request, incident)
        request.state.audit_target = read.ref
        return read

    return route


for _action, _summary in (
    ("ack", "Acknowledge an incident"),
    ("mitigate", "Mark an incident mitigated"),
    ("resolve", "Resolve an incident"),
    ("close", "Close a resolved incident"),
):
    router.add_api_route(
        f"/{{ref}}/{_action}",
        _acting(_action),  # type: ignore[arg-type]
        methods=["POST"],
        name=f"incidents.{_action}",
        summary=_summary,
        response_model=IncidentRead,
    )


@router.post("/{ref}/notes", summary="Add a note to an incident's timeline")
def add_note(
    request: Request, ref: str, body: IncidentNote, catalog: CatalogDep, who: Operator
) -> IncidentRead:
    with catalog.begin() as session:
        read = _read(service.note(session=session, ref=ref, text=body.text, actor=who.name))
    request.state.audit_target = read.ref
    return read


class IncidentRoles(BaseModel):
    """Roles to set (a name) or clear (an empty string); roles left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    commander: str | None = Field(default=None, max_length=200)
    tech_lead: str | None = Field(default=None, max_length=200)
    communications: str | None = Field(default=None, max_length=200)


@router.put("/{ref}/roles", summary="Set or clear an incident's roles")
def set_roles(
    request: Request, ref: str, body: IncidentRoles, catalog: CatalogDep, who: Operator
) -> IncidentRead:
    roles = {k: (v or None) for k, v in body.model_dump(exclude_unset=True).items()}
    with catalog.begin() as session:
        incident = service.set_roles(session=session, ref=ref, roles=roles, actor=who.name)
        read = _read(incident)
    request.state.audit_target = read.ref
    return read


class EscalationRead(BaseModel):
    """Where an incident's escalation stands."""

    model_config = ConfigDict(from_attributes=True)

    policy: str | None = Field(description="The escalation policy (None: not escalated).")
    state: Literal["new", "escalating", "acknowledged", "exhausted", "resolved"]
    level: int = Field(description="The last level notified, from 1 (0: none yet).")
    cycle: int = Field(description="The repeat of the policy, from 0.")
    next_at: dt.datetime | None = Field(description="When it looks again (None: on a change).")
    channels: list[str] = Field(description="The notifiers sent to so far.")


class IncidentResponse(BaseModel):
    """An incident against its severity's response target, and its escalation."""

    respond_within_s: float | None = Field(description="The severity's respond target.")
    respond_by: dt.datetime | None
    acknowledged_at: dt.datetime | None
    breached: list[str] = Field(description="Response targets breached (e.g. respond).")
    escalation: EscalationRead | None = Field(description="None: no step has run yet.")


@router.get("/{ref}/response", summary="An incident's response target and escalation")
def response(request: Request, ref: str, catalog: CatalogDep, _who: Viewer) -> IncidentResponse:
    from buttress.incidents.tables import IncidentEscalation

    config = getattr(request.app.state, "incidents_config", None)
    targets = getattr(config, "response_targets", {})
    with catalog.begin() as session:
        incident = service.get(session=session, ref=ref)
        target = targets.get(incident.severity)
        row = session.get(IncidentEscalation, incident.id)
        escalation = None
        if row is not None:
            escalation = EscalationRead.model_validate(row).model_copy(
                update={"level": row.level + 1}
            )
        respond = target.respond if target is not None else None
        return IncidentResponse(
            respond_within_s=respond,
            respond_by=(incident.triggered_at + dt.timedelta(seconds=respond) if respond else None),
            acknowledged_at=incident.acknowledged_at,
            breached=list(row.breaches) if row is not None else [],
            escalation=escalation,
        )
