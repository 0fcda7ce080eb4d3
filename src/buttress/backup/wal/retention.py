"""Retention of archived WAL: which WAL files of a target to keep, given the base backups that
GFS retention keeps and an optional PITR window. Pure: no I/O, ``now`` is a parameter.

The rules (a WAL file is kept when any rule keeps it; everything else goes):

- GFS (:func:`buttress.backup.retention.select`, unchanged) chooses the base backups.
- ``pitr_within`` W: the newest good base backup that *ended* (``stop_time``) at or before
  ``now - W`` is kept too, the **anchor** (the oldest one when none is that old), and all WAL
  from the anchor's ``start_wal`` on, on its timeline and every later one: a restore to any
  point of the last W starts from it.
- Every other kept base backup keeps its own ``start_wal..stop_wal`` (what makes it
  consistent: a daily or monthly point, not a window).
- All WAL from the newest base backup's ``start_wal`` on is always kept (a restore to any point
  since the newest backup).
- Timeline history files are always kept (they are tiny, and a restore to a later timeline
  needs every one of them). A ``.backup`` or ``.partial`` file goes with its segment's
  position.

Positions compare by segment number, and by timeline: "from X on" covers X's timeline and the
later ones, "X's start..stop" the timelines from its start's to its stop's.

Safety first: no retention rule at all, no good base backup, or a kept one whose WAL position
is not recorded (``detail["physical"]``): nothing is removed, and a note says why.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from buttress.backup.retention import Decision, RetentionPolicy, Snapshot, duration_text, select
from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, WalName, parse_name

__all__ = ["HISTORY_KEPT", "BaseBackup", "Physical", "WalPlan", "WalRange", "plan"]

HISTORY_KEPT = "timeline history: always kept"
_HISTORY = (True, HISTORY_KEPT, "history")


@dataclass(frozen=True)
class Physical:
    """Where a base backup lies in the WAL (a catalog run's ``detail["physical"]``)."""

    timeline: int
    start_wal: WalName
    stop_wal: WalName
    stop_time: dt.datetime  # aware

    def __post_init__(self) -> None:
        if (self.stop_wal.segno, self.stop_wal.timeline) < (
            self.start_wal.segno,
            self.start_wal.timeline,
        ):
            raise ValueError(
                f"stop_wal {self.stop_wal.name} is before start_wal {self.start_wal.name}"
            )
        if self.stop_time.tzinfo is None:
            raise ValueError("stop_time has no time zone")

    @classmethod
    def from_detail(cls, physical: Mapping[str, Any], where: str) -> Physical:
        """Read a run's ``detail["physical"]``; ValueError naming ``where`` and the field."""

        def fail(name: str, why: str) -> ValueError:
            return ValueError(f"{where}: detail.physical.{name}: {why}")

        if not isinstance(physical, Mapping):
            raise ValueError(f"{where}: detail.physical is not an object")
        size = physical.get("segment_size", DEFAULT_SEGMENT_SIZE)
        if not isinstance(size, int) or isinstance(size, bool):
            raise fail("segment_size", f"{size!r} is not a number of bytes")
        names: dict[str, WalName] = {}
        for name in ("start_wal", "stop_wal"):
            text = physical.get(name)
            if not isinstance(text, str):
                raise fail(name, f"{text!r} is not a WAL segment name")
            try:
                parsed = parse_name(text, size)
            except ValueError as exc:
                raise fail(name, str(exc)) from None
            if not parsed.is_segment:
                raise fail(name, f"{text!r} is a {parsed.kind} file, not a segment")
            names[name] = parsed
        timeline = physical.get("timeline", names["start_wal"].timeline)
        if not isinstance(timeline, int) or isinstance(timeline, bool) or timeline < 1:
            raise fail("timeline", f"{timeline!r} is not a timeline")
        text = physical.get("stop_time")
        try:
            stop_time = dt.datetime.fromisoformat(str(text))
        except ValueError:
            raise fail("stop_time", f"{text!r} is not an ISO time") from None
        if stop_time.tzinfo is None:
            raise fail("stop_time", f"{text!r} has no time zone")
        try:
            return cls(timeline, names["start_wal"], names["stop_wal"], stop_time)
        except ValueError as exc:
            raise ValueError(f"{where}: detail.physical: {exc}") from None


@dataclass(frozen=True)
class BaseBackup:
    """A base backup as WAL retention sees it; only ``succeeded`` ones count."""

    id: str
    started_at: dt.datetime
    status: str = "succeeded"
    verified: bool = False  # its checksums or a restore test came out ok
    physical: Physical | None = None  # None: not recorded (WAL is then kept)


@dataclass(frozen=True)
class WalRange:
    """Consecutive WAL files (in timeline, segment order) kept or removed for one reason."""

    first: str
    last: str
    count: int
    reason: str
    rule: str  # kept: window, newest, backup, history, all; removed: before, between, timeline


@dataclass(frozen=True)
class WalPlan:
    """What WAL retention decided for one target."""

    decisions: tuple[Decision, ...]  # the base backups, newest first: GFS, plus the anchor
    anchor: str | None  # the PITR window's base backup
    keep: tuple[WalRange, ...]
    remove: tuple[WalRange, ...]
    removed: frozenset[str] = field(default_factory=frozenset)  # file names to delete
    notes: tuple[str, ...] = ()

    @property
    def kept_ids(self) -> frozenset[str]:
        return frozenset(d.snapshot.id for d in self.decisions if d.keep)


@dataclass(frozen=True)
class _Need:
    """A rule keeping positions: ``start`` up to ``stop`` (None: onward), timelines from
    ``start.timeline`` (to ``stop.timeline``, or every later one when onward)."""

    start: WalName
    stop: WalName | None
    reason: str
    rule: str

    def covers(self, name: WalName) -> bool:
        if name.timeline < self.start.timeline or name.segno < self.start.segno:
            return False
        if self.stop is None:
            return True
        return name.timeline <= self.stop.timeline and name.segno <= self.stop.segno


def plan(
    backups: Sequence[BaseBackup],
    wal: Iterable[WalName],
    policy: RetentionPolicy,
    *,
    pitr_within: float | None,
    now: dt.datetime,
) -> WalPlan:
    """Decide which base backups and which WAL files of one target to keep (module docstring).

    Args:
        backups: every base backup of the target (any status; only succeeded ones count).
        wal: the archived WAL files (segments, partial segments, ``.backup`` and history
            files); a name listed twice (two destinations) counts once.
        pitr_within: seconds of the PITR window (None: no window).
        now: aware.
    """
    if pitr_within is not None and pitr_within <= 0:
        raise ValueError("retention: pitr_within must be a positive duration")
    files = sorted(set(wal), key=_order)  # WalName's own order, without its slow __lt__
    good = {b.id: b for b in backups if b.status == "succeeded"}
    decisions = select([Snapshot(b.id, b.started_at, b.verified) for b in good.values()], policy)
    anchor = _anchor(list(good.values()), pitr_within, now)
    if anchor is not None:
        why = _anchor_reason(anchor, pitr_within or 0, now)
        decisions = [
            replace(d, keep=True, reasons=(*d.reasons, why)) if d.snapshot.id == anchor.id else d
            for d in decisions
        ]
    kept = [good[d.snapshot.id] for d in decisions if d.keep]  # newest first

    def keep_all(why: str) -> WalPlan:
        return WalPlan(
            tuple(decisions),
            anchor.id if anchor else None,
            _ranges(files, lambda n: _HISTORY if n.kind == "history" else (True, why, "all"))[0],
            (),
            frozenset(),
            (f"no WAL removed: {why}",),
        )

    if policy.empty and pitr_within is None:
        return keep_all("no retention policy")
    if not kept:
        return keep_all("no good base backup")
    unknown = [b.id for b in kept if b.physical is None]
    if unknown:
        return keep_all(
            f"the WAL position of kept base backup {', '.join(unknown)} is not recorded"
        )
    rules = _Rules(_needs(kept, anchor, pitr_within))
    removal = _Removal(kept)

    def decide(name: WalName) -> tuple[bool, str, str]:
        if name.kind == "history":
            return _HISTORY
        need = rules.first_covering(name)
        if need is not None:
            return True, need.reason, need.rule
        return (False, *removal.reason(name))

    decided = {name: decide(name) for name in files}
    keep, remove = _ranges(files, decided.__getitem__)
    return WalPlan(
        tuple(decisions),
        anchor.id if anchor else None,
        keep,
        remove,
        frozenset(n.name for n, d in decided.items() if not d[0]),
        (),
    )


def _anchor(
    good: list[BaseBackup], pitr_within: float | None, now: dt.datetime
) -> BaseBackup | None:
    if pitr_within is None:
        return None
    known = [b for b in good if b.physical is not None]
    if not known:
        return None
    cutoff = now - dt.timedelta(seconds=pitr_within)
    old = [b for b in known if _stop(b) <= cutoff]
    if old:
        return max(old, key=lambda b: (_stop(b), b.id))
    return min(known, key=lambda b: (_stop(b), b.id))


def _anchor_reason(anchor: BaseBackup, pitr_within: float, now: dt.datetime) -> str:
    within = duration_text(pitr_within)
    cutoff = now - dt.timedelta(seconds=pitr_within)
    if _stop(anchor) <= cutoff:
        return f"PITR anchor: the newest base backup that ended over {within} ago"
    return f"PITR anchor: the oldest base backup (none ended over {within} ago)"


def _stop(backup: BaseBackup) -> dt.datetime:
    assert backup.physical is not None
    return backup.physical.stop_time


def _needs(
    kept: list[BaseBackup], anchor: BaseBackup | None, pitr_within: float | None
) -> list[_Need]:
    """The rules, in the order their reasons are given (the first that covers a file)."""
    facts = {b.id: b.physical for b in kept if b.physical is not None}
    needs: list[_Need] = []
    if anchor is not None and anchor.physical is not None:
        needs.append(
            _Need(
                anchor.physical.start_wal,
                None,
                f"PITR window ({duration_text(pitr_within or 0)}): from backup {anchor.id}'s start "
                "on (the anchor)",
                "window",
            )
        )
    newest = kept[0]
    needs.append(
        _Need(
            facts[newest.id].start_wal,
            None,
            f"from the newest backup {newest.id}'s start on (PITR since the newest backup)",
            "newest",
        )
    )
    for b in kept:
        p = facts[b.id]
        needs.append(_Need(p.start_wal, p.stop_wal, f"makes backup {b.id} consistent", "backup"))
    return needs


class _Rules:
    """The needs, in the order their reasons are given, indexed by segment number: the
    "from X on" ones are checked for every file, a kept backup's start..stop only for the
    segment numbers it spans."""

    def __init__(self, needs: list[_Need]) -> None:
        self.onward = [n for n in needs if n.stop is None]
        self.spans: dict[int, list[_Need]] = {}
        for need in needs:
            if need.stop is not None:
                for segno in range(need.start.segno, need.stop.segno + 1):
                    self.spans.setdefault(segno, []).append(need)

    def first_covering(self, name: WalName) -> _Need | None:
        for need in (*self.onward, *self.spans.get(name.segno, [])):
            if need.covers(name):
                return need
        return None


class _Removal:
    """Why a file no rule keeps goes, from where the kept backups lie (by segment number)."""

    def __init__(self, kept: list[BaseBackup]) -> None:
        facts = [(b.id, b.physical) for b in kept if b.physical is not None]
        self.starts = sorted((p.start_wal.segno, i, p.start_wal.name) for i, p in facts)
        self.stops = sorted((p.stop_wal.segno, i, p.stop_wal.name) for i, p in facts)
        self.start_segnos = [s[0] for s in self.starts]
        self.stop_segnos = [s[0] for s in self.stops]

    def reason(self, name: WalName) -> tuple[str, str]:
        """``(text, rule)``."""
        _, oldest_id, oldest_start = self.starts[0]
        if name.segno < self.starts[0][0]:
            return (
                f"older than backup {oldest_id}'s start ({oldest_start}), the oldest base "
                "backup kept",
                "before",
            )
        before = bisect.bisect_left(self.stop_segnos, name.segno)  # stops < segno: [:before]
        after = bisect.bisect_right(self.start_segnos, name.segno)  # starts > segno: [after:]
        if before and after < len(self.starts):
            _, x_id, x_stop = self.stops[before - 1]
            _, y_id, y_start = self.starts[after]
            return (
                f"between backup {x_id}'s end ({x_stop}) and backup {y_id}'s start "
                f"({y_start}): no kept backup needs it",
                "between",
            )
        return (
            f"timeline {name.timeline}: no kept backup that reaches it is on this timeline or "
            "an earlier one",
            "timeline",
        )


def _order(name: WalName) -> tuple[int, int, str, str]:
    return (name.timeline, name.segno, name.kind, name.name)


def _ranges(
    files: Sequence[WalName], decide: Callable[[WalName], tuple[bool, str, str]]
) -> tuple[tuple[WalRange, ...], tuple[WalRange, ...]]:
    """Group ``files`` (sorted; history files last) into runs of one decision and reason:
    ``(kept ranges, removed ranges)``. A range holds only consecutive files: none of the other
    decision lies inside it."""
    runs: list[tuple[bool, str, str, str, str, int]] = []  # keep, reason, rule, first, last, n
    keep, reason, rule, first, last, count = False, "", "", "", "", 0
    ordered = [n for n in files if n.kind != "history"] + [n for n in files if n.kind == "history"]
    for name in ordered:
        decided = decide(name)
        if count and (keep, reason) == decided[:2]:
            last, count = name.name, count + 1
            continue
        if count:
            runs.append((keep, reason, rule, first, last, count))
        (keep, reason, rule), first, last, count = decided, name.name, name.name, 1
    if count:
        runs.append((keep, reason, rule, first, last, count))
    ranges = [(k, WalRange(f, la, n, r, ru)) for k, r, ru, f, la, n in runs]
    return tuple(r for k, r in ranges if k), tuple(r for k, r in ranges if not k)
