"""Pruning: apply each target's retention to its good backups, clean up failed, abandoned and
incomplete runs, and find orphaned objects (in a destination, unknown to the catalog or left by
an earlier prune that could not finish).

An incomplete run (``running`` in the catalog, but its claim on the target is dead: its process
is gone or its lease expired) always resolves: its leftovers are removed and it becomes
``pruned``, or, when it stored nothing, it is marked ``abandoned``.

A backup is removed manifest first, so a prune that stops half-way never leaves something that
looks like a good backup; its catalog row is then marked ``pruned`` (history stays).

A target with archived WAL (keys under ``T/wal/``) has its WAL planned by
:mod:`buttress.backup.wal.retention` from the runs' ``detail["physical"]``: the PITR window's
anchor backup is kept too, and the WAL no kept backup needs is removed, oldest first (a prune
that stops half-way leaves no hole inside what remains), after the backups, and only when every
backup to remove is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete

from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError
from buttress.backup.format import is_backup_id, manifest_key
from buttress.backup.retention import RetentionPolicy, Snapshot, select
from buttress.backup.tables import WalSegment
from buttress.backup.wal import layout
from buttress.backup.wal import retention as wal_retention
from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, WalName
from buttress.backup.wal.retention import WalRange
from buttress.catalog.tables import utcnow

if TYPE_CHECKING:
    from buttress.backup.service import Backups

__all__ = ["PruneItem", "PruneReport", "WalPrune", "plan_target", "remove_backup", "run_prune"]


STORED_NOTHING = "incomplete run (its process is gone) stored nothing: marked abandoned"


class _Run(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def verify_status(self) -> str: ...
    @property
    def restore_test_status(self) -> str: ...
    @property
    def started_at(self) -> Any: ...
    @property
    def detail(self) -> dict[str, Any]: ...


@dataclass
class PruneItem:
    """What prune does with one run: ``keep``, ``remove`` (its objects), or ``resolve`` (an
    incomplete run that stored nothing is marked abandoned), and why."""

    id: str
    target: str
    started_at: str
    status: str
    action: str
    reasons: list[str]
    error: str = ""


@dataclass
class WalPrune:
    """What prune does with one target's archived WAL: the ranges kept and removed, and why."""

    target: str
    keep: list[WalRange]
    remove: list[WalRange]
    notes: list[str] = field(default_factory=list)
    removed_files: int = 0  # WAL files planned for removal (names; each in every destination)
    deleted_objects: int = 0  # objects deleted (0 on a dry run)
    error: str = ""


@dataclass
class PruneReport:
    dry_run: bool
    items: list[PruneItem] = field(default_factory=list)
    # destination -> backup ids found there that the catalog does not know
    orphans: dict[str, list[str]] = field(default_factory=dict)
    orphans_removed: bool = False
    # destination -> keys of unfinished uploads aborted (S3)
    aborted_uploads: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    wal: list[WalPrune] = field(default_factory=list)  # per target with archived WAL

    @property
    def removed(self) -> list[PruneItem]:
        return [i for i in self.items if i.action == "remove"]


def plan_target(target: str, runs: Sequence[_Run], policy: RetentionPolicy) -> list[PruneItem]:
    """Keep/remove for every run of ``target`` that is not already pruned, newest first."""
    items: list[PruneItem] = []
    good = {r.id: r for r in runs if r.status == "succeeded"}
    snapshots = [
        Snapshot(r.id, r.started_at, "ok" in (r.verify_status, r.restore_test_status))
        for r in good.values()
    ]
    for decision in select(snapshots, policy):
        run = good[decision.snapshot.id]
        items.append(
            PruneItem(
                run.id,
                target,
                run.started_at.isoformat(),
                run.status,
                "keep" if decision.keep else "remove",
                list(decision.reasons) or ["not kept by the retention policy"],
            )
        )
    for run in runs:
        if run.status in ("failed", "abandoned"):
            action, why = "remove", f"{run.status} run: leftovers removed"
        elif run.status == "incomplete":
            action, why = "remove", "incomplete run (its process is gone): leftovers removed"
        elif run.status == "running":
            action, why = "keep", "still running"
        else:
            continue
        items.append(
            PruneItem(run.id, target, run.started_at.isoformat(), run.status, action, [why])
        )
    items.sort(key=lambda i: i.started_at, reverse=True)
    return items


def _of_live_run(live: set[str], key: str) -> bool:
    """Is ``key`` (``target/backup_id/...``) an object of one of the ``live`` runs?"""
    return key.split("/")[1] in live


def backup_ids(destination: Destination, target: str) -> set[str]:
    """Ids of the backups of ``target`` that have any object in ``destination``."""
    found = set()
    for key in destination.keys(f"{target}/"):
        parts = key.split("/")
        if len(parts) >= 3 and is_backup_id(parts[1]):  # not T/wal/, T/binlog/...
            found.add(parts[1])
    return found


