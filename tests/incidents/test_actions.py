"""Automated actions at run time, each type for real: a degradation override in the catalog, a
breaker forced in a registry built from the configuration, a webhook to a local receiver; a
dry run changes nothing, the window stops the 4th run, a failure is recorded and leaves the
incident and its escalation intact, and each run is once per incident and status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from buttress.catalog import Catalog, audit
from buttress.config import ButtressConfig, load_text
from buttress.degradation import overrides
from buttress.incidents import service
from buttress.incidents.actions import Actions, runs_of
from buttress.incidents.escalation import Escalations
from buttress.incidents.notify import Dispatcher
from buttress.incidents.tables import Incident, IncidentActionRun, IncidentEscalation
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.registry import PolicyRegistry
from tests.incidents.notify_receivers import Receiver, closed_port, receiver
from tests.incidents.test_escalation import T0, Clock, events, fire

__all__ = ["receiver"]


def config(rules: str, allowed: str, incidents: str = "") -> ButtressConfig:
    """Levels, a `payments` policy with a breaker, and ``rules`` under incidents.actions."""
    return load_text(
        "health:\n  degradation: {levels: traffic_light}\n"
        "resilience:\n  policies:\n"
        "    payments: {circuit_breaker: {failure_rate: 50, minimum_calls: 4, wait: 30s}}\n"
        f"incidents:\n{incidents}  allowed_actions: [{allowed}]\n  actions:\n{rules}"
    )


def declare(catalog: Catalog, severity: str = "P1", title: str = "checkout down") -> Incident:
    with catalog.begin() as session:
        incident = service.declare(
            session=session, title=title, severity=severity, actor="alice", now=T0
        )
        session.expunge(incident)
        return incident


def runs(catalog: Catalog, incident: Incident) -> list[dict[str, Any]]:
    with catalog.begin() as session:
        return [
            {"rule": r.rule, "status": r.status, "outcome": r.outcome, "detail": r.detail}
            for r in runs_of(session=session, incident=incident)
        ]


LEVEL = (
    "    - {name: shed, severities: [P1], do: {type: degradation_level, level: ORANGE, for: 30m}}\n"
)


def test_a_degradation_level_is_held_through_the_catalog_with_the_incident_as_actor(
    catalog: Catalog,
) -> None:
    """A matching P1 holds ORANGE: the override is in the catalog (what every controller
    follows), made by incident:<ref>, audited, and in the timeline as an `action` event."""
    actions = Actions(catalog, config(LEVEL, "degradation_level"), clock=Clock())
    incident = declare(catalog)
    (result,) = actions.run_for(incident.id)
    assert (result.outcome, result.type) == ("ok", "degradation_level")
    with catalog.begin() as session:
        held = overrides.active(session=session)
        assert held is not None
        assert (held.level, held.actor) == ("ORANGE", f"incident:{incident.ref}")
        assert (held.expires_at - held.created_at).total_seconds() == 1800
        actions_audited = [
            r.action for r in audit.get_all(session=session, actor=f"incident:{incident.ref}")
        ]
    assert "level.override" in actions_audited
    assert "incident.action.degradation_level" in actions_audited
    (event,) = events(catalog, incident.id, "action")
    assert event.detail["rule"] == "shed"
    assert event.detail["outcome"] == "ok"
    assert event.detail["dry_run"] is False
    assert "ORANGE" in event.detail["what"]


def test_a_rule_runs_once_per_incident_and_status_and_not_for_other_severities(
    catalog: Catalog,
) -> None:
    """A second step for the same status runs nothing; a P3 is not taken by a P1 rule."""
    actions = Actions(catalog, config(LEVEL, "degradation_level"), clock=Clock())
    incident = declare(catalog)
    assert len(actions.run_for(incident.id)) == 1
    assert actions.run_for(incident.id) == []
    assert actions.run_for(declare(catalog, "P3").id) == []
    with catalog.begin() as session:
        assert len(overrides.recent(session=session)) == 1


def test_a_rule_for_acknowledged_runs_when_the_incident_is_acknowledged(catalog: Catalog) -> None:
    """statuses: [acknowledged] waits for the acknowledgement."""
    rule = (
        "    - {name: shed, statuses: [acknowledged], do: "
        "{type: degradation_level, level: YELLOW}}\n"
    )
    actions = Actions(catalog, config(rule, "degradation_level"), clock=Clock())
    incident = declare(catalog)
    assert actions.run_for(incident.id) == []
    with catalog.begin() as session:
        service.act(session=session, ref=incident.ref, action="ack", actor="alice")
    (result,) = actions.run_for(incident.id)
    assert result.outcome == "ok"
    assert runs(catalog, incident)[0]["status"] == "acknowledged"


@pytest.mark.parametrize("state", ["open", "closed"])
def test_a_breaker_is_forced_in_the_registry_of_the_configuration(
    catalog: Catalog, state: str
) -> None:
    """The breaker of `payments` in the registry the control plane forces is forced, and the
    forcing is audited as the API's is."""
    rule = f"    - {{name: cut, do: {{type: breaker, policy: payments, state: {state}}}}}\n"
    cfg = config(rule, "breaker")
    registry = PolicyRegistry(cfg.resilience)
    actions = Actions(catalog, cfg, policies=lambda: registry, clock=Clock())
    (result,) = actions.run_for(declare(catalog).id)
    assert result.outcome == "ok", result.error
    breaker = next(p for p in registry.get("payments").policies if isinstance(p, CircuitBreaker))
    assert breaker.state == f"forced_{state}"
    with catalog.begin() as session:
        (forced,) = audit.get_all(session=session, action="resilience.breaker")
    assert forced.detail == {"action": f"force_{state}"}


