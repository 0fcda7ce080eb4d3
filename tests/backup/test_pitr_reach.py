"""A restore to a time the archive cannot reach is refused before anything is written: a
time inside a gap of the archived WAL, and a time after the newest base backup of a target
that archives no WAL (catalog rows, no server needed to refuse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.backup.physical_restore import restore_to_point
from buttress.backup.service import Backups
from buttress.backup.wal.recovery import RecoveryTarget
from buttress.catalog import Catalog
from buttress.config import load
from buttress.errors import UsageError
from tests.backup.conftest import config_file, recipient
from tests.backup.wal_rows import PG_TARGET, add_backup, add_segments, minutes

NO_WAL_TARGET = (
    "    - {name: pg, source: postgresql, kind: physical,"
    " dsn: 'postgresql://postgres@127.0.0.1:1/postgres'}\n"
)


def _backups(project: Path, catalog: Catalog, target: str) -> Backups:
    config_file(project, recipient(project), target)
    return Backups(load(project / "buttress.yaml").backup, catalog)


def test_a_time_inside_a_gap_of_the_wal_is_refused_with_the_spans(
    project: Path, catalog: Catalog
) -> None:
    """Segments 5-6 missing after base backup b1: a time between segment 4 and b2 is in the
    gap; the error says so and shows both recoverable spans; no directory is made."""
    backups = _backups(project, catalog, PG_TARGET)
    add_segments(catalog, 1, [2, 3, 4, 7, 8, 9])
    add_backup(catalog, "b1", 2, 3, 3)
    add_backup(catalog, "b2", 7, 8, 8)
    to = project / "restored"
    at = RecoveryTarget("time", minutes(6).isoformat())
    with pytest.raises(UsageError) as caught:
        restore_to_point(backups, "pg", to, at, restore_command="false")
    message = str(caught.value)
    assert "falls in a gap of target pg's archived WAL" in message
    assert "2026-12-01 12:03:00+00 to 2026-12-01 12:04:00+00" in message, message
    assert "12:08:00+00 to 2026-12-01 12:09:00+00" in message, message
    assert not to.exists()


def test_after_the_newest_base_of_a_target_without_wal_is_refused(
    project: Path, catalog: Catalog
) -> None:
    """Without `wal:` a restore reaches the end of a base backup at most: a later time is
    refused naming the newest backup's end; no directory is made."""
    backups = _backups(project, catalog, NO_WAL_TARGET)
    add_backup(catalog, "b1", 2, 3, 3)
    to = project / "restored"
    with pytest.raises(UsageError) as caught:
        restore_to_point(
            backups, "pg", to, RecoveryTarget("time", minutes(4).isoformat()),
            restore_command="false",
        )  # fmt: skip
    message = str(caught.value)
    assert "target pg archives no WAL (no `wal:`)" in message
    assert "the newest ended 2026-12-01 12:03:00+00" in message, message
    assert not to.exists()
