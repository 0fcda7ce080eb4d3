"""After failover and failback, the planned switchover back: the current primary is read-only
during the final sync, so the canary loses nothing and ends up writing to the first primary."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from buttress.config._failover_pg import RepointDsnFileConfig
from buttress.runbooks.failover.canary import Canary
from buttress.runbooks.failover.pg_failback import failback, switchover
from buttress.runbooks.failover.postgres import failover
from tests.backup.pg_cluster import Cluster
from tests.runbooks.failover.pg_pair import dsn_file, in_recovery, make_pair


def test_switchover_back_to_the_rebuilt_primary_loses_nothing(
    pg_clusters: list[Cluster], tmp_path: Path
) -> None:
    """Failover, failback (pg_rewind), then switchover under canary load: the first primary
    is the primary again with every acknowledged row, the replica is left read-only."""
    target = tmp_path / "primary.dsn"
    pair = make_pair(
        pg_clusters,
        wal_log_hints=True,
        fence="read_only",
        repoint=RepointDsnFileConfig(dsn_file=target),
    )
    dsn_file(target, pair.primary)
    failover(pair.config)
    failback(pair.config)
    with Canary(target) as canary:
        canary.wait_acks(300)
        switched = switchover(pair.config)
        canary.wait_acks(len(canary.acks) + 50)
    assert switched.to_server.endswith(f":{pair.primary.port}/postgres")
    assert target.read_text().strip() == pair.primary.dsn()
    assert not in_recovery(pair.primary)
    assert canary.data_loss(pair.primary.dsn()) == []
    assert canary.acks[-1].dsn == pair.primary.dsn()
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        pair.replica.sql("CREATE TABLE after_switchover (n int)")
