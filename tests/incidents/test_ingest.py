"""Applying notifications to incidents with a given configuration and time, on the real
catalog (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from buttress.alerting.api import WebhookPayload
from buttress.catalog import Catalog
from buttress.config._incidents import IncidentsConfig, SeverityRule
from buttress.incidents.ingest import ingest, new_incident
from buttress.incidents.tables import Incident
from tests.alerting.test_webhook_api import alert, payload

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def deliver(catalog: Catalog, status: str, config: IncidentsConfig, now: dt.datetime) -> str | None:
    body = WebhookPayload.model_validate(payload(status, alert("BackupMissing", status)))
    with catalog.begin() as session:
        return ingest(session, body, config, now).incident


def test_firing_after_reopen_after_opens_a_new_incident(catalog: Catalog) -> None:
    """Past reopen_after, the group opens a second incident; the first keeps its history."""
    config = IncidentsConfig(reopen_after=600)
    first = deliver(catalog, "firing", config, T0)
    deliver(catalog, "resolved", config, T0 + dt.timedelta(minutes=1))
    inside = deliver(catalog, "firing", config, T0 + dt.timedelta(minutes=10))
    assert inside == first
    deliver(catalog, "resolved", config, T0 + dt.timedelta(minutes=11))
    later = deliver(catalog, "firing", config, T0 + dt.timedelta(minutes=22))
    assert later is not None
    assert later != first
    with catalog.begin() as session:
        rows = session.scalars(select(Incident).order_by(Incident.id)).all()
        assert [(r.status, r.open_key is None) for r in rows] == [
            ("resolved", True),
            ("triggered", False),
        ]


def test_without_auto_resolve_a_person_resolves(catalog: Catalog) -> None:
    """auto_resolve: false leaves the incident open when its alerts resolve."""
    config = IncidentsConfig(auto_resolve=False)
    deliver(catalog, "firing", config, T0)
    deliver(catalog, "resolved", config, T0 + dt.timedelta(minutes=1))
    with catalog.begin() as session:
        assert session.scalars(select(Incident.status)).one() == "triggered"


def test_severity_rules_first_match_wins() -> None:
    """Rules are tried in order, exact or ~regex, else the default severity."""
    config = IncidentsConfig(
        severity_rules=[
            SeverityRule(match={"severity": "critical", "service": "payments"}, severity="P1"),
            SeverityRule(match={"severity": "~crit.*"}, severity="P2"),
        ],
        default_severity="P3",
    )
    assert config.classify({"severity": "critical", "service": "payments"}) == "P1"
    assert config.classify({"severity": "critical", "service": "search"}) == "P2"
    assert config.classify({"severity": "info"}) == "P3"
    assert IncidentsConfig().classify({"severity": "page"}) == "P2"


def test_two_writers_get_distinct_numbers(catalog: Catalog) -> None:
    """Writers declaring at once each get their own INC number (constraint and retry)."""
    refs: list[str] = []
    barrier = threading.Barrier(4)

    def declare() -> None:
        barrier.wait()
        with catalog.begin() as session:
            row = new_incident(
                session,
                T0,
                title="t",
                severity="P3",
                status="triggered",
                source="manual",
                services=[],
                impact="",
                roles={},
                labels={},
                triggered_by="test",
            )
            refs.append(row.ref)

    threads = [threading.Thread(target=declare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(refs) == [f"INC-2026-000{n}" for n in range(1, 5)]


def test_a_repeat_refreshes_last_seen_at_most_once_a_minute(catalog: Catalog) -> None:
    """Repeats inside LAST_SEEN_EVERY write nothing; a later one moves last_seen."""
    from buttress.incidents.ingest import LAST_SEEN_EVERY
    from buttress.incidents.tables import IncidentAlert

    config = IncidentsConfig()
    deliver(catalog, "firing", config, T0)
    deliver(catalog, "firing", config, T0 + dt.timedelta(seconds=LAST_SEEN_EVERY - 1))
    with catalog.begin() as session:
        assert session.scalars(select(IncidentAlert.last_seen)).one() == T0
    later = T0 + dt.timedelta(seconds=LAST_SEEN_EVERY + 1)
    deliver(catalog, "firing", config, later)
    with catalog.begin() as session:
        assert session.scalars(select(IncidentAlert.last_seen)).one() == later
