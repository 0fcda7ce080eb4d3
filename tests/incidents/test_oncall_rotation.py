"""The rotation math of :mod:`buttress.incidents.oncall`: daily, weekly and custom rotations,
restrictions, layers, overrides, DST, gaps and notification targets."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.config import load_text
from buttress.config._oncall import OnCallConfig
from buttress.incidents.oncall import (
    Shift,
    UnknownScheduleError,
    UnknownTeamError,
    UnknownUserError,
    current,
    gap_warnings,
    gaps,
    on_call,
    resolve_targets,
    shifts,
)

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
USERS = "    users: {alice: {}, bob: {}, carol: {}, dave: {}}\n"


def oncall(schedules: str, extra: str = "") -> OnCallConfig:
    """An ``incidents.oncall`` section with four users and the given schedules YAML."""
    text = f"incidents:\n  oncall:\n{USERS}{extra}    schedules:\n{schedules}"
    return load_text(text).incidents.oncall


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


WEEKLY_BERLIN = oncall(
    "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
    "          - {name: primary, users: [alice, bob, carol], rotation: weekly,"
    " start: 2026-01-05T09:00}\n"
)


def test_a_weekly_rotation_hands_off_at_its_start_time() -> None:
    """users[0] from start, the next one a week later, and round again."""
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 5, 8, 59)) is None  # before the start
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 5, 9, 0)) == "alice"
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 12, 8, 59)) == "alice"
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 12, 9, 0)) == "bob"
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 19, 9, 0)) == "carol"
    assert on_call(WEEKLY_BERLIN, "s", berlin(2026, 1, 26, 9, 0)) == "alice"


def test_weekly_hand_offs_stay_at_local_time_across_dst() -> None:
    """The 09:00 Berlin hand-off is 08:00 UTC in winter and 07:00 UTC in summer, on both
    changes of 2026 (29 March, 25 October)."""
    found = shifts(WEEKLY_BERLIN, "s", utc(2026, 3, 20), utc(2026, 11, 10))
    starts = [s.start for s in found[1:]]
    assert all(s.astimezone(BERLIN).hour == 9 for s in starts)
    assert all(s.astimezone(BERLIN).weekday() == 0 for s in starts)
    assert utc(2026, 3, 23, 8) in starts
    assert utc(2026, 3, 30, 7) in starts  # the first Monday of summer time
    assert utc(2026, 10, 19, 7) in starts
    assert utc(2026, 10, 26, 8) in starts  # the first Monday of winter time
    # the week across the change is an hour shorter (spring) or longer (autumn)
    by_start = {s.start: s for s in found}
    assert by_start[utc(2026, 3, 23, 8)].end - utc(2026, 3, 23, 8) == dt.timedelta(hours=167)
    assert by_start[utc(2026, 10, 19, 7)].end - utc(2026, 10, 19, 7) == dt.timedelta(hours=169)


def test_a_daily_hand_off_in_the_skipped_hour_happens_when_the_clock_jumps() -> None:
    """A 02:30 daily hand-off on the spring-forward day (02:00 -> 03:00) is at 03:00 CEST; on
    the fall-back day it is at the first 02:30."""
    config = oncall(
        "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
        "          - {name: l, users: [alice, bob], rotation: daily, start: 2026-03-27T02:30}\n"
    )
    starts = [s.start for s in shifts(config, "s", utc(2026, 3, 28), utc(2026, 3, 31))]
    assert starts == [
        utc(2026, 3, 28),
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30, 0, 30),
    ]
    autumn = [s.start for s in shifts(config, "s", utc(2026, 10, 24), utc(2026, 10, 26))]
    assert utc(2026, 10, 25, 0, 30) in autumn  # 02:30 CEST, the first of the two


def test_hourly_rotation_through_the_repeated_hour_has_no_overlap() -> None:
    """A 30-minute rotation through the fall-back hour: shifts are contiguous, never
    backwards, and on_call agrees with them at every minute."""
    config = oncall(
        "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
        "          - {name: l, users: [alice, bob, carol], rotation: 30m,"
        " start: 2026-10-01T00:00}\n"
    )
    start, end = utc(2026, 10, 24, 22), utc(2026, 10, 25, 4)
    found = shifts(config, "s", start, end)
    assert found[0].start == start
    assert found[-1].end == end
    for a, b in itertools.pairwise(found):
        assert a.end == b.start
        assert a.start < a.end
    for minute in range(0, 6 * 60):
        t = start + dt.timedelta(minutes=minute)
        (here,) = [s for s in found if s.start <= t < s.end]
        assert on_call(config, "s", t) == here.user


def test_a_custom_rotation_counts_on_the_local_clock() -> None:
    """A 3-day rotation hands off every third day at the start's local time."""
    config = oncall(
        "      s:\n        time_zone: America/New_York\n        layers:\n"
        "          - {name: l, users: [alice, bob], rotation: 3d, start: 2026-03-01T18:00}\n"
    )
    ny = ZoneInfo("America/New_York")
    found = shifts(config, "s", utc(2026, 3, 2), utc(2026, 3, 20))
    assert [s.user for s in found] == ["alice", "bob", "alice", "bob", "alice", "bob", "alice"]
    assert all(s.start.astimezone(ny).hour == 18 for s in found[1:])


