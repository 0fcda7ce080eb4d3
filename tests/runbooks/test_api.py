"""``/api/v1/runbooks``: list and show runbooks, start a run that runs in the server, follow
it, answer its confirm step, resume and roll back; roles are the runbook's."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_until
from tests.runbooks.api_support import api, runbooks_api
from tests.server.conftest import Api

__all__ = ["api", "runbooks_api"]  # fixtures

URL = "/api/v1/runbooks"


def _start(api: Api, name: str, token: str, **body: Any) -> Any:
    return api.client.post(f"{URL}/{name}/runs", json=body, headers=api.auth(token))


def _run(api: Api, run_id: int) -> dict[str, Any]:
    answer = api.client.get(f"{URL}/runs/{run_id}", headers=api.auth(api.viewer))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _ended(api: Api, run_id: int) -> dict[str, Any]:
    wait_until(lambda: _run(api, run_id)["status"] != "running", f"run {run_id} ends", 30)
    return _run(api, run_id)


def test_runbooks_are_listed_and_shown(runbooks_api: Api) -> None:
    """A viewer sees the runbooks, each with its role, parameters and steps."""
    api = runbooks_api
    listed = api.client.get(URL, headers=api.auth(api.viewer)).json()
    assert "simple" in [r["name"] for r in listed]
    shown = api.client.get(f"{URL}/with-secret", headers=api.auth(api.viewer)).json()
    assert [p["name"] for p in shown["params"]] == ["host", "password", "count"]
    assert shown["role"] == "operator"
    assert api.client.get(f"{URL}/nope", headers=api.auth(api.viewer)).status_code == 404


def test_a_run_started_over_the_api_runs_in_the_server(runbooks_api: Api) -> None:
    """202 with the run's id; the run ends succeeded with its steps; it is listed."""
    api = runbooks_api
    answer = _start(api, "simple", api.operator)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    done = _ended(api, run_id)
    assert (done["status"], done["actor"]) == ("succeeded", "operator-token")
    assert [s["status"] for s in done["steps"]] == ["succeeded"] * 3
    runs = api.client.get(f"{URL}/runs", params={"runbook": "simple"}, headers=api.auth(api.viewer))
    assert [r["id"] for r in runs.json()] == [run_id]


def test_a_viewer_cannot_run_an_operator_runbook(runbooks_api: Api) -> None:
    """403 naming the role; an admin runbook refuses an operator too."""
    api = runbooks_api
    refused = _start(api, "simple", api.viewer)
    assert refused.status_code == 403
    assert "'operator' role" in refused.json()["message"]
    assert _start(api, "admin-only", api.operator).status_code == 403
    assert _start(api, "admin-only", api.admin).status_code == 202


def test_a_confirm_step_is_answered_over_the_api(runbooks_api: Api) -> None:
    """The waiting step shows as waiting; POST confirm approves it and the run succeeds; a
    viewer may not answer it."""
    api = runbooks_api
    run_id = _start(api, "ask", api.operator).json()["id"]
    wait_until(lambda: any(s["waiting"] for s in _run(api, run_id)["steps"]), "waiting", 30)
    body = {"step": "gate", "approved": True, "comment": "lag is 0"}
    refused = api.client.post(
        f"{URL}/runs/{run_id}/confirm", json=body, headers=api.auth(api.viewer)
    )
    assert refused.status_code == 403
    answer = api.client.post(
        f"{URL}/runs/{run_id}/confirm", json=body, headers=api.auth(api.operator)
    )
    assert answer.status_code == 200, answer.text
    done = _ended(api, run_id)
    assert done["status"] == "succeeded"
    gate = done["steps"][1]
    assert (gate["approved"], gate["confirmed_by"], gate["comment"]) == (
        True,
        "operator-token",
        "lag is 0",
    )
    again = api.client.post(
        f"{URL}/runs/{run_id}/confirm", json=body, headers=api.auth(api.operator)
    )
    assert again.status_code == 409


def test_bad_input_is_4xx(runbooks_api: Api) -> None:
    """Unknown parameter 422, unknown run 404, bad body 422."""
    api = runbooks_api
    assert _start(api, "simple", api.operator, params={"x": "1"}).status_code == 422
    assert api.client.get(f"{URL}/runs/999", headers=api.auth(api.viewer)).status_code == 404
    bad = api.client.post(
        f"{URL}/simple/runs", json={"params": [1]}, headers=api.auth(api.operator)
    )
    assert bad.status_code == 422


def test_an_exclusive_runbook_running_is_409(runbooks_api: Api) -> None:
    """A second start while the first runs answers 409 naming the first run."""
    api = runbooks_api
    first = _start(api, "exclusive-ask", api.operator).json()["id"]
    second = _start(api, "exclusive-ask", api.operator)
    assert second.status_code == 409
    assert f"run {first}" in second.json()["message"]
    wait_until(lambda: any(s["waiting"] for s in _run(api, first)["steps"]), "waiting", 30)
    body = {"approved": False}
    api.client.post(f"{URL}/runs/{first}/confirm", json=body, headers=api.auth(api.operator))


def test_a_failed_run_is_rolled_back_and_resumed_over_the_api(runbooks_api: Api) -> None:
    """POST rollback and resume answer 202 with a new run that names the first."""
    api = runbooks_api
    run_id = _start(api, "fails", api.operator).json()["id"]
    assert _ended(api, run_id)["status"] == "failed"
    back = api.client.post(f"{URL}/runs/{run_id}/rollback", headers=api.auth(api.operator))
    assert back.status_code == 202, back.text
    rolled = _ended(api, back.json()["id"])
    assert (rolled["status"], rolled["resumed_from"], rolled["mode"]) == (
        "rolled_back",
        run_id,
        "rollback",
    )
    again = api.client.post(f"{URL}/runs/{run_id}/resume", headers=api.auth(api.operator))
    assert again.status_code == 202
    assert _ended(api, again.json()["id"])["mode"] == "resume"


def test_parameters_may_be_json_numbers_and_booleans(runbooks_api: Api) -> None:
    """`count: 3` is taken as the command line's `count=3` (what GET shows as a default is
    accepted back); a boolean for an int is still 422 naming the parameter."""
    api = runbooks_api
    params = {"host": "h", "password": "x", "count": 3}
    answer = _start(api, "with-secret", api.operator, params=params)
    assert answer.status_code == 202, answer.text
    bad = _start(api, "with-secret", api.operator, params={**params, "count": True})
    assert bad.status_code == 422
    assert "count" in bad.text
