"""The incidents' metrics on /metrics: open incidents by severity, and MTTA/MTTR observed on
acknowledge and resolve (by hand and automatically)."""

from __future__ import annotations

from tests.alerting.test_webhook_api import alert, payload
from tests.server.conftest import Api


def value(api: Api, line: str) -> float:
    text = api.client.get("/metrics").text
    (found,) = [row[len(line) + 1 :] for row in text.splitlines() if row.startswith(line + " ")]
    return float(found)


def test_open_gauge_and_response_histograms(api: Api) -> None:
    """Open incidents are counted by severity; ack and resolve feed MTTA and MTTR."""
    operator = api.auth(api.operator)
    ref = api.client.post(
        "/api/v1/incidents", json={"title": "t", "severity": "P2"}, headers=operator
    ).json()["ref"]
    api.client.post("/api/v1/alerts/alertmanager", json=payload(), headers=operator)
    assert value(api, 'buttress_incidents_open{severity="P2"}') == 1
    assert value(api, 'buttress_incidents_open{severity="P1"}') == 1
    mtta = 'buttress_incident_time_to_acknowledge_seconds_count{severity="P2"}'
    mttr = 'buttress_incident_time_to_resolve_seconds_count{severity="P1"}'
    assert value(api, mtta) == 0
    api.client.post(f"/api/v1/incidents/{ref}/ack", headers=operator)
    assert value(api, mtta) == 1
    api.client.post(
        "/api/v1/alerts/alertmanager",
        json=payload("resolved", alert("BackupMissing", "resolved")),
        headers=operator,
    )
    assert value(api, mttr) == 1
    assert value(api, 'buttress_incidents_open{severity="P1"}') == 0