def test_on_call_in_the_far_future_is_computed_not_walked() -> None:
    """A one-minute rotation in UTC, asked 900 years ahead: the answer is the division's."""
    config = oncall(
        "      s:\n        layers:\n"
        "          - {name: l, users: [alice, bob, carol], rotation: 1m, start: 2026-01-01T00:00}\n"
    )
    at = utc(2926, 6, 1, 12, 7)
    minutes = int((at - utc(2026, 1, 1)).total_seconds() // 60)
    assert on_call(config, "s", at) == ["alice", "bob", "carol"][minutes % 3]


BUSINESS = oncall(
    "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
    "          - name: day\n            users: [alice, bob]\n            rotation: daily\n"
    "            start: 2026-01-05T00:00\n            restrict:\n"
    '              - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}\n'
)


def test_a_restricted_layer_counts_only_in_its_windows() -> None:
    """Business hours: on call 09:00-17:00 on weekdays, a gap at night and at the weekend."""
    assert on_call(BUSINESS, "s", berlin(2026, 1, 5, 8, 59)) is None
    assert on_call(BUSINESS, "s", berlin(2026, 1, 5, 9)) == "alice"
    assert on_call(BUSINESS, "s", berlin(2026, 1, 6, 16, 59)) == "bob"
    assert on_call(BUSINESS, "s", berlin(2026, 1, 6, 17)) is None
    assert on_call(BUSINESS, "s", berlin(2026, 1, 10, 12)) is None  # a Saturday
    found = gaps(BUSINESS, "s", berlin(2026, 1, 9, 12), berlin(2026, 1, 13, 12))
    assert found == [
        (berlin(2026, 1, 9, 17).astimezone(UTC), berlin(2026, 1, 12, 9).astimezone(UTC)),
        (berlin(2026, 1, 12, 17).astimezone(UTC), berlin(2026, 1, 13, 9).astimezone(UTC)),
    ]


def test_a_window_past_midnight_ends_the_next_day() -> None:
    """from 22:00 to 06:00 on Friday runs until Saturday 06:00."""
    config = oncall(
        "      s:\n        layers:\n"
        "          - {name: n, users: [carol], rotation: weekly, start: 2026-01-01T00:00,"
        ' restrict: [{days: [fri], from: "22:00", to: "06:00"}]}\n'
    )
    assert on_call(config, "s", utc(2026, 1, 2, 21, 59)) is None
    assert on_call(config, "s", utc(2026, 1, 3, 5, 59)) == "carol"
    assert on_call(config, "s", utc(2026, 1, 3, 6)) is None


LAYERED = oncall(
    "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
    "          - {name: base, users: [alice, bob], rotation: weekly, start: 2026-01-05T09:00}\n"
    "          - name: day\n            users: [carol]\n            rotation: daily\n"
    "            start: 2026-01-05T00:00\n            restrict:\n"
    '              - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}\n'
    "        overrides:\n"
    "          - {user: dave, start: 2026-01-07T12:00, end: 2026-01-08T12:00}\n"
    "          - {user: bob, start: 2026-01-08T00:00, end: 2026-01-08T01:00}\n"
)


def test_later_layers_win_where_they_have_someone_and_overrides_win_over_all() -> None:
    """The day layer covers business hours over the base layer; an override covers both, and
    the later of two overlapping overrides wins."""
    assert on_call(LAYERED, "s", berlin(2026, 1, 6, 8)) == "alice"  # base
    assert on_call(LAYERED, "s", berlin(2026, 1, 6, 10)) == "carol"  # day over base
    assert on_call(LAYERED, "s", berlin(2026, 1, 7, 13)) == "dave"  # override over day
    assert on_call(LAYERED, "s", berlin(2026, 1, 8, 0, 30)) == "bob"  # the later override
    assert on_call(LAYERED, "s", berlin(2026, 1, 8, 1, 30)) == "dave"
    assert on_call(LAYERED, "s", berlin(2026, 1, 8, 12)) == "carol"


def test_shifts_are_the_merged_timeline() -> None:
    """shifts() cuts at start and end, names the layer and merges a user's back-to-back
    pieces (alice's base week around the override of her own)."""
    found = shifts(LAYERED, "s", berlin(2026, 1, 7, 11), berlin(2026, 1, 8, 13))
    assert found == [
        Shift(
            "carol",
            berlin(2026, 1, 7, 11).astimezone(UTC),
            berlin(2026, 1, 7, 12).astimezone(UTC),
            "day",
        ),
        Shift(
            "dave",
            berlin(2026, 1, 7, 12).astimezone(UTC),
            berlin(2026, 1, 8).astimezone(UTC),
            "override",
        ),
        Shift(
            "bob",
            berlin(2026, 1, 8).astimezone(UTC),
            berlin(2026, 1, 8, 1).astimezone(UTC),
            "override",
        ),
        Shift(
            "dave",
            berlin(2026, 1, 8, 1).astimezone(UTC),
            berlin(2026, 1, 8, 12).astimezone(UTC),
            "override",
        ),
        Shift(
            "carol",
            berlin(2026, 1, 8, 12).astimezone(UTC),
            berlin(2026, 1, 8, 13).astimezone(UTC),
            "day",
        ),
    ]
    single = oncall(
        "      s:\n        layers:\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n"
    )
    assert shifts(single, "s", utc(2026, 2, 1), utc(2026, 3, 1)) == [
        Shift("alice", utc(2026, 2, 1), utc(2026, 3, 1), "l")
    ]


def test_current_says_until_when() -> None:
    """current() gives the user and the next hand-off; None when nothing changes soon."""
    assert current(WEEKLY_BERLIN, "s", berlin(2026, 1, 6)) == (
        "alice",
        berlin(2026, 1, 12, 9).astimezone(UTC),
    )
    assert current(BUSINESS, "s", berlin(2026, 1, 10)) == (
        None,
        berlin(2026, 1, 12, 9).astimezone(UTC),
    )
    single = oncall(
        "      s:\n        layers:\n"
        "          - {name: l, users: [alice], rotation: daily, start: 2026-01-01T00:00}\n"
    )
    assert current(single, "s", utc(2026, 2, 1)) == ("alice", None)


def test_unknown_schedule_and_naive_times_are_refused() -> None:
    """An unknown schedule is a KeyError naming it and the known ones; a time without a zone is
    a ValueError."""
    with pytest.raises(UnknownScheduleError) as caught:
        on_call(WEEKLY_BERLIN, "nope", utc(2026, 1, 1))
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "unknown on-call schedule 'nope' (incidents.oncall.schedules: s)"
    with pytest.raises(ValueError, match="aware"):
        on_call(WEEKLY_BERLIN, "s", dt.datetime(2026, 1, 1))


TEAMS = oncall(
    "      s:\n        layers:\n"
    "          - name: l\n            users: [alice, bob]\n            rotation: daily\n"
    "            start: 2026-01-05T00:00\n"
    '            restrict: [{from: "08:00", to: "20:00"}]\n',
    extra=(
        "    teams:\n"
        "      dba: {members: [carol, bob], schedule: s}\n"
        "      web: {members: [dave, carol]}\n"
    ),
)


def test_resolve_targets_dedupes_in_order() -> None:
    """Users first, then schedules' on-call, then teams (its schedule's on-call, or every
    member without a schedule), each once."""
    at = utc(2026, 1, 6, 12)  # bob's day
    got = resolve_targets(TEAMS, users=["dave"], schedules=["s"], teams=["dba", "web"], at=at)
    assert got == ["dave", "bob", "carol"]
    assert resolve_targets(TEAMS, teams=["dba"], at=at) == ["bob"]


def test_a_team_whose_schedule_has_a_gap_pages_every_member() -> None:
    """In a gap of the team's schedule, every member is a target."""
    assert resolve_targets(TEAMS, teams=["dba"], at=utc(2026, 1, 6, 22)) == ["carol", "bob"]


def test_resolve_targets_refuses_unknown_names() -> None:
    """An unknown user, team or schedule raises naming it."""
    at = utc(2026, 1, 6)
    with pytest.raises(UnknownUserError, match="'zed'"):
        resolve_targets(TEAMS, users=["zed"], at=at)
    with pytest.raises(UnknownTeamError, match="'ops'"):
        resolve_targets(TEAMS, teams=["ops"], at=at)
    with pytest.raises(UnknownScheduleError, match="'t'"):
        resolve_targets(TEAMS, schedules=["t"], at=at)


def test_gap_warnings_name_the_schedule_and_local_times() -> None:
    """Each gap of the horizon is a line in the schedule's zone; past five, one line counts."""
    lines = gap_warnings(BUSINESS, berlin(2026, 1, 9, 12), horizon=dt.timedelta(days=2))
    assert lines == [
        "incidents.oncall.schedules.s: nobody is on call Fri 2026-01-09 17:00 \u2013 "
        "Sun 2026-01-11 12:00 (Europe/Berlin)"
    ]
    many = gap_warnings(BUSINESS, berlin(2026, 1, 5, 12))
    assert len(many) == 6
    assert many[0] == (
        "incidents.oncall.schedules.s: nobody is on call Mon 2026-01-05 17:00 \u2013 "
        "Tue 2026-01-06 09:00 (Europe/Berlin)"
    )
    assert many[-1] == "incidents.oncall.schedules.s: ... and 5 more gaps in the next 14 days"
    assert gap_warnings(WEEKLY_BERLIN, berlin(2026, 2, 1)) == []


def test_a_gap_within_one_day_is_written_short() -> None:
    """A gap that starts and ends on one local day reads 02:00\u201306:00."""
    config = oncall(
        "      s:\n        time_zone: Europe/Berlin\n        layers:\n"
        "          - name: l\n            users: [alice]\n            rotation: weekly\n"
        "            start: 2026-01-01T00:00\n"
        '            restrict: [{from: "06:00", to: "02:00"}]\n'
    )
    lines = gap_warnings(config, berlin(2026, 12, 5, 1), horizon=dt.timedelta(hours=6))
    assert lines == [
        "incidents.oncall.schedules.s: nobody is on call Sat 2026-12-05 02:00\u201306:00 "
        "(Europe/Berlin)"
    ]


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    rotation=st.sampled_from(["daily", "weekly", "1h", "90m", "3d", "12h"]),
    start_minute=st.integers(0, 365 * 24 * 60),
    at_minute=st.integers(0, 400 * 24 * 60),
    restricted=st.booleans(),
)
def test_on_call_agrees_with_the_timeline(
    zone: str, rotation: str, start_minute: int, at_minute: int, restricted: bool
) -> None:
    """Whatever the zone and rotation, shifts and gaps tile the range without overlap, and
    on_call at any instant is the user of the shift holding it."""
    origin = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=start_minute)
    restrict = (
        ', restrict: [{days: [mon, wed, sat], from: "08:30", to: "01:15"}]' if restricted else ""
    )
    config = oncall(
        f"      s:\n        time_zone: {zone}\n        layers:\n"
        f"          - {{name: l, users: [alice, bob, carol], rotation: {rotation},"
        f" start: {origin:%Y-%m-%dT%H:%M}{restrict}}}\n"
    )
    at = utc(2026, 1, 1) + dt.timedelta(minutes=at_minute)
    start, end = at - dt.timedelta(days=3), at + dt.timedelta(days=3)
    found = shifts(config, "s", start, end)
    pieces = sorted([(s.start, s.end) for s in found] + gaps(config, "s", start, end))
    assert pieces[0][0] == start
    assert pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(a < b for a, b in pieces)
    for probe in (at, start, end - dt.timedelta(microseconds=1), *(s.start for s in found)):
        holding = [s for s in found if s.start <= probe < s.end]
        assert on_call(config, "s", probe) == (holding[0].user if holding else None)
    for a, b in itertools.pairwise(found):
        assert a.end < b.start or a.user != b.user  # back-to-back pieces of one user merged
