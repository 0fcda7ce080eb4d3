"""A planned failover with the read-only fence: the old primary refuses writes, the replica
replays everything the old primary had, so even an asynchronous standby loses nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from buttress.config._failover_pg import RepointDsnFileConfig
from buttress.runbooks.failover.canary import Canary
from buttress.runbooks.failover.postgres import failover
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import dsn_file, in_recovery, make_pair


def test_read_only_fence_then_failover_loses_nothing(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """After the failover the old primary is read-only (its sessions were ended), the new one
    has every acknowledged canary row and takes the canary's writes."""
    target = tmp_path / "primary.dsn"
    pair = make_pair(pg_clusters, fence="read_only", repoint=RepointDsnFileConfig(dsn_file=target))
    dsn_file(target, pair.primary)
    with Canary(target) as canary:
        canary.wait_acks(300)
        done = failover(pair.config)
        canary.wait_acks(len(canary.acks) + 50)
    assert done.fenced.applied
    assert done.caught_up_bytes == 0
    assert not in_recovery(pair.replica)
    assert canary.data_loss(pair.replica.dsn()) == []
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        pair.primary.sql("CREATE TABLE after_fence (n int)")
