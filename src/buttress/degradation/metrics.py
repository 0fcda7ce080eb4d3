"""Degradation metrics for ``/metrics``, read from the controller at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress.degradation.controller import DegradationController

__all__ = ["LevelCollector"]


class LevelCollector(Collector):
    def __init__(self, controller: DegradationController) -> None:
        self.controller = controller

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.controller.snapshot()
        level = GaugeMetricFamily(
            names.DEGRADATION_LEVEL, "Degradation level in force, by index (0: normal)"
        )
        level.add_metric([], snap.index)
        info = GaugeMetricFamily(
            names.DEGRADATION_LEVEL_INFO,
            "1 for the level in force and the automatic level under it",
            labels=["level", "automatic"],
        )
        info.add_metric([snap.level, snap.automatic], 1)
        override = GaugeMetricFamily(names.DEGRADATION_OVERRIDE, "1 while an override holds")
        override.add_metric([], 1 if snap.override else 0)
        features = GaugeMetricFamily(
            names.FEATURE_ENABLED,
            "1 when a feature is on at the level in force",
            labels=["feature"],
        )
        for feature, on in snap.features.items():
            features.add_metric([feature], 1 if on else 0)
        yield from (level, info, override, features)
