"""Promoting a replica further behind than the limit is refused with the lag shown, unless
forced."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import check_lag, promote, replication_status
from tests.conftest import wait_until
from tests.runbooks.failover.conftest import RedisPairServers
from tests.runbooks.failover.stall_proxy import StallProxy


def test_lag_is_measured_in_bytes(stalled: tuple[RedisPairServers, StallProxy]) -> None:
    """The status shows the replica two megabytes behind while its link looks up."""
    servers, _ = stalled
    status = replication_status(servers.pair)
    assert status.link_up
    assert status.lag_bytes is not None
    assert status.lag_bytes >= 2_000_000


def test_lag_over_the_limit_is_refused(stalled: tuple[RedisPairServers, StallProxy]) -> None:
    """check_lag and promote refuse, naming the lag in bytes and the limit."""
    servers, _ = stalled
    pattern = r"is \d{7,} bytes behind the primary \(limit 1048576 bytes"
    with pytest.raises(FailoverError, match=pattern):
        check_lag(servers.pair)
    with pytest.raises(FailoverError, match=pattern):
        promote(servers.pair)
    assert servers.role(servers.replica) == "slave"


def test_a_forced_promotion_goes_ahead(stalled: tuple[RedisPairServers, StallProxy]) -> None:
    """Forced, the replica is promoted without the unreplicated write, and the lag is kept."""
    servers, _ = stalled
    promoted = promote(servers.pair, force=True)
    assert promoted.lag.forced
    assert promoted.lag.status.lag_bytes is not None
    assert promoted.lag.status.lag_bytes >= 2_000_000
    assert servers.role(servers.replica) == "master"
    assert servers.client(servers.replica).get("big") is None


def test_a_higher_limit_accepts_it(stalled: tuple[RedisPairServers, StallProxy]) -> None:
    """With max_lag_bytes above the lag, check_lag passes."""
    servers, _ = stalled
    assert check_lag(replace(servers.pair, max_lag_bytes=10_000_000)).ok


def test_lag_in_seconds_over_the_limit_is_refused(
    stalled: tuple[RedisPairServers, StallProxy],
) -> None:
    """Once the replica has not acknowledged for longer than max_lag_seconds, it is refused
    in seconds."""
    servers, _ = stalled
    pair = replace(servers.pair, max_lag_bytes=10_000_000, max_lag_seconds=1.0)

    def behind() -> bool:
        status = replication_status(pair)
        return status.lag_seconds is not None and status.lag_seconds > 1

    wait_until(behind, "the replica's last acknowledgement to age", timeout=30)
    with pytest.raises(FailoverError, match=r"is \d+ s behind the primary \(limit 1 s"):
        check_lag(pair)


def test_a_dead_primary_leaves_the_lag_unknown(redis_pair: RedisPairServers) -> None:
    """With the primary gone the link is down: promotion is refused unless forced."""
    redis_pair.primary.stop()

    def down() -> bool:
        client = redis.Redis(port=redis_pair.replica.port, decode_responses=True)
        try:
            return bool(client.info("replication")["master_link_status"] == "down")
        finally:
            client.close()

    wait_until(down, "the replica to see its primary gone")
    with pytest.raises(FailoverError, match="link to the primary is down and its lag is unknown"):
        promote(redis_pair.pair)
    assert promote(redis_pair.pair, force=True).lag.forced
    assert redis_pair.role(redis_pair.replica) == "master"
