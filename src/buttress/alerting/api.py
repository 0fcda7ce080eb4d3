"""``/api/v1/alerts``: the webhook Alertmanager notifies buttress on (operator), and the alert
history it leaves (viewer).

``POST /api/v1/alerts/alertmanager`` takes Alertmanager's webhook payload, version 4 (what the
``buttress`` receiver of ``alerting.alertmanager`` sends, with ``Authorization: Bearer``), and
keeps one row per alert per notification in ``alert_notifications``; Alertmanager has no
alert history of its own. ``GET /api/v1/alerts/history`` reads them back, newest first.
The route itself is :mod:`buttress.incidents.receiver` (it also turns the notification into
incidents, in the same transaction); its payload models are here.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from buttress import metric_names as names
from buttress.alerting.tables import AlertNotification
from buttress.platform.auth import Viewer
from buttress.platform.http import CatalogDep

__all__ = [
    "AlertNotificationRead",
    "WebhookAlert",
    "WebhookPayload",
    "notifications_counter",
    "router",
]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertStatus = Literal["firing", "resolved"]
Labels = dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=10_000)]]
MAX_ALERTS = 1000
"""At most this many alerts in one notification (Alertmanager's webhook max_alerts caps it)."""


def notifications_counter() -> Counter:
    """``buttress_alert_notifications_total{status}``: alerts received on the webhook, by the
    alert's status (unregistered: the component hands it to the server's registry)."""
    counter = Counter(
        names.ALERT_NOTIFICATIONS,
        "Alerts received on the Alertmanager webhook, by the alert's status",
        ["status"],
        registry=None,
    )
    for status in ("firing", "resolved"):
        counter.labels(status)
    return counter


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """UTC, or None for Go's zero time (``0001-01-01T00:00:00Z``: "not resolved yet")."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None
    return None if value.year <= 1 else value


class WebhookAlert(BaseModel):
    """One alert of a notification."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    starts_at: dt.datetime | None = Field(alias="startsAt")
    ends_at: dt.datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=10_000)
    fingerprint: str = Field(max_length=64)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _utc(value)

    @field_validator("labels")
    @classmethod
    def _alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        if len(labels.get("alertname", "")) > 200:
            raise ValueError("the alertname label is longer than 200 characters")
        return labels


class WebhookPayload(BaseModel):
    """Alertmanager's webhook notification, version 4 (unknown keys are ignored, so that a
    newer Alertmanager's additions do not break it; another ``version`` is accepted when the
    version-4 fields are all there, and the receiver warns)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = Field(
        max_length=20,
        description="4; another version is taken (with a warning) when the fields are there.",
    )
    group_key: str = Field(alias="groupKey", max_length=2000)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: AlertStatus
    receiver: str = Field(max_length=200)
    group_labels: Labels = Field(alias="groupLabels")
    common_labels: Labels = Field(alias="commonLabels")
    common_annotations: Labels = Field(alias="commonAnnotations")
    external_url: str = Field(alias="externalURL", max_length=10_000)
    alerts: list[WebhookAlert] = Field(max_length=MAX_ALERTS)


class AlertNotificationRead(BaseModel):
    """One alert of one notification, as kept."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: dt.datetime
    receiver: str
    status: AlertStatus
    alertname: str
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    group_key: str


@router.get("/history", summary="The alerts Alertmanager sent to buttress, newest first")
def history(
    catalog: CatalogDep,
    _who: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    alertname: Annotated[str | None, Query(max_length=200)] = None,
    status: AlertStatus | None = None,
) -> list[AlertNotificationRead]:
    query = select(AlertNotification).order_by(AlertNotification.id.desc()).limit(limit)
    if alertname is not None:
        query = query.where(AlertNotification.alertname == alertname)
    if status is not None:
        query = query.where(AlertNotification.status == status)
    with catalog.begin() as session:
        return [AlertNotificationRead.model_validate(row) for row in session.scalars(query)]
