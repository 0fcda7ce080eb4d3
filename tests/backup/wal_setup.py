"""A WAL-archiving setup for tests: a private cluster whose ``archive_command`` is
``buttress wal push``, a repository and keys the postgres OS user can use, and a PostgreSQL
catalog (both root and postgres processes write it)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from buttress.backup.keys import generate_identity
from buttress.catalog import Catalog
from tests.backup.pg_cluster import (
    Cluster,
    buttress_command,
    chown_tree,
    make_cluster,
    owned_dir,
    pg_env,
)


@dataclass
class WalSetup:
    root: Path
    config: Path
    repo: Path
    cluster: Cluster
    catalog_dsn: str

    def cli(
        self, *args: str, check: bool = False, as_postgres: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``buttress --config <config> ARGS`` as a subprocess (as the postgres user if asked)."""
        command = [*buttress_command().split(), "--config", str(self.config), *args]
        if as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, check=check, env=pg_env(), timeout=120
        )

    def catalog(self) -> Catalog:
        return Catalog(self.catalog_dsn)


def write_config(root: Path, catalog_dsn: str, cluster_dsn: str, **wal: Any) -> tuple[Path, Path]:
    key = root / "backup-key.txt"
    recipient = generate_identity(key)
    repo = root / "repo"
    repo.mkdir(exist_ok=True)
    config = root / "buttress.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(root / "data-dir"),
                "catalog": {"url": catalog_dsn},
                "backup": {
                    "recipients": [recipient],
                    "identity_files": [str(key)],
                    "manifest_key_file": str(root / "manifest.key"),
                    "destinations": [{"name": "local", "path": str(repo)}],
                    "targets": [
                        {
                            "name": "pg",
                            "source": "postgresql",
                            "kind": "physical",
                            "dsn": cluster_dsn,
                            "wal": wal,
                        }
                    ],
                },
            }
        )
    )
    return config, repo


def wal_setup(catalog_dsn: str, made: list[Cluster], **wal: Any) -> WalSetup:
    """A started cluster archiving into target ``pg`` through ``buttress wal push``."""
    root = owned_dir("buttress-wal-")
    cluster = make_cluster(root, start=False)
    made.append(cluster)
    config, repo = write_config(root, catalog_dsn, cluster.dsn(), **wal)
    setup = WalSetup(root, config, repo, cluster, catalog_dsn)
    first = setup.cli("db", "upgrade")  # the catalog at this version's schema, made by root
    assert first.returncode == 0, first.stderr
    (root / "data-dir").mkdir(exist_ok=True)
    chown_tree(root)
    shutil.chown(root / "backup-key.txt", "postgres", "postgres")
    command = f"{buttress_command()} --config {config} wal push pg %p"
    cluster.configure(archive_mode="on", archive_command=command, archive_timeout=0)
    cluster.start()
    return setup
