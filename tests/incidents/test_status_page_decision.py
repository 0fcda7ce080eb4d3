"""The status page's pure decision: states of checks and incidents, the worst wins, the
public status of an incident."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from buttress.config._status_page import StatusComponent, StatusPageConfig
from buttress.incidents.status_page import (
    STATES,
    CheckFacts,
    IncidentFacts,
    UpdateFacts,
    build,
    check_state,
    incident_state,
    public_status,
    worst,
)

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def incident(severity: str = "P2", status: str = "triggered", *updates: str) -> IncidentFacts:
    return IncidentFacts(
        ref="INC-2026-0001",
        title="t",
        severity=severity,
        status=status,
        services=("api",),
        triggered_at=T0,
        resolved_at=T0 if status in ("resolved", "closed") else None,
        updates=tuple(UpdateFacts(T0, u, u) for u in updates),  # type: ignore[arg-type]
    )


@given(st.lists(st.sampled_from(STATES)))
def test_worst_is_the_latest_in_order(states: list[str]) -> None:
    """The worst state is the one furthest along STATES; none is operational."""
    found = worst(states)  # type: ignore[arg-type]
    assert found == (max(states, key=STATES.index) if states else "operational")


def test_check_states() -> None:
    """Down and critical: major; down: partial; slow: degraded; up or not run: operational."""
    assert check_state(CheckFacts("down", critical=True)) == "major_outage"
    assert check_state(CheckFacts("down", critical=False)) == "partial_outage"
    assert check_state(CheckFacts("degraded", critical=True)) == "degraded"
    assert check_state(CheckFacts("up", critical=True)) == "operational"
    assert check_state(CheckFacts("unknown", critical=True)) == "operational"


def test_incident_states_and_public_status() -> None:
    """Severity decides while open; mitigated caps at degraded; resolved is resolved."""
    assert incident_state(incident("P1")) == "major_outage"
    assert incident_state(incident("P2", "acknowledged")) == "partial_outage"
    assert incident_state(incident("P4")) == "degraded"
    assert incident_state(incident("P1", "mitigated")) == "degraded"
    assert incident_state(incident("P1", "resolved")) == "operational"
    assert public_status(incident()) == "investigating"
    assert public_status(incident("P2", "triggered", "monitoring", "identified")) == "monitoring"
    assert public_status(incident("P2", "closed", "identified")) == "resolved"


def test_a_check_the_monitor_lacks_says_nothing() -> None:
    """A component's check that is not among the results leaves it operational."""
    config = StatusPageConfig(components=[StatusComponent(name="API", checks=["gone"])])
    page = build(config, checks={}, incidents=[], now=T0)
    assert page.state == "operational"
    assert page.components[0].state == "operational"
