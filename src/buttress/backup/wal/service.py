"""WAL archiving of the configured targets: push and fetch through each target's archive, and
the catalog's index of what is archived (``wal_segments``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buttress.backup.keys import load_identities
from buttress.backup.pipeline import StorageOptions
from buttress.backup.tables import WalSegment
from buttress.backup.wal.archive import FetchResult, PushResult, WalArchive
from buttress.catalog import claims
from buttress.errors import UsageError

if TYPE_CHECKING:
    from buttress.backup.service import Backups
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig, PostgresqlTargetConfig

__all__ = ["Wal"]


class Wal:
    """The WAL archives of ``config``'s targets that have ``wal:``."""

    def __init__(self, config: BackupConfig, catalog: Catalog | None) -> None:
        from buttress.backup.service import Backups

        self.config = config
        self.catalog = catalog
        self.backups: Backups | None = Backups(config, catalog) if catalog is not None else None
        self._archives: dict[str, WalArchive] = {}

    def target(self, name: str) -> PostgresqlTargetConfig:
        from buttress.config import PostgresqlTargetConfig

        for target in self.config.targets:
            if target.name == name:
                if not isinstance(target, PostgresqlTargetConfig) or target.wal is None:
                    raise UsageError(
                        f"target {name} does not archive WAL: give it `kind: physical` and a "
                        "`wal:` section (docs/pitr.md)"
                    )
                return target
        archived = [t.name for t in self.config.targets if getattr(t, "wal", None) is not None]
        raise UsageError(
            f"unknown WAL target {name!r}; targets that archive WAL: "
            + (", ".join(archived) or "none")
        )

    def targets(self) -> list[PostgresqlTargetConfig]:
        from buttress.config import PostgresqlTargetConfig

        return [
            t
            for t in self.config.targets
            if isinstance(t, PostgresqlTargetConfig) and t.wal is not None
        ]

    def _service(self) -> Backups:
        from buttress.backup.service import Backups

        if self.backups is None:
            self.backups = Backups(self.config, None)  # type: ignore[arg-type]
        return self.backups

    def archive(self, name: str, *, reading: bool = False) -> WalArchive:
        """The archive of target ``name`` (built once per Wal)."""
        if name in self._archives:
            return self._archives[name]
        target = self.target(name)
        service = self._service()
        identities: Sequence[Any] = (
            load_identities(list(self.config.identity_files)) if reading else ()
        )
        if reading and not identities and service.passphrase() is None:
            raise UsageError(
                "no identity: set backup.identity_files (the private key that matches one of "
                "backup.recipients) or backup.passphrase, to read the WAL archive"
            )
        settings = service.settings(target) if not reading else self._reading_settings(target)
        archive = WalArchive(
            name, service.destinations(target, reading=reading), settings, identities
        )
        self._archives[name] = archive
        return archive

    def _reading_settings(self, target: PostgresqlTargetConfig) -> StorageOptions:
        """What a read needs: the passphrase and the manifest key if there is one (a read
        never creates a key: after a disaster without it, archive.json is not checked)."""
        service = self._service()
        return StorageOptions(
            [], passphrase=service.passphrase(), manifest_key=service.reading_key()
        )

    def push(
        self, name: str, path: Path, *, ready_at: dt.datetime | None = None, mode: str = "sync"
    ) -> PushResult:
        """Store ``path`` in target ``name``'s archive, then record it in the catalog."""
        ready = ready_at or dt.datetime.now(dt.UTC)
        result = self.archive(name).push(path)
        self.record(name, result, ready, mode)
        return result

    def record(self, name: str, result: PushResult, ready_at: dt.datetime, mode: str) -> None:
        """Index one archived file (again: the same file pushed twice keeps its first
        ready_at, takes the union of destinations)."""
        if self.catalog is None:
            return
        with self.catalog.begin() as session:
            now = claims.catalog_now(session)
            row = session.get(WalSegment, (name, result.name.name))
            if row is None:
                session.add(
                    WalSegment(
                        target=name,
                        name=result.name.name,
                        kind=result.name.kind,
                        timeline=result.name.timeline,
                        segno=result.name.segno,
                        sha256=result.sha256,
                        raw_size=result.raw_size,
                        stored_size=result.stored_size,
                        ready_at=ready_at,
                        archived_at=now,
                        destinations=sorted(result.destinations),
                        mode=mode,
                    )
                )
                return
            row.destinations = sorted(set(row.destinations) | set(result.destinations))
            if result.stored_size:
                row.stored_size = result.stored_size

    def fetch(self, name: str, wal_file: str, out: Path) -> FetchResult:
        return self.archive(name, reading=True).fetch(wal_file, out)
