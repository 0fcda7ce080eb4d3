"""The one timer of each incident's escalation: ``incident:<id>``, handler
``incidents.escalate`` (:mod:`buttress.incidents.escalation` runs it). Whatever changes an
incident calls :func:`kick` in its own transaction; this module is light on purpose, so the
webhook receiver and the CLI do not import the notifiers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from buttress.incidents.tables import Incident
from buttress.jobs import set_timer

__all__ = ["HANDLER", "kick", "timer_key"]

HANDLER = "incidents.escalate"


def timer_key(incident_id: int) -> str:
    """The job runner timer that moves one incident's escalation."""
    return f"incident:{incident_id}"


def kick(session: Session, incident: Incident, now: dt.datetime) -> None:
    """``incident`` just changed: have its escalation look at it now (in the same
    transaction, so the change and its timer commit together)."""
    session.flush()  # the id of a new incident
    set_timer(session, timer_key(incident.id), now, HANDLER, {"incident": incident.id})
