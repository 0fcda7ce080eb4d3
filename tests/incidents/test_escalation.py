"""Escalation end to end on the real catalog (SQLite and PostgreSQL) with real notifiers
sending to local HTTP receivers: levels climb while nobody acknowledges, an acknowledgement
stops them and is sent on, the resolution is sent once, a channel that is down is recorded and
does not hold the others back, the timers run on the job runner once across replicas and
survive a restart, firing late and saying so; and the configuration's cross-references."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from buttress.alerting.api import WebhookPayload
from buttress.catalog import Catalog
from buttress.config import ButtressConfig, ConfigError, load
from buttress.config._incidents import IncidentsConfig
from buttress.incidents import service
from buttress.incidents.escalation import Escalations
from buttress.incidents.ingest import ingest
from buttress.incidents.notify import Dispatcher
from buttress.incidents.tables import Incident, IncidentEscalation, IncidentEvent
from buttress.incidents.wake import HANDLER, timer_key
from buttress.jobs import JobRunner
from buttress.jobs.tables import JobRow
from tests.alerting.test_webhook_api import alert, payload
from tests.conftest import wait_until
from tests.incidents.notify_receivers import Receiver, closed_port, receiver, receiver2

__all__ = ["receiver", "receiver2"]

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def incidents_config(url: str, url2: str | None = None, **policy: Any) -> IncidentsConfig:
    notifiers: dict[str, Any] = {
        "hook": {"type": "webhook", "url": f"{url}/hook", "retries": 0, "timeout": "2s"}
    }
    channels = ["hook"]
    if url2 is not None:
        notifiers["other"] = {
            "type": "webhook",
            "url": f"{url2}/other",
            "retries": 2,
            "retry_delay": "10ms",
            "timeout": "2s",
        }
        channels.append("other")
    data: dict[str, Any] = {
        "oncall": {
            "users": {"alice": {"email": "alice@example.com"}, "bob": {"slack": "U0BOB"}},
            "schedules": {
                "primary": {
                    "time_zone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "l1",
                            "users": ["alice"],
                            "rotation": "weekly",
                            "start": "2026-01-05T09:00",
                        }
                    ],
                }
            },
        },
        "notifiers": notifiers,
        "escalation_policies": {
            "default": {
                "channels": channels,
                "levels": [
                    {"notify": {"schedules": ["primary"]}, "wait": "5m"},
                    {"notify": {"users": ["bob"]}, "wait": "10m"},
                ],
            }
            | policy
        },
        "default_escalation_policy": "default",
        "public_url": "https://buttress.example",
    }
    return IncidentsConfig.model_validate(data)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def fire(
    catalog: Catalog, config: IncidentsConfig, now: dt.datetime, status: str = "firing"
) -> int:
    body = WebhookPayload.model_validate(payload(status, alert("BackupMissing", status)))
    with catalog.begin() as session:
        result = ingest(session, body, config, now)
        assert result.row is not None
        return result.row.id


def events(catalog: Catalog, incident_id: int, kind: str | None = None) -> list[IncidentEvent]:
    with catalog.begin() as session:
        query = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        if kind is not None:
            query = query.where(IncidentEvent.kind == kind)
        return list(session.scalars(query.order_by(IncidentEvent.id)))


def engine(catalog: Catalog, config: IncidentsConfig, clock: Clock) -> Escalations:
    return Escalations(catalog, config, Dispatcher(config.notifiers).send_sync, clock=clock)


def test_levels_climb_until_acknowledged_then_ack_and_resolution_are_sent(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url)
    clock = Clock()
    esc = engine(catalog, config, clock)
    incident_id = fire(catalog, config, T0)
    with catalog.begin() as session:  # the incident's change set its timer, due now
        row = session.get(JobRow, timer_key(incident_id))
        assert row is not None
        assert (row.handler, row.next_due) == (HANDLER, T0)

    esc.step(incident_id)
    first = receiver.requests[0].json()
    assert first["kind"] == "triggered"
    assert [r["name"] for r in first["recipients"]] == ["alice"]  # the schedule's on-call
    assert first["incident"]["url"].startswith("https://buttress.example/#/incidents?ref=INC-")

    clock.now = T0 + dt.timedelta(minutes=2)
    esc.step(incident_id)  # a timer before the wait is over: nothing
    assert len(receiver.requests) == 1

    clock.now = T0 + dt.timedelta(minutes=5)
    esc.step(incident_id)
    second = receiver.requests[1].json()
    assert (second["kind"], second["incident"]["level"]) == ("escalated", 2)
    assert [r["name"] for r in second["recipients"]] == ["bob"]

    clock.now = T0 + dt.timedelta(minutes=7)
    with catalog.begin() as session:
        ref = session.get(Incident, incident_id).ref  # type: ignore[union-attr]
        service.act(session=session, ref=ref, action="ack", actor="alice", now=clock.now)
    esc.step(incident_id)
    assert receiver.requests[2].json()["kind"] == "acknowledged"
    clock.now = T0 + dt.timedelta(hours=2)
    esc.step(incident_id)  # acknowledged: no more levels
    assert len(receiver.requests) == 3

    fire(catalog, config, clock.now, "resolved")  # all alerts resolved: auto-resolved
    esc.step(incident_id)
    esc.step(incident_id)
    assert [r.json()["kind"] for r in receiver.requests] == [
        "triggered",
        "escalated",
        "acknowledged",
        "resolved",
    ]
    kinds = [e.kind for e in events(catalog, incident_id)]
    assert kinds.count("escalated") == 2
    assert kinds.count("notification") == 4
    with catalog.begin() as session:
        severity = session.get(Incident, incident_id).severity  # type: ignore[union-attr]
    # steps at 0, 2, 5 and 7 min (the acknowledgement): breached once if respond came first
    respond = config.response_targets[severity].respond  # type: ignore[index]
    assert kinds.count("target_breached") == int(respond <= 420)


def test_the_respond_target_breach_is_a_timeline_event_and_a_callback(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url)
    clock = Clock()
    breaches: list[tuple[str, str]] = []
    esc = Escalations(
        catalog,
        config,
        Dispatcher(config.notifiers).send_sync,
        clock=clock,
        on_breach=lambda severity, target: breaches.append((severity, target)),
    )
    incident_id = fire(catalog, config, T0)
    esc.step(incident_id)
    severity = esc.config.classify({"alertname": "BackupMissing", "severity": "warning"})
    respond = config.response_targets[severity].respond
    clock.now = T0 + dt.timedelta(seconds=respond + 1)
    esc.step(incident_id)
    esc.step(incident_id)
    (breach,) = events(catalog, incident_id, "target_breached")
    assert breach.detail["target"] == "respond"
    assert breaches == [(breach.detail["severity"], "respond")]


def test_a_channel_down_for_the_whole_escalation_is_recorded_and_others_still_get_it(
    catalog: Catalog, receiver: Receiver
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    config = incidents_config(down, receiver.url)
    clock = Clock()
    esc = engine(catalog, config, clock)
    incident_id = fire(catalog, config, T0)
    esc.step(incident_id)
    clock.now = T0 + dt.timedelta(minutes=5)
    esc.step(incident_id)
    assert [r.json()["kind"] for r in receiver.requests] == ["triggered", "escalated"]
    sent = events(catalog, incident_id, "notification")
    by_channel = {(e.detail["channel"], e.detail["outcome"]) for e in sent}
    assert by_channel == {("hook", "failed"), ("other", "ok")}
    failed = [e for e in sent if e.detail["channel"] == "hook"]
    assert all(e.detail["error"] for e in failed)
    with catalog.begin() as session:  # the escalation climbed all the same
        assert session.get(IncidentEscalation, incident_id).level == 1  # type: ignore[union-attr]


def test_a_failing_then_recovering_receiver_is_retried_within_the_send(
    catalog: Catalog, receiver: Receiver, receiver2: Receiver
) -> None:
    receiver2.script = [500, 503]
    config = incidents_config(receiver.url, receiver2.url)
    esc = engine(catalog, config, Clock())
    incident_id = fire(catalog, config, T0)
    esc.step(incident_id)
    other = [
        e for e in events(catalog, incident_id, "notification") if e.detail["channel"] == "other"
    ]
    assert other[0].detail["outcome"] == "ok"
    assert other[0].detail["attempts"] == 3


def test_repeat_runs_the_policy_again_then_it_is_exhausted(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url, repeat=1)
    clock = Clock()
    esc = engine(catalog, config, clock)
    incident_id = fire(catalog, config, T0)
    for minutes in (0, 5, 15, 20, 30, 40):
        clock.now = T0 + dt.timedelta(minutes=minutes)
        esc.step(incident_id)
    assert [r.json()["incident"]["level"] for r in receiver.requests] == [1, 2, 1, 2]
    with catalog.begin() as session:
        assert session.get(IncidentEscalation, incident_id).state == "exhausted"  # type: ignore[union-attr]


@pytest.fixture
def runners(catalog: Catalog) -> Iterator[list[JobRunner]]:
    made: list[JobRunner] = []
    yield made
    for runner in made:
        runner.stop()


def _replica(
    catalog: Catalog, made: list[JobRunner], name: str, config: IncidentsConfig
) -> JobRunner:
    runner = JobRunner(catalog, replica=name, lease=1.0, renew=0.2)
    esc = Escalations(catalog, config, Dispatcher(config.notifiers).send_sync)
    runner.handler(HANDLER, esc.run)
    made.append(runner)
    return runner


def test_two_replicas_send_each_step_once(
    catalog: Catalog, receiver: Receiver, runners: list[JobRunner]
) -> None:
    config = incidents_config(receiver.url)
    for name in ("a", "b"):
        _replica(catalog, runners, name, config).start()
    incident_id = fire(catalog, config, dt.datetime.now(dt.UTC))
    wait_until(lambda: len(events(catalog, incident_id, "notification")) == 1, "the first send")
    with catalog.begin() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        service.act(session=session, ref=incident.ref, action="ack", actor="alice")
    wait_until(lambda: len(receiver.requests) == 2, "the acknowledgement sent on")
    assert [r.json()["kind"] for r in receiver.requests] == ["triggered", "acknowledged"]
    assert len(events(catalog, incident_id, "escalated")) == 1


def test_a_timer_pending_while_no_server_runs_fires_once_late_and_says_so(
    catalog: Catalog, receiver: Receiver, runners: list[JobRunner]
) -> None:
    """The control plane stops with a level's wait pending; it comes back after the wait
    (and more): the next level is sent once, and the timeline says the timer was late."""
    config = incidents_config(receiver.url)
    first = _replica(catalog, runners, "first", config)
    first.start()
    now = dt.datetime.now(dt.UTC)
    incident_id = fire(catalog, config, now)
    wait_until(lambda: len(receiver.requests) == 1, "level 1")
    first.stop()
    runners.remove(first)
    with catalog.begin() as session:  # as if it had been down for 20 minutes: the wait is over
        row = session.get(IncidentEscalation, incident_id)
        timer = session.get(JobRow, timer_key(incident_id))
        assert row is not None
        assert timer is not None
        assert row.next_at is not None
        past = dt.timedelta(minutes=20)
        row.next_at -= past
        timer.next_due -= past
    _replica(catalog, runners, "second", config).start()
    wait_until(lambda: len(receiver.requests) == 2, "level 2 after the restart")
    assert receiver.requests[1].json()["incident"]["level"] == 2
    (late,) = events(catalog, incident_id, "timer_late")
    assert late.detail["late_s"] > 60
    wait_until(lambda: len(events(catalog, incident_id, "notification")) == 2, "its record")
    assert len(receiver.requests) == 2  # once


# -- configuration ---------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> ButtressConfig:
    path = tmp_path / "buttress.yaml"
    path.write_text(text)
    return load(path)


BASE = """\
incidents:
  oncall:
    users:
      alice: {email: alice@example.com}
  notifiers:
    hook: {type: webhook, url: "http://127.0.0.1:9/x"}
  escalation_policies:
    default:
      channels: [hook]
      levels:
        - notify: {users: [%s]}
  default_escalation_policy: %s
