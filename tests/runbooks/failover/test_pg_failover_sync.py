"""A failover under canary load, with a synchronous standby, loses no acknowledged write even
when the primary crashes; the canary follows the DSN file to the new primary."""

from __future__ import annotations

from pathlib import Path

from buttress.config._failover_pg import RepointDsnFileConfig
from buttress.runbooks.failover.canary import Canary
from buttress.runbooks.failover.postgres import failover, replication_status
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import dsn_file, in_recovery, make_pair


def test_crash_failover_with_a_sync_standby_loses_no_committed_row(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """The primary is killed (immediate stop) mid-load; after failover every row the canary
    saw acknowledged is on the new primary, which the canary then writes to."""
    target = tmp_path / "primary.dsn"
    pair = make_pair(
        pg_clusters,
        synchronous=True,
        fence="stop",
        repoint=RepointDsnFileConfig(dsn_file=target),
    )
    dsn_file(target, pair.primary)
    assert replication_status(pair.config).sync_state == "sync"
    with Canary(target) as canary:
        canary.wait_acks(300)
        pair.primary.stop("immediate")
        done = failover(pair.config)
        canary.wait_acks(len(canary.acks) + 50)
    new = pair.replica.dsn()
    assert target.read_text().strip() == new
    assert not in_recovery(pair.replica)
    assert canary.data_loss(new) == []
    assert canary.failover_time(done.fenced.started_at, new) is not None
    assert done.promoted.lag.primary_reachable is False
