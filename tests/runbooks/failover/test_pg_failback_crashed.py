"""Failback after the old primary crashed (no clean shutdown) still uses pg_rewind: it runs
crash recovery first, and the rebuilt standby follows the new primary."""

from __future__ import annotations

from buttress.runbooks.failover.pg_failback import failback
from buttress.runbooks.failover.postgres import failover
from tests.backup.pg_cluster import Cluster
from tests.conftest import wait_until
from tests.runbooks.failover.pg_pair import in_recovery, make_pair


def test_failback_rewinds_a_crashed_old_primary(pg_clusters: list[Cluster]) -> None:
    """The primary is killed mid-writes (immediate stop), the replica promoted; failback
    rewinds the crashed one into a standby that replays the new primary's writes."""
    pair = make_pair(pg_clusters, wal_log_hints=True, fence="stop")
    pair.primary.sql("CREATE TABLE before_crash AS SELECT g AS n FROM generate_series(1, 1000) g")
    pair.primary.stop("immediate")
    failover(pair.config)
    pair.replica.sql("CREATE TABLE after_crash (n int)")
    rebuilt = failback(pair.config)
    assert rebuilt.method == "pg_rewind", repr(rebuilt.why_not_rewind)
    assert in_recovery(pair.primary)
    pair.replica.sql("INSERT INTO after_crash VALUES (1)")
    wait_until(
        lambda: pair.primary.value("SELECT count(*) FROM after_crash") == 1,
        "the rebuilt standby replays the new primary's rows",
    )
