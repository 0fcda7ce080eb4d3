"""Pruning: apply each target's retention to its good backups, clean up failed, abandoned and
incomplete runs, and find orphaned objects (in a destination, unknown to the catalog or left by
an earlier prune that could not finish).

An incomplete run (``running`` in the catalog, but its claim on the target is dead: its process
is gone or its lease expired) always resolves: its leftovers are removed and it becomes
``pruned``, or, when it stored nothing, it is marked ``abandoned``.

A backup is removed manifest first, so a prune that stops half-way never leaves something that
looks like a good backup; its catalog row is then marked ``pruned`` (history stays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError
from buttress.backup.format import manifest_key
from buttress.backup.retention import RetentionPolicy, Snapshot, select

if TYPE_CHECKING:
    from buttress.backup.service import Backups

__all__ = ["PruneItem", "PruneReport", "plan_target", "remove_backup", "run_prune"]


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
class PruneReport:
    dry_run: bool
    items: list[PruneItem] = field(default_factory=list)
    # destination -> backup ids found there that the catalog does not know
    orphans: dict[str, list[str]] = field(default_factory=dict)
    orphans_removed: bool = False
    # destination -> keys of unfinished uploads aborted (S3)
    aborted_uploads: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

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
        if len(parts) >= 3:
            found.add(parts[1])
    return found


def remove_backup(destination: Destination, target: str, backup_id: str) -> int:
    """Delete every object of one backup from ``destination``, the manifest first; returns how
    many objects were removed.

    Raises:
        BackupError: the destination refused or could not be reached (the manifest, if still
            there, keeps the backup whole enough to be pruned again later).
    """
    keys = destination.keys(f"{target}/{backup_id}/")
    manifest = manifest_key(target, backup_id)
    ordered = [k for k in keys if k == manifest] + [k for k in keys if k != manifest]
    for key in ordered:
        destination.delete(key)
    return len(ordered)


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
        policy = RetentionPolicy(**t.retention.model_dump())
        items = plan_target(t.name, [v for v in views if v.status != "pruned"], policy)
        destinations = backups.destinations(t)
        known = {v.id: v.status for v in views}
        live = {v.id for v in views if v.status == "running"}
        leftovers: set[str] = set()
        found: dict[str, set[str]] = {}
        for dest in destinations:
            try:
                present = found[dest.name] = backup_ids(dest, t.name)
            except BackupError as exc:
                report.errors.append(str(exc))
                continue
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
        if remove_orphans:
            for dest in destinations:
                for backup_id in report.orphans.get(dest.name, []):
                    report.errors.extend(remove_everywhere([dest], t.name, backup_id))
            report.orphans_removed = True
    return report
