"""Check a target's WAL archive: re-read every archived object in every destination
(decrypt, decompress, SHA-256 against its key, page header against its name) and find the
WAL missing after a base backup, per destination (``buttress backup verify --wal``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from buttress.backup.errors import BackupError
from buttress.backup.tables import BackupRun
from buttress.backup.wal.archive import WalArchive
from buttress.backup.wal.continuity import (
    BaseBackupFacts,
    HistoryEntry,
    Segment,
    continuity,
    parse_history,
)
from buttress.backup.wal.errors import WalMissingError
from buttress.backup.wal.schemas import WalGapRead

if TYPE_CHECKING:
    from buttress.backup.wal.service import Wal
    from buttress.catalog import Catalog

__all__ = ["WalCheckRead", "WalDestinationCheck", "verify_wal"]


class WalDestinationCheck(BaseModel):
    """One destination's WAL: the objects re-read, and what is wrong."""

    ok: bool
    objects: int = Field(description="Archived files re-read (segments, histories, ...).")
    gaps: list[WalGapRead] = Field(description="WAL missing after the base backup.")
    problems: list[str]


class WalCheckRead(BaseModel):
    """What a WAL check found (``backup verify --wal --json``: its ``wal`` part)."""

    target: str
    from_backup: str | None = Field(description="Gaps are looked for after this base backup.")
    per_destination: dict[str, WalDestinationCheck]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _facts(catalog: Catalog | None, backup_id: str) -> BaseBackupFacts | None:
    if catalog is None:
        return None
    with catalog.begin() as session:
        row = session.get(BackupRun, backup_id)
        physical = (row.detail or {}).get("physical") if row is not None else None
    if not isinstance(physical, dict):
        return None
    return BaseBackupFacts.from_detail(backup_id, physical)


def verify_wal(wal: Wal, target: str, backup_id: str | None = None) -> WalCheckRead:
    """Re-read every archived WAL file of ``target`` in each destination, and (given the
    physical base backup ``backup_id``) find the segments missing after it in each
    destination's listing. Damaged and missing objects are named with their destination."""
    archive = wal.archive(target, reading=True)
    facts = _facts(wal.catalog, backup_id) if backup_id else None
    problems: list[str] = []
    per: dict[str, WalDestinationCheck] = {}
    try:
        listing = archive.listing()
    except BackupError as exc:
        return WalCheckRead(
            target=target, from_backup=backup_id, per_destination={}, problems=[str(exc)]
        )
    for dest in archive.destinations:
        found: list[str] = []
        names = listing.get(dest.name, [])
        single = WalArchive(target, [dest], archive.settings, archive.identities)
        histories: dict[int, list[HistoryEntry]] = {}
        seen: set[str] = set()
        for name, _sha in names:
            if name.name in seen:
                continue  # two copies of one name: read() checks each of them
            seen.add(name.name)
            try:
                raw, _ = single.read(name.name)
            except WalMissingError:
                found.append(f"{name.name} in {dest.describe()}: listed, then gone")
                continue
            except BackupError as exc:
                found.append(str(exc))
                continue
            if name.kind == "history":
                try:
                    histories[name.timeline] = parse_history(raw.decode(), name.name)
                except (UnicodeDecodeError, ValueError) as exc:
                    found.append(f"{name.name} in {dest.describe()}: {exc}")
        gaps: list[WalGapRead] = []
        if facts is not None:
            segs = [Segment(n) for n, _ in names if n.kind == "segment"]
            c = continuity(facts, segs, histories)
            gaps = [WalGapRead(first=g.first, last=g.last, count=g.count) for g in c.gaps]
            for g in c.gaps:
                what = g.first if g.count == 1 else f"{g.first} to {g.last} ({g.count} segments)"
                found.append(f"WAL missing in {dest.describe()} after backup {backup_id}: {what}")
        problems.extend(found)
        per[dest.name] = WalDestinationCheck(
            ok=not found, objects=len(seen), gaps=gaps, problems=found
        )
    if backup_id and facts is None:
        problems.append(f"backup {backup_id} is not a physical base backup the catalog knows")
    return WalCheckRead(
        target=target, from_backup=backup_id, per_destination=per, problems=problems
    )
