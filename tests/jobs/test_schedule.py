"""Schedules and the missed-run decision (pure: the time is passed in)."""

from __future__ import annotations

import datetime as dt

import pytest

from buttress.errors import ConfigError
from buttress.jobs.schedule import At, Cron, Every, decide, first_due, parse_schedule

T0 = dt.datetime(2026, 12, 3, 10, 0, 0, tzinfo=dt.UTC)


def test_cron_in_a_time_zone_fires_at_local_time() -> None:
    paris = Cron("0 3 * * *", "Europe/Paris")
    assert paris.next_after(T0) == dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)  # 03:00 CET
    summer = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
    assert paris.next_after(summer) == dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)  # CEST
    assert Cron("0 3 * * *").next_after(T0) == dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Cron("0 3 * *"), "five-field"),
        (lambda: Cron("42 * * * * *"), "six fields"),
        (lambda: Cron("0 3 * * *", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (lambda: Every(0), "more than 0"),
        (lambda: At(dt.datetime(2026, 1, 1)), "time zone"),
    ],
)
def test_bad_schedules_are_refused_by_name(make: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("schedule", [Cron("*/5 * * * *", "America/New_York"), Every(2.5), At(T0)])
def test_stored_form_reads_back(schedule: Cron | Every | At) -> None:
    assert parse_schedule(schedule.spec) == schedule


def test_interval_ticks_do_not_drift() -> None:
    every = Every(2)
    due = first_due(every, T0)
    late = due + dt.timedelta(seconds=0.7)
    decision = decide(every, due, late)
    assert decision.run
    assert decision.next_due == due + dt.timedelta(seconds=2)
    assert decision.late == pytest.approx(0.7)


def test_on_time_run_drops_due_times_that_already_passed() -> None:
    decision = decide(Every(2), T0, T0 + dt.timedelta(seconds=5))  # within the grace
    assert decision.run
    assert decision.missed == 2  # T0+2 and T0+4 are not run again
    assert decision.next_due == T0 + dt.timedelta(seconds=6)


def test_missed_skip_runs_nothing_and_moves_past_now() -> None:
    down = T0 + dt.timedelta(hours=5, minutes=30)
    decision = decide(Cron("0 * * * *"), T0, down, missed="skip")
    assert not decision.run
    assert decision.missed == 6  # 10:00 late, then 11:00 to 15:00
    assert decision.next_due == dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)


def test_missed_run_once_runs_one_for_all() -> None:
    down = T0 + dt.timedelta(hours=5, minutes=30)
    decision = decide(Cron("0 * * * *"), T0, down, missed="run_once")
    assert decision.run
    assert decision.missed == 6
    assert decision.next_due == dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)


def test_a_one_shot_fires_however_late_and_says_how_late() -> None:
    decision = decide(At(T0), T0, T0 + dt.timedelta(hours=2), grace=60)
    assert decision.run
    assert decision.next_due is None
    assert decision.late == 7200
    assert decision.missed == 1


def test_a_very_long_outage_does_not_walk_forever() -> None:
    decision = decide(Every(1), T0, T0 + dt.timedelta(days=30), missed="skip", limit=100)
    assert not decision.run
    assert decision.next_due is not None
    assert decision.next_due > T0 + dt.timedelta(days=30)
