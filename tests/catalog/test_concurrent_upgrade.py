"""Replicas starting together on one new catalog (PostgreSQL, or one SQLite file): one
migrates, the others wait for it and find the schema current (none fails on a table another
just created)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from buttress.catalog import Catalog, catalog_url
from buttress.catalog.engine import HEAD_REVISION

CODE = (
    "import sys; from buttress.catalog import Catalog; c = Catalog(sys.argv[1]); c.upgrade();"
    " print(c.revision())"
)


def test_eight_processes_upgrading_one_new_catalog_all_succeed(catalog_dsn: str) -> None:
    url = catalog_url(catalog_dsn, Path())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CODE, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == HEAD_REVISION
    catalog = Catalog(url)
    assert catalog.revision() == HEAD_REVISION
    catalog.dispose()
