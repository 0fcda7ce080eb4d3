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
    if target.source == "postgresql":
        from buttress.backup.sources.postgresql import PostgresSource

        assert target.dsn is not None
        return PostgresSource(
            target.dsn,
            globals=target.globals,
            jobs=target.jobs,
            restore_jobs=target.restore_jobs,
            tmp_dir=target.tmp_dir,
        )
    if target.source == "mariadb":
        from buttress.backup.sources.mariadb import MariadbSource

        assert target.dsn is not None
        return MariadbSource(
            target.dsn,
            consistent_counts=target.consistent_counts,
            lock_timeout=target.lock_timeout,
        )
    if target.source == "redis":
        from buttress.backup.sources.redis import RedisSource

        assert target.dsn is not None
        return RedisSource(target.dsn, tmp_dir=target.tmp_dir)
    if target.source == "mongodb":
        from buttress.backup.sources.mongodb import MongoSource

        assert target.dsn is not None
        return MongoSource(target.dsn, oplog=target.oplog)
    if target.source == "sqlite":
        from buttress.backup.sources.sqlite import SqliteSource

        assert target.path is not None
        return SqliteSource(target.path)
    if target.source == "directory":
        from buttress.backup.sources.directory import DirectorySource

        assert target.path is not None
        return DirectorySource(target.path, target.include, target.exclude)
    raise UsageError(f"target {target.name}: source {target.source!r} is not supported yet")


def build_destination(config: BackupDestination) -> Destination:
    if config.unresolved:  # its ${VAR}s were left for the commands that use it
        raise ConfigError(list(config.unresolved))
    if config.type == "s3":
        from buttress.backup.s3 import S3Destination, S3Settings

        assert config.bucket is not None
        secret = config.secret_access_key
        return S3Destination(
            config.name,
            S3Settings(
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
    assert config.path is not None
    return LocalDestination(config.name, config.path)
