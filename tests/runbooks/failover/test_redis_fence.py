"""The fence stops the old primary taking writes: paused, or demoted (READONLY)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import fence, promote, reattach
from buttress.runbooks.failover.redis_canary import drill
from tests.conftest import free_port
from tests.runbooks.failover.conftest import RedisPairServers


def test_a_paused_primary_holds_writes_and_serves_reads(redis_pair: RedisPairServers) -> None:
    """CLIENT PAUSE WRITE: a write waits (here past its client's timeout), a read answers;
    re-attaching lifts the pause."""
    done = fence(redis_pair.pair)
    assert done.reached
    client = redis.Redis(
        port=redis_pair.primary.port, socket_timeout=0.3, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(redis.TimeoutError):
        client.set("k", "v")
    assert redis.Redis(port=redis_pair.primary.port, socket_timeout=5).get("nothing") is None
    promote(redis_pair.pair)
    reattach(redis_pair.pair)
    with pytest.raises(redis.ReadOnlyError):
        redis.Redis(port=redis_pair.primary.port, socket_timeout=5).set("k", "v")


def test_a_demoted_primary_refuses_writes(redis_pair: RedisPairServers) -> None:
    """fence: demote makes the old primary answer READONLY at once."""
    pair = replace(redis_pair.pair, fence="demote")
    fence(pair)
    with pytest.raises(redis.ReadOnlyError):
        redis.Redis(port=redis_pair.primary.port, socket_timeout=5).set("k", "v")


def test_a_demote_failover_under_load_loses_nothing(redis_pair: RedisPairServers) -> None:
    """The drill with a demote fence: promoted, re-attached, no acknowledged write lost."""
    result = drill(replace(redis_pair.pair, fence="demote"), key="canary:demote")
    assert result.lost == 0
    assert redis_pair.role(redis_pair.replica) == "master"
    assert redis_pair.role(redis_pair.primary) == "slave"


def test_an_unreachable_primary_is_fenced_only_when_forced(
    redis_pair: RedisPairServers,
) -> None:
    """A primary that does not answer fails the fence; forced, it is reported unreached."""
    pair = replace(redis_pair.pair, primary=f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(FailoverError, match="fence \\(pause\\)"):
        fence(pair)
    assert not fence(pair, force=True).reached
