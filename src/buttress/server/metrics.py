"""The control plane's Prometheus registry: process metrics plus buttress's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress._version import __version__
from buttress.catalog import Catalog
from buttress.errors import CatalogError

__all__ = ["ServerMetrics"]


class _CatalogCollector(Collector):
    """Gauges read at scrape time: is the catalog up, how many tokens are active."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from buttress.catalog import tokens

        up = GaugeMetricFamily(names.CATALOG_UP, "1 if the catalog database answers, else 0")
        active = GaugeMetricFamily(names.API_TOKENS_ACTIVE, "API tokens that are not revoked")
        try:
            with self._catalog.begin() as session:
                count = tokens.count_active(session=session)
        except CatalogError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        active.add_metric([], count)
        yield up
        yield active


@dataclass
class ServerMetrics:
    """The metrics one server instance exports, on a registry of its own (never the global)."""

    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    in_flight: Gauge
    audit_errors: Counter

    @classmethod
    def create(cls, catalog: Catalog) -> ServerMetrics:
        registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        registry.register(PLATFORM_COLLECTOR)
        registry.register(GC_COLLECTOR)
        registry.register(_CatalogCollector(catalog))
        Gauge(names.BUILD_INFO, "buttress version", ["version"], registry=registry).labels(
            __version__
        ).set(1)
        Gauge(names.START_TIME, "Unix time the server started", registry=registry).set(time.time())
        return cls(
            registry=registry,
            requests=Counter(
                names.HTTP_REQUESTS,
                "HTTP requests served, by method, route template and status code",
                ["method", "route", "status"],
                registry=registry,
            ),
            duration=Histogram(
                names.HTTP_REQUEST_DURATION,
                "HTTP request duration in seconds, by method and route template",
                ["method", "route"],
                registry=registry,
            ),
            in_flight=Gauge(names.HTTP_IN_FLIGHT, "HTTP requests being served", registry=registry),
            audit_errors=Counter(
                names.AUDIT_WRITE_ERRORS,
                "Audit records that could not be written",
                registry=registry,
            ),
        )
