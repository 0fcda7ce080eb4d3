"""``buttress_incident_notifications_total{channel,type,outcome}``: sends by outcome (``ok``,
``failed``, ``rejected``: the channel's breaker was open). Unregistered: the component
registers it where it registers the incidents' other metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prometheus_client import Counter

from buttress import metric_names as names

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["NotifyMetrics", "Outcome"]

Outcome = Literal["ok", "failed", "rejected"]


@dataclass
class NotifyMetrics:
    """The counter the dispatcher increments once per delivery."""

    notifications: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> NotifyMetrics:
        """The counter, registered into ``registry`` (``None``: not registered)."""
        return cls(
            Counter(
                names.INCIDENT_NOTIFICATIONS,
                "Incident notifications sent, by channel, channel type and outcome",
                ["channel", "type", "outcome"],
                registry=registry,
            )
        )

    def count(self, channel: str, type_: str, outcome: Outcome) -> None:
        self.notifications.labels(channel, type_, outcome).inc()
