"""http steps against a real local server: status, JSON and regex expectations, values."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runbooks.conftest import Web
from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_post_sends_its_rendered_body_and_keeps_the_response(tmp_path: Path, web: Web) -> None:
    """The request carries the rendered body and headers; the response is the step's values."""
    steps = f"""\
    - name: call
      http:
        method: POST
        url: "{web.url}/promote?run={{{{ run.id }}}}"
        headers: {{X-Who: "{{{{ run.actor }}}}"}}
        body: '{{"replica": "{{{{ params.replica }}}}"}}'
        json: {{ok: true, role: primary}}
        regex: primary
    - name: after
      command: {{argv: [echo, "{{{{ steps.call.json.role }}}} {{{{ steps.call.status }}}}"]}}
    """
    extra = "params:\n  replica: {type: str, default: db-2}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    assert eng.run("rb", {}, run_id="r-7") == "succeeded"
    ((method, path, headers, payload),) = web.requests
    assert (method, path) == ("POST", "/promote?run=r-7")
    assert headers["X-Who"] == "test:runner"
    assert json.loads(payload) == {"replica": "db-2"}
    assert rec.steps["0"].values["status"] == 200
    assert rec.steps["1"].output == "primary 200\n"


def test_an_unexpected_status_fails_the_step(tmp_path: Path, web: Web) -> None:
    """A 503 when 200 is expected fails the step, naming the status."""
    web.status = 503
    eng, rec = engine(
        config(tmp_path, runbook_yaml(f"- name: call\n  http: {{url: '{web.url}/'}}\n"))
    )
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].error == "HTTP 503 (accepted: 200)"


def test_a_server_slower_than_the_timeout_times_the_step_out(tmp_path: Path, web: Web) -> None:
    """An answer later than the step's timeout is timed_out."""
    web.delay = 2.0
    steps = f"- name: call\n  timeout: 0.3s\n  http: {{url: '{web.url}/'}}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].status == "timed_out"


def test_retry_of_an_http_step_until_it_answers_200(tmp_path: Path, web: Web) -> None:
    """Two 503s then a 200: with three attempts the step succeeds on the third request."""
    web.answers = [503, 503]
    steps = f"- name: call\n  retry: {{attempts: 3, delay: 1ms}}\n  http: {{url: '{web.url}/'}}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert len(web.requests) == 3
    assert rec.steps["0"].attempts == 3