def test_a_webhook_is_called_with_the_rendered_body_and_secrets_stay_out(
    catalog: Catalog, receiver: Receiver
) -> None:
    """The webhook is sent to the local receiver with the template's body and the headers;
    the timeline and the run show the host only, never the token in the path."""
    rule = (
        "    - name: page-db\n"
        "      do:\n"
        "        type: webhook\n"
        f"        url: {receiver.url}/hooks/tok-secret-123\n"
        "        headers: {X-Token: hdr-secret-456}\n"
        '        body: \'{"ref": "{{ incident.ref }}", "rule": "{{ rule }}"}\'\n'
    )
    actions = Actions(catalog, config(rule, "webhook"), clock=Clock())
    incident = declare(catalog)
    (result,) = actions.run_for(incident.id)
    assert result.outcome == "ok", result.error
    (request,) = receiver.requests
    assert request.path == "/hooks/tok-secret-123"
    assert request.json() == {"ref": incident.ref, "rule": "page-db"}
    assert request.headers["X-Token"] == "hdr-secret-456"
    shown = repr(runs(catalog, incident)) + repr([e.detail for e in events(catalog, incident.id)])
    assert "tok-secret-123" not in shown
    assert "hdr-secret-456" not in shown


def test_a_dry_run_records_what_it_would_do_and_does_nothing(
    catalog: Catalog, receiver: Receiver
) -> None:
    """dry_run: the run is `dry_run`, the timeline says what it would do, nothing is sent and
    no override is made."""
    rules = (
        f"    - {{name: hook, dry_run: true, do: {{type: webhook, url: '{receiver.url}/x'}}}}\n"
        "    - {name: shed, dry_run: true, do: {type: degradation_level, level: RED}}\n"
    )
    actions = Actions(catalog, config(rules, "webhook, degradation_level"), clock=Clock())
    incident = declare(catalog)
    results = actions.run_for(incident.id)
    assert [(r.rule, r.outcome) for r in results] == [("hook", "dry_run"), ("shed", "dry_run")]
    assert receiver.requests == []
    with catalog.begin() as session:
        assert overrides.recent(session=session) == []
    whats = [e.detail["what"] for e in events(catalog, incident.id, "action")]
    assert whats[0].startswith("would POST http://127.0.0.1:")
    assert whats[1] == "would hold degradation level RED for 30m"


