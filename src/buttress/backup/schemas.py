"""What ``/api/v1/backups`` answers, and what :class:`~buttress.backup.service.Backups` returns
for it (pydantic only).

A run's ``detail`` is what the catalog recorded about it over time (how it was started, its
checks, an abandon or a prune). Its parts are typed here; each keeps keys it does not declare
(rows written by other versions) and, serialized with ``exclude_unset``, shows only the keys
the record has, as it always did.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from buttress.platform.schemas import JsonObject

__all__ = [
    "AbandonedRead",
    "ArtifactRead",
    "BackupRunRead",
    "CheckingRead",
    "Comparison",
    "CopiedRead",
    "CopyRead",
    "DestinationCheck",
    "EncryptionRead",
    "LastCheckRead",
    "PhysicalRead",
    "PruneItemRead",
    "PruneRead",
    "PrunedRead",
    "RestoreRead",
    "RestoreTestRead",
    "RunDescribed",
    "RunDetail",
    "SizePoint",
    "TargetSummary",
    "VerifyRead",
    "WalPruneRead",
    "WalRangeRead",
]


class _Present(BaseModel):
    """A record whose optional parts are absent (not ``null``) when it has none: serialize it
    with ``exclude_unset`` (the routes that answer it do)."""


class _Recorded(_Present):
    """A part of a run's recorded ``detail``: what it declares, and whatever else it holds."""

    model_config = ConfigDict(extra="allow")


class Comparison(_Recorded):
    """One fact a restore test compared with what the backup recorded."""

    what: str = Field(description="The fact: row_counts, files, ...")
    entries: int | None = Field(description="How many tables, files... (None: one value).")
    differences: int


class RestoreTestRead(_Recorded):
    """A restore test's answer."""

    ok: bool
    problems: list[str]
    seconds: float | None = None
    skipped: list[str] | None = Field(default=None, description="Damaged copies read elsewhere.")
    read_from: list[str] | None = Field(default=None, description="The destinations read.")
    compared: list[Comparison] | None = None


class DestinationCheck(_Recorded):
    """A verify's answer for one destination."""

    ok: bool
    problems: list[str]
    authenticated_by: list[str] | None = None


class VerifyRead(_Present):
    """What a verify answers (``backup verify --json``): the destinations whose manifest
    authenticated and had every object checked, each destination's answer, and, when asked
    for, the restore test's (absent otherwise)."""

    id: str
    target: str
    destinations: list[str] = Field(description="Those checked.")
    problems: list[str]
    per_destination: dict[str, DestinationCheck]
    warnings: list[str]
    restore_test: RestoreTestRead | None = None

    @property
    def ok(self) -> bool:
        """No problem, and the restore test (when there was one) passed."""
        return not self.problems and (self.restore_test is None or self.restore_test.ok)


class CopiedRead(BaseModel):
    """What a copy of a backup into a destination did (``backup copy --json``)."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    id: str
    from_: str = Field(alias="from", description="The destination read.")
    to: str
    copied: int = Field(description="Objects written, the repaired ones included.")
    skipped: int = Field(description="Objects already there and good.")
    repaired: int = Field(description="Objects that were there but damaged, replaced.")
    bytes: int = Field(description="Bytes written.")


class CheckingRead(_Recorded):
    """A check under way."""

    restore_test: bool
    started_at: str | None = Field(default=None, description="ISO 8601.")
    job: str | None = Field(default=None, description="The check's claim in the catalog.")


class LastCheckRead(_Recorded):
    """The last check that ended (or was interrupted)."""

    ok: bool
    problems: list[str]
    finished_at: str | None = Field(default=None, description="ISO 8601.")
    started_at: str | None = Field(default=None, description="ISO 8601 (interrupted checks).")
    interrupted: bool | None = None
    id: str | None = None
    target: str | None = None
    destinations: list[str] | None = Field(default=None, description="Those checked.")
    per_destination: dict[str, DestinationCheck] | None = None
    warnings: list[str] | None = None
    restore_test: RestoreTestRead | None = None


class AbandonedRead(_Recorded):
    at: str = Field(description="ISO 8601.")
    by: str
    reason: str
    was: str = Field(description="The run's status before.")
    forced: bool | None = None


class PrunedRead(_Recorded):
    at: str = Field(description="ISO 8601.")
    was: str
    why: list[str]


class PhysicalRead(_Recorded):
    """Where a physical base backup (``kind: physical``) lies in the WAL, and what it holds."""

    timeline: int = Field(description="The timeline it starts on.")
    stop_timeline: int | None = Field(default=None, description="The timeline it ends on.")
    start_lsn: str = Field(description="Where it starts, `0/2000028`.")
    stop_lsn: str = Field(description="Where it ends: a restore cannot stop before this.")
    start_wal: str = Field(description="The first WAL segment it needs.")
    stop_wal: str = Field(description="The last WAL segment it needs.")
    system_identifier: str = Field(description="The cluster's identity.")
    segment_size: int = Field(description="WAL segment size, bytes.")
    start_time: str | None = Field(default=None, description="ISO UTC.")
    stop_time: str = Field(description="ISO UTC, on the server's clock, just after its end.")
    pg_version: str = Field(description="The major version (PG_VERSION).")
    server_version: str | None = None
    databases: dict[str, int] = Field(description="Database name -> OID.")
    checkpoint_lsn: str | None = None
    manifest_checksum: str | None = Field(
        default=None, description="pg_basebackup's backup_manifest checksum."
    )
    tar_members: int | None = None


class RunDetail(_Recorded):
    """What the catalog recorded about a run besides its columns."""

    trigger: str | None = Field(default=None, description="api, cli, schedule, ...")
    timings: dict[str, float] | None = Field(default=None, description="Seconds per phase.")
    source: JsonObject | None = Field(default=None, description="What the source reported.")
    checking: CheckingRead | None = None
    last_check: LastCheckRead | None = None
    verify: dict[str, DestinationCheck] | None = Field(
        default=None, description="The last verify, per destination."
    )
    restore_test: RestoreTestRead | None = None
    abandoned: AbandonedRead | None = None
    pruned: PrunedRead | None = None
    physical: PhysicalRead | None = Field(
        default=None, description="A physical base backup: where it lies in the WAL."
    )


class BackupRunRead(_Present):
    """A backup run as the catalog records it."""

    id: str
    target: str
    status: str = Field(
        description="running, succeeded, failed, incomplete (its process is gone), abandoned "
        "or pruned"
    )
    started_at: dt.datetime
    finished_at: dt.datetime | None
    raw_size: int
    stored_size: int
    destinations: list[str] = Field(description="Those that hold it.")
    failed_destinations: dict[str, str] = Field(description="Those that failed, with why.")
    error: str
    verify_status: str
    restore_test_status: str
    detail: RunDetail
    heartbeat_at: dt.datetime | None = Field(description="A running run's last renewal.")
    compression_ratio: float


class ArtifactRead(BaseModel):
    name: str
    raw_size: int
    stored_size: int
    objects: int
    sha256: str


class EncryptionRead(_Recorded):
    algorithm: str
    recipients: list[str] = Field(description="Fingerprints of the keys it is encrypted to.")
    passphrase_identity: str | None = Field(
        default=None, description="The backup's key, sealed with the passphrase."
    )


class CopyRead(BaseModel):
    """What one destination holds of a run, and its last check's answer."""

    destination: str
    stored: bool
    objects: int = Field(description="Every object and the manifest.")
    stored_size: int
    error: str = Field(description="Why it holds nothing.")
    check: DestinationCheck | None = Field(description="None: not checked.")


