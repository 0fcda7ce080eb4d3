"""The public status page as a pure decision: from the configured components, the health
checks' latest results and the incidents' public facts, what the page says (no I/O).

A component's state is the worst of:

- its health checks (``checks``): a critical check down → ``major_outage``, another check
  down → ``partial_outage``, a check slower than its ``slow`` threshold (``degraded``) →
  ``degraded``; a check not run yet says nothing;
- the open incidents (triggered, acknowledged, mitigated) sharing one of its ``services``:
  P1 → ``major_outage``, P2 → ``partial_outage``, P3/P4 → ``degraded``; a mitigated incident
  (its impact is stopped) counts as ``degraded`` at most.

The page's state is the worst component's (``operational`` with no component).

An incident's public status is ``resolved`` once it is resolved or closed; before, that of
its latest public update, else ``investigating`` (an incident nobody announced yet is shown
with its title and times only). Its public impact comes from its severity, which itself is
never shown. Nothing else of an incident is here to leak: :class:`IncidentFacts` holds only
what the page may show, and the service fills it from those columns only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from buttress.config._status_page import StatusPageConfig

__all__ = [
    "OPEN",
    "PUBLIC_STATUSES",
    "STATES",
    "CheckFacts",
    "ComponentRead",
    "IncidentFacts",
    "PublicIncidentRead",
    "PublicStatus",
    "PublicUpdateRead",
    "State",
    "StatusPageRead",
    "UpdateFacts",
    "build",
    "check_state",
    "incident_state",
    "public_status",
    "worst",
]

State = Literal["operational", "degraded", "partial_outage", "major_outage"]
Impact = Literal["degraded", "partial_outage", "major_outage"]
PublicStatus = Literal["investigating", "identified", "monitoring", "resolved"]

STATES: tuple[State, ...] = ("operational", "degraded", "partial_outage", "major_outage")
"""From best to worst."""
PUBLIC_STATUSES: tuple[PublicStatus, ...] = (
    "investigating",
    "identified",
    "monitoring",
    "resolved",
)
OPEN = ("triggered", "acknowledged", "mitigated")
_IMPACT: dict[str, Impact] = {
    "P1": "major_outage",
    "P2": "partial_outage",
    "P3": "degraded",
    "P4": "degraded",
}


@dataclass(frozen=True, slots=True)
class CheckFacts:
    """A health check's latest result as the page needs it."""

    status: str  # up / degraded / down / unknown
    critical: bool


@dataclass(frozen=True, slots=True)
class UpdateFacts:
    """One public update of an incident."""

    at: dt.datetime
    status: PublicStatus
    text: str


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What the page may know of an incident; ``updates`` newest first."""

    ref: str
    title: str
    severity: str
    status: str
    services: tuple[str, ...]
    triggered_at: dt.datetime
    resolved_at: dt.datetime | None
    updates: tuple[UpdateFacts, ...] = ()

    @property
    def open(self) -> bool:
        return self.status in OPEN


class ComponentRead(BaseModel):
    """A component and its state now."""

    name: str
    description: str
    state: State


class PublicUpdateRead(BaseModel):
    """A public update of an incident."""

    at: dt.datetime
    status: PublicStatus
    text: str


class PublicIncidentRead(BaseModel):
    """An incident as the public sees it."""

    ref: str = Field(description="The incident's id, INC-<year>-<number>.")
    title: str
    status: PublicStatus
    impact: Impact = Field(description="How bad: degraded, partial_outage or major_outage.")
    components: list[str] = Field(description="The components it affects.")
    started_at: dt.datetime
    resolved_at: dt.datetime | None
    updates: list[PublicUpdateRead] = Field(description="Public updates, newest first.")


class StatusPageRead(BaseModel):
    """The public status page: overall state, components, open and past incidents."""

    title: str
    state: State = Field(description="The worst component's state.")
    updated_at: dt.datetime = Field(description="When this answer was computed.")
    components: list[ComponentRead]
    incidents: list[PublicIncidentRead] = Field(description="Open incidents, newest first.")
    past_incidents: list[PublicIncidentRead] = Field(
        description="Incidents resolved within history_days, newest first."
    )


def worst(states: Iterable[State]) -> State:
    """The worst of ``states`` (``operational`` when there is none)."""
    return max(states, key=STATES.index, default="operational")


def check_state(check: CheckFacts) -> State:
    """What one health check's latest result says of its component."""
    if check.status == "down":
        return "major_outage" if check.critical else "partial_outage"
    if check.status == "degraded":
        return "degraded"
    return "operational"


def incident_state(incident: IncidentFacts) -> State:
    """What an incident says of the components it affects (operational once it is over)."""
    if not incident.open:
        return "operational"
    impact = _IMPACT.get(incident.severity, "degraded")
    return "degraded" if incident.status == "mitigated" else impact


def public_status(incident: IncidentFacts) -> PublicStatus:
    """``resolved`` once resolved or closed, else the latest update's, else investigating."""
    if incident.status in ("resolved", "closed"):
        return "resolved"
    return incident.updates[0].status if incident.updates else "investigating"


def _affects(services: Sequence[str], incident: IncidentFacts) -> bool:
    return not set(services).isdisjoint(incident.services)


def build(
    config: StatusPageConfig,
    *,
    checks: Mapping[str, CheckFacts],
    incidents: Sequence[IncidentFacts],
    now: dt.datetime,
) -> StatusPageRead:
    """The page: each component's state, the overall state, the incidents (``incidents``:
    the open ones and those resolved within ``history_days``, newest first). A check the
    monitor does not have says nothing."""
    components = [
        ComponentRead(
            name=c.name,
            description=c.description,
            state=worst(
                [check_state(checks[name]) for name in c.checks if name in checks]
                + [incident_state(i) for i in incidents if _affects(c.services, i)]
            ),
        )
        for c in config.components
    ]

    def read(incident: IncidentFacts) -> PublicIncidentRead:
        over = incident.status in ("resolved", "closed")
        return PublicIncidentRead(
            ref=incident.ref,
            title=incident.title,
            status=public_status(incident),
            impact=_IMPACT.get(incident.severity, "degraded"),
            components=[c.name for c in config.components if _affects(c.services, incident)],
            started_at=incident.triggered_at,
            resolved_at=incident.resolved_at if over else None,
            updates=[
                PublicUpdateRead(at=u.at, status=u.status, text=u.text) for u in incident.updates
            ],
        )

    return StatusPageRead(
        title=config.title,
        state=worst(c.state for c in components),
        updated_at=now,
        components=components,
        incidents=[read(i) for i in incidents if i.open],
        past_incidents=[read(i) for i in incidents if not i.open],
    )
