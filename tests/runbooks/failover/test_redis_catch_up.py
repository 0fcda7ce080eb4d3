"""After the fence, catch_up waits until the replica has everything the old primary wrote."""

from __future__ import annotations

import threading

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import catch_up, fence
from tests.runbooks.failover.conftest import RedisPairServers
from tests.runbooks.failover.stall_proxy import StallProxy


def test_the_replica_catches_up_once_the_link_flows(
    stalled: tuple[RedisPairServers, StallProxy],
) -> None:
    """Writes held on a stalled link arrive; catch_up returns with nothing missing."""
    servers, proxy = stalled
    fence(servers.pair)
    threading.Timer(0.2, proxy.held.clear).start()
    caught = catch_up(servers.pair)
    assert caught.lag_bytes == 0
    assert servers.client(servers.replica).strlen("big") == 2_000_000


def test_a_replica_that_does_not_catch_up_is_an_error(
    stalled: tuple[RedisPairServers, StallProxy],
) -> None:
    """Still behind at the timeout: refused with the lag shown, or forced and returned."""
    servers, _ = stalled
    fence(servers.pair)
    with pytest.raises(FailoverError, match=r"offset still differs .* \(lag \d{7,} bytes"):
        catch_up(servers.pair, timeout=0.3)
    forced = catch_up(servers.pair, timeout=0.3, force=True)
    assert forced.lag_bytes is not None
    assert forced.lag_bytes >= 2_000_000
