"""The escalation decision on its own: levels, waits, repeats, acknowledgement, reminders,
resolution, reopening and the respond target."""

from __future__ import annotations

import datetime as dt

from buttress.config._escalation import EscalationPolicy
from buttress.config._incidents import ResponseTarget
from buttress.incidents.escalation_plan import Position, Send, Step, decide, level_wait

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)  # a Friday
P2 = ResponseTarget(respond=900, escalate=1800)


def policy(**extra: object) -> EscalationPolicy:
    data: dict[str, object] = {
        "levels": [
            {"notify": {"users": ["alice"]}, "wait": "5m"},
            {"notify": {"users": ["bob"]}},
        ],
        "channels": ["ops"],
    }
    data.update(extra)
    return EscalationPolicy.model_validate(data)


def step(
    pos: Position,
    now: dt.datetime,
    status: str = "triggered",
    pol: EscalationPolicy | None = None,
    target: ResponseTarget = P2,
    acknowledged_at: dt.datetime | None = None,
) -> Step:
    return decide(
        policy=pol if pol is not None else policy(),
        target=target,
        status=status,
        triggered_at=T0,
        acknowledged_at=acknowledged_at,
        position=pos,
        now=now,
    )


def test_a_new_incident_notifies_level_one_at_once_then_waits_its_wait() -> None:
    first = step(Position(), T0)
    assert first.send == Send("triggered", 0)
    assert first.position.state == "escalating"
    assert first.position.next_at == T0 + dt.timedelta(minutes=5)
    assert first.wake == T0 + dt.timedelta(minutes=5)  # before the respond target (15 min)


def test_a_timer_before_the_wait_is_over_sends_nothing() -> None:
    first = step(Position(), T0)
    early = step(first.position, T0 + dt.timedelta(minutes=2))
    assert early.send is None
    assert early.position == first.position


def test_levels_climb_then_the_policy_repeats_then_it_is_exhausted() -> None:
    pol = policy(repeat=1)
    now, pos = T0, Position()
    sends: list[Send | None] = []
    for _ in range(6):
        result = step(pos, now, pol=pol)
        sends.append(result.send)
        pos = result.position
        now = pos.next_at or now + dt.timedelta(hours=1)
    assert sends[:4] == [
        Send("triggered", 0),
        Send("escalated", 1),
        Send("escalated", 0),
        Send("escalated", 1),
    ]
    assert sends[4] is None
    assert pos.state == "exhausted"
    assert pos.cycle == 1


def test_a_level_without_a_wait_uses_the_severity_escalate_delay() -> None:
    pos = step(Position(), T0).position
    second = step(pos, pos.next_at or T0)
    assert second.send == Send("escalated", 1)
    assert second.position.next_at == (pos.next_at or T0) + dt.timedelta(seconds=1800)


def test_next_business_day_waits_for_the_working_day_in_the_policy_zone() -> None:
    pol = policy(time_zone="Europe/Berlin", levels=[{"notify": {"users": ["a"]}}])
    p4 = ResponseTarget(respond=4 * 3600, escalate_next_business_day=True)
    # Friday 10:00 UTC: the next business day in Berlin is Monday 09:00 CET = 08:00 UTC
    assert level_wait(pol, 0, p4, T0) == dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def test_the_respond_target_is_breached_once_while_unacknowledged() -> None:
    pol = policy(levels=[{"notify": {"users": ["a"]}, "wait": "1h"}])
    pos = step(Position(), T0, pol=pol).position
    late = step(pos, T0 + dt.timedelta(minutes=16), pol=pol)
    assert late.breached == ("respond",)
    assert late.send is None
    again = step(late.position, T0 + dt.timedelta(minutes=17), pol=pol)
    assert again.breached == ()


def test_the_respond_target_wakes_the_timer_before_a_long_wait() -> None:
    pol = policy(levels=[{"notify": {"users": ["a"]}, "wait": "1h"}])
    first = step(Position(), T0, pol=pol)
    assert first.wake == T0 + dt.timedelta(seconds=900)


