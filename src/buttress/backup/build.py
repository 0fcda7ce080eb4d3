"""Sources and destinations from the ``backup:`` section of buttress.yaml."""

from __future__ import annotations

from typing import TYPE_CHECKING

from buttress.backup.destinations import Destination, LocalDestination
from buttress.backup.sources.base import Source
from buttress.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from buttress.config import BackupDestination, BackupTarget

__all__ = ["build_destination", "build_source"]


def build_source(target: BackupTarget) -> Source:
    from buttress import config as c  # the variant classes (config is loaded by now)

    if isinstance(target, c.PostgresqlTargetConfig) and target.kind == "physical":
        from buttress.backup.sources.pg_physical import PhysicalPostgresSource

        return PhysicalPostgresSource(target.dsn, bin_dir=target.bin_dir, tmp_dir=target.tmp_dir)
    if isinstance(target, c.PostgresqlTargetConfig):
        from buttress.backup.sources.postgresql import PostgresSource

        return PostgresSource(
            target.dsn,
            globals=target.globals,
            jobs=target.jobs,
            restore_jobs=target.restore_jobs,
            tmp_dir=target.tmp_dir,
        )
    if isinstance(target, c.MariadbTargetConfig):
        from buttress.backup.sources.mariadb import MariadbSource

        return MariadbSource(
            target.dsn,
            consistent_counts=target.consistent_counts,
            lock_timeout=target.lock_timeout,
        )
    if isinstance(target, c.RedisTargetConfig):
        from buttress.backup.sources.redis import RedisSource

        return RedisSource(target.dsn, tmp_dir=target.tmp_dir)
    if isinstance(target, c.MongodbTargetConfig):
        from buttress.backup.sources.mongodb import MongoSource

        return MongoSource(target.dsn, oplog=target.oplog)
    if isinstance(target, c.SqliteTargetConfig):
        from buttress.backup.sources.sqlite import SqliteSource

        return SqliteSource(target.path)
    if isinstance(target, c.DirectoryTargetConfig):
        from buttress.backup.sources.directory import DirectorySource

        return DirectorySource(target.path, target.include, target.exclude)
    raise UsageError(f"target {target.name}: source {target.source!r} is not supported yet")


def build_destination(config: BackupDestination) -> Destination:
    from buttress.config import S3DestinationConfig

    if config.unresolved:  # its ${VAR}s were left for the commands that use it
        raise ConfigError(list(config.unresolved))
    if isinstance(config, S3DestinationConfig):
        from buttress.backup.s3 import S3Destination, S3Options

        secret = config.secret_access_key
        return S3Destination(
            config.name,
            S3Options(
                bucket=config.bucket,
                prefix=config.prefix,
                endpoint_url=config.endpoint_url,
                region=config.region,
                access_key_id=config.access_key_id,
                secret_access_key=secret.get_secret_value() if secret else None,
                storage_class=config.storage_class,
                part_size=config.part_size_mb << 20,
                concurrency=config.concurrency,
                max_attempts=config.max_attempts,
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                object_deadline=config.object_deadline,
            ),
        )
    from buttress.config import LocalDestinationConfig

    if not isinstance(config, LocalDestinationConfig):
        raise UsageError(f"destination {config.name}: type {config.type!r} is not supported yet")
    return LocalDestination(config.name, config.path)
