"""WAL retention with PITR windows: examples per rule, reasons as ranges, what is never removed
when the facts are missing, and properties over random histories on one or two timelines
(every kept backup keeps its WAL, the PITR window is restorable, nothing is kept for no
reason)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.backup.retention import RetentionPolicy, Snapshot, select
from buttress.backup.wal.names import WalName, parse_name, segment_name
from buttress.backup.wal.retention import (
    HISTORY_KEPT,
    BaseBackup,
    Physical,
    WalPlan,
    WalRange,
    plan,
)

T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=30)  # one segment every half hour
DAY = 86400.0


def seg(segno: int, timeline: int = 1) -> WalName:
    return parse_name(segment_name(timeline, segno))


def at(segno: int) -> dt.datetime:
    """When segment ``segno`` was written."""
    return T0 + segno * STEP


def backup(
    id_: str,
    start: int,
    stop: int | None = None,
    *,
    timeline: int = 1,
    status: str = "succeeded",
    verified: bool = False,
) -> BaseBackup:
    stop = start if stop is None else stop
    physical = Physical(timeline, seg(start, timeline), seg(stop, timeline), at(stop))
    return BaseBackup(id_, at(start), status, verified, physical)


def wal(first: int, last: int, timeline: int = 1) -> list[WalName]:
    return [seg(n, timeline) for n in range(first, last + 1)]


def name(segno: int, timeline: int = 1) -> str:
    return segment_name(timeline, segno)


def test_without_a_window_wal_before_the_oldest_kept_backup_goes() -> None:
    """keep_last 1: the newest backup's WAL onward stays, older WAL goes as one range."""
    backups = [backup("b1", 2, 3), backup("b2", 10, 11), backup("b3", 20, 21)]
    result = plan(backups, wal(1, 30), RetentionPolicy(keep_last=1), pitr_within=None, now=at(30))
    assert result.kept_ids == {"b3"}
    assert result.remove == (
        WalRange(
            name(1),
            name(19),
            19,
            f"older than backup b3's start ({name(20)}), the oldest base backup kept",
            "before",
        ),
    )
    assert result.keep == (
        WalRange(
            name(20),
            name(30),
            11,
            "from the newest backup b3's start on (PITR since the newest backup)",
            "newest",
        ),
    )
    assert result.removed == {name(n) for n in range(1, 20)}


def test_an_older_kept_backup_keeps_only_its_start_to_stop() -> None:
    """keep_last 2: the older kept backup keeps what makes it consistent; the WAL between it
    and the newest goes, named by both."""
    backups = [backup("b1", 2, 3), backup("b2", 10, 12), backup("b3", 20, 21)]
    result = plan(backups, wal(1, 25), RetentionPolicy(keep_last=2), pitr_within=None, now=at(25))
    assert [(r.first, r.last, r.count) for r in result.keep] == [
        (name(10), name(12), 3),
        (name(20), name(25), 6),
    ]
    assert result.keep[0].reason == "makes backup b2 consistent"
    assert [(r.first, r.last, r.count, r.reason) for r in result.remove] == [
        (
            name(1),
            name(9),
            9,
            f"older than backup b2's start ({name(10)}), the oldest base backup kept",
        ),
        (
            name(13),
            name(19),
            7,
            f"between backup b2's end ({name(12)}) and backup b3's start ({name(20)}): "
            "no kept backup needs it",
        ),
    ]


def test_the_pitr_window_keeps_its_anchor_and_all_wal_after_it() -> None:
    """pitr_within 12h: the newest backup that ended more than 12 hours ago is kept although
    GFS would drop it, and all WAL from its start on stays."""
    backups = [backup(f"b{i}", 12 * i, 12 * i + 1) for i in range(6)]  # every 6 hours
    now = at(60) + dt.timedelta(hours=1)  # b3 ended 12.5 h before now, b4 6.5 h before
    result = plan(backups, wal(0, 61), RetentionPolicy(keep_last=1), pitr_within=DAY / 2, now=now)
    assert result.anchor == "b3"
    decisions = {d.snapshot.id: d for d in result.decisions}
    assert decisions["b3"].keep
    assert decisions["b3"].reasons == (
        "PITR anchor: the newest base backup that ended over 12h ago",
    )
    assert result.kept_ids == {"b3", "b5"}
    assert result.keep[0] == WalRange(
        name(36),
        name(61),
        26,
        "PITR window (12h): from backup b3's start on (the anchor)",
        "window",
    )
    assert result.removed == {name(n) for n in range(36)}


