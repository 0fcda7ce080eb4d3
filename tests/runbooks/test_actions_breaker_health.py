"""breaker.force on the process's resilience registry; health.wait on the configured checks."""

from __future__ import annotations

from pathlib import Path

from buttress.catalog import Catalog, catalog_url
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.registry import PolicyRegistry
from buttress.runbooks.engine import Engine
from buttress.runbooks.recorder import MemoryRecorder
from tests.runbooks.conftest import Web
from tests.runbooks.helpers import config, runbook_yaml


def test_force_a_breaker_open_then_back_to_automatic(tmp_path: Path) -> None:
    """The registry's breaker is forced open by one step and reset by the next."""
    steps = """\
    - name: open
      action: {name: breaker.force, with: {policy: payments, state: open}}
    - name: auto
      action: {name: breaker.force, with: {policy: payments, state: auto}}
    """
    text = "resilience:\n  policies:\n    payments: {circuit_breaker: {}}\n" + runbook_yaml(steps)
    cfg = config(tmp_path, text)
    registry = PolicyRegistry(cfg.resilience)
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    recorder = MemoryRecorder()
    eng = Engine(cfg, catalog=catalog, recorder=recorder, actor="t", policies=lambda: registry)
    assert eng.run("rb", {}, run_id="r") == "succeeded", recorder.steps
    assert recorder.steps["0"].values["state"] == "forced_open"
    breaker = next(p for p in registry.get("payments").policies if isinstance(p, CircuitBreaker))
    assert breaker.state == "closed"
    catalog.dispose()


def test_health_wait_until_a_check_is_up(tmp_path: Path, web: Web) -> None:
    """health.wait returns once the named check is up (a real HTTP check of the server)."""
    text = (
        f"health:\n  checks:\n    - {{name: api, type: http, url: '{web.url}/health'}}\n"
        + runbook_yaml(
            "- name: wait\n  action: {name: health.wait, with: {check: api, deadline: 10s}}\n"
        )
    )
    recorder = MemoryRecorder()
    eng = Engine(config(tmp_path, text), recorder=recorder, actor="t")
    assert eng.run("rb", {}, run_id="r") == "succeeded", recorder.steps
    assert recorder.steps["0"].values["state"] == "up"


def test_health_wait_gives_up_at_its_deadline(tmp_path: Path, web: Web) -> None:
    """A check that stays down makes health.wait time out, saying the last state."""
    web.status = 500
    text = (
        f"health:\n  checks:\n    - {{name: api, type: http, url: '{web.url}/health'}}\n"
        + runbook_yaml(
            "- name: wait\n  action:\n    name: health.wait\n"
            "    with: {check: api, deadline: 0.5s, every: 0.1s}\n"
        )
    )
    recorder = MemoryRecorder()
    eng = Engine(config(tmp_path, text), recorder=recorder, actor="t")
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert recorder.steps["0"].status == "timed_out"
    assert "check api is down" in (recorder.steps["0"].error or "")
