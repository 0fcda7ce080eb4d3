"""The Redis pair's configuration: defaults, refusals, and passwords kept out of messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from buttress.config._failover import FailoverConfig
from buttress.config._failover_redis import RedisPairConfig, RedisRepointUrlFile
from buttress.runbooks.failover.errors import FailoverError
from buttress.runbooks.failover.redis import RedisPair, fence, replication_status
from tests.conftest import free_port


def test_a_pair_with_sentinel_and_repoint() -> None:
    """Durations are read, the sentinel and the repoint hook kept, defaults filled in."""
    config = FailoverConfig.model_validate(
        {
            "redis": {
                "cache": {
                    "primary": "redis://:pw@10.0.0.1:6379/0",
                    "replica": "redis://:pw@10.0.0.2:6379/0",
                    "max_lag_seconds": "5s",
                    "sentinel": {"urls": ["redis://10.0.0.9:26379"], "master": "cache"},
                    "repoint": {"type": "url_file", "path": "/etc/app/redis.url"},
                }
            }
        }
    )
    pair = RedisPair.from_config("cache", config.redis["cache"])
    assert pair.max_lag_seconds == 5.0
    assert pair.max_lag_bytes == 1_048_576
    assert pair.fence == "pause"
    assert pair.sentinel is not None
    assert pair.sentinel.master == "cache"
    assert isinstance(pair.repoint, RedisRepointUrlFile)
    assert "pw" not in repr(pair)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"replica": "http://10.0.0.2"}, "expected redis://"),
        ({"replica": "redis://:pw@10.0.0.1:6379/0"}, "the same server"),
        ({"fence": "shutdown"}, "pause"),
        ({"max_lag_bytes": -1}, "greater than or equal to 0"),
        ({"repoint": {"type": "smoke"}}, "command"),
    ],
)
def test_bad_values_are_refused(change: dict[str, object], message: str) -> None:
    """A wrong scheme, one server twice, an unknown fence, a negative limit or hook kind."""
    values = {"primary": "redis://:pw@10.0.0.1:6379/0", "replica": "redis://10.0.0.2:6379/0"}
    with pytest.raises(ValidationError, match=message):
        RedisPairConfig.model_validate(values | change)


def test_errors_mask_the_password() -> None:
    """A server that does not answer is named in the error with its password masked."""
    port = free_port()
    pair = RedisPair(
        "cache",
        f"redis://app:hunter2@127.0.0.1:{port}/0",
        f"redis://:hunter3@127.0.0.1:{free_port()}/0",
        timeout=0.5,
    )
    with pytest.raises(FailoverError) as caught:
        fence(pair)
    assert f"redis://app:***@127.0.0.1:{port}/0" in str(caught.value)
    status = replication_status(pair)
    assert not status.replica_reachable
    assert "hunter" not in repr(status)
    assert "hunter" not in status.describe()