class RunDescribed(BackupRunRead):
    """A run; for a good backup, its manifest summary too (artifacts, metadata, encryption)."""

    artifacts: list[ArtifactRead] | None = None
    metadata: JsonObject | None = Field(
        default=None, description="What the backup recorded (a restore test compares it)."
    )
    encryption: EncryptionRead | None = None
    copies: list[CopyRead]


class SizePoint(BaseModel):
    id: str
    at: dt.datetime
    stored: int
    raw: int


class TargetSummary(BaseModel):
    """A target: its settings, last run, newest good backup, sizes, next scheduled times."""

    name: str
    source: str
    schedule: str | None
    restore_test_schedule: str | None
    next_backup_at: dt.datetime | None
    next_restore_test_at: dt.datetime | None
    destinations: list[str]
    running: bool
    last_run: BackupRunRead | None
    last_success: BackupRunRead | None
    sizes: list[SizePoint] = Field(description="The last good backups' sizes, oldest first.")
    failures_since_success: int
    archives_wal: bool = Field(
        default=False,
        description="A physical target archiving WAL: GET /targets/{name}/wal has its "
        "recoverable window.",
    )


class RestoreRead(BaseModel):
    id: str
    restored_into: str = Field(description="Where it went (a DSN without its password).")


class PruneItemRead(BaseModel):
    """What prune does with one run, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    target: str
    started_at: dt.datetime
    status: str
    action: str = Field(description="keep, remove or resolve")
    reasons: list[str]
    error: str


class WalRangeRead(BaseModel):
    """Consecutive archived WAL files (timeline, then segment order) kept or removed for one
    reason."""

    model_config = ConfigDict(from_attributes=True)

    first: str = Field(description="The first file's name.")
    last: str = Field(description="The last file's name.")
    count: int = Field(description="How many files.")
    reason: str
    rule: str = Field(
        description=(
            "Kept: window (the PITR window's anchor on), newest (the newest backup on), backup "
            "(a kept backup's start..stop), history, all (nothing is removed: see notes). "
            "Removed: before (the oldest kept backup), between (two kept backups), timeline "
            "(no kept backup follows it)."
        )
    )


class WalPruneRead(BaseModel):
    """What prune does with one target's archived WAL."""

    model_config = ConfigDict(from_attributes=True)

    target: str
    keep: list[WalRangeRead]
    remove: list[WalRangeRead]
    notes: list[str] = Field(description="Why nothing is removed, a run whose facts are unread.")
    removed_files: int = Field(description="WAL files planned for removal.")
    deleted_objects: int = Field(description="Objects deleted, in all destinations (0: dry run).")
    error: str


class PruneRead(BaseModel):
    """What prune did (or, with dry_run, would do)."""

    model_config = ConfigDict(from_attributes=True)

    dry_run: bool
    items: list[PruneItemRead]
    orphans: dict[str, list[str]] = Field(
        description="Per destination: backup ids found there that the catalog does not know."
    )
    orphans_removed: bool
    aborted_uploads: dict[str, list[str]] = Field(
        description="Per destination: keys of unfinished uploads aborted (S3)."
    )
    errors: list[str]
    wal: list[WalPruneRead] = Field(
        default_factory=list, description="Per target with archived WAL: the ranges and why."
    )
