"""A failover under a canary write load: the old primary re-attached, loss measured, and
none with WAIT 1."""

from __future__ import annotations

from buttress.runbooks.failover.redis_canary import RedisCanary, drill
from tests.runbooks.failover.conftest import RedisPairServers


def test_failover_without_wait_measures_the_loss(redis_pair: RedisPairServers) -> None:
    """Asynchronous: the drill counts acknowledged writes the new primary lacks, and the
    old primary ends as its replica with every write the new primary has."""
    result = drill(redis_pair.pair, key="canary:async")
    assert result.acknowledged > 200
    assert result.failover_seconds is not None
    assert result.failover_seconds > 0
    assert 0 <= result.lost < result.acknowledged
    assert redis_pair.role(redis_pair.replica) == "master"
    assert redis_pair.role(redis_pair.primary) == "slave"
    new, old = redis_pair.client(redis_pair.replica), redis_pair.client(redis_pair.primary)
    length = new.llen("canary:async")
    redis_pair.wait_link_up(redis_pair.primary)
    new.wait(1, 5000)
    assert old.llen("canary:async") == length


def test_failover_with_wait_loses_nothing(redis_pair: RedisPairServers) -> None:
    """With WAIT 1 every acknowledged write survives the failover."""
    result = drill(redis_pair.pair, wait_replicas=1, key="canary:sync")
    assert result.acknowledged > 200
    assert result.lost == 0
    assert result.failover_seconds is not None


def test_the_canary_counts_a_missing_write_as_lost(redis_pair: RedisPairServers) -> None:
    """An acknowledged number deleted from the list is reported lost."""
    canary = RedisCanary([redis_pair.primary.url], key="canary:check")
    with canary:
        canary.wait_for(50, 10)
    client = redis_pair.client(redis_pair.primary)
    client.lrem("canary:check", 1, "7")
    assert canary.lost(redis_pair.primary.url) == [7]
