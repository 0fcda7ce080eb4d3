"""A primary cut off from its replica, then lost: what asynchronous replication loses, and
WAIT 1 does not."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import promote, wait_writable
from buttress.runbooks.failover.redis_canary import RedisCanary
from tests.conftest import wait_until
from tests.runbooks.failover.conftest import RedisPairServers
from tests.runbooks.failover.stall_proxy import StallProxy


@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_writes_acknowledged_during_a_partition(
    proxied: tuple[RedisPairServers, StallProxy], wait_replicas: int
) -> None:
    """Without WAIT, the writes acknowledged after the link was cut are lost, and counted;
    with WAIT 1 none is acknowledged then, so none is lost."""
    servers, proxy = proxied
    canary = RedisCanary(
        [servers.primary.url, servers.replica.url],
        key="canary:partition",
        wait_replicas=wait_replicas,
        wait_timeout=0.1,
    )
    with canary:
        canary.wait_for(100, 10, server=0)
        proxy.held.set()
        cut, failed = len(canary.acknowledged), canary.failed
        if wait_replicas == 0:
            canary.wait_for(cut + 20, 10, server=0)
        else:
            wait_until(lambda: canary.failed >= failed + 3, "writes to go unacknowledged")
        servers.primary.stop()
        # the first writes after the cut may have been sent before it
        after_cut = [w.seq for w in canary.acknowledged[cut + 2 :] if w.server == 0]
        with pytest.raises(FailoverError, match="the primary does not answer and its lag"):
            promote(servers.pair)
        promote(servers.pair, force=True)
        wait_writable(servers.replica.url, 10)
    lost = canary.lost(servers.replica.url)
    if wait_replicas == 0:
        assert len(after_cut) >= 18
        assert set(after_cut) <= set(lost)
    else:
        assert lost == []
