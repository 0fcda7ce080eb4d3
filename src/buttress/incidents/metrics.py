"""The incidents' metrics: ``buttress_incidents_open{severity}`` (read from the catalog at
scrape time) and the time to acknowledge / to resolve per severity (histograms observed when
the control plane acknowledges or resolves an incident, by hand or automatically; the CLI
acts outside the server and is not counted); the escalation's notifications by kind and the
response targets breached (counted by the replica that runs the escalation timers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from buttress import metric_names as names
from buttress.catalog import Catalog
from buttress.errors import CatalogError
from buttress.incidents.tables import Incident

__all__ = ["IncidentMetrics", "OpenIncidents"]

SEVERITIES = ("P1", "P2", "P3", "P4")
_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600)


class OpenIncidents(Collector):
    """Incidents neither resolved nor closed, by severity."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            names.INCIDENTS_OPEN, "Incidents not resolved or closed", labels=["severity"]
        )
        query = (
            select(Incident.severity, func.count())
            .where(Incident.status.in_(("triggered", "acknowledged", "mitigated")))
            .group_by(Incident.severity)
        )
        try:
            with self._catalog.begin() as session:
                counts: dict[str, int] = dict(session.execute(query).all())
        except CatalogError:
            return  # buttress_catalog_up says why
        for severity in SEVERITIES:
            gauge.add_metric([severity], counts.get(severity, 0))
        yield gauge


@dataclass
class IncidentMetrics:
    """The histograms the routes observe (unregistered; the component hands them over)."""

    mtta: Histogram
    mttr: Histogram
    escalations: Counter
    breaches: Counter

    @classmethod
    def create(cls) -> IncidentMetrics:
        mtta = Histogram(
            names.INCIDENT_MTTA,
            "Seconds from an incident's trigger to its acknowledgement",
            ["severity"],
            buckets=_BUCKETS,
            registry=None,
        )
        mttr = Histogram(
            names.INCIDENT_MTTR,
            "Seconds from an incident's trigger to its resolution",
            ["severity"],
            buckets=_BUCKETS,
            registry=None,
        )
        escalations = Counter(
            names.INCIDENT_ESCALATIONS,
            "Notifications the escalation of incidents decided, by kind",
            ["severity", "kind"],
            registry=None,
        )
        breaches = Counter(
            names.INCIDENT_BREACHES,
            "Response targets breached (respond: not acknowledged in time)",
            ["severity", "target"],
            registry=None,
        )
        for severity in SEVERITIES:
            mtta.labels(severity)
            mttr.labels(severity)
            breaches.labels(severity, "respond")
        return cls(mtta, mttr, escalations, breaches)

    def observe(self, incident: Incident, status: str) -> None:
        """Observe ``incident`` having just reached ``status`` (acknowledged or resolved)."""
        if status == "acknowledged" and incident.acknowledged_at is not None:
            seconds = (incident.acknowledged_at - incident.triggered_at).total_seconds()
            self.mtta.labels(incident.severity).observe(max(seconds, 0.0))
        elif status == "resolved" and incident.resolved_at is not None:
            seconds = (incident.resolved_at - incident.triggered_at).total_seconds()
            self.mttr.labels(incident.severity).observe(max(seconds, 0.0))
