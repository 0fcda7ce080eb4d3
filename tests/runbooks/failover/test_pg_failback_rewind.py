"""Failback rebuilds the old primary with pg_rewind when wal_log_hints allows it: it becomes a
streaming standby of the new primary, with the rows written there since the failover."""

from __future__ import annotations

from buttress.runbooks.failover.pg_failback import failback
from buttress.runbooks.failover.postgres import failover
from tests.backup.pg_cluster import Cluster
from tests.conftest import wait_until
from tests.runbooks.failover.pg_pair import in_recovery, make_pair


def test_failback_rewinds_the_old_primary_into_a_standby(pg_clusters: list[Cluster]) -> None:
    """After a failover and writes on the new primary, failback uses pg_rewind, and the old
    primary streams them as a standby."""
    pair = make_pair(pg_clusters, wal_log_hints=True, fence="read_only")
    failover(pair.config)
    pair.replica.sql("CREATE TABLE since_failover AS SELECT g AS n FROM generate_series(1, 100) g")
    rebuilt = failback(pair.config)
    assert rebuilt.method == "pg_rewind", repr(rebuilt.why_not_rewind)
    assert in_recovery(pair.primary)
    pair.replica.sql("INSERT INTO since_failover VALUES (101)")
    wait_until(
        lambda: pair.primary.value("SELECT count(*) FROM since_failover") == 101,
        "the rebuilt standby replays the new primary's rows",
    )
    assert failback(pair.config).method == "none"  # already a standby: nothing to do
