"""WAL archiving gauges for ``/metrics`` (read from the catalog at scrape time, through
:func:`~buttress.backup.wal.status.status_of`), and :class:`WalWatch`, which turns the same
statuses into the :class:`~buttress.backup.events.WalGapFound` and
:class:`~buttress.backup.events.WalArchiveStalled` events."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress.backup.events import WalArchiveStalled, WalGapFound
from buttress.backup.wal.schemas import WalStatusRead
from buttress.backup.wal.status import HistoryCache, status_of
from buttress.errors import ButtressError, CatalogError
from buttress.events import DomainEvent, emit

if TYPE_CHECKING:
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig, PostgresqlTargetConfig
    from buttress.jobs import JobRunner

__all__ = [
    "STALL_AFTER_MIN",
    "STALL_FACTOR",
    "WATCH_EVERY",
    "WalGauges",
    "WalWatch",
    "statuses",
    "watch_on",
]

log = logging.getLogger("buttress.backup.wal")

STALL_FACTOR = 3.0
"""A target's archive is stalled when no segment was handed over for this many times its
``wal.archive_timeout`` ..."""
STALL_AFTER_MIN = 300.0
"""... and at least this many seconds."""


def _wal_targets(config: BackupConfig) -> list[PostgresqlTargetConfig]:
    from buttress.config import PostgresqlTargetConfig

    return [
        t for t in config.targets if isinstance(t, PostgresqlTargetConfig) and t.wal is not None
    ]


def statuses(
    config: BackupConfig, catalog: Catalog, histories: HistoryCache
) -> list[WalStatusRead]:
    """The status of every target that archives WAL (a target whose history files cannot be
    read is still answered: its ``problems`` say so)."""
    return [status_of(t, catalog, histories=histories.reader(t.name)) for t in _wal_targets(config)]


class WalGauges(Collector):
    """``buttress_wal_*`` and ``buttress_pitr_*`` per target that archives WAL."""

    def __init__(self, config: BackupConfig, catalog: Catalog, histories: HistoryCache) -> None:
        self.config = config
        self.catalog = catalog
        self.histories = histories

    def collect(self) -> Iterator[GaugeMetricFamily]:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["target"])

        lag = gauge(
            names.WAL_ARCHIVE_LAG,
            "Seconds since PostgreSQL handed over the newest archived WAL segment",
        )
        last = gauge(names.WAL_LAST_ARCHIVED, "Unix time the newest WAL segment was stored")
        pending = gauge(
            names.WAL_ARCHIVE_LAG_SEGMENTS,
            "WAL segments spooled but not yet uploaded (async mode, spool on this host)",
        )
        gaps = gauge(names.WAL_GAPS, "WAL segments missing after the oldest good base backup")
        window = gauge(names.PITR_WINDOW, "Seconds from the oldest to the newest recoverable point")
        oldest = gauge(names.PITR_OLDEST, "Unix time of the oldest recoverable point")
        newest = gauge(names.PITR_NEWEST, "Unix time of the newest recoverable point (bound)")
        try:
            found = statuses(self.config, self.catalog, self.histories)
        except CatalogError:
            return  # buttress_catalog_up says so
        for s in found:
            t = [s.target]
            if s.lag_seconds is not None:
                lag.add_metric(t, s.lag_seconds)
            if s.last_archived_at is not None:
                last.add_metric(t, s.last_archived_at.timestamp())
            if s.pending is not None:
                pending.add_metric(t, s.pending)
            gaps.add_metric(t, s.missing)
            window.add_metric(t, s.window.seconds)
            if s.window.oldest is not None:
                oldest.add_metric(t, s.window.oldest.timestamp())
            if s.window.newest is not None:
                newest.add_metric(t, s.window.newest.timestamp())
        yield from (lag, last, pending, gaps, window, oldest, newest)


class WalWatch:
    """Emits :class:`WalGapFound` once per gap and :class:`WalArchiveStalled` once per stall
    (again after the target archived a segment), from the statuses it is shown."""

    def __init__(self, config: BackupConfig) -> None:
        self.thresholds = {
            t.name: max(STALL_AFTER_MIN, STALL_FACTOR * float(t.wal.archive_timeout))
            for t in _wal_targets(config)
            if t.wal is not None
        }
        self._gaps: set[tuple[str, str, str]] = set()
        self._stalled: set[str] = set()
        self._drift: dict[str, str | None] = {}

    def observe(self, found: Sequence[WalStatusRead]) -> list[DomainEvent]:
        """The events these statuses call for (each also emitted on the bus)."""
        out: list[DomainEvent] = []
        for s in found:
            for g in s.gaps:
                key = (s.target, g.first, g.last)
                if key not in self._gaps:
                    self._gaps.add(key)
                    out.append(WalGapFound(s.target, g.first, g.last, g.count))
            limit = self.thresholds.get(s.target, STALL_AFTER_MIN)
            if s.lag_seconds is not None and s.lag_seconds > limit:
                if s.target not in self._stalled:
                    self._stalled.add(s.target)
                    newest = s.newest.name if s.newest else ""
                    out.append(WalArchiveStalled(s.target, s.lag_seconds, limit, newest))
            else:
                self._stalled.discard(s.target)
        for event in out:
            emit(event)
        return out

    def check(self, config: BackupConfig, catalog: Catalog, histories: HistoryCache) -> None:
        """One round (the server runs it periodically); failures are logged, never raised."""
        try:
            self.observe(statuses(config, catalog, histories))
        except ButtressError as exc:
            log.warning("WAL status check failed: %s", exc)
        self.check_servers(config)

    def check_servers(self, config: BackupConfig) -> dict[str, str | None]:
        """Each WAL target's server settings against its ``wal:`` (:func:`server_drift`): a
        disagreement is logged as a warning when it appears or changes, and when it is
        fixed; what was found, by target."""
        from buttress.backup.wal.setup import server_drift

        for target in _wal_targets(config):
            drift = server_drift(target)
            before = self._drift.get(target.name)
            if drift is not None and drift != before:
                log.warning("WAL archiving of target %s: %s", target.name, drift)
            elif drift is None and before is not None:
                log.info("WAL archiving of target %s: the server agrees again", target.name)
            self._drift[target.name] = drift
        return dict(self._drift)


WATCH_HANDLER = "backup.wal_watch"
WATCH_EVERY = 60.0
"""Seconds between two rounds of :class:`WalWatch` in ``buttress serve`` (on the leader)."""


def watch_on(
    runner: JobRunner, config: BackupConfig, catalog: Catalog, histories: HistoryCache
) -> WalWatch:
    """Run a :class:`WalWatch` every :data:`WATCH_EVERY` seconds as a job of ``runner`` (so on
    the elected leader only: one event per gap or stall, not one per replica)."""
    from buttress.jobs import Every, Job

    watch = WalWatch(config)
    runner.handler(WATCH_HANDLER, lambda _ctx: watch.check(config, catalog, histories))
    runner.register(Job("wal:watch", Every(WATCH_EVERY), WATCH_HANDLER))
    return watch
