"""Redis for the shared-state tests: the machine's server (fails, never skips, when it does
not answer) with a fresh key prefix per test, and private redis-servers that a test may stop,
slow down and restart."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis

from buttress.state import RedisStore

REDIS_URL = os.environ.get("BUTTRESS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); run scripts/check.sh")
    return REDIS_URL


def drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"bt-test-{secrets.token_hex(4)}"


@pytest.fixture
def store(redis_url: str, prefix: str) -> Iterator[RedisStore]:
    """A store on the machine's Redis under a prefix of its own (its keys deleted after)."""
    st = RedisStore(redis_url, prefix=prefix, retry_interval=0.2, sync_interval=0.05)
    yield st
    st.close()
    drop_prefix(redis_url, prefix)
