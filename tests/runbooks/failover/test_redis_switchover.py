"""After a failover, the old primary re-attached and a switchover back lose nothing."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import fence, promote, reattach, switchover, wait_writable
from buttress.runbooks.failover.redis_canary import RedisCanary
from tests.runbooks.failover.conftest import RedisPairServers


def _fail_over(servers: RedisPairServers) -> None:
    fence(servers.pair)
    promote(servers.pair)
    wait_writable(servers.replica.url, 10)


def test_reattach_makes_the_old_primary_a_synced_replica(redis_pair: RedisPairServers) -> None:
    """The old primary replicates the new one, writes made since included, unpaused."""
    _fail_over(redis_pair)
    redis_pair.client(redis_pair.replica).set("after", "failover")
    done = reattach(redis_pair.pair)
    assert done.status.link_up
    assert done.status.lag_bytes == 0
    assert redis_pair.role(redis_pair.primary) == "slave"
    assert redis_pair.client(redis_pair.primary).get("after") == "failover"


def test_switchover_back_under_load_loses_nothing(redis_pair: RedisPairServers) -> None:
    """Even without WAIT, a switchover back keeps every acknowledged write, and the pair ends
    as it started."""
    _fail_over(redis_pair)
    reattach(redis_pair.pair)
    canary = RedisCanary([redis_pair.replica.url, redis_pair.primary.url], key="canary:back")
    with canary:
        canary.wait_for(200, 10, server=0)
        result = switchover(redis_pair.pair)
        canary.wait_for(50, 10, server=1)
    assert result.reattached.status.lag_bytes == 0
    assert redis_pair.role(redis_pair.primary) == "master"
    assert redis_pair.role(redis_pair.replica) == "slave"
    assert canary.lost(redis_pair.primary.url) == []


def test_switchover_needs_a_connected_replica(redis_pair: RedisPairServers) -> None:
    """Without the failover first, the configured primary is no replica: refused."""
    with pytest.raises(FailoverError, match="is not a connected replica"):
        switchover(redis_pair.pair)
    assert redis_pair.role(redis_pair.primary) == "master"
