"""A physical target's WAL as the catalog indexes it: counts, the newest segment and the
archive lag, gaps after each good base backup and the recoverable window
(:mod:`.continuity` does the reasoning; this module reads the catalog and the history files).

One path for every face: ``buttress wal status``, ``GET /api/v1/backups/targets/{t}/wal``,
the ``buttress_wal_*``/``buttress_pitr_*`` gauges and the stall/gap events all call
:func:`status_of`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from buttress.backup.tables import BackupRun, WalSegment
from buttress.backup.wal.continuity import (
    BaseBackupFacts,
    Continuity,
    HistoryEntry,
    Segment,
    analyse,
    parse_history,
)
from buttress.backup.wal.names import WalName
from buttress.backup.wal.schemas import (
    BaseBackupWalRead,
    WalGapRead,
    WalSegmentRead,
    WalSpanRead,
    WalStatusRead,
    WalWindowRead,
)
from buttress.errors import ButtressError

if TYPE_CHECKING:
    from buttress.backup.wal.service import Wal
    from buttress.catalog import Catalog
    from buttress.config import PostgresqlTargetConfig

__all__ = ["HistoryCache", "HistoryReader", "describe", "queue_depth", "status_of", "when"]

HistoryReader = Callable[[str, str], str]
"""``(name, sha256) -> content`` of an archived timeline history file."""


class HistoryCache:
    """Reads history files from a target's archive once: an archived file never changes
    (its key holds its SHA-256), so ``(target, name, sha256)`` is cached for the process."""

    def __init__(self, wal: Wal) -> None:
        self.wal = wal
        self._lock = threading.Lock()
        self._texts: dict[tuple[str, str, str], str] = {}

    def reader(self, target: str) -> HistoryReader:
        def read(name: str, sha256: str) -> str:
            key = (target, name, sha256)
            with self._lock:
                if key in self._texts:
                    return self._texts[key]
            raw, _ = self.wal.archive(target, reading=True).read(name)
            text = raw.decode("utf-8", "replace")
            with self._lock:
                self._texts[key] = text
            return text

        return read


def queue_depth(target: PostgresqlTargetConfig) -> int | None:
    """Segments spooled but not yet uploaded (async mode): files in the spool's ``out``
    folder when it is on this host; None in sync mode or when the spool is not here."""
    wal = target.wal
    if wal is None or wal.mode != "async" or wal.spool_dir is None:
        return None
    try:  # the async helper's count, when it is there (the same folder, its own rules)
        spool = importlib.import_module("buttress.backup.wal.spool")
    except ImportError:
        spool = None
    counted = getattr(spool, "queue_depth", None)
    if counted is not None:
        return int(counted(wal.spool_dir, target.name)[0])
    out = Path(wal.spool_dir) / target.name / "out"
    try:
        return sum(1 for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return None


def _read(seg: Segment | None, archived: dict[str, dt.datetime]) -> WalSegmentRead | None:
    if seg is None:
        return None
    return WalSegmentRead(
        name=seg.name.name, ready_at=seg.ready_at, archived_at=archived.get(seg.name.name)
    )


def _archived_at(catalog: Catalog, target: str, which: list[Segment]) -> dict[str, dt.datetime]:
    """When each of a few segments was stored (not read for every row: a scrape's cost)."""
    if not which:
        return {}
    names = [s.name.name for s in which]
    with catalog.begin() as session:
        found = session.execute(
            select(WalSegment.name, WalSegment.archived_at).where(
                WalSegment.target == target, WalSegment.name.in_(names)
            )
        ).all()
    return {str(n): at for n, at in found}


def _backup_read(c: Continuity) -> BaseBackupWalRead:
    return BaseBackupWalRead(
        id=c.backup.id,
        stop_time=c.backup.stop_time,
        timelines=list(c.timelines),
        whole=c.whole,
        contiguous_to=c.contiguous_to.name.name if c.contiguous_to else None,
        first_gap=WalGapRead(first=c.gaps[0].first, last=c.gaps[0].last, count=c.gaps[0].count)
        if c.gaps
        else None,
        missing=c.missing,
    )


def status_of(
    target: PostgresqlTargetConfig,
    catalog: Catalog,
    *,
    histories: HistoryReader | None = None,
    now: dt.datetime | None = None,
) -> WalStatusRead:
    """What the catalog says of ``target``'s WAL archive and base backups, now.

    Args:
        histories: reads an archived timeline history file (see :class:`HistoryCache`);
            without one, or when one cannot be read, timeline switches after it are not
            followed and ``problems`` says so.
        now: the time the lag is measured at (default: the wall clock, UTC).
    """
    now = now or dt.datetime.now(dt.UTC)
    name = target.name
    with catalog.begin() as session:
        rows = session.execute(
            select(
                WalSegment.name,
                WalSegment.kind,
                WalSegment.timeline,
                WalSegment.segno,
                WalSegment.sha256,
                WalSegment.ready_at,
            ).where(WalSegment.target == name)
        ).all()
        last_archived = session.scalar(
            select(func.max(WalSegment.archived_at)).where(
                WalSegment.target == name, WalSegment.kind == "segment"
            )
        )
        runs = session.execute(
            select(BackupRun.id, BackupRun.detail).where(
                BackupRun.target == name, BackupRun.status == "succeeded"
            )
        ).all()
    problems: list[str] = []
    segments: list[Segment] = []
    history_rows: list[tuple[WalName, str]] = []
    for row in rows:  # the index's own parse of each name (no regex per row)
        if row.kind == "segment":
            segments.append(
                Segment(WalName(row.timeline, row.segno, "segment", row.name), row.ready_at)
            )
        elif row.kind == "history":
            history_rows.append((WalName(row.timeline, 0, "history", row.name), row.sha256))
        # backup history files and partial segments are not part of a chain
    histories_read: dict[int, Sequence[HistoryEntry]] = {}
    for wal_name, sha in sorted(history_rows):
        if histories is None:
            problems.append(f"{wal_name.name} not read: timeline {wal_name.timeline} not followed")
            continue
        try:
            histories_read[wal_name.timeline] = parse_history(
                histories(wal_name.name, sha), wal_name.name
            )
        except (ButtressError, ValueError) as exc:
            problems.append(f"{wal_name.name}: {exc}; timeline {wal_name.timeline} not followed")
    facts: list[BaseBackupFacts] = []
    for backup_id, detail in runs:
        physical = (detail or {}).get("physical")
        if not isinstance(physical, dict):
            continue  # not a base backup (a logical one, or from before kind: physical)
        try:
            facts.append(BaseBackupFacts.from_detail(backup_id, physical))
        except ValueError as exc:
            problems.append(str(exc))
    found, win = analyse(facts, segments, histories_read)
    newest = max(segments, key=lambda s: (s.ready_at or now, s.name)) if segments else None
    oldest = min(segments, key=lambda s: s.name) if segments else None
    archived = _archived_at(catalog, name, [s for s in (oldest, newest) if s is not None])
    first = found[0] if found else None
    gaps = (
        [WalGapRead(first=g.first, last=g.last, count=g.count) for g in first.gaps] if first else []
    )
    if not segments:
        state = "empty"
    elif win.oldest is None:
        state = "no_backup"
    elif gaps:
        state = "gaps"
    else:
        state = "ok"
    return WalStatusRead(
        target=name,
        mode=target.wal.mode if target.wal else "sync",
        segments=len(segments),
        history_files=len(history_rows),
        oldest=_read(oldest, archived),
        newest=_read(newest, archived),
        last_archived_at=last_archived,
        lag_seconds=max(0.0, (now - newest.ready_at).total_seconds())
        if newest is not None and newest.ready_at is not None
        else None,
        pending=queue_depth(target),
        window=WalWindowRead(
            oldest=win.oldest,
            newest=win.newest,
            seconds=win.seconds,
            spans=[
                WalSpanRead(start=s.start, end=s.end, backups=list(s.backups)) for s in win.spans
            ],
        ),
        gaps=gaps,
        missing=first.missing if first else 0,
        backups=[_backup_read(c) for c in found],
        problems=problems,
        state=state,
    )


def when(t: dt.datetime | None) -> str:
    """A time as ``wal status`` shows it (``-`` for none)."""
    return t.isoformat(timespec="seconds") if t is not None else "-"


def describe(s: WalStatusRead) -> list[str]:
    """A status in lines of text (``buttress wal status``)."""
    w = s.window
    if w.oldest is not None and w.newest is not None:
        hours = w.seconds / 3600
        lines = [f"{s.target}: recoverable {when(w.oldest)} -> {when(w.newest)} ({hours:.1f} h)"]
        for a, b in zip(w.spans, w.spans[1:], strict=False):
            lines.append(f"{s.target}: not recoverable {when(a.end)} -> {when(b.start)}")
    elif s.segments:
        lines = [f"{s.target}: nothing recoverable: no good base backup whose WAL is whole"]
    else:
        lines = [f"{s.target}: no WAL archived yet"]
    for g in s.gaps:
        what = g.first if g.count == 1 else f"{g.first} .. {g.last} ({g.count} segments)"
        lines.append(f"{s.target}: WAL gap: {what} missing")
    if s.lag_seconds is not None:
        newest = s.newest.name if s.newest else "-"
        lines.append(f"{s.target}: archive lag {s.lag_seconds:.0f} s (newest {newest})")
    if s.pending is not None:
        lines.append(f"{s.target}: {s.pending} segment(s) spooled, not yet uploaded")
    lines.extend(f"{s.target}: warning: {p}" for p in s.problems)
    return lines
