"""The lag in seconds grows while the replica's replay is stuck, and is checked too."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.postgres import check_lag, replication_status
from tests.backup.pg_cluster import Cluster
from tests.conftest import wait_until
from tests.runbooks.failover.pg_pair import make_pair


def test_lag_in_seconds_grows_while_replay_is_paused(pg_clusters: list[Cluster]) -> None:
    """With replay paused behind new rows, a later measure shows a larger lag in seconds
    (not the primary's last replay_lag, which stays put), and max_lag_seconds refuses it."""
    pair = make_pair(pg_clusters, max_lag_bytes=1 << 40)
    pair.primary.sql("CREATE TABLE first AS SELECT 1 AS n")
    wait_until(
        lambda: bool(pair.replica.value("SELECT to_regclass('first') IS NOT NULL")),
        "the replica replayed a first commit",
    )
    pair.replica.sql("SELECT pg_wal_replay_pause()")
    pair.primary.sql("CREATE TABLE behind AS SELECT 1 AS n")
    first = replication_status(pair.config).seconds
    wait_until(lambda: replication_status(pair.config).seconds > first, "the lag grows")
    with pytest.raises(FailoverError, match=r"s > max_lag_seconds 0\.001"):
        check_lag(pair.config, max_seconds=0.001)
    assert check_lag(pair.config, max_seconds=0.001, force=True).seconds > first
