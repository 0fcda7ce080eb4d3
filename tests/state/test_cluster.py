"""Redis Cluster: a cluster node is detected and served by the cluster client (every key to
its slot's node), chosen by the URL or the ``cluster`` setting; a single-endpoint store refuses
a cluster node with the reason; each logical state's keys share one slot."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from buttress.resilience import CircuitBreaker, RateLimiter
from buttress.resilience.rate_limit import (
    GCRA,
    FixedWindow,
    LeakyBucket,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from buttress.state import RedisStore, StoreUnavailableError
from tests.conftest import wait_until
from tests.state.conftest import ClusterNodes, drop_prefix

LUA = [
    algorithm.lua
    for algorithm in (
        TokenBucket(1),
        GCRA(1),
        FixedWindow(1),
        SlidingWindowLog(1),
        SlidingWindowCounter(1),
        LeakyBucket(1),
    )
]


def _limiters(store: RedisStore, count: int, **kwargs: object) -> list[RateLimiter]:
    return [
        RateLimiter.gcra(rate=5, per=60, name=f"limiter-{i}", store=store, **kwargs)  # type: ignore[arg-type]
        for i in range(count)
    ]


def test_a_cluster_node_behind_a_plain_url_is_detected_and_every_limiter_stays_shared(
    redis_cluster: ClusterNodes, prefix: str
) -> None:
    """12 limiters on redis://<one node>: each decides in Redis on its key's node (none falls
    back to local state after a MOVED), and the limit holds exactly."""
    store = RedisStore(redis_cluster.url, prefix=prefix, retry_interval=0.2)
    try:
        limiters = _limiters(store, 12, on_store_failure="deny")
        granted = [sum(lim.try_acquire("user-42").allowed for _ in range(7)) for lim in limiters]
        assert [lim.store_mode for lim in limiters] == ["shared"] * 12
        assert granted == [5] * 12
        assert store.cluster is True
        # the keys really live on several nodes (a single-endpoint client would get MOVED)
        cluster: Any = RedisCluster.from_url(redis_cluster.url)  # get_node_from_key is untyped
        owners = {
            cluster.get_node_from_key(store.key("rl", f"limiter-{i}", "user-42")).name
            for i in range(12)
        }
        cluster.close()
        cluster.disconnect_connection_pools()
        assert len(owners) >= 2
    finally:
        store.close()
        drop_prefix(redis_cluster.url, prefix)


@pytest.mark.anyio
async def test_async_decisions_detect_the_cluster_too(
    redis_cluster: ClusterNodes, prefix: str
) -> None:
    """The asyncio face detects the cluster on its first decision and routes every key."""
    store = RedisStore(redis_cluster.url, prefix=prefix)
    try:
        limiters = _limiters(store, 6, on_store_failure="deny")
        granted = [
            sum([(await lim.atry_acquire("u")).allowed for _ in range(7)]) for lim in limiters
        ]
        assert granted == [5] * 6
        assert [lim.store_mode for lim in limiters] == ["shared"] * 6
        await store.aclose()
    finally:
        store.close()
        drop_prefix(redis_cluster.url, prefix)


@pytest.mark.anyio
async def test_concurrent_first_async_decisions_all_decide_in_redis(
    redis_cluster: ClusterNodes, prefix: str
) -> None:
    """Many coroutines making a fresh store's first decisions at once: none fails over to its
    failure mode (redis.asyncio's cluster client must not be initialized by several at once)."""
    for round_ in range(5):
        store = RedisStore(redis_cluster.url, prefix=f"{prefix}-{round_}", cluster=True)
        try:
            limiters = _limiters(store, 12, on_store_failure="deny")
            decisions = await asyncio.gather(*(lim.atry_acquire("u") for lim in limiters))
            assert [d.reason for d in decisions] == ["ok"] * 12
            await store.aclose()
        finally:
            store.close()
            drop_prefix(redis_cluster.url, f"{prefix}-{round_}")


@pytest.mark.parametrize("how", ["scheme", "setting"])
def test_the_url_scheme_or_the_setting_chooses_the_cluster_client(
    redis_cluster: ClusterNodes, prefix: str, how: str
) -> None:
    """``redis+cluster://`` and ``cluster=True`` use the cluster client without detection."""
    url = redis_cluster.url
    if how == "scheme":
        store = RedisStore(url.replace("redis://", "redis+cluster://"), prefix=prefix)
    else:
        store = RedisStore(url, prefix=prefix, cluster=True)
    try:
        assert store.cluster is True
        assert isinstance(store.client, RedisCluster)
        report = store.check()
        assert report["cluster"] == 3
        breaker = CircuitBreaker.shared(name="db", store=store, failure_rate=50, minimum_calls=10)
        assert breaker.call(lambda: "ok") == "ok"
        assert breaker.store_mode == "shared"
    finally:
        store.close()
        drop_prefix(url, prefix)


def test_a_single_endpoint_store_refuses_a_cluster_node_with_the_reason(
    redis_cluster: ClusterNodes, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``cluster=False`` on a cluster node: check() fails naming the cause, and a policy
    follows its failure mode from its first call, logging why (never a silent local limit)."""
    store = RedisStore(redis_cluster.url, prefix=prefix, cluster=False, retry_interval=60)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.check()
        assert "ClusterModeError: the server is a Redis Cluster node" in str(caught.value)
        limiter = _limiters(store, 1, on_store_failure="deny")[0]
        with caplog.at_level(logging.WARNING, logger="buttress.state"):
            decision = limiter.try_acquire("u")
        assert not decision.allowed
        assert decision.reason == "store_deny"
        assert "Redis Cluster node (INFO cluster: cluster_enabled:1)" in caplog.text
    finally:
        store.close()


def test_cluster_true_on_a_standalone_redis_is_refused(redis_url: str) -> None:
    """A store told it is on a cluster says so when the server is not one."""
    store = RedisStore(redis_url, cluster=True)
    try:
        with pytest.raises(StoreUnavailableError, match=r"[Cc]luster"):
            store.check()
    finally:
        store.close()


def test_a_standalone_redis_is_detected_as_one_endpoint(redis_url: str) -> None:
    """Detection leaves a standalone Redis on the single-endpoint client and its held
    connections (the fast path)."""
    store = RedisStore(redis_url, prefix="bt-detect")
    try:
        assert store.check()["cluster"] is None
        assert store.cluster is False
        limiter = _limiters(store, 1)[0]
        limiter.try_acquire("u")
        assert store._idle  # the decision ran on a held connection
    finally:
        store.close()
        drop_prefix(redis_url, "bt-detect")


def test_every_script_touches_the_keys_of_one_slot(redis_url: str) -> None:
    """Each logical state's keys (a sliding log and its counter, a breaker and its window)
    share a hash tag, so multi-key scripts are valid on a cluster."""
    store = RedisStore(redis_url, prefix="shop:prod")
    try:
        for lua in LUA:
            _, keys, _ = store._limit_call("api{v2}", "user:{42}", lua, (), 1.0, False)
            assert len({key_slot(k.encode()) for k in keys}) == 1, (lua, keys)
        breaker = CircuitBreaker.shared(name="db{x}", store=store, on_store_failure="local")
        keys = breaker._keys
        assert len(keys) == 2
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys
    finally:
        store.close()
        drop_prefix(redis_url, "shop:prod")


def test_a_dead_node_fails_its_keys_like_an_unreachable_redis(tmp_path: Path, prefix: str) -> None:
    """A node that stops answering: decisions for its slots follow on_store_failure (no Redis
    exception reaches the caller), decisions for the other nodes' slots stay shared."""
    nodes = ClusterNodes(tmp_path)
    nodes.start()
    store = RedisStore(nodes.url, prefix=prefix, connect_timeout=0.5, retry_interval=0.1)
    try:
        limiters = [
            RateLimiter.gcra(
                rate=1000, per=60, name=f"limiter-{i}", store=store, on_store_failure="deny"
            )
            for i in range(12)
        ]
        assert all(lim.try_acquire("u").allowed for lim in limiters)
        cluster: Any = RedisCluster.from_url(nodes.url)  # get_node_from_key is untyped
        owner = {
            i: cluster.get_node_from_key(store.key("rl", f"limiter-{i}", "u")).port
            for i in range(12)
        }
        cluster.close()
        cluster.disconnect_connection_pools()
        victim = next(port for port in nodes.ports[1:] if port in owner.values())
        nodes.kill(victim)
        decisions = [lim.try_acquire("u") for lim in limiters]
        for i, decision in enumerate(decisions):
            if owner[i] == victim:
                assert decision.reason == "store_deny", (i, decision)
        live = [i for i in range(12) if owner[i] != victim]
        assert live
        # the client learns the topology again from a live node: their keys are shared again
        for i in live:
            limiter = limiters[i]
            wait_until(partial(_granted_in_redis, limiter), f"limiter-{i} shared again")
    finally:
        store.close()
        nodes.stop()


def _granted_in_redis(limiter: RateLimiter) -> bool:
    return limiter.try_acquire("u").reason == "ok" and limiter.store_mode == "shared"


@pytest.mark.parametrize("scheme", ["redis://", "redis+cluster://"])
def test_the_password_is_masked_in_cluster_errors(redis_cluster: ClusterNodes, scheme: str) -> None:
    """Refused credentials on a cluster node: the error names the store, never the password."""
    url = redis_cluster.url.replace("redis://", f"{scheme}app:pw-not-shown@")
    store = RedisStore(url, connect_timeout=0.5)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.check()
    finally:
        store.close()
    message = str(caught.value)
    assert "pw-not-shown" not in message
    assert f"{scheme}app:***@127.0.0.1:{redis_cluster.ports[0]}/0" in message


def test_the_shared_degradation_level_reaches_every_replica_on_a_cluster(
    redis_cluster: ClusterNodes,
) -> None:
    """The shared level (a hash per fleet, notices by pub/sub) works through the cluster
    client too: a replica that runs hot raises the other one."""
    from buttress import flags
    from tests.degradation.test_shared_level import _replica

    hot, cool = {"value": 10.0}, {"value": 10.0}
    a, b = _replica(redis_cluster.url, hot, ttl=1.0), _replica(redis_cluster.url, cool, ttl=1.0)
    try:
        a.evaluate()
        b.evaluate()
        hot["value"] = 90
        assert a.evaluate().level == "YELLOW"
        wait_until(lambda: b.state.level == "YELLOW", "the other replica to follow")
        assert b.state.reasons[0] == "another replica is at YELLOW"
    finally:
        for controller in (a, b):
            if controller._shared is not None:
                controller._shared.close()
                controller._shared.store.close()
        flags.publish(None, frozenset(), {})
        drop_prefix(redis_cluster.url, "lvl")