def test_without_a_backup_that_old_the_oldest_is_the_anchor() -> None:
    backups = [backup("b1", 10, 11), backup("b2", 20, 21)]
    result = plan(
        backups, wal(5, 25), RetentionPolicy(keep_last=1), pitr_within=7 * DAY, now=at(25)
    )
    assert result.anchor == "b1"
    assert {d.snapshot.id: d.reasons for d in result.decisions}["b1"] == (
        "PITR anchor: the oldest base backup (none ended over 7d ago)",
    )
    assert result.removed == {name(n) for n in range(5, 10)}


def test_backup_history_goes_with_its_segment_and_timeline_history_stays() -> None:
    files = [
        *wal(1, 12),
        parse_name(f"{name(3)}.00000028.backup"),
        parse_name(f"{name(10)}.00000060.backup"),
        parse_name("00000002.history"),
        *wal(12, 14, timeline=2),
    ]
    backups = [backup("b1", 3, 4), backup("b2", 10, 10)]
    result = plan(backups, files, RetentionPolicy(keep_last=1), pitr_within=None, now=at(14))
    assert f"{name(3)}.00000028.backup" in result.removed
    assert f"{name(10)}.00000060.backup" not in result.removed
    assert "00000002.history" not in result.removed
    assert result.keep[-1] == WalRange(
        "00000002.history", "00000002.history", 1, HISTORY_KEPT, "history"
    )
    assert result.keep[0].first == f"{name(10)}.00000060.backup"
    # both timelines after b2's start are kept: a restore from b2 follows timeline 2
    assert {name(n, 2) for n in (12, 13, 14)}.isdisjoint(result.removed)


def test_a_timeline_no_kept_backup_follows_goes_after_its_switch() -> None:
    """Kept backups all on timeline 2: timeline 1's tail after the switch has no use."""
    files = [*wal(1, 10), *wal(8, 12, timeline=2)]
    backups = [backup("old", 2, 3), backup("new", 9, 9, timeline=2)]
    result = plan(backups, files, RetentionPolicy(keep_last=1), pitr_within=None, now=at(12))
    assert result.removed == {name(n) for n in range(1, 11)} | {name(8, 2)}
    assert result.remove[-2] == WalRange(
        name(9),
        name(10),
        2,
        "timeline 1: no kept backup that reaches it is on this timeline or an earlier one",
        "timeline",
    )


def test_an_anchor_on_an_earlier_timeline_keeps_both() -> None:
    files = [*wal(1, 10), *wal(8, 12, timeline=2)]
    backups = [backup("old", 2, 3), backup("new", 9, 9, timeline=2)]
    now = at(12) + dt.timedelta(hours=2)
    result = plan(backups, files, RetentionPolicy(keep_last=1), pitr_within=6 * 3600, now=now)
    assert result.anchor == "old"
    assert result.removed == {name(1)}


@pytest.mark.parametrize(
    ("backups", "policy", "why"),
    [
        ([backup("b1", 5)], RetentionPolicy(), "no retention policy"),
        ([backup("b1", 5, status="failed")], RetentionPolicy(keep_last=1), "no good base backup"),
        (
            [backup("b1", 5), BaseBackup("b2", at(8))],
            RetentionPolicy(keep_last=1),
            "the WAL position of kept base backup b2 is not recorded",
        ),
    ],
)
def test_without_the_facts_no_wal_is_removed(
    backups: list[BaseBackup], policy: RetentionPolicy, why: str
) -> None:
    result = plan(backups, wal(1, 10), policy, pitr_within=None, now=at(10))
    assert result.removed == frozenset()
    assert result.remove == ()
    assert result.notes == (f"no WAL removed: {why}",)
    assert result.keep == (WalRange(name(1), name(10), 10, why, "all"),)


