"""``/api/v1/incidents``: declare, act, note, list and show, on the real app (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.alerting.test_webhook_api import payload
from tests.server.conftest import Api

URL = "/api/v1/incidents"


def declare(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.client.post(
        URL, json={"title": "db down", "severity": "P2", **body}, headers=api.auth(api.operator)
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_an_incident_walks_its_lifecycle_with_a_timeline(api: Api) -> None:
    """Declare, ack, mitigate, note, resolve, close (a P2: after its post-mortem is
    published): each a timeline event with its actor."""
    ref = declare(api, services=["payments"])["ref"]
    for action in ("ack", "mitigate", "resolve", "postmortem", "postmortem/publish", "close"):
        answer = api.client.post(f"{URL}/{ref}/{action}", headers=api.auth(api.operator))
        assert answer.status_code in (200, 201), answer.text
        if action == "mitigate":
            noted = api.client.post(
                f"{URL}/{ref}/notes", json={"text": "rolled back"}, headers=api.auth(api.operator)
            )
            assert noted.status_code == 200
    shown = api.client.get(f"{URL}/{ref}", headers=api.auth(api.viewer)).json()
    assert shown["status"] == "closed"
    assert shown["acknowledged_by"] == "operator-token"
    assert [e["kind"] for e in shown["timeline"]] == [
        "declared",
        "acknowledged",
        "mitigated",
        "note",
        "resolved",
        "postmortem_created",
        "postmortem_published",
        "closed",
    ]
    assert {e["actor"] for e in shown["timeline"]} == {"operator-token"}


def test_closing_an_unresolved_incident_is_409(api: Api) -> None:
    """Close needs resolved; going back (ack after resolve) is refused too."""
    ref = declare(api)["ref"]
    answer = api.client.post(f"{URL}/{ref}/close", headers=api.auth(api.operator))
    assert answer.status_code == 409
    assert "only a resolved incident can be closed" in answer.json()["message"]
    api.client.post(f"{URL}/{ref}/resolve", headers=api.auth(api.operator))
    again = api.client.post(f"{URL}/{ref}/ack", headers=api.auth(api.operator))
    assert again.status_code == 409


def test_unknown_incident_is_404_and_viewer_cannot_act(api: Api) -> None:
    """An unknown id is 404; a viewer's action is 403."""
    assert api.client.get(f"{URL}/INC-2026-9999", headers=api.auth(api.viewer)).status_code == 404
    ref = declare(api)["ref"]
    answer = api.client.post(f"{URL}/{ref}/ack", headers=api.auth(api.viewer))
    assert answer.status_code == 403


def test_list_filters_and_pages(api: Api) -> None:
    """Filters by status, severity and service; pages follow next_before."""
    for n in range(5):
        declare(api, title=f"i{n}", severity="P1" if n % 2 else "P3", services=[f"s{n % 2}"])
    api.client.post("/api/v1/alerts/alertmanager", json=payload(), headers=api.auth(api.operator))

    def get(**q: Any) -> Any:
        return api.client.get(URL, params=q, headers=api.auth(api.viewer)).json()

    assert [i["title"] for i in get(severity="P1")["items"]][:2] == [
        "BackupMissing: no backup",
        "i3",
    ]
    assert [i["title"] for i in get(service="s0")["items"]] == ["i4", "i2", "i0"]
    first = get(limit=2)
    second = get(limit=2, before=first["next_before"])
    assert [i["title"] for i in first["items"] + second["items"]] == [
        "BackupMissing: no backup",
        "i4",
        "i3",
        "i2",
    ]
    assert get(status="closed")["items"] == []
    shown = api.client.get(f"{URL}/{first['items'][0]['ref']}", headers=api.auth(api.viewer)).json()
    assert [a["status"] for a in shown["alerts"]] == ["firing"]
