"""``buttress_leader``: 1 on the replica that leads, 0 on the others (read at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress.jobs.runner import JobRunner

__all__ = ["LeaderCollector"]


class LeaderCollector(Collector):
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[GaugeMetricFamily]:
        leader = GaugeMetricFamily(
            names.LEADER,
            "1 on the replica that leads (runs the scheduled jobs), 0 on the others",
            labels=["replica"],
        )
        leader.add_metric([self.runner.replica], 1 if self.runner.election.leading else 0)
        yield leader