def test_an_unrecorded_backup_gfs_removes_does_not_block() -> None:
    backups = [BaseBackup("b0", at(1)), backup("b1", 5)]
    result = plan(backups, wal(1, 10), RetentionPolicy(keep_last=1), pitr_within=None, now=at(10))
    assert result.removed == {name(n) for n in range(1, 5)}


def test_physical_facts_from_a_runs_detail() -> None:
    facts = Physical.from_detail(
        {
            "timeline": 1,
            "start_wal": name(3),
            "stop_wal": name(4),
            "stop_time": "2026-11-02T01:00:00+00:00",
            "segment_size": 16 << 20,
            "start_lsn": "0/3000028",
        },
        "backup b1",
    )
    assert facts == Physical(1, seg(3), seg(4), T0 + dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        ([], "backup b1: detail.physical is not an object"),
        ({"stop_wal": name(4), "stop_time": "2026-11-02T01:00:00+00:00"}, "start_wal: None"),
        (
            {"start_wal": "00000001.history", "stop_wal": name(4), "stop_time": "x"},
            "detail.physical.start_wal: '00000001.history' is a history file",
        ),
        (
            {"start_wal": name(3), "stop_wal": name(4), "stop_time": "2026-11-02T01:00:00"},
            "detail.physical.stop_time: '2026-11-02T01:00:00' has no time zone",
        ),
        (
            {"start_wal": name(5), "stop_wal": name(4), "stop_time": "2026-11-02T01:00:00Z"},
            f"detail.physical: stop_wal {name(4)} is before start_wal {name(5)}",
        ),
        (
            {"start_wal": name(3), "stop_wal": name(4), "stop_time": "x", "timeline": 0},
            "detail.physical.timeline: 0 is not a timeline",
        ),
    ],
)
def test_bad_physical_facts_are_named(detail: object, message: str) -> None:
    with pytest.raises(ValueError, match="backup b1: ") as raised:
        Physical.from_detail(detail, "backup b1")  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_a_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="pitr_within must be a positive duration"):
        plan([], [], RetentionPolicy(keep_last=1), pitr_within=0, now=T0)


# --- properties over random histories ---------------------------------------------------


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[list[BaseBackup], list[WalName], RetentionPolicy, float | None, dt.datetime]:
    """Backups on one or two timelines, their WAL with gaps, a random policy and now."""
    first = draw(st.integers(0, 5))
    switch = draw(st.none() | st.integers(first + 1, first + 40))
    end = draw(st.integers((switch or first) + 1, (switch or first) + 50))
    lines = [(1, first, switch if switch is not None else end)]
    if switch is not None:
        lines.append((2, switch, end))
    files: list[WalName] = []
    for timeline, a, b in lines:
        files += [seg(n, timeline) for n in range(a, b + 1) if draw(st.integers(0, 9))]
    if switch is not None and draw(st.booleans()):
        files.append(parse_name("00000002.history"))
    backups: list[BaseBackup] = []
    for i in range(draw(st.integers(0, 8))):
        timeline, a, b = draw(st.sampled_from(lines))
        start = draw(st.integers(a, b))
        stop = draw(st.integers(start, min(b, start + 3)))
        ended = at(stop) + dt.timedelta(minutes=draw(st.integers(0, 29)))
        physical = Physical(timeline, seg(start, timeline), seg(stop, timeline), ended)
        status = draw(st.sampled_from(["succeeded", "succeeded", "succeeded", "failed"]))
        backups.append(BaseBackup(f"b{i}", at(start), status, draw(st.booleans()), physical))
        if draw(st.booleans()):
            files.append(parse_name(f"{segment_name(timeline, start)}.00000028.backup"))
    policy = RetentionPolicy(
        keep_last=draw(st.integers(0, 3)),
        keep_hourly=draw(st.integers(0, 3)),
        keep_daily=draw(st.integers(0, 3)),
        keep_within=draw(st.none() | st.integers(1, 48).map(lambda h: h * 3600.0)),
    )
    pitr_within = draw(st.none() | st.integers(1, 96).map(lambda h: h * 1800.0))
    now = at(end) + dt.timedelta(minutes=draw(st.integers(-600, 3000)))
    return backups, files, policy, pitr_within, now