"""


def test_an_escalation_to_an_unknown_user_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, BASE % ("carol", "default"))
    text = str(err.value)
    assert "buttress.yaml:11" in text
    assert "unknown user 'carol'" in text
    assert "alice" in text


def test_an_unknown_policy_schedule_or_channel_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown escalation policy 'nope'"):
        _load(tmp_path, BASE % ("alice", "nope"))
    text = BASE % ("alice", "default")
    with pytest.raises(ConfigError, match="unknown schedule 'night'"):
        _load(tmp_path, text.replace("{users: [alice]}", "{schedules: [night]}"))
    with pytest.raises(ConfigError, match="unknown notifier 'pager'"):
        _load(tmp_path, text.replace("channels: [hook]", "channels: [pager]"))


def test_an_invalid_time_zone_in_a_policy_is_a_config_error(tmp_path: Path) -> None:
    text = (BASE % ("alice", "default")).replace(
        "      channels: [hook]\n", "      channels: [hook]\n      time_zone: Mars/Olympus\n"
    )
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        _load(tmp_path, text)


def test_the_loaded_example_escalates_by_rule(tmp_path: Path) -> None:
    text = (BASE % ("alice", "default")) + (
        "  escalation:\n    - {match: {service: payments}, severities: [P1], policy: default}\n"
    )
    config = _load(tmp_path, text).incidents
    assert config.policy_for({"service": "payments"}, "P1") == "default"
    assert config.policy_for({"service": "payments"}, "P3") == "default"  # the default
    assert (
        config.model_copy(update={"default_escalation_policy": None}).policy_for({}, "P3") is None
    )


def test_a_failing_step_sets_its_timer_again(catalog: Catalog, receiver: Receiver) -> None:
    """A step that raises leaves the escalation a timer RETRY_AFTER later, not none."""
    from buttress.incidents.escalation import RETRY_AFTER
    from buttress.jobs import JobContext

    config = incidents_config(receiver.url)
    clock = Clock()

    def broken(notification: object, channels: object) -> list[Any]:
        raise RuntimeError("boom")

    esc = Escalations(catalog, config, broken, clock=clock)
    incident_id = fire(catalog, config, T0)

    class Failing(Escalations):
        def step(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the catalog went away")

    failing = Failing(catalog, config, broken, clock=clock)
    with catalog.begin() as session:  # as the runner does: the due row is gone once started
        session.query(JobRow).filter(JobRow.key == timer_key(incident_id)).delete()
    ctx = JobContext(timer_key(incident_id), 1, 1, T0, 0.0, {"incident": incident_id}, None, None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="went away"):
        failing.run(ctx)
    with catalog.begin() as session:
        row = session.get(JobRow, timer_key(incident_id))
        assert row is not None
        assert row.next_due == T0 + dt.timedelta(seconds=RETRY_AFTER)
    esc.step(incident_id)  # a sender that raises: recorded as failed deliveries, no crash
    (sent,) = events(catalog, incident_id, "notification")
    assert sent.detail["outcome"] == "failed"


def test_the_sweep_sets_a_lost_timer_again(catalog: Catalog, receiver: Receiver) -> None:
    """A replica killed mid-step took the timer's row: the sweep wakes that escalation."""
    from buttress.incidents.escalation import LOST_AFTER

    config = incidents_config(receiver.url)
    esc = Escalations(catalog, config, Dispatcher(config.notifiers).send_sync)
    incident_id = fire(catalog, config, dt.datetime.now(dt.UTC))
    assert esc.sweep() == []  # its timer is there
    with catalog.begin() as session:
        session.query(JobRow).filter(JobRow.key == timer_key(incident_id)).delete()
    assert esc.sweep() == [incident_id]  # no step yet and no timer: woken
    esc.step(incident_id)
    with catalog.begin() as session:
        session.query(JobRow).filter(JobRow.key == timer_key(incident_id)).delete()
        row = session.get(IncidentEscalation, incident_id)
        assert row is not None
        row.next_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LOST_AFTER + 5)
    assert esc.sweep() == [incident_id]
    with catalog.begin() as session:
        assert session.get(JobRow, timer_key(incident_id)) is not None


