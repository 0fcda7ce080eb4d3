"""What shared policies do when Redis stops, hangs or comes back: each on_store_failure mode,
decided without waiting for Redis, logged once per transition, recovered automatically."""

from __future__ import annotations

import logging
import time

import pytest

from buttress.resilience import RateLimiter, events
from buttress.resilience.errors import RateLimitedError
from buttress.state import RedisStore
from tests.conftest import OwnRedis


def _store(server: OwnRedis) -> RedisStore:
    return RedisStore(
        server.url, prefix="fault", command_timeout=0.2, connect_timeout=0.2, retry_interval=0.3
    )


def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_local_mode_limits_in_process_while_redis_is_down_and_recovers(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(own_redis)
    seen: list[events.Event] = []
    limiter = RateLimiter.fixed_window(
        limit=3, window=60, name="local", store=store, listeners=(seen.append,)
    )
    assert limiter.try_acquire("k").allowed
    assert limiter.store_mode == "shared"
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="buttress.state"):
        decisions = [limiter.try_acquire("k") for _ in range(50)]
        # in-process state: its own 3 permits, then refusals, none of them an exception
        assert [d.allowed for d in decisions[:4]] == [True, True, True, False]
        assert all(not d.allowed for d in decisions[3:])
        assert limiter.store_mode == "local"
        own_redis.start()  # same port, empty data
        _wait_for(
            lambda: limiter.try_acquire("fresh").reason == "ok" and limiter.store_mode == "shared"
        )
    changes = [e for e in seen if isinstance(e, events.StateStoreModeChanged)]
    assert [(e.old, e.new) for e in changes] == [("shared", "local"), ("local", "shared")]
    assert sum(isinstance(e, events.StateStoreFailed) for e in seen) >= 1
    transitions = [r for r in caplog.records if r.name == "buttress.state"]
    assert len(transitions) == 2, [r.getMessage() for r in transitions]  # once per transition
    assert "unavailable" in transitions[0].getMessage()
    assert "answers again" in transitions[1].getMessage()
    store.close()


def test_allow_mode_lets_calls_through_and_deny_mode_refuses_them(own_redis: OwnRedis) -> None:
    store = _store(own_redis)
    allow = RateLimiter.gcra(rate=1, per=60, name="allow", store=store, on_store_failure="allow")
    deny = RateLimiter.gcra(rate=100, per=1, name="deny", store=store, on_store_failure="deny")
    assert allow.try_acquire("k").allowed
    assert deny.try_acquire("k").allowed
    own_redis.stop()
    assert all(allow.try_acquire("k").reason == "store_allow" for _ in range(20))
    assert allow.call(lambda: "ran") == "ran"
    refused = [deny.try_acquire("k") for _ in range(20)]
    assert all(d.reason == "store_deny" and not d.allowed for d in refused)
    assert refused[0].retry_after == store.retry_interval
    with pytest.raises(RateLimitedError):
        deny.call(lambda: "never")
    assert (allow.store_mode, deny.store_mode) == ("allow", "deny")
    own_redis.start()
    _wait_for(lambda: deny.try_acquire("k2").reason == "ok")
    assert deny.store_mode == "shared"
    store.close()


def test_a_hanging_redis_is_decided_within_the_command_timeout(own_redis: OwnRedis) -> None:
    store = _store(own_redis)
    limiter = RateLimiter.token_bucket(rate=100, name="slow", store=store, on_store_failure="allow")
    assert limiter.try_acquire("k").reason == "ok"
    sleeper = own_redis.debug_sleep(3)  # returns once the server has stopped answering
    started = time.monotonic()
    first = limiter.try_acquire("k")
    elapsed = time.monotonic() - started
    rest = [limiter.try_acquire("k").reason for _ in range(100)]
    assert first.reason == "store_allow"
    # a 0.2 s command timeout against a 3 s hang: the caller did not wait for Redis
    assert elapsed < 2.5, elapsed
    assert set(rest) == {"store_allow"}  # and the others did not wait at all
    sleeper.wait()
    _wait_for(lambda: limiter.try_acquire("k").reason == "ok")
    store.close()


@pytest.mark.anyio
async def test_async_limiter_follows_the_same_modes(own_redis: OwnRedis) -> None:
    store = _store(own_redis)
    limiter = RateLimiter.fixed_window(
        limit=2, window=60, name="async", store=store, on_store_failure="local"
    )
    try:
        assert (await limiter.atry_acquire("k")).allowed
        own_redis.stop()
        got = [(await limiter.atry_acquire("k")).allowed for _ in range(4)]
        assert got == [True, True, False, False]
        assert limiter.store_mode == "local"
    finally:
        await store.aclose()
        store.close()
