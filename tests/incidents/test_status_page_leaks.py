"""Nothing internal reaches the public outputs: an incident filled with distinctive labels,
annotations, fingerprints, a group key, notes, roles, an impact text, service names, actor
names and a severity shows in /status, /status.json and /status/feed.atom only with its
title, public impact, times and public updates."""

from __future__ import annotations

from buttress.catalog import Catalog
from buttress.incidents import service
from tests.alerting.test_webhook_api import alert, payload
from tests.incidents.status_support import status_app

CONFIG = """\
incidents:
  status_page:
    cache_seconds: 0
    components:
      - {name: Payments, services: [leaksvc-payments]}
"""
INTERNAL = (
    "leaklabel-team",
    "leaklabel-host",
    "leakannotation",
    "c0ffeec0ffee4242",  # an alert's fingerprint
    "leakgroupkey",
    "leaknote",
    "leakperson-alice",
    "leakperson-carol",
    "leakactor-bob",
    "leakimpact",
    "leaksvc-payments",
    "P1",
    "P2",
    "note",
    "roles",
    "labels",
    "fingerprint",
    "severity",
    "acknowledged",
)


def test_no_internal_string_appears_in_any_public_output(catalog: Catalog) -> None:
    """Every distinctive internal string is stored (the API shows it) but absent from the
    three public outputs, which do show the titles and the public update."""
    with status_app(catalog, CONFIG, operator_name="leakactor-bob") as app:
        fired = alert(
            "PaymentsDown",
            team="leaklabel-team",
            instance="leaklabel-host",
            service="leaksvc-payments",
        )
        fired["fingerprint"] = "c0ffeec0ffee4242"
        fired["annotations"] = {"description": "leakannotation"}
        body = payload("firing", fired)
        body["commonLabels"] = {**fired["labels"]}
        body["commonAnnotations"] = {"summary": "payments failing"}
        body["groupKey"] = '{}:{alertname="PaymentsDown", leakgroupkey="1"}'
        answer = app.client.post(
            "/api/v1/alerts/alertmanager", json=body, headers=app.auth(app.operator)
        )
        assert answer.status_code == 200, answer.text
        alerted = answer.json()["incident"]
        declared = app.client.post(
            "/api/v1/incidents",
            json={
                "title": "checkout slow",
                "severity": "P2",
                "services": ["leaksvc-payments"],
                "impact": "leakimpact: EU customers",
            },
            headers=app.auth(app.operator),
        ).json()["ref"]
        for ref in (alerted, declared):
            noted = app.client.post(
                f"/api/v1/incidents/{ref}/notes",
                json={"text": "leaknote: db failover"},
                headers=app.auth(app.operator),
            )
            assert noted.status_code == 200
            with catalog.begin() as session:
                service.set_roles(
                    session=session,
                    ref=ref,
                    roles={"commander": "leakperson-alice", "tech_lead": "leakperson-carol"},
                    actor="leakactor-bob",
                )
            app.act(ref, "ack")
        assert app.update(declared, "identified", "Public words only.").status_code == 201
        app.act(alerted, "resolve")

        internal = app.client.get(f"/api/v1/incidents/{alerted}", headers=app.auth(app.viewer))
        for text in ("leaklabel-team", "c0ffeec0ffee4242", "leaknote", "leakperson-alice"):
            assert text in internal.text  # stored: the test can fail
        outputs = {
            path: app.client.get(path).text
            for path in ("/status", "/status.json", "/status/feed.atom")
        }
        for path, text in outputs.items():
            assert "PaymentsDown: payments failing" in text, path
            assert "checkout slow" in text, path
            assert "Public words only." in text, path
            leaked = [s for s in INTERNAL if s in text]
            assert not leaked, f"{path} shows {leaked}"
