"""Backup metrics for ``/metrics``: gauges read from the catalog at scrape time (so they are
right after a restart and across replicas), counters and a histogram fed by backup events;
with a target that archives WAL, the WAL and PITR gauges (:mod:`buttress.backup.wal.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from buttress import metric_names as names
from buttress.backup.events import BackupFinished, BackupVerified
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog
from buttress.config import BackupConfig
from buttress.errors import CatalogError

if TYPE_CHECKING:
    from buttress.backup.wal.status import HistoryCache

__all__ = ["BackupMetrics"]

_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, float("inf"))


class _CatalogGauges(Collector):
    def __init__(self, config: BackupConfig, catalog: Catalog) -> None:
        self.config = config
        self.catalog = catalog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        last = GaugeMetricFamily(
            names.BACKUP_LAST_SUCCESS,
            "Unix time the newest good backup of a target finished",
            labels=["target"],
        )
        duration = GaugeMetricFamily(
            names.BACKUP_LAST_DURATION,
            "Seconds the newest good backup of a target took",
            labels=["target"],
        )
        size = GaugeMetricFamily(
            names.BACKUP_LAST_SIZE,
            "Bytes of the newest good backup of a target (raw: as dumped; stored: compressed "
            "and encrypted)",
            labels=["target", "kind"],
        )
        verified = GaugeMetricFamily(
            names.BACKUP_LAST_VERIFIED,
            "Whether the newest good backup of a target passed its last check (1) or failed "
            "it (0); absent while unchecked",
            labels=["target", "check"],
        )
        wanted = [t.name for t in self.config.targets]
        newest = (
            select(BackupRun.target, func.max(BackupRun.started_at))
            .where(BackupRun.status == "succeeded", BackupRun.target.in_(wanted))
            .group_by(BackupRun.target)
        )
        try:
            with self.catalog.begin() as session:
                rows = []
                for target, started in session.execute(newest).all():
                    row = session.scalars(
                        select(BackupRun).where(
                            BackupRun.target == target,
                            BackupRun.started_at == started,
                            BackupRun.status == "succeeded",
                        )
                    ).first()
                    if row is not None:
                        rows.append(row)
                for row in rows:
                    if row.finished_at is None:
                        continue
                    last.add_metric([row.target], row.finished_at.timestamp())
                    duration.add_metric(
                        [row.target], (row.finished_at - row.started_at).total_seconds()
                    )
                    size.add_metric([row.target, "raw"], row.raw_size)
                    size.add_metric([row.target, "stored"], row.stored_size)
                    for check, status in (
                        ("checksums", row.verify_status),
                        ("restore_test", row.restore_test_status),
                    ):
                        if status:
                            verified.add_metric([row.target, check], 1 if status == "ok" else 0)
        except CatalogError:
            return  # buttress_catalog_up says so
        yield from (last, duration, size, verified)


class BackupMetrics:
    """Registers the backup metrics on ``registry``; call it with every domain event."""

    def __init__(
        self,
        registry: CollectorRegistry,
        config: BackupConfig,
        catalog: Catalog,
        histories: HistoryCache | None = None,
    ):
        registry.register(_CatalogGauges(config, catalog))
        if any(getattr(t, "wal", None) is not None for t in config.targets):
            from buttress.backup.wal.metrics import WalGauges
            from buttress.backup.wal.service import Wal
            from buttress.backup.wal.status import HistoryCache as Cache

            wal_histories = histories or Cache(Wal(config, catalog))
            registry.register(WalGauges(config, catalog, wal_histories))
        self.runs = Counter(
            names.BACKUP_RUNS,
            "Backup runs that ended in this process, by target, status and trigger",
            ["target", "status", "trigger"],
            registry=registry,
        )
        self.failures = Counter(
            names.BACKUP_FAILURES,
            "Backup runs that failed in this process, by target",
            ["target"],
            registry=registry,
        )
        self.duration = Histogram(
            names.BACKUP_DURATION,
            "Backup run duration in seconds, by target",
            ["target"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.verifications = Counter(
            names.BACKUP_VERIFICATIONS,
            "Checks of stored backups, by target, check (checksums, restore_test) and result",
            ["target", "check", "result"],
            registry=registry,
        )
        for target in config.targets:  # every target's series exists from the start
            self.failures.labels(target.name)

    def __call__(self, event: BackupFinished | BackupVerified) -> None:
        if isinstance(event, BackupFinished):
            self.runs.labels(event.target, event.status, event.trigger).inc()
            self.duration.labels(event.target).observe(event.seconds)
            if event.status != "succeeded":
                self.failures.labels(event.target).inc()
        elif isinstance(event, BackupVerified):
            check = "restore_test" if event.restore_test else "checksums"
            self.verifications.labels(event.target, check, "ok" if event.ok else "failed").inc()
