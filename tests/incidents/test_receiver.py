"""The Alertmanager receiver (POST /api/v1/alerts/alertmanager) turning notifications into
incidents, on the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from buttress.alerting.tables import AlertNotification
from buttress.incidents.tables import Incident, IncidentAlert, IncidentEvent
from tests.alerting.test_webhook_api import alert, payload
from tests.server.conftest import Api

URL = "/api/v1/alerts/alertmanager"


def count(api: Api, table: Any) -> int:
    with api.catalog.begin() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def post(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.client.post(URL, json=body, headers=api.auth(api.operator))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_firing_notification_opens_a_p1_incident(api: Api) -> None:
    """A firing group with severity=critical opens one P1 incident with its alert and a
    timeline."""
    done = post(api, payload())
    assert done["opened"] is True
    assert done["incident"].startswith("INC-")
    assert done["incident"].endswith("-0001")
    with api.catalog.begin() as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.severity, incident.status, incident.source) == (
            "P1",
            "triggered",
            "alertmanager",
        )
        assert incident.title == "BackupMissing: no backup"
        kinds = [e.kind for e in session.scalars(select(IncidentEvent).order_by(IncidentEvent.id))]
    assert kinds == ["triggered", "alert_firing"]


def test_the_same_delivery_ten_times_is_one_incident_one_alert(api: Api) -> None:
    """Ten identical deliveries: one incident, one alert, no repeated timeline event; the
    history keeps each delivery."""
    for _ in range(10):
        post(api, payload())
    assert count(api, Incident) == 1
    assert count(api, IncidentAlert) == 1
    assert count(api, IncidentEvent) == 2
    assert count(api, AlertNotification) == 10


def test_resolved_before_firing_opens_no_phantom_incident(api: Api) -> None:
    """A resolved notification of a group buttress never saw firing opens no incident, and
    the firing one arriving late opens it."""
    done = post(api, payload("resolved", alert("BackupMissing", "resolved")))
    assert done["incident"] is None
    assert count(api, Incident) == 0
    assert count(api, AlertNotification) == 1
    late = post(api, payload())
    assert late["opened"] is True
    assert count(api, Incident) == 1


def test_all_alerts_resolved_resolves_the_incident(api: Api) -> None:
    """When every alert of the incident is resolved, the incident resolves by itself."""
    post(api, payload("firing", alert("A"), alert("B")))
    partly = post(api, payload("firing", alert("A", "resolved"), alert("B")))
    assert partly["resolved"] is False
    done = post(api, payload("resolved", alert("A", "resolved"), alert("B", "resolved")))
    assert done["resolved"] is True
    with api.catalog.begin() as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.status, incident.resolved_by) == ("resolved", "alertmanager")
    again = post(api, payload("resolved", alert("A", "resolved"), alert("B", "resolved")))
    assert again["resolved"] is False
    assert count(api, IncidentEvent) == 6  # triggered, 2 firing, 2 resolved, resolved


def test_firing_again_soon_reopens_the_same_incident(api: Api) -> None:
    """An alert firing again within reopen_after (default 1 h) reopens the incident."""
    first = post(api, payload())
    post(api, payload("resolved", alert("BackupMissing", "resolved")))
    again = post(api, payload())
    assert again["reopened"] is True
    assert again["incident"] == first["incident"]
    assert count(api, Incident) == 1
    with api.catalog.begin() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.status == "triggered"
        assert incident.resolved_at is None


def test_an_unknown_version_with_the_fields_is_accepted_with_a_warning(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Version 5 with version 4's fields is taken, and the answer and the log say so."""
    body = payload()
    body["version"] = "5"
    body["notification_reason"] = "new"
    with caplog.at_level("WARNING", logger="buttress.incidents.receiver"):
        done = post(api, body)
    assert done["opened"] is True
    assert done["warnings"] == ["payload version '5' is not 4; read as version 4"]
    assert "version '5'" in caplog.text


def test_an_unknown_version_without_the_fields_is_rejected(api: Api) -> None:
    """Version 5 missing a required field is 422 naming the field."""
    body = payload()
    body["version"] = "5"
    del body["alerts"]
    answer = api.client.post(URL, json=body, headers=api.auth(api.operator))
    assert answer.status_code == 422
    assert "alerts" in answer.text
    assert count(api, Incident) == 0


def test_malformed_json_is_422(api: Api) -> None:
    """A body that is not JSON is 422 and stores nothing."""
    answer = api.client.post(
        URL,
        content=b'{"version": "4",',
        headers={**api.auth(api.operator), "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert count(api, AlertNotification) == 0


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_is_401(api: Api, token: str | None) -> None:
    """No token, or one buttress never issued, is 401 and opens nothing."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = api.client.post(URL, json=payload(), headers=headers)
    assert answer.status_code == 401
    assert count(api, Incident) == 0


def test_a_10_mb_payload_is_413(api: Api) -> None:
    """A 10 MB notification is refused before parsing, and nothing is stored."""
    body = copy.deepcopy(payload())
    body["commonAnnotations"]["pad"] = "x" * (10 * 1024 * 1024)
    answer = api.client.post(
        URL,
        content=json.dumps(body).encode(),
        headers={**api.auth(api.operator), "content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert count(api, Incident) == 0
