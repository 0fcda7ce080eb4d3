"""WAL continuity: which archived WAL follows on from each base backup, where it breaks, and
the window of time a point-in-time recovery can reach (pure: no I/O).

Inputs are what the catalog (or a destination's listing) and the timelines' history files say:

- the archived segments, each with the time PostgreSQL handed it over (``ready_at``, None
  when unknown, e.g. from a listing);
- the history files' contents (``00000002.history``: one line per ancestor timeline,
  ``<parent tli>\\t<switch LSN>\\t<reason>``), which tell on which timeline each segment
  number is to be read;
- the base backups' ``detail["physical"]`` facts (timeline, start_wal, stop_wal, stop_time).

Recovery from a base backup replays its timeline and, at each recorded switch, the child
timeline, as ``recovery_target_timeline = 'latest'`` does: for segment number ``s`` it reads
the newest timeline of the chain that had begun by ``s`` (PostgreSQL's
``XLogFileReadAnyTLI``), so the segment holding a switch point is read from the child
timeline. A backup's chain ends at the newest timeline descending from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from buttress.backup.wal.names import (
    DEFAULT_SEGMENT_SIZE,
    Lsn,
    WalName,
    parse_lsn,
    parse_name,
    segment_name,
    segment_of,
)

__all__ = [
    "BaseBackupFacts",
    "Continuity",
    "Gap",
    "HistoryEntry",
    "Segment",
    "Span",
    "Window",
    "analyse",
    "chain_of",
    "continuity",
    "parse_history",
    "window",
]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a history file: timeline ``parent`` ended at ``switch`` (an LSN)."""

    parent: int
    switch: Lsn
    reason: str


def parse_history(text: str, name: str = "history file") -> list[HistoryEntry]:
    """The entries of a history file's content, oldest first. Blank lines and ``#`` comments
    are skipped, as PostgreSQL does; ValueError naming ``name`` and the line otherwise."""
    out: list[HistoryEntry] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 2)
        try:
            if len(parts) < 2:
                raise ValueError("expected <parent timeline> <switch LSN> <reason>")
            parent = int(parts[0])
            switch = parse_lsn(parts[1])
        except ValueError as exc:
            raise ValueError(f"{name} line {number} ({stripped[:80]!r}): {exc}") from None
        if parent < 1 or (out and parent <= out[-1].parent):
            raise ValueError(
                f"{name} line {number}: timeline {parent} does not follow the previous line's"
            )
        out.append(HistoryEntry(parent, switch, parts[2] if len(parts) > 2 else ""))
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """An archived WAL segment; ``ready_at``: when PostgreSQL handed it over (None: unknown)."""

    name: WalName
    ready_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class BaseBackupFacts:
    """What continuity needs of a physical base backup (its run's ``detail["physical"]``)."""

    id: str
    timeline: int
    start_wal: str
    stop_wal: str
    stop_time: dt.datetime

    @classmethod
    def from_detail(cls, backup_id: str, physical: Mapping[str, object]) -> BaseBackupFacts:
        """From a run's ``detail["physical"]``; ValueError naming the run and the field."""
        try:
            stop = dt.datetime.fromisoformat(str(physical["stop_time"]))
            facts = cls(
                backup_id,
                int(str(physical["timeline"])),
                str(physical["start_wal"]),
                str(physical["stop_wal"]),
                stop if stop.tzinfo else stop.replace(tzinfo=dt.UTC),
            )
            parse_name(facts.start_wal)
            parse_name(facts.stop_wal)
        except KeyError as exc:
            raise ValueError(f"backup {backup_id}: detail.physical has no {exc.args[0]}") from None
        except ValueError as exc:
            raise ValueError(f"backup {backup_id}: detail.physical: {exc}") from None
        return facts


@dataclass(frozen=True, slots=True)
class Gap:
    """Segments missing from a chain: ``count`` of them, from ``first`` to ``last`` (names)."""

    first: str
    last: str
    count: int


@dataclass(frozen=True, slots=True)
class Continuity:
    """One base backup's WAL: ``whole`` when every segment from its start_wal to its stop_wal
    is archived; ``contiguous_to``: the last segment reached from start_wal without a break
    (None: start_wal itself is missing); ``gaps``: every break between start_wal and the newest
    archived segment of its chain, oldest first (``gaps[0]`` is the first)."""

    backup: BaseBackupFacts
    timelines: tuple[int, ...]
    whole: bool
    contiguous_to: Segment | None
    gaps: tuple[Gap, ...]
    newest: Segment | None = field(default=None)

    @property
    def missing(self) -> int:
        return sum(g.count for g in self.gaps)


