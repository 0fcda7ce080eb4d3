"""A private PostgreSQL primary with a streaming replica (``pg_basebackup -R``), both run by
the ``postgres`` OS user on free ports, and the :class:`PostgresPairConfig` that names them."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buttress.config._failover_pg import PostgresNodeConfig, PostgresPairConfig
from tests.backup.pg_cluster import AS_PG, Cluster, make_cluster, owned_dir, pg_env
from tests.conftest import free_port


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster
    config: PostgresPairConfig


def node(cluster: Cluster, password: str = "") -> PostgresNodeConfig:
    """The node config of a private cluster (its port and socket given on the start line:
    pg_rewind and pg_basebackup copy postgresql.conf from the other server)."""
    options = f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1"
    pg_ctl = str(cluster.bin / "pg_ctl")
    start = [pg_ctl, "-D", str(cluster.data), "-l", str(cluster.log), "-o", options]
    dsn = (
        cluster.dsn()
        if not password
        else cluster.dsn().replace("postgres@", f"postgres:{password}@")
    )
    return PostgresNodeConfig(
        dsn=dsn,
        data_dir=cluster.data,
        bin_dir=cluster.bin,
        os_user="postgres",
        start_command=[*start, "-w", "-t", "60", "start"],
    )


def make_replica(primary: Cluster, clusters: list[Cluster]) -> Cluster:
    """A streaming standby of ``primary``, cloned with ``pg_basebackup -R``, started."""
    root = owned_dir("bt-fo-replica-")
    (root / "sock").mkdir()
    shutil.chown(root / "sock", "postgres", "postgres")
    replica = Cluster(root, root / "data", free_port(), primary.bin)
    clusters.append(replica)
    subprocess.run(
        [
            *AS_PG,
            str(primary.bin / "pg_basebackup"),
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-d",
            primary.dsn(),
        ],
        check=True,
        capture_output=True,
        env=pg_env(),
    )
    replica.start()
    return replica


def make_pair(
    clusters: list[Cluster],
    *,
    synchronous: bool = False,
    wal_log_hints: bool = False,
    password: str = "",
    **pair: Any,
) -> Pair:
    """A primary and its streaming replica; ``synchronous``: the replica is a synchronous
    standby (set on the primary only, after the clone: a promoted replica must not wait for
    a standby of its own); ``pair``: more PostgresPairConfig fields."""
    primary = make_cluster(
        owned_dir("bt-fo-primary-"),
        start=False,
        wal_log_hints="on" if wal_log_hints else "off",
        hot_standby="on",
        wal_keep_size="256MB",  # pg_rewind reads the old primary's WAL back to the fork
    )
    clusters.append(primary)
    primary.start()
    replica = make_replica(primary, clusters)
    if synchronous:
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.sql("SELECT pg_reload_conf()")
    wait_state(primary, "sync" if synchronous else "async")
    config = PostgresPairConfig(
        primary=node(primary, password),
        replica=node(replica, password),
        synchronous=synchronous,
        **pair,
    )
    return Pair(primary, replica, config)


def wait_state(primary: Cluster, sync_state: str, timeout: float = 60) -> None:
    """Until ``primary`` streams to a standby with this sync_state."""
    deadline = time.monotonic() + timeout
    while (
        primary.value(
            "SELECT count(*) FROM pg_stat_replication"
            " WHERE state = 'streaming' AND sync_state = %s",
            (sync_state,),
        )
        < 1
    ):
        assert time.monotonic() < deadline, f"no {sync_state} standby after {timeout} s"
        time.sleep(0.05)


def in_recovery(cluster: Cluster) -> bool:
    return bool(cluster.value("SELECT pg_is_in_recovery()"))


def dsn_file(path: Path, cluster: Cluster) -> Path:
    path.write_text(cluster.dsn() + "\n")
    return path
