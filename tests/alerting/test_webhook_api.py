"""The Alertmanager webhook (POST /api/v1/alerts/alertmanager) and the alert history it keeps, on
the real server app, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.server.conftest import Api


def payload(status: str = "firing", *alerts: dict[str, Any]) -> dict[str, Any]:
    """What Alertmanager 0.25 posts (its webhook notifier's v4 message)."""
    return {
        "receiver": "buttress",
        "status": status,
        "alerts": list(alerts) or [alert("BackupMissing", status)],
        "groupLabels": {"alertname": "BackupMissing"},
        "commonLabels": {"alertname": "BackupMissing", "severity": "critical"},
        "commonAnnotations": {"summary": "no backup"},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="BackupMissing"}',
        "truncatedAlerts": 0,
    }


def alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} fires"},
        "startsAt": "2026-12-03T13:00:00.5+01:00",
        "endsAt": "2026-12-03T13:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": f"{abs(hash(name)) % 16**16:016x}",
    }


def counted(api: Api, status: str) -> float:
    text = api.client.get("/metrics").text
    line = f'buttress_alert_notifications_total{{status="{status}"}} '
    (value,) = [row[len(line) :] for row in text.splitlines() if row.startswith(line)]
    return float(value)


def test_a_notification_is_kept_one_row_per_alert(api: Api) -> None:
    body = payload(
        "firing", alert("BackupMissing", target="db"), alert("BackupMissing", target="files")
    )
    answer = api.client.post(
        "/api/v1/alerts/alertmanager", json=body, headers=api.auth(api.operator)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 2
    history = api.client.get("/api/v1/alerts/history", headers=api.auth(api.viewer)).json()
    assert [row["labels"]["target"] for row in history] == ["files", "db"]  # newest first
    row = history[1]
    assert row["receiver"] == "buttress"
    assert row["status"] == "firing"
    assert row["alertname"] == "BackupMissing"
    assert row["group_key"] == body["groupKey"]
    assert row["annotations"] == {"summary": "BackupMissing fires"}
    assert row["starts_at"] == "2026-12-03T12:00:00.500000Z"
    assert row["ends_at"] is None  # Go's zero time: not resolved
    assert row["fingerprint"] == body["alerts"][0]["fingerprint"]
    assert counted(api, "firing") == 2


def test_the_history_filters_by_alertname_and_status_and_is_limited(api: Api) -> None:
    auth = api.auth(api.operator)
    api.client.post("/api/v1/alerts/alertmanager", json=payload("firing", alert("A")), headers=auth)
    api.client.post("/api/v1/alerts/alertmanager", json=payload("firing", alert("B")), headers=auth)
    resolved = payload("resolved", alert("A", "resolved"))
    api.client.post("/api/v1/alerts/alertmanager", json=resolved, headers=auth)

    def read(query: str) -> list[tuple[str, str]]:
        answer = api.client.get(f"/api/v1/alerts/history{query}", headers=api.auth(api.viewer))
        assert answer.status_code == 200, answer.text
        return [(r["alertname"], r["status"]) for r in answer.json()]

    assert read("") == [("A", "resolved"), ("B", "firing"), ("A", "firing")]
    assert read("?alertname=A") == [("A", "resolved"), ("A", "firing")]
    assert read("?status=firing") == [("B", "firing"), ("A", "firing")]
    assert read("?alertname=A&status=resolved&limit=5") == [("A", "resolved")]
    assert read("?limit=1") == [("A", "resolved")]
    ends = api.client.get("/api/v1/alerts/history?limit=1", headers=api.auth(api.viewer))
    assert ends.json()[0]["ends_at"] == "2026-12-03T13:30:00Z"
    assert counted(api, "resolved") == 1
    bad = api.client.get("/api/v1/alerts/history?limit=0", headers=api.auth(api.viewer))
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "query.limit"


def test_the_webhook_needs_an_operator_and_the_history_a_viewer(api: Api) -> None:
    anonymous = api.client.post("/api/v1/alerts/alertmanager", json=payload())
    assert anonymous.status_code == 401
    viewer = api.client.post(
        "/api/v1/alerts/alertmanager", json=payload(), headers=api.auth(api.viewer)
    )
    assert viewer.status_code == 403
    assert viewer.json()["error"] == "forbidden"
    assert api.client.get("/api/v1/alerts/history").status_code == 401
    assert api.client.get("/api/v1/alerts/history", headers=api.auth(api.viewer)).json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(version=4), "body.version"),
        (lambda p: p.pop("groupKey"), "body.groupKey"),
        (lambda p: p.update(status="pending"), "body.status"),
        (lambda p: p["alerts"][0].pop("fingerprint"), "body.alerts[0].fingerprint"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "body.alerts[0].startsAt"),
        (lambda p: p["alerts"][0]["labels"].update(team=7), "body.alerts[0].labels.team"),
        (lambda p: p.update(alerts=[alert("X")] * 1001), "body.alerts"),
        (lambda p: p.update(receiver="r" * 201), "body.receiver"),
    ],
)
def test_a_bad_payload_is_422_naming_the_field(api: Api, change: Any, field: str) -> None:
    body = copy.deepcopy(payload())
    change(body)
    answer = api.client.post(
        "/api/v1/alerts/alertmanager", json=body, headers=api.auth(api.operator)
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["error"] == "invalid_request"
    assert field in [p["field"] for p in problem["problems"]]
    assert api.client.get("/api/v1/alerts/history", headers=api.auth(api.viewer)).json() == []


def test_a_time_out_of_range_in_utc_is_422_not_500(api: Api) -> None:
    body = payload("firing", {**alert("X"), "startsAt": "9999-12-31T23:59:59-05:00"})
    answer = api.client.post(
        "/api/v1/alerts/alertmanager", json=body, headers=api.auth(api.operator)
    )
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == "body.alerts[0].startsAt"


def test_unknown_keys_of_a_newer_alertmanager_are_ignored(api: Api) -> None:
    body = payload()
    body["someFutureField"] = {"x": 1}
    body["alerts"][0]["silencedBy"] = []
    answer = api.client.post(
        "/api/v1/alerts/alertmanager", json=body, headers=api.auth(api.operator)
    )
    assert answer.status_code == 200


def test_each_notification_is_audited_without_its_token(api: Api) -> None:
    api.client.post("/api/v1/alerts/alertmanager", json=payload(), headers=api.auth(api.operator))
    (record,) = api.client.get("/api/v1/audit", headers=api.auth(api.admin)).json()
    assert record["action"] == "alerts.webhook"
    assert record["target"] == "receiver=buttress"
    assert record["outcome"] == "success"
    assert api.operator not in str(record)
