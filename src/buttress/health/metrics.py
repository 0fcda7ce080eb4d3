"""Health metrics for ``/metrics``, read from the monitor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress.health.monitor import HealthMonitor

__all__ = ["HealthCollector"]


class HealthCollector(Collector):
    def __init__(self, monitor: HealthMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.monitor.snapshot()
        score = GaugeMetricFamily(names.HEALTH_SCORE, "Health score, 0-100 (docs/health.md)")
        ready = GaugeMetricFamily(names.HEALTH_READY, "1 when every critical check is up")
        up = GaugeMetricFamily(
            names.HEALTH_CHECK_UP, "1 when a check's latest run was not down", labels=["check"]
        )
        status = GaugeMetricFamily(
            names.HEALTH_CHECK_STATUS,
            "1 for a check's current status (up, degraded, down)",
            labels=["check", "status"],
        )
        latency = GaugeMetricFamily(
            names.HEALTH_CHECK_LATENCY, "Seconds a check's latest run took", labels=["check"]
        )
        if snapshot.score is not None:
            score.add_metric([], snapshot.score)
        ready.add_metric([], 1 if snapshot.ready else 0)
        for check in snapshot.checks:
            if check.status == "unknown" or check.latency_ms is None:
                continue
            up.add_metric([check.name], 0 if check.status == "down" else 1)
            for value in ("up", "degraded", "down"):
                status.add_metric([check.name, value], 1 if check.status == value else 0)
            latency.add_metric([check.name], check.latency_ms / 1000)
        yield from (score, ready, up, status, latency)
