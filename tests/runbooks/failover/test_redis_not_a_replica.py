"""Promoting a server that is not a replica (of the named primary) is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import promote, replication_status
from tests.conftest import OwnRedis
from tests.runbooks.failover.conftest import RedisPairServers


@pytest.mark.parametrize("force", [False, True])
def test_promoting_a_primary_is_refused(redis_pair: RedisPairServers, force: bool) -> None:
    """A pair whose 'replica' is a primary is refused with its role, even when forced."""
    with pytest.raises(FailoverError, match=r"is not a replica \(role master\)"):
        promote(redis_pair.pair.reversed(), force=force)
    assert redis_pair.role(redis_pair.replica) == "slave"


def test_a_replica_of_another_primary_is_refused(
    redis_pair: RedisPairServers, own_redis: OwnRedis
) -> None:
    """A replica whose replication history is not the named primary's is refused."""
    pair = replace(redis_pair.pair, primary=own_redis.url)
    assert replication_status(pair).replicates_primary is False
    with pytest.raises(FailoverError, match="replicates another primary"):
        promote(pair)
    assert redis_pair.role(redis_pair.replica) == "slave"
