"""``POST /api/v1/alerts/alertmanager``: Alertmanager's webhook (operator token, ``Authorization:
Bearer``). In one transaction it keeps each alert as history in ``alert_notifications`` (one row
per alert per delivery: a repeated delivery is a repeated row there, which is what history is)
and applies the notification to the incidents idempotently (:mod:`buttress.incidents.ingest`).

The request gate (:mod:`buttress.server.gate`) reads the body before parsing and answers 413
past its limit (1 MiB by default), so a 10 MB payload never reaches the parser.
"""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, Request
from prometheus_client import Counter
from pydantic import BaseModel, Field

from buttress.alerting.api import WebhookPayload
from buttress.alerting.tables import AlertNotification
from buttress.config._incidents import IncidentsConfig
from buttress.incidents.api import observe
from buttress.incidents.ingest import ingest
from buttress.platform.auth import Operator
from buttress.platform.http import CatalogDep

__all__ = ["WebhookStored", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class WebhookStored(BaseModel):
    """What the webhook kept and did."""

    stored: int = Field(description="Alerts stored in the history (one row each).")
    ids: list[int] = Field(description="Their history ids.")
    incident: str | None = Field(
        default=None, description="The incident the notification belongs to (None: none opened)."
    )
    opened: bool = Field(default=False, description="This delivery opened the incident.")
    reopened: bool = Field(default=False, description="This delivery reopened it.")
    resolved: bool = Field(default=False, description="This delivery resolved it.")
    warnings: list[str] = Field(default_factory=list, description="What was odd but accepted.")


@router.post(
    "/alertmanager",
    name="alerts.webhook",
    summary="Alertmanager's webhook (payload version 4): alert history and incidents",
)
def webhook(
    request: Request, payload: WebhookPayload, catalog: CatalogDep, _who: Operator
) -> WebhookStored:
    warnings = []
    if payload.version != "4":
        warnings.append(f"payload version {payload.version!r} is not 4; read as version 4")
        log.warning("Alertmanager payload version %r is not 4; read as version 4", payload.version)
    config = getattr(request.app.state, "incidents_config", None)
    if not isinstance(config, IncidentsConfig):
        config = IncidentsConfig()
    now = dt.datetime.now(dt.UTC)
    rows = [
        AlertNotification(
            received_at=now,
            receiver=payload.receiver,
            status=alert.status,
            alertname=alert.labels.get("alertname", ""),
            fingerprint=alert.fingerprint,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            group_key=payload.group_key,
        )
        for alert in payload.alerts
    ]
    with catalog.begin() as session:
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
        done = ingest(session, payload, config, now)
        if done.resolved and done.row is not None:
            observe(request, done.row)
    counter = getattr(request.app.state, "alert_notifications", None)
    if isinstance(counter, Counter):
        for alert in payload.alerts:
            counter.labels(alert.status).inc()
    request.state.audit_target = f"receiver={payload.receiver}"
    request.state.audit_detail = {
        "status": payload.status,
        "alerts": len(rows),
        "incident": done.incident,
    }
    return WebhookStored(
        stored=len(rows),
        ids=ids,
        incident=done.incident,
        opened=done.opened,
        reopened=done.reopened,
        resolved=done.resolved,
        warnings=warnings,
    )
