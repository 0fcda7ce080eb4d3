"""WAL continuity (pure): contiguous WAL from each base backup across timeline switches, the
gaps after it, and the recoverable window."""

from __future__ import annotations

import datetime as dt

import pytest

from buttress.backup.wal.continuity import (
    BaseBackupFacts,
    HistoryEntry,
    Segment,
    analyse,
    chain_of,
    continuity,
    parse_history,
)
from buttress.backup.wal.names import parse_lsn, parse_name, segment_name

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _segs(timeline: int, numbers: range | list[int], minute0: int = 0) -> list[Segment]:
    """Segments of ``timeline``, the n-th ready at T0 + (minute0 + segno) minutes."""
    return [
        Segment(parse_name(segment_name(timeline, n)), T0 + dt.timedelta(minutes=minute0 + n))
        for n in numbers
    ]


def _backup(bid: str, timeline: int, start: int, stop: int, minute: int) -> BaseBackupFacts:
    return BaseBackupFacts(
        bid,
        timeline,
        segment_name(timeline, start),
        segment_name(timeline, stop),
        T0 + dt.timedelta(minutes=minute),
    )


def test_parse_history_reads_postgresql_lines() -> None:
    """A history file's tab-separated lines, comments and blank lines skipped."""
    text = (
        "# made by a test\n1\t0/3000158\tno recovery target specified\n"
        "\n2\t0/50000A0\tbefore 2026\n"
    )
    assert parse_history(text) == [
        HistoryEntry(1, parse_lsn("0/3000158"), "no recovery target specified"),
        HistoryEntry(2, parse_lsn("0/50000A0"), "before 2026"),
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1\tnot-an-lsn\tx\n", "line 1"),
        ("x\t0/1\tx\n", "line 1"),
        ("1\t0/1\ta\n1\t0/2\tb\n", "line 2"),
        ("1\n", "expected <parent timeline>"),
    ],
)
def test_parse_history_names_the_bad_line(text: str, why: str) -> None:
    """A damaged history file is refused, naming the file and line."""
    with pytest.raises(ValueError, match=why) as err:
        parse_history(text, "00000002.history")
    assert "00000002.history" in str(err.value)


def test_contiguous_wal_on_one_timeline() -> None:
    """Every segment from start_wal on is there: whole, reached the newest, no gap."""
    b = _backup("b1", 1, 2, 3, 3)
    c = continuity(b, _segs(1, range(1, 9)), {})
    assert c.whole
    assert not c.gaps
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.segno == 8
    assert c.timelines == (1,)


def test_a_gap_is_named_and_later_segments_are_not_contiguous() -> None:
    """Segments 5 and 6 missing: contiguous to 4, the gap names 5..6, the rest counts later."""
    b = _backup("b1", 1, 2, 3, 3)
    c = continuity(b, _segs(1, [2, 3, 4, 7, 8, 10]), {})
    assert c.whole
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.segno == 4
    assert [(g.first, g.last, g.count) for g in c.gaps] == [
        (segment_name(1, 5), segment_name(1, 6), 2),
        (segment_name(1, 9), segment_name(1, 9), 1),
    ]
    assert c.missing == 3
    assert c.newest is not None
    assert c.newest.name.segno == 10


def test_missing_start_wal_is_not_whole() -> None:
    """A backup whose start_wal was never archived is not whole and reaches nothing."""
    b = _backup("b1", 1, 2, 3, 3)
    c = continuity(b, _segs(1, [3, 4]), {})
    assert not c.whole
    assert c.contiguous_to is None
    assert c.gaps[0].first == segment_name(1, 2)
    assert c.gaps[0].count == 1


def test_missing_stop_wal_is_not_whole() -> None:
    """A backup's own WAL (start..stop) broken in the middle is not whole."""
    b = _backup("b1", 1, 2, 5, 6)
    assert not continuity(b, _segs(1, [2, 3, 5, 6]), {}).whole


def test_timeline_switch_is_followed() -> None:
    """Promoted at 0/5000060 onto timeline 2: segments from 5 on are read from timeline 2
    (timeline 1's 5 and 6 are ignored), and the chain is contiguous across the switch."""
    histories = {2: parse_history("1\t0/5000060\tno recovery target specified\n")}
    b = _backup("b1", 1, 2, 3, 3)
    segs = _segs(1, range(2, 7)) + _segs(2, range(5, 9), minute0=10)
    c = continuity(b, segs, histories)
    assert c.timelines == (1, 2)
    assert c.whole
    assert not c.gaps
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.name == segment_name(2, 8)


