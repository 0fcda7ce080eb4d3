"""The SQLite catalog is private: its directory 0700, the file and its -wal/-shm 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from buttress.catalog import Catalog, catalog_url


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_data_dir_and_catalog_files_are_private(tmp_path: Path) -> None:
    """A new data directory is 0700; catalog.db, catalog.db-wal and catalog.db-shm are 0600."""
    data_dir = tmp_path / "data"
    old_umask = os.umask(0o022)  # the usual default, which made the files 0644
    try:
        cat = Catalog(catalog_url(None, data_dir))
        cat.upgrade()
        with cat.engine.connect() as conn:  # the WAL files exist while a connection is open
            assert _mode(data_dir) == 0o700
            for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
                assert (data_dir / name).exists(), name
                assert _mode(data_dir / name) == 0o600, name
            conn.close()
        cat.dispose()
    finally:
        os.umask(old_umask)