def test_the_window_stops_the_fourth_run_and_records_it_once_as_throttled(
    catalog: Catalog,
) -> None:
    """max_runs 3 per hour across incidents: the 4th incident's run is `throttled` (nothing
    done, recorded once); after the hour the rule runs again."""
    clock = Clock()
    actions = Actions(catalog, config(LEVEL, "degradation_level"), clock=clock)
    made = [declare(catalog, title=f"incident {i}") for i in range(5)]
    outcomes = []
    for incident in made[:4]:
        clock.now += dt.timedelta(minutes=1)
        outcomes += [r.outcome for r in actions.run_for(incident.id)]
    assert outcomes == ["ok", "ok", "ok", "throttled"]
    assert actions.run_for(made[3].id) == []  # recorded once
    with catalog.begin() as session:
        assert len(overrides.recent(session=session)) == 3
    (event,) = events(catalog, made[3].id, "action")
    assert event.detail["outcome"] == "throttled"
    clock.now += dt.timedelta(hours=1)
    assert [r.outcome for r in actions.run_for(made[4].id)] == ["ok"]


def test_four_incidents_at_once_run_a_rule_of_three_per_window_three_times(
    catalog: Catalog,
) -> None:
    """An alert storm: the steps of 4 incidents run the rule at the same moment; the window
    is counted one step at a time, so 3 run and 1 is throttled."""
    import threading

    actions = Actions(catalog, config(LEVEL, "degradation_level"), clock=Clock())
    made = [declare(catalog, title=f"storm {i}") for i in range(4)]
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def step(incident_id: int) -> None:
        start.wait()
        outcomes.extend(r.outcome for r in actions.run_for(incident_id))

    threads = [threading.Thread(target=step, args=(i.id,)) for i in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "ok", "ok", "throttled"]


def test_a_failing_webhook_is_recorded_and_the_incident_and_escalation_are_intact(
    catalog: Catalog, receiver: Receiver
) -> None:
    """A webhook to a closed port fails: the run is `failed` with a reason, audited as
    failed, the escalation step still notified its channel and stored its position."""
    port = closed_port()
    rule = (
        f"    - {{name: hook, do: {{type: webhook, url: 'http://127.0.0.1:{port}/t0ken', "
        "retries: 0, timeout: 2s}}\n"
    )
    notifier = (
        f"  notifiers: {{ops: {{type: webhook, url: '{receiver.url}/ops', retries: 0}}}}\n"
        "  escalation_policies: {default: {channels: [ops], levels: [{wait: 5m}]}}\n"
        "  default_escalation_policy: default\n"
    )
    cfg = config(rule, "webhook", notifier)
    clock = Clock()
    actions = Actions(catalog, cfg, clock=clock)
    esc = Escalations(
        catalog,
        cfg.incidents,
        Dispatcher(cfg.incidents.notifiers).send_sync,
        after_step=actions.after_step,
        clock=clock,
    )
    incident_id = fire(catalog, cfg.incidents, T0)
    step = esc.step(incident_id)
    assert step is not None
    assert len(receiver.requests) == 1  # the escalation's own notification went out
    with catalog.begin() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert incident.status == "triggered"
        row = session.get(IncidentEscalation, incident_id)
        assert row is not None
        assert row.level == 0
        (run,) = session.scalars(select(IncidentActionRun)).all()
        assert run.outcome == "failed"
        assert "t0ken" not in repr(run.detail)
        (failed,) = [r for r in audit.get_all(session=session) if r.outcome == "failed"]
        assert failed.action == "incident.action.webhook"
    (event,) = events(catalog, incident_id, "action")
    assert event.detail["outcome"] == "failed"
    assert f"http://127.0.0.1:{port}" in event.detail["error"]
    assert "t0ken" not in event.detail["error"]


def test_a_breaker_of_an_unknown_policy_at_run_time_is_a_failed_run(catalog: Catalog) -> None:
    """Without the registry (no control plane), a breaker action fails and says why."""
    rule = "    - {name: cut, do: {type: breaker, policy: payments, state: closed}}\n"
    actions = Actions(catalog, config(rule, "breaker"), clock=Clock())
    (result,) = actions.run_for(declare(catalog).id)
    assert result.outcome == "failed"
    assert result.error == "no resilience registry in this process"