def wal_keys(
    destination: Destination, target: str, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> list[tuple[str, WalName]]:
    """``(key, name)`` of every archived WAL file of ``target`` in ``destination`` (other keys
    under ``T/wal/``, such as the archive's identity file, are not WAL files)."""
    found = []
    for key in destination.keys(layout.prefix(target)):
        parsed = layout.parse_key(target, key, segment_size)
        if parsed is not None:
            found.append((key, parsed[0]))
    return found


def _segment_size(runs: Sequence[_Run]) -> int:
    for run in runs:
        size = (run.detail or {}).get("physical", {}).get("segment_size")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return size
    return DEFAULT_SEGMENT_SIZE


def _base_backups(runs: Sequence[_Run], notes: list[str]) -> list[wal_retention.BaseBackup]:
    """The runs as WAL retention sees them; a ``detail["physical"]`` that cannot be read is a
    note (and, if that backup is kept, no WAL is removed)."""
    found = []
    for run in runs:
        physical = None
        recorded = (run.detail or {}).get("physical")
        if recorded is not None and run.status == "succeeded":
            try:
                physical = wal_retention.Physical.from_detail(recorded, f"backup {run.id}")
            except ValueError as exc:
                notes.append(str(exc))
        verified = "ok" in (run.verify_status, run.restore_test_status)
        found.append(
            wal_retention.BaseBackup(run.id, run.started_at, run.status, verified, physical)
        )
    return found


def plan_wal(
    target: str,
    runs: Sequence[_Run],
    names: set[WalName],
    policy: RetentionPolicy,
    pitr_within: float | None,
    now: Any,
) -> tuple[WalPrune, wal_retention.WalPlan]:
    """Plan the WAL of ``target`` (see :mod:`buttress.backup.wal.retention`)."""
    notes: list[str] = []
    backups = _base_backups(runs, notes)
    planned = wal_retention.plan(backups, names, policy, pitr_within=pitr_within, now=now)
    report = WalPrune(
        target,
        list(planned.keep),
        list(planned.remove),
        [*notes, *planned.notes],
        len(planned.removed),
    )
    return report, planned


def _apply_wal_decisions(items: list[PruneItem], planned: wal_retention.WalPlan) -> None:
    """The base backups as WAL retention decided them (GFS, plus the PITR window's anchor)."""
    decided = {d.snapshot.id: d for d in planned.decisions}
    for item in items:
        decision = decided.get(item.id)
        if item.status == "succeeded" and decision is not None:
            item.action = "keep" if decision.keep else "remove"
            item.reasons = list(decision.reasons) or ["not kept by the retention policy"]


def remove_wal(
    destination: Destination, keys: Sequence[tuple[str, WalName]], removed: frozenset[str]
) -> int:
    """Delete the WAL files named in ``removed`` from ``destination``, oldest first; how many
    objects were deleted.

    Raises:
        BackupError: the destination refused or could not be reached.
    """
    doomed = sorted((name, key) for key, name in keys if name.name in removed)
    destination.delete_many([key for _, key in doomed])
    return len(doomed)


def remove_backup(destination: Destination, target: str, backup_id: str) -> int:
    """Delete every object of one backup from ``destination``, the manifest first; returns how
    many objects were removed.

    Raises:
        BackupError: the destination refused or could not be reached (the manifest, if still
            there, keeps the backup whole enough to be pruned again later).
    """
    keys = destination.keys(f"{target}/{backup_id}/")
    manifest = manifest_key(target, backup_id)
    rest = [k for k in keys if k != manifest]
    if len(rest) < len(keys):
        destination.delete(manifest)  # alone and first: the rest is no backup without it
    destination.delete_many(rest)
    return len(keys)


def remove_everywhere(
    destinations: Sequence[Destination], target: str, backup_id: str
) -> list[str]:
    """:func:`remove_backup` in every destination; the errors, one per destination that failed."""
    errors = []
    for dest in destinations:
        try:
            remove_backup(dest, target, backup_id)
        except BackupError as exc:
            errors.append(str(exc))
    return errors


def run_prune(
    backups: Backups, *, target: str | None, dry_run: bool, remove_orphans: bool
) -> PruneReport:
    """See :meth:`buttress.backup.service.Backups.prune`."""
    report = PruneReport(dry_run=dry_run)
    targets = [backups.target(target)] if target else list(backups.config.targets)
    for t in targets:
        views = backups.all_runs(t.name)
        policy = RetentionPolicy(**t.retention.model_dump(exclude={"pitr_within"}))
        current = [v for v in views if v.status != "pruned"]
        items = plan_target(t.name, current, policy)
        destinations = backups.destinations(t)
        segment_size = _segment_size(current)
        archived: dict[str, list[tuple[str, WalName]]] = {}
        known = {v.id: v.status for v in views}
        live = {v.id for v in views if v.status == "running"}
        leftovers: set[str] = set()
        found: dict[str, set[str]] = {}
        unlisted: list[str] = []  # destinations whose WAL could not be listed
        for dest in destinations:
            try:
                present = found[dest.name] = backup_ids(dest, t.name)
            except BackupError as exc:
                report.errors.append(str(exc))
                continue
            try:
                archived[dest.name] = wal_keys(dest, t.name, segment_size)
            except BackupError as exc:
                report.errors.append(str(exc))
                unlisted.append(dest.name)
            unknown = sorted(i for i in present if i not in known)
            if unknown:
                report.orphans[dest.name] = unknown
            leftovers |= {i for i in present if known.get(i) == "pruned"}
            if not dry_run:
                try:
                    aborted = dest.abort_unfinished(partial(_of_live_run, live))
                except BackupError as exc:
                    report.errors.append(str(exc))
                else:
                    if aborted:
                        report.aborted_uploads[dest.name] = aborted
        present = set().union(*found.values()) if found else set()
        listed_all = len(found) == len(destinations)
        wal: WalPrune | None = None
        wal_plan: wal_retention.WalPlan | None = None
        names = {name for keys in archived.values() for _, name in keys}
        if names:
            wal, wal_plan = plan_wal(
                t.name, current, names, policy, t.retention.pitr_within, utcnow()
            )
            _apply_wal_decisions(items, wal_plan)
            report.wal.append(wal)
        if unlisted and (getattr(t, "wal", None) is not None or t.retention.pitr_within):
            # without the WAL, the PITR window's anchor (and each backup's WAL) cannot be told:
            # no base backup goes, lest GFS alone remove the one the window starts from
            for item in items:
                if item.action == "remove" and item.status == "succeeded":
                    item.action = "keep"
                    item.reasons = [
                        f"the archived WAL of {', '.join(unlisted)} could not be listed: no "
                        "base backup is removed while the WAL they need cannot be told"
                    ]
            if wal is not None:
                wal.error = (
                    f"WAL not removed: the archived WAL of {', '.join(unlisted)} could not be "
                    "listed"
                )
                wal_plan = None
        for item in items:
            if item.status == "incomplete" and item.id not in present and listed_all:
                item.action, item.reasons = "resolve", [STORED_NOTHING]
        items = [
            i
            for i in items
            if i.status not in ("failed", "abandoned", "incomplete")
            or i.id in present
            or i.action == "resolve"
        ]  # a failed run that stored nothing keeps its status: nothing to clean
        report.items.extend(items)
        for backup_id in sorted(leftovers):
            report.items.append(
                PruneItem(
                    backup_id,
                    t.name,
                    "",
                    "pruned",
                    "remove",
                    ["pruned earlier; objects were left in a destination"],
                )
            )
        if dry_run:
            continue
        for item in [i for i in items if i.action == "remove"] + [
            i for i in report.items if i.target == t.name and i.status == "pruned"
        ]:
            errors = remove_everywhere(destinations, t.name, item.id)
            if errors:
                item.error = "; ".join(errors)
                report.errors.extend(errors)
                continue
            if item.status != "pruned":
                backups.mark_pruned(item.id, item.status, item.reasons)
        for item in items:
            if item.action == "resolve" and not backups.resolve_incomplete(item.id, STORED_NOTHING):
                item.action, item.reasons = "keep", ["no longer incomplete"]
        if wal is not None and wal_plan is not None and wal_plan.removed:
            _prune_wal(backups, destinations, archived, wal, wal_plan, items, report)
        if remove_orphans:
            for dest in destinations:
                for backup_id in report.orphans.get(dest.name, []):
                    report.errors.extend(remove_everywhere([dest], t.name, backup_id))
            report.orphans_removed = True
    return report


def _prune_wal(
    backups: Backups,
    destinations: Sequence[Destination],
    archived: dict[str, list[tuple[str, WalName]]],
    wal: WalPrune,
    planned: wal_retention.WalPlan,
    items: Sequence[PruneItem],
    report: PruneReport,
) -> None:
    """Delete the planned WAL in every destination listed, once no backup to remove remains."""
    stuck = [i.id for i in items if i.action == "remove" and i.error]
    if stuck:
        wal.error = (
            f"WAL not removed: backup {', '.join(stuck)} could not be removed from every "
            "destination"
        )
        report.errors.append(f"target {wal.target}: {wal.error}")
        return
    errors = []
    for dest in destinations:
        if dest.name not in archived:
            continue  # its listing failed: already an error
        try:
            wal.deleted_objects += remove_wal(dest, archived[dest.name], planned.removed)
        except BackupError as exc:
            errors.append(str(exc))
    if errors:
        wal.error = "; ".join(errors)
        report.errors.extend(errors)
    elif len(archived) == len(destinations):  # gone from every destination: unindex them
        _unindex_wal(backups, wal.target, planned.removed)


def _unindex_wal(backups: Backups, target: str, names: frozenset[str]) -> None:
    """Drop removed WAL files from the catalog's index (``wal_segments``)."""
    ordered = sorted(names)
    with backups.catalog.begin() as session:
        for i in range(0, len(ordered), 500):  # bounded statements (SQLite's variable limit)
            chunk = ordered[i : i + 500]
            session.execute(
                delete(WalSegment).where(WalSegment.target == target, WalSegment.name.in_(chunk))
            )