def _onward(b: BaseBackup, f: WalName) -> bool:
    assert b.physical is not None
    return f.timeline >= b.physical.timeline and f.segno >= b.physical.start_wal.segno


def _within(b: BaseBackup, f: WalName) -> bool:
    assert b.physical is not None
    p = b.physical
    return (
        p.start_wal.timeline <= f.timeline <= p.stop_wal.timeline
        and p.start_wal.segno <= f.segno <= p.stop_wal.segno
    )


def _stop(b: BaseBackup) -> dt.datetime:
    assert b.physical is not None
    return b.physical.stop_time


History = tuple[list[BaseBackup], list[WalName], RetentionPolicy, float | None, dt.datetime]


def _run(history: History) -> WalPlan:
    backups, files, policy, pitr_within, now = history
    return plan(backups, files, policy, pitr_within=pitr_within, now=now)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_every_kept_backup_keeps_its_start_to_stop(history: History) -> None:
    """(a) Nothing a kept backup needs to be consistent is removed."""
    backups, files, *_ = history
    result = _run(history)
    for b in backups:
        if b.id in result.kept_ids:
            assert not [f.name for f in files if _within(b, f) and f.name in result.removed]


@settings(max_examples=300, deadline=None)
@given(histories())
def test_any_point_of_the_window_is_restorable(history: History) -> None:
    """(b) For every time t of [now - pitr_within, now] after some backup ended, a kept backup
    that ended by t has all WAL from its start on (on its timeline and later ones) kept; and
    the same from the newest backup on, always."""
    backups, files, _, pitr_within, now = history
    result = _run(history)
    good = [b for b in backups if b.status == "succeeded"]
    kept = [b for b in good if b.id in result.kept_ids]
    assert {b.id for b in kept} == result.kept_ids

    def restorable_from(b: BaseBackup) -> bool:
        return not any(_onward(b, f) and f.name in result.removed for f in files)

    if good:
        newest = max(good, key=lambda b: (b.started_at, b.id))
        assert restorable_from(newest)
    if pitr_within is None or not good:
        return
    # the property is monotone in t (a backup that ended by t ended by every later t too),
    # so the earliest t of the window that any backup can serve is the one to check
    t = max(now - dt.timedelta(seconds=pitr_within), min(_stop(b) for b in good))
    if t <= now:
        assert any(_stop(b) <= t and restorable_from(b) for b in kept)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_nothing_is_kept_that_no_rule_keeps(history: History) -> None:
    """(c) Exactness: a WAL file is kept if and only if a rule keeps it; GFS decides every
    backup but the anchor; the ranges list every file once."""
    backups, files, policy, pitr_within, now = history
    result = _run(history)
    good = [b for b in backups if b.status == "succeeded"]
    gfs = {
        d.snapshot.id: d.keep
        for d in select([Snapshot(b.id, b.started_at, b.verified) for b in good], policy)
    }
    anchor = None
    if pitr_within is not None and good:
        cutoff = now - dt.timedelta(seconds=pitr_within)
        old = [b for b in good if _stop(b) <= cutoff]
        anchor = (
            max(old, key=lambda b: (_stop(b), b.id))
            if old
            else min(good, key=lambda b: (_stop(b), b.id))
        )
    assert result.anchor == (anchor.id if anchor else None)
    assert result.kept_ids == {i for i, k in gfs.items() if k} | ({anchor.id} if anchor else set())
    kept = [b for b in good if b.id in result.kept_ids]
    for f in set(files):
        if f.kind == "history" or (policy.empty and pitr_within is None) or not kept:
            needed = True
        else:
            newest = max(good, key=lambda b: (b.started_at, b.id))
            needed = (
                _onward(newest, f)
                or (anchor is not None and _onward(anchor, f))
                or any(_within(b, f) for b in kept)
            )
        assert (f.name not in result.removed) == needed, f.name
    listed = sum(r.count for r in result.keep + result.remove)
    assert listed == len(set(files))
    assert sum(r.count for r in result.remove) == len(result.removed)
