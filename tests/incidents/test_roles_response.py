"""Roles set and cleared through the API and the CLI; an incident's response target and
escalation as the API shows them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from buttress.cli import main
from buttress.incidents.escalation import Escalations
from buttress.incidents.tables import Incident
from tests.incidents.test_api import URL, declare
from tests.incidents.test_cli import _run
from tests.server.conftest import Api


def test_roles_are_set_and_cleared_and_on_the_timeline(api: Api) -> None:
    ref = declare(api)["ref"]
    answer = api.client.put(
        f"{URL}/{ref}/roles",
        json={"commander": "alice", "tech_lead": "bob"},
        headers=api.auth(api.operator),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["roles"] == {"commander": "alice", "tech_lead": "bob"}
    cleared = api.client.put(
        f"{URL}/{ref}/roles", json={"tech_lead": ""}, headers=api.auth(api.operator)
    )
    assert cleared.json()["roles"] == {"commander": "alice"}
    shown = api.client.get(f"{URL}/{ref}", headers=api.auth(api.viewer)).json()
    assert [e["kind"] for e in shown["timeline"]].count("roles") == 2


def test_roles_need_an_operator_and_known_names(api: Api) -> None:
    ref = declare(api)["ref"]
    refused = api.client.put(
        f"{URL}/{ref}/roles", json={"commander": "x"}, headers=api.auth(api.viewer)
    )
    assert refused.status_code == 403
    wrong = api.client.put(
        f"{URL}/{ref}/roles", json={"captain": "x"}, headers=api.auth(api.operator)
    )
    assert wrong.status_code == 422
    assert "captain" in wrong.text
    missing = api.client.put(
        f"{URL}/INC-2026-9999/roles", json={"commander": "x"}, headers=api.auth(api.operator)
    )
    assert missing.status_code == 404


def test_response_shows_the_target_and_the_escalation_after_a_step(api: Api) -> None:
    ref = declare(api, severity="P1")["ref"]
    before = api.client.get(f"{URL}/{ref}/response", headers=api.auth(api.viewer))
    assert before.status_code == 200, before.text
    body = before.json()
    assert body["respond_within_s"] == 300
    triggered = dt.datetime.fromisoformat(
        api.client.get(f"{URL}/{ref}", headers=api.auth(api.viewer)).json()["triggered_at"]
    )
    assert dt.datetime.fromisoformat(body["respond_by"]) == triggered + dt.timedelta(minutes=5)
    config = api.client.app.state.incidents_config  # type: ignore[attr-defined]
    with api.catalog.begin() as session:
        incident_id = session.query(Incident.id).one()[0]
    later = triggered + dt.timedelta(minutes=6)
    Escalations(api.catalog, config, lambda n, c: [], clock=lambda: later).step(incident_id)
    after = api.client.get(f"{URL}/{ref}/response", headers=api.auth(api.viewer)).json()
    assert after["breached"] == ["respond"]
    assert after["escalation"]["state"] == "new"  # no policy: it would start from level 1
    assert after["escalation"]["policy"] is None


def test_the_cli_sets_and_clears_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path), "db", "upgrade"]) == 0
    ref = _run(tmp_path, "declare", "db down", "--severity", "P2").strip()
    assert "commander=alice" in _run(
        tmp_path, "roles", ref, "--commander", "alice", "--tech-lead", "bob"
    )
    assert "tech_lead" not in _run(tmp_path, "roles", ref, "--clear", "tech_lead")
    _run(tmp_path, "roles", ref, code=2)
    code = main(["--data-dir", str(tmp_path), "incident", "roles", ref, "--clear", "captain"])
    assert code == 2
    assert "unknown role 'captain'" in capsys.readouterr().err
