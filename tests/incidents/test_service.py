"""The incidents service on the real catalog: roles, and what it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from buttress.catalog import Catalog
from buttress.errors import NotFoundError, UsageError
from buttress.incidents import service
from buttress.incidents.tables import IncidentEvent


def test_roles_are_set_cleared_and_on_the_timeline(catalog: Catalog) -> None:
    """Setting and clearing roles merges them and records who did it."""
    with catalog.begin() as session:
        ref = service.declare(session=session, title="t", severity="P1", actor="ann").ref
        service.set_roles(
            session=session, ref=ref, roles={"commander": "ann", "tech_lead": "bo"}, actor="ann"
        )
        incident = service.set_roles(
            session=session, ref=ref, roles={"tech_lead": None}, actor="cy"
        )
        assert incident.roles == {"commander": "ann"}
        events = session.scalars(select(IncidentEvent).order_by(IncidentEvent.id)).all()
        assert [(e.kind, e.actor) for e in events] == [
            ("declared", "ann"),
            ("roles", "ann"),
            ("roles", "cy"),
        ]


def test_unknown_role_severity_and_id_are_refused(catalog: Catalog) -> None:
    """An unknown role or severity is a usage error naming it; an unknown id is not found."""
    with catalog.begin() as session:
        ref = service.declare(session=session, title="t", severity="P1", actor="ann").ref
        with pytest.raises(UsageError, match="'chef'"):
            service.set_roles(session=session, ref=ref, roles={"chef": "x"}, actor="ann")
        with pytest.raises(UsageError, match="'P0'"):
            service.declare(session=session, title="t", severity="P0", actor="ann")
        with pytest.raises(NotFoundError):
            service.get(session=session, ref="nonsense")
