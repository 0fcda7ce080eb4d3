"""Promotion is refused while the replica lags beyond the limit (the lag shown), unless
forced; forcing promotes it and replays what it had received."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.postgres import promote, replication_status
from tests.backup.pg_cluster import Cluster
from tests.conftest import wait_until
from tests.runbooks.failover.pg_pair import in_recovery, make_pair


def test_promote_is_refused_when_lag_exceeds_the_limit(pg_clusters: list[Cluster]) -> None:
    """A replica whose replay is paused behind 20,000 new rows is not promoted: the error
    shows its lag in bytes against max_lag_bytes, and it stays a standby."""
    pair = make_pair(pg_clusters, max_lag_bytes=64 * 1024)
    pair.replica.sql("SELECT pg_wal_replay_pause()")
    pair.primary.sql("CREATE TABLE lagged AS SELECT g AS n FROM generate_series(1, 20000) g")
    lag = replication_status(pair.config)
    assert lag.bytes > 64 * 1024
    assert lag.replay_paused
    with pytest.raises(FailoverError, match=r"\d+ bytes > max_lag_bytes 65536") as caught:
        promote(pair.config)
    assert f"127.0.0.1:{pair.replica.port}" in str(caught.value)
    assert in_recovery(pair.replica)


def test_forced_promotion_goes_ahead_and_replays_what_was_received(
    pg_clusters: list[Cluster],
) -> None:
    """With force, the lagging replica is promoted (replay resumed first) and has the rows."""
    pair = make_pair(pg_clusters, max_lag_bytes=64 * 1024)
    pair.replica.sql("SELECT pg_wal_replay_pause()")
    pair.primary.sql("CREATE TABLE lagged AS SELECT g AS n FROM generate_series(1, 20000) g")
    received = pair.primary.value("SELECT pg_current_wal_lsn()::text")
    wait_until(
        lambda: bool(
            pair.replica.value("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", (received,))
        ),
        "the replica received the rows",
    )
    promoted = promote(pair.config, force=True)
    assert promoted.forced
    assert promoted.lag.bytes > 64 * 1024
    assert not in_recovery(pair.replica)
    assert pair.replica.value("SELECT count(*) FROM lagged") == 20000
