"""``backup:``: what is backed up (targets), where it goes (destinations), and the keys.

A target is one of the kinds below, told apart by ``source``, and a destination one told apart
by ``type`` (``local`` when absent): discriminated unions, so each kind declares the fields it
reads and the schema says which it needs. The checks that need the backup domain's own parsers
(age recipients, identity files, restore servers) run in the validation step
(:func:`buttress.backup.config_check.check_backup`), not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from buttress.config._base import NAME_PATTERN, Section, Variant, raise_at
from buttress.config._types import (
    Cron,
    PositiveDuration,
    SecretDsn,
    SecretText,
    refuse_seconds,
)
from buttress.errors import ConfigIssue

__all__ = [
    "AnyBackupDestinationConfig",
    "AnyBackupTargetConfig",
    "BackupConfig",
    "BackupDestination",
    "BackupDestinationConfig",
    "BackupRetention",
    "BackupRetentionConfig",
    "BackupTarget",
    "BackupTargetConfig",
    "BinlogArchiveConfig",
    "DirectoryTargetConfig",
    "DsnTargetConfig",
    "LocalDestinationConfig",
    "MariadbTargetConfig",
    "MongodbTargetConfig",
    "PathTargetConfig",
    "PostgresqlTargetConfig",
    "RedisTargetConfig",
    "S3DestinationConfig",
    "SqliteTargetConfig",
    "WalArchiveConfig",
]


class BackupDestinationConfig(Variant):
    """A place backups are stored: a directory (`type: local`) or an S3-compatible bucket."""

    variant_noun = "destination"

    # ${VAR}s left unset in this destination (set by the loader): an error only where it is used
    _unresolved: tuple[ConfigIssue, ...] = PrivateAttr(default=())

    @property
    def unresolved(self) -> tuple[ConfigIssue, ...]:
        """Its unset ``${VAR}``s, each with file:line: commands that use it fail with them."""
        return self._unresolved

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    type: Literal["local", "s3"] = Field(
        default="local", description="`local` (a directory) or `s3` (S3-compatible storage)."
    )


class LocalDestinationConfig(BackupDestinationConfig):
    """`type: local` (the default): a directory."""

    type: Literal["local"] = Field(default="local", description="`local` (the default).")
    path: Path = Field(description="Directory of the repository.")


class S3DestinationConfig(BackupDestinationConfig):
    """`type: s3`: a bucket of S3-compatible storage."""

    type: Literal["s3"] = Field(description="`s3`.")
    bucket: str = Field(description="An existing bucket.")
    prefix: str = Field(default="", description="Key prefix inside the bucket.")
    endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible service (empty: AWS)."
    )
    region: str | None = Field(default=None, description="The bucket's region.")
    access_key_id: str | None = Field(
        default=None, description="Access key id (empty: AWS_ACCESS_KEY_ID, profile, role)."
    )
    secret_access_key: SecretText | None = Field(
        default=None, description="Secret key (empty: AWS_SECRET_ACCESS_KEY...)."
    )
    storage_class: str | None = Field(
        default=None, description="STANDARD, STANDARD_IA, GLACIER_IR... (empty: bucket's)."
    )
    part_size_mb: int = Field(default=8, ge=5, le=5120, description="Multipart part size.")
    concurrency: int = Field(default=4, ge=1, le=64, description="Parts uploaded at once.")
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per request (with backoff)."
    )
    connect_timeout: PositiveDuration = Field(default=5.0, description="To open a connection.")
    read_timeout: PositiveDuration = Field(
        default=15.0,
        description="Longest wait for the endpoint on an open connection (each read/write).",
    )
    object_deadline: PositiveDuration = Field(
        default=45.0,
        description="Time allowed to one request on an object, every retry included; no "
        "attempt starts that could not end in time (a hung endpoint fails within it).",
    )


def _destination_type(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("type", "local")
    return getattr(value, "type", None)


AnyBackupDestinationConfig = Annotated[
    Annotated[LocalDestinationConfig, Tag("local")] | Annotated[S3DestinationConfig, Tag("s3")],
    Discriminator(_destination_type),
]
"""A destination of either kind, by its ``type`` (``local`` when absent)."""


class BackupRetentionConfig(Section):
    """How many backups `buttress backup prune` keeps (restic's rules; periods in UTC). The
    newest backup and the newest verified backup are always kept; no rule: nothing is removed."""

    keep_last: int = Field(default=0, ge=0, description="The N newest backups.")
    keep_hourly: int = Field(default=0, ge=0, description="The newest of each of N hours.")
    keep_daily: int = Field(default=0, ge=0, description="The newest of each of N days.")
    keep_weekly: int = Field(default=0, ge=0, description="The newest of each of N ISO weeks.")
    keep_monthly: int = Field(default=0, ge=0, description="The newest of each of N months.")
    keep_yearly: int = Field(default=0, ge=0, description="The newest of each of N years.")
    keep_within: PositiveDuration | None = Field(
        default=None, description="Every backup within this long of the newest (`30d`)."
    )
    pitr_within: PositiveDuration | None = Field(
        default=None,
        description=(
            "Targets with WAL archiving: keep what a restore to ANY point of the last this "
            "long needs (`7d`): the newest base backup older than that, and all WAL after "
            "it. Other kept base backups keep only the WAL that makes each consistent (the "
            "daily/monthly points of keep_daily/keep_monthly)."
        ),
    )


class BackupTargetConfig(Variant):
    """One thing to back up, on a schedule (the fields every kind of target has)."""

    variant_noun = "target"
    variant_key = "source"

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    source: Literal["postgresql", "mariadb", "redis", "sqlite", "mongodb", "directory"]
    schedule_seconds: bool = Field(
        default=False,
        description=(
            "Let the schedules have a sixth field, seconds, LAST (croniter's order, not "
            "Quartz's): they may fire more than once a minute (for tests and demos)."
        ),
    )
    schedule: Cron | None = Field(
        default=None,
        description=(
            "When `buttress serve` backs it up: cron, five fields (minute hour day-of-month "
            "month day-of-week), UTC, e.g. '0 3 * * *'; empty: manual. `config check` prints "
            "the next three times."
        ),
    )
    restore_test_schedule: Cron | None = Field(
        default=None,
        description=(
            "When `buttress serve` restore-tests its newest good backup: cron, five fields "
            "(minute hour day-of-month month day-of-week), UTC, e.g. '0 5 * * 0'."
        ),
    )

    @field_validator("schedule", "restore_test_schedule")
    @classmethod
    def _at_most_once_a_minute(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if info.data.get("schedule_seconds") else refuse_seconds(value)

    destinations: list[str] = Field(
        default_factory=list, description="Destination names (default: every destination)."
    )
    required: int | None = Field(
        default=None, ge=1, description="Destinations that must succeed (default: all)."
    )
    level: int = Field(default=3, ge=1, le=22, description="zstd level.")
    threads: int = Field(default=-1, ge=-1, description="zstd threads (-1: one per core).")
    object_size_mb: int = Field(default=64, ge=1, description="Split stored streams (MiB).")
    retention: BackupRetentionConfig = Field(
        default_factory=BackupRetentionConfig, description="What `buttress backup prune` keeps."
    )


class DsnTargetConfig(BackupTargetConfig):
    """A target read from a database server, through its DSN."""

    source: Literal["postgresql", "mariadb", "redis", "mongodb"]
    dsn: SecretDsn = Field(description="The server's DSN.")


class PathTargetConfig(BackupTargetConfig):
    """A target read from the filesystem."""

    source: Literal["sqlite", "directory"]
    path: Path = Field(description="What to back up.")


class WalArchiveConfig(Section):
    """WAL archiving of a `kind: physical` PostgreSQL target (`archive_command = 'buttress wal
    push %p'`), for point-in-time recovery. See docs/pitr.md."""

    mode: Literal["sync", "async"] = Field(
        default="sync",
        description=(
            "`sync`: `wal push` stores each segment in the destinations before it returns. "
            "`async`: it copies the segment into `spool_dir` (fsync) and returns at once; "
            "the pusher (`buttress serve`, or `buttress wal pusher`) uploads in parallel "
            "batches."
        ),
    )
    spool_dir: Path | None = Field(
        default=None,
        description=(
            "Async mode (required there), and fetch's prefetch: a local folder the "
            "PostgreSQL OS user can write, on the database host."
        ),
    )
    spool_max_mb: int = Field(
        default=4096,
        ge=1,
        description=(
            "Async mode: `wal push` fails (PostgreSQL keeps the segment and retries) while "
            "the spool holds more than this."
        ),
    )
    push_workers: int = Field(
        default=4, ge=1, le=64, description="Async mode: segments uploaded at once."
    )
    batch: int = Field(
        default=16, ge=1, le=1024, description="Async mode: segments the pusher takes per batch."
    )
    prefetch: int = Field(
        default=8,
        ge=0,
        le=256,
        description=(
            "`wal fetch` downloads this many following segments in the background "
            "(into `spool_dir`), as recovery will ask for them next; 0: off."
        ),
    )
    archive_timeout: PositiveDuration = Field(
        default=60.0,
        description=(
            "The `archive_timeout` `backup postgres-setup` sets: the longest a finished "
            "transaction waits to be archived (the RPO while writes are rare)."
        ),
    )


class PostgresqlTargetConfig(DsnTargetConfig):
    """`source: postgresql`: pg_dump of one database (plus roles and tablespaces), or, with
    `kind: physical`, pg_basebackup of the whole cluster and its WAL (point-in-time recovery)."""

    source: Literal["postgresql"]
    dsn: SecretDsn = Field(description="The server's DSN, `postgresql://user:pw@host:5432/db`.")
    kind: Literal["logical", "physical"] = Field(
        default="logical",
        description=(
            "`logical`: pg_dump of the DSN's database. `physical`: pg_basebackup of the whole "
            "cluster (tar, streamed, WAL included), the base of point-in-time recovery "
            "(needs a replication connection)."
        ),
    )
    wal: WalArchiveConfig | None = Field(
        default=None,
        description="`kind: physical`: archive the cluster's WAL into this target (PITR).",
    )
    bin_dir: Path | None = Field(
        default=None,
        description=(
            "`kind: physical`: the PostgreSQL server programs (pg_ctl, postgres) a restore "
            "starts; default: the newest /usr/lib/postgresql/*/bin."
        ),
    )

    @model_validator(mode="after")
    def _wal_needs_physical(self) -> PostgresqlTargetConfig:
        if self.wal is not None and self.kind != "physical":
            raise ValueError(
                f"target {self.name}: `wal:` archives a cluster's WAL for point-in-time "
                "recovery, which starts from a base backup: set `kind: physical`"
            )
        if self.wal is not None and self.wal.mode == "async" and self.wal.spool_dir is None:
            raise ValueError(f"target {self.name}: wal.mode async needs wal.spool_dir")
        return self

    globals: bool = Field(default=True, description="Also roles and tablespaces.")
    jobs: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Parallel pg_dump/pg_restore jobs; above 1 the dump is taken in directory "
            "format (in `tmp_dir` first, then streamed) and restored with pg_restore --jobs."
        ),
    )
    restore_jobs: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "pg_restore processes a restore runs at once (default: `jobs`). Above 1 "
            "a custom-format dump is restored in parallel as it streams: tables load side by "
            "side, then indexes and constraints (`tmp_dir` holds what waits)."
        ),
    )
    tmp_dir: Path | None = Field(
        default=None,
        description=(
            "With jobs > 1: where the dump waits while it is stored; restores with "
            "restore_jobs > 1: the TOC and table data waiting for a job."
        ),
    )


class BinlogArchiveConfig(Section):
    """Binary-log archiving of a MariaDB/MySQL target, for point-in-time recovery: the pusher
    (`buttress binlog pusher TARGET`) streams the server's binlogs with `mariadb-binlog
    --read-from-remote-server --raw --stop-never` and stores each finished file in the
    target's repository (`T/binlog/`). See docs/pitr.md."""

    spool_dir: Path = Field(
        description=(
            "Where mariadb-binlog writes the binlog files it receives (a local folder of "
            "the pusher's); a file is removed from it once it is stored."
        )
    )
    interval: PositiveDuration = Field(
        default=10.0,
        description="How often the pusher stores the finished binlog files.",
    )
    rotate_every: PositiveDuration | None = Field(
        default=None,
        description=(
            "Run `FLUSH BINARY LOGS` this often, so that the file being written is finished "
            "and stored (the RPO while writes are rare; needs the RELOAD privilege). Empty: "
            "only the server's own rotation (max_binlog_size) finishes files."
        ),
    )
    server_id: int = Field(
        default=4242,
        ge=1,
        le=4294967295,
        description=(
            "The replica server id mariadb-binlog connects as (unique among the server's replicas)."
        ),
    )


class MariadbTargetConfig(DsnTargetConfig):
    """`source: mariadb` (or MySQL): mariadb-dump of one database."""

    source: Literal["mariadb"]
    dsn: SecretDsn = Field(description="The server's DSN, `mariadb://user:pw@host:3306/db`.")
    consistent_counts: bool = Field(
        default=True,
        description=(
            "Hold a global read lock (milliseconds) while the dump's snapshot opens, "
            "so the recorded row counts are exact."
        ),
    )
    lock_timeout: PositiveDuration = Field(
        default=10.0, description="Longest wait for that lock and snapshot."
    )
    binlog: BinlogArchiveConfig | None = Field(
        default=None,
        description=(
            "Archive the server's binary logs into this target (point-in-time recovery "
            "from a dump; the server needs log_bin, the dumps consistent_counts)."
        ),
    )

    @model_validator(mode="after")
    def _binlog_needs_the_lock(self) -> MariadbTargetConfig:
        if self.binlog is not None and not self.consistent_counts:
            raise ValueError(
                f"target {self.name}: `binlog:` replays the binlogs from the position each "
                "dump records under its read lock: set consistent_counts: true"
            )
        return self


class RedisTargetConfig(DsnTargetConfig):
    """`source: redis`: the server's RDB snapshot."""

    source: Literal["redis"]
    dsn: SecretDsn = Field(description="The server's URL, `redis://:pw@host:6379`.")
    tmp_dir: Path | None = Field(
        default=None, description="Where the dump waits while it is stored."
    )


class MongodbTargetConfig(DsnTargetConfig):
    """`source: mongodb`: mongodump of the server or one database."""

    source: Literal["mongodb"]
    dsn: SecretDsn = Field(description="The server's URI, `mongodb://user:pw@host:27017/db`.")
    oplog: bool = Field(
        default=False, description="Dump with --oplog (replica sets: a point in time)."
    )


class SqliteTargetConfig(PathTargetConfig):
    """`source: sqlite`: a consistent copy of one database file."""

    source: Literal["sqlite"]
    path: Path = Field(description="The database file.")


class DirectoryTargetConfig(PathTargetConfig):
    """`source: directory`: a tree of files."""

    source: Literal["directory"]
    path: Path = Field(description="The tree.")
    include: list[str] = Field(default_factory=list, description="Globs to keep.")
    exclude: list[str] = Field(default_factory=list, description="Globs to leave out.")


AnyBackupTargetConfig = Annotated[
    PostgresqlTargetConfig
    | MariadbTargetConfig
    | RedisTargetConfig
    | MongodbTargetConfig
    | SqliteTargetConfig
    | DirectoryTargetConfig,
    Field(discriminator="source"),
]
"""A target of any kind, by its ``source``."""


class BackupConfig(Section):
    """Backup targets, where they go, and the keys that encrypt them."""

    recipients: list[str] = Field(
        default_factory=list,
        description="age public keys (age1...) or files of them: every backup is encrypted to all.",
    )
    identity_files: list[Path] = Field(
        default_factory=list,
        description="age identity files (private keys) for restore and restore tests.",
    )
    passphrase: SecretText | None = Field(
        default=None,
        description=(
            "Also encrypt every backup so that this passphrase opens it (age scrypt); use "
            "`${VAR}` rather than writing it here."
        ),
    )
    passphrase_file: Path | None = Field(
        default=None, description="A file whose first line is the passphrase (instead)."
    )
    manifest_key_file: Path | None = Field(
        default=None,
        description=(
            "The manifest key (32 random bytes, hex) that authenticates every backup's "
            "manifest; created (0600) by the first backup when missing. Default: "
            "manifest.key in the data directory. Keep a copy offline with the identity."
        ),
    )
    destinations: list[AnyBackupDestinationConfig] = Field(
        default_factory=list,
        description="Places backups are stored: directories (`type: local`) or S3-compatible "
        "buckets.",
    )
    targets: list[AnyBackupTargetConfig] = Field(
        default_factory=list, description="Things to back up, each on its schedule."
    )
    max_parallel: int = Field(
        default=2, ge=1, le=32, description="Scheduled jobs `buttress serve` runs at once."
    )
    restore_roots: list[Path] = Field(
        default_factory=list,
        description=(
            "Absolute directories that restores through the API (directory, sqlite, redis "
            "targets) write inside (default: `restored` in the data directory). Not the CLI."
        ),
    )
    restore_servers: list[str] = Field(
        default_factory=list,
        description=(
            "Servers (`host:port`) that restores through the API may connect to besides each "
            "target's own (postgresql, mariadb, mongodb). Not the CLI."
        ),
    )

    @field_validator("restore_roots")
    @classmethod
    def _absolute_roots(cls, roots: list[Path]) -> list[Path]:
        for root in roots:
            if "\0" in str(root):
                raise ValueError("a restore root holds a NUL byte")
            if not root.is_absolute():
                raise ValueError(f"{str(root)[:200]!r} is not an absolute path")
        return roots

    @field_validator("destinations")
    @classmethod
    def _unique_destinations(
        cls, destinations: list[BackupDestinationConfig]
    ) -> list[BackupDestinationConfig]:
        seen: set[str] = set()
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, destination in enumerate(destinations):
            if destination.name in seen:
                errors.append(
                    (
                        (i, "name"),
                        f"destination {destination.name!r} is "
                        "declared twice (names must be unique)",
                    )
                )
            seen.add(destination.name)
        raise_at("BackupConfig", errors)
        return destinations

    @field_validator("recipients")
    @classmethod
    def _no_private_keys(cls, values: list[str]) -> list[str]:
        # the form of a recipient is checked by the backup domain's parser (validation step)
        raise_at(
            "BackupConfig",
            [
                (
                    (i,),
                    "this is a private key (AGE-SECRET-KEY-...): put its public key "
                    "(age1...) here, and the private key in an identity file",
                )
                for i, value in enumerate(values)
                if value.startswith("AGE-SECRET-KEY-")
            ],
        )
        return values

    @model_validator(mode="after")
    def _references(self) -> BackupConfig:
        if self.passphrase is not None and self.passphrase_file is not None:
            raise ValueError("set passphrase or passphrase_file, not both")
        known = {d.name for d in self.destinations}
        names: set[str] = set()
        for target in self.targets:
            if target.name in names:
                raise ValueError(f"target {target.name!r} is declared twice")
            names.add(target.name)
            for ref in target.destinations:
                if ref not in known:
                    raise ValueError(
                        f"target {target.name!r}: unknown destination {ref!r} "
                        f"(declared: {', '.join(sorted(known)) or 'none'})"
                    )
            count = len(target.destinations or known)
            if target.required is not None and target.required > count:
                raise ValueError(
                    f"target {target.name!r}: required={target.required} but only {count} "
                    "destinations"
                )
        return self


# the names before the naming convention (docs/architecture.md, "Configuration models")
BackupTarget = BackupTargetConfig
BackupDestination = BackupDestinationConfig
BackupRetention = BackupRetentionConfig