def test_acknowledgement_stops_it_and_is_sent_where_it_went() -> None:
    pos = step(Position(), T0).position
    acked = step(pos, T0 + dt.timedelta(minutes=1), status="acknowledged")
    assert acked.send == Send("acknowledged", None)
    assert acked.position.state == "acknowledged"
    assert acked.wake is None
    later = step(acked.position, T0 + dt.timedelta(hours=3), status="acknowledged")
    assert (later.send, later.breached) == (None, ())


def test_an_acknowledged_incident_is_reminded_until_resolved() -> None:
    pol = policy(renotify_acknowledged_after="1h")
    ack_at = T0 + dt.timedelta(minutes=1)
    pos = step(Position(), T0, pol=pol).position
    acked = step(pos, ack_at, status="acknowledged", pol=pol, acknowledged_at=ack_at)
    assert acked.wake == ack_at + dt.timedelta(hours=1)
    remind = step(acked.position, ack_at + dt.timedelta(hours=1), "acknowledged", pol)
    assert remind.send == Send("reminder", 0)
    assert remind.position.reminders == 1
    done = step(remind.position, ack_at + dt.timedelta(hours=1, minutes=5), "resolved", pol)
    assert (done.send, done.wake) == (Send("resolved", None), None)


def test_resolution_is_sent_once() -> None:
    pos = step(Position(), T0).position
    first = step(pos, T0 + dt.timedelta(minutes=1), status="resolved")
    assert first.send == Send("resolved", None)
    second = step(first.position, T0 + dt.timedelta(minutes=2), status="closed")
    assert second.send is None


def test_an_incident_resolved_before_any_send_sends_nothing() -> None:
    assert step(Position(), T0, status="resolved").send is None


def test_a_reopened_incident_escalates_afresh() -> None:
    pos = step(Position(), T0).position
    resolved = step(pos, T0 + dt.timedelta(minutes=1), status="resolved").position
    reopened = step(resolved, T0 + dt.timedelta(minutes=3))
    assert reopened.send == Send("triggered", 0)
    assert (reopened.position.level, reopened.position.cycle) == (0, 0)


def test_without_a_policy_only_the_target_is_watched() -> None:
    result = decide(
        policy=None,
        target=P2,
        status="triggered",
        triggered_at=T0,
        acknowledged_at=None,
        position=Position(),
        now=T0,
    )
    assert result.send is None
    assert result.wake == T0 + dt.timedelta(seconds=900)


def test_escalate_at_once_climbs_without_waiting() -> None:
    p1 = ResponseTarget(respond=300, escalate=0)
    pol = policy(levels=[{"notify": {"users": ["a"]}}, {"notify": {"users": ["b"]}}])
    first = step(Position(), T0, pol=pol, target=p1)
    assert first.wake == T0
    second = step(first.position, T0, pol=pol, target=p1)
    assert second.send == Send("escalated", 1)


def test_a_policy_shortened_since_the_last_step_starts_its_next_pass() -> None:
    """A position past the policy's last level (the config lost levels) wraps, not fails."""
    pos = Position(state="escalating", level=4, cycle=0, next_at=T0)
    result = step(pos, T0, pol=policy(repeat=1))
    assert result.send == Send("escalated", 0)
    assert (result.position.level, result.position.cycle) == (0, 1)


def test_the_next_business_day_can_be_today() -> None:
    """Before the working day starts, the next start is today's."""
    pol = policy(levels=[{"notify": {"users": ["a"]}}])
    monday_early = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    p4 = ResponseTarget(respond=4 * 3600, escalate_next_business_day=True)
    assert level_wait(pol, 0, p4, monday_early) == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def test_an_incident_acknowledged_before_any_page_gets_no_reminders() -> None:
    pol = policy(renotify_acknowledged_after="1h")
    acked = step(Position(), T0, status="acknowledged", pol=pol, acknowledged_at=T0)
    assert (acked.send, acked.wake) == (None, None)
