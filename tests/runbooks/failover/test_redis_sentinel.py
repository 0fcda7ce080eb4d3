"""With Sentinel, failover asks it (SENTINEL FAILOVER) and waits for the new master."""

from __future__ import annotations

from dataclasses import replace

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import SentinelSpec, sentinel_failover
from buttress.runbooks.failover.redis_plans import plan_sentinel_failover
from tests.conftest import free_port, wait_until
from tests.runbooks.failover.conftest import SentinelServers


def test_sentinel_fails_over_to_the_replica(redis_sentinel: SentinelServers) -> None:
    """Sentinel reports the replica as master, which then takes writes."""
    servers = redis_sentinel.servers
    dead = f"redis://127.0.0.1:{free_port()}"
    spec = SentinelSpec((dead, redis_sentinel.url), "cache", timeout=60)
    pair = replace(servers.pair, sentinel=spec, timeout=0.5)
    assert plan_sentinel_failover(pair).probes[1].reachable
    done = sentinel_failover(pair)
    assert done.old == f"127.0.0.1:{servers.primary.port}"
    assert done.new == f"127.0.0.1:{servers.replica.port}"
    wait_until(lambda: servers.role(servers.replica) == "master", "the replica to be master")


def test_an_unknown_master_name_is_an_error(redis_sentinel: SentinelServers) -> None:
    """A master name the Sentinel does not monitor is refused, nothing changed."""
    servers = redis_sentinel.servers
    pair = replace(servers.pair, sentinel=SentinelSpec((redis_sentinel.url,), "orders"))
    with pytest.raises(FailoverError, match="knows no master 'orders'"):
        sentinel_failover(pair)
    assert servers.role(servers.replica) == "slave"