def chain_of(
    timeline: int, start: Lsn, histories: Mapping[int, Sequence[HistoryEntry]]
) -> list[tuple[int, Lsn]]:
    """``[(timeline, begin LSN), ...]`` oldest first: the timelines recovery from ``start`` on
    ``timeline`` goes through, to the newest one descending from it (whose history records
    ``timeline`` ending at or after ``start``); the first begins at 0."""
    best = timeline
    for child, entries in histories.items():
        if child <= best:
            continue
        if any(e.parent == timeline and e.switch >= start for e in entries):
            best = child
    if best == timeline:
        return [(timeline, 0)]
    entries = list(histories[best])
    out: list[tuple[int, Lsn]] = []
    begin: Lsn = 0
    for e in entries:
        if e.parent >= timeline:
            out.append((e.parent, begin))
        begin = e.switch
    out.append((best, begin))
    return out


def _timeline_at(chain: Sequence[tuple[int, Lsn]], segno: int, segment_size: int) -> int:
    tli = chain[0][0]
    for t, begin in chain:
        if segment_of(begin, segment_size) <= segno:
            tli = t
    return tli


def _gap(chain: Sequence[tuple[int, Lsn]], a: int, b: int, segment_size: int) -> Gap:
    """The segments after number ``a`` and before ``b``, named on the chain."""
    return Gap(
        segment_name(_timeline_at(chain, a + 1, segment_size), a + 1, segment_size),
        segment_name(_timeline_at(chain, b - 1, segment_size), b - 1, segment_size),
        b - a - 1,
    )


def continuity(
    backup: BaseBackupFacts,
    segments: Iterable[Segment],
    histories: Mapping[int, Sequence[HistoryEntry]],
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> Continuity:
    """The WAL archived from ``backup``'s start_wal on, along its chain of timelines (see the
    module docstring): how far it goes without a break, and every break after it."""
    start = parse_name(backup.start_wal, segment_size)
    stop = parse_name(backup.stop_wal, segment_size)
    chain = chain_of(backup.timeline, start.start_lsn(segment_size), histories)
    on_chain: dict[int, Segment] = {}
    only = chain[0][0] if len(chain) == 1 else None  # one timeline: no lookup per segment
    for seg in segments:
        n = seg.name
        if n.kind != "segment" or n.segno < start.segno:
            continue
        if (
            (n.timeline == only)
            if only is not None
            else (_timeline_at(chain, n.segno, segment_size) == n.timeline)
        ):
            on_chain[n.segno] = seg
    numbers = sorted(on_chain)
    gaps: list[Gap] = []
    reached: Segment | None = None
    previous = start.segno - 1
    for segno in numbers:
        if segno != previous + 1:
            gaps.append(_gap(chain, previous, segno, segment_size))
        elif not gaps:
            reached = on_chain[segno]
        previous = segno
    whole = reached is not None and reached.name.segno >= stop.segno
    return Continuity(
        backup,
        tuple(t for t, _ in chain),
        whole,
        reached,
        tuple(gaps),
        on_chain[numbers[-1]] if numbers else None,
    )


@dataclass(frozen=True, slots=True)
class Span:
    """Every point from ``start`` to ``end`` is recoverable (from one of ``backups``)."""

    start: dt.datetime
    end: dt.datetime
    backups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """The recoverable window: ``oldest`` is the stop time of the oldest base backup whose own
    WAL (start_wal to stop_wal) is whole; ``newest`` is the ``ready_at`` of the newest segment
    archived without a break from some whole base backup. ``ready_at`` is when PostgreSQL
    handed the segment over, so it bounds from above the newest commit that segment holds:
    what a restore reaches lies between that segment's first record and ``newest``. ``spans``
    are the recoverable stretches, oldest first; between two spans nothing is recoverable
    (a WAL gap); None/empty when no base backup is whole."""

    oldest: dt.datetime | None
    newest: dt.datetime | None
    spans: tuple[Span, ...]

    @property
    def seconds(self) -> float:
        if self.oldest is None or self.newest is None:
            return 0.0
        return (self.newest - self.oldest).total_seconds()


def window(found: Iterable[Continuity]) -> Window:
    """The recoverable window of the base backups' continuities (:func:`continuity`)."""
    spans: list[Span] = []
    for c in sorted(found, key=lambda c: c.backup.stop_time):
        if not c.whole or c.contiguous_to is None:
            continue
        start = c.backup.stop_time
        ready = c.contiguous_to.ready_at
        end = max(start, ready) if ready is not None else start
        if spans and start <= spans[-1].end:
            last = spans[-1]
            spans[-1] = Span(last.start, max(last.end, end), (*last.backups, c.backup.id))
        else:
            spans.append(Span(start, end, (c.backup.id,)))
    if not spans:
        return Window(None, None, ())
    return Window(spans[0].start, max(s.end for s in spans), tuple(spans))


def analyse(
    backups: Iterable[BaseBackupFacts],
    segments: Iterable[Segment],
    histories: Mapping[int, Sequence[HistoryEntry]],
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> tuple[list[Continuity], Window]:
    """Each base backup's continuity (oldest first) and the recoverable window."""
    segs = list(segments)
    found = [
        continuity(b, segs, histories, segment_size)
        for b in sorted(backups, key=lambda b: b.stop_time)
    ]
    return found, window(found)