def test_a_renamed_policy_is_picked_again_by_the_rules(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url)
    clock = Clock()
    incident_id = fire(catalog, config, T0)
    engine(catalog, config, clock).step(incident_id)
    renamed = config.model_copy(
        update={
            "escalation_policies": {"paging": config.escalation_policies["default"]},
            "default_escalation_policy": "paging",
        }
    )
    clock.now = T0 + dt.timedelta(minutes=5)
    engine(catalog, renamed, clock).step(incident_id)
    assert [r.json()["incident"]["level"] for r in receiver.requests] == [1, 2]
    (moved,) = events(catalog, incident_id, "escalation_policy")
    assert (moved.detail["old"], moved.detail["new"]) == ("default", "paging")


def test_a_reopened_exhausted_incident_escalates_again_without_a_false_breach(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url)
    clock = Clock()
    esc = engine(catalog, config, clock)
    incident_id = fire(catalog, config, T0)
    for minutes in (0, 5, 15):  # level 1, level 2, exhausted
        clock.now = T0 + dt.timedelta(minutes=minutes)
        esc.step(incident_id)
    with catalog.begin() as session:
        assert session.get(IncidentEscalation, incident_id).state == "exhausted"  # type: ignore[union-attr]
        session.query(IncidentEvent).filter(IncidentEvent.kind == "target_breached").delete()
    clock.now = T0 + dt.timedelta(hours=5)
    fire(catalog, config, clock.now, "resolved")
    fire(catalog, config, clock.now + dt.timedelta(minutes=1))  # reopened before any step ran
    clock.now += dt.timedelta(minutes=1)
    esc.step(incident_id)
    assert receiver.requests[-1].json()["kind"] == "triggered"
    assert events(catalog, incident_id, "target_breached") == []


def test_a_reminder_after_the_policy_lost_levels_goes_to_its_last_level(
    catalog: Catalog, receiver: Receiver
) -> None:
    config = incidents_config(receiver.url, renotify_acknowledged_after="1h")
    clock = Clock()
    incident_id = fire(catalog, config, T0)
    esc = engine(catalog, config, clock)
    for minutes in (0, 5):
        clock.now = T0 + dt.timedelta(minutes=minutes)
        esc.step(incident_id)
    with catalog.begin() as session:
        ref = session.get(Incident, incident_id).ref  # type: ignore[union-attr]
        service.act(session=session, ref=ref, action="ack", actor="bob", now=clock.now)
    esc.step(incident_id)
    policy = config.escalation_policies["default"]
    shorter = config.model_copy(
        update={
            "escalation_policies": {
                "default": policy.model_copy(update={"levels": policy.levels[:1]})
            }
        }
    )
    clock.now += dt.timedelta(hours=1)
    engine(catalog, shorter, clock).step(incident_id)
    reminder = receiver.requests[-1].json()
    assert reminder["kind"] == "reminder"
    assert [r["name"] for r in reminder["recipients"]] == ["alice"]