def test_a_gap_at_the_switch_is_named_on_the_new_timeline() -> None:
    """The child timeline's first segment (which holds the switch point) missing: the gap
    names it on timeline 2, although timeline 1's segment of that number is archived."""
    histories = {2: parse_history("1\t0/5000060\tx\n")}
    b = _backup("b1", 1, 2, 3, 3)
    segs = _segs(1, range(2, 7)) + _segs(2, range(6, 8))
    c = continuity(b, segs, histories)
    assert [(g.first, g.count) for g in c.gaps] == [(segment_name(2, 5), 1)]
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.name == segment_name(1, 4)


def test_two_switches_and_an_unrelated_branch() -> None:
    """Timelines 1 -> 2 -> 4, and 3 branched from 1 before the backup started: the chain
    of a backup at segment 4 of timeline 1 is 1, 2, 4 (3 is not a descendant of it)."""
    histories = {
        2: parse_history("1\t0/6000000\tx\n"),
        3: parse_history("1\t0/2000000\tx\n"),
        4: parse_history("1\t0/6000000\tx\n2\t0/8000000\ty\n"),
    }
    assert chain_of(1, parse_lsn("0/4000000"), histories) == [
        (1, 0),
        (2, parse_lsn("0/6000000")),
        (4, parse_lsn("0/8000000")),
    ]
    b = _backup("b1", 1, 4, 4, 4)
    segs = _segs(1, range(4, 6)) + _segs(2, range(6, 8)) + _segs(4, range(8, 10))
    segs += _segs(3, range(2, 12))
    c = continuity(b, segs, histories)
    assert c.whole
    assert not c.gaps
    assert c.timelines == (1, 2, 4)
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.name == segment_name(4, 9)


def test_a_backup_taken_on_the_child_timeline() -> None:
    """A backup on timeline 2 starts its chain there, not at timeline 1."""
    histories = {2: parse_history("1\t0/5000060\tx\n")}
    b = _backup("b2", 2, 7, 7, 7)
    c = continuity(b, _segs(1, range(1, 7)) + _segs(2, range(5, 10)), histories)
    assert c.timelines == (2,)
    assert c.contiguous_to is not None
    assert c.contiguous_to.name.segno == 9


def test_window_from_the_oldest_whole_backup_to_the_newest_contiguous_segment() -> None:
    """oldest = the oldest whole backup's stop time; newest = ready_at of the newest
    segment contiguous from a backup; a backup missing its own WAL does not count."""
    broken = _backup("b0", 1, 1, 1, 1)  # segment 1 never archived
    b1 = _backup("b1", 1, 2, 3, 3)
    b2 = _backup("b2", 1, 6, 6, 6)
    found, w = analyse([b2, broken, b1], _segs(1, range(2, 10)), {})
    assert [c.backup.id for c in found] == ["b0", "b1", "b2"]
    assert w.oldest == b1.stop_time
    assert w.newest == T0 + dt.timedelta(minutes=9)
    assert [s.backups for s in w.spans] == [("b1", "b2")]
    assert w.seconds == 6 * 60


def test_window_has_a_hole_where_wal_is_missing() -> None:
    """A gap after b1 and a later backup b2: two spans, nothing recoverable between them."""
    b1 = _backup("b1", 1, 2, 3, 3)
    b2 = _backup("b2", 1, 8, 8, 8)
    segs = _segs(1, [2, 3, 4, 8, 9, 10])
    _, w = analyse([b1, b2], segs, {})
    assert [(s.start, s.end) for s in w.spans] == [
        (b1.stop_time, T0 + dt.timedelta(minutes=4)),
        (b2.stop_time, T0 + dt.timedelta(minutes=10)),
    ]
    assert w.oldest == b1.stop_time
    assert w.newest == T0 + dt.timedelta(minutes=10)


def test_no_whole_backup_means_no_window() -> None:
    """Without a whole base backup nothing is recoverable: the window is empty."""
    _, w = analyse([_backup("b1", 1, 2, 3, 3)], _segs(1, [3, 4]), {})
    assert w.oldest is None
    assert w.newest is None
    assert w.spans == ()
    assert w.seconds == 0.0


def test_facts_from_a_run_detail() -> None:
    """A run's detail.physical gives the facts; a missing field is named with the run."""
    detail = {
        "timeline": 1,
        "start_wal": segment_name(1, 2),
        "stop_wal": segment_name(1, 3),
        "stop_time": "2026-12-01T12:03:00+00:00",
        "start_lsn": "0/2000028",
    }
    facts = BaseBackupFacts.from_detail("b1", detail)
    assert facts.stop_time == T0 + dt.timedelta(minutes=3)
    with pytest.raises(ValueError, match=r"backup b2: detail\.physical has no stop_wal"):
        BaseBackupFacts.from_detail("b2", {k: v for k, v in detail.items() if k != "stop_wal"})
    with pytest.raises(ValueError, match="backup b3"):
        BaseBackupFacts.from_detail("b3", {**detail, "start_wal": "nonsense"})
