"""Promoting a server that is not a replica is refused, forced or not."""

from __future__ import annotations

import pytest

from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import promote
from tests.runbooks.failover.conftest import RedisPairServers


@pytest.mark.parametrize("force", [False, True])
def test_promoting_a_primary_is_refused(redis_pair: RedisPairServers, force: bool) -> None:
    """A pair whose 'replica' is a primary is refused with its role, even when forced."""
    with pytest.raises(FailoverError, match=r"is not a replica \(role master\)"):
        promote(redis_pair.pair.reversed(), force=force)
    assert redis_pair.role(redis_pair.replica) == "slave"
