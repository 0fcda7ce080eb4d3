"""The `state:` section: a Redis store for every named policy, per-policy sharing and failure
modes, clear errors for bad settings, the password masked, and the store's metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from buttress.config import load_text
from buttress.errors import ConfigError
from buttress.resilience import Bulkhead, CircuitBreaker, RateLimiter, RetryBudget
from buttress.resilience.instrumentation.prometheus import PrometheusMetrics
from buttress.resilience.registry import PolicyRegistry, configure
from buttress.state import MemoryStore, RedisStore, open_store
from tests.conftest import OwnRedis

YAML = """
state:
  backend: redis
  url: {url}
  prefix: {prefix}
  command_timeout: 200ms
  on_store_failure: deny
resilience:
  defaults:
    circuit_breaker: {{failure_rate: 50, minimum_calls: 5, wait: 30s}}
  policies:
    api:
      rate_limit: {{algorithm: gcra, rate: 3, per: 60s}}
      bulkhead: {{max_concurrent: 2, lease: 10s}}
      retry: {{attempts: 2, budget_ratio: 0.1}}
      on_store_failure: local
    cache:
      shared: false
      rate_limit: {{rate: 3, per: 60s}}
"""


def _parts(registry: PolicyRegistry, name: str) -> dict[type, object]:
    return {_kind(p): p for p in registry.get(name).policies}


def _kind(policy: object) -> type:
    for kind in (CircuitBreaker, RateLimiter, Bulkhead):
        if isinstance(policy, kind):
            return kind
    return type(policy)


def test_named_policies_share_state_through_the_configured_store(
    store_url: str, prefix: str
) -> None:
    config = load_text(YAML.format(url=store_url, prefix=prefix))
    one = PolicyRegistry(config.resilience, open_store(config.state), "deny")
    two = PolicyRegistry(config.resilience, open_store(config.state), "deny")  # another process
    try:
        a, b = _parts(one, "api"), _parts(two, "api")
        limiter_a, limiter_b = a[RateLimiter], b[RateLimiter]
        assert isinstance(limiter_a, RateLimiter)
        assert isinstance(limiter_b, RateLimiter)
        assert [limiter_a.try_acquire("u").allowed for _ in range(2)] == [True, True]
        assert limiter_b.try_acquire("u").allowed
        assert not limiter_a.try_acquire("u").allowed  # 3 per minute, across both
        breaker = a[CircuitBreaker]
        assert isinstance(breaker, CircuitBreaker)
        assert breaker.store_mode == "shared"
        assert breaker._guard is not None
        assert breaker._guard.mode == "local"
        budget = one.get("api").policies[0]._budget  # type: ignore[attr-defined]
        assert isinstance(budget, RetryBudget)
        assert budget.store_mode == "shared"
        bulkhead = a[Bulkhead]
        assert isinstance(bulkhead, Bulkhead)
        assert bulkhead.lease == 10.0
        cache = _parts(one, "cache")[RateLimiter]
        assert isinstance(cache, RateLimiter)
        assert cache.store_mode == "memory"
    finally:
        for registry in (one, two):
            assert registry.store is not None
            registry.store.close()
        from tests.state.conftest import drop_prefix

        drop_prefix(store_url, prefix)


def test_configure_opens_the_store_and_closes_the_previous_one(redis_url: str) -> None:
    config = load_text(YAML.format(url=redis_url, prefix="bt-configure"))
    registry = configure(config)
    assert registry is not None
    assert isinstance(registry.store, RedisStore)
    assert registry.on_store_failure == "deny"
    store = registry.store
    store.agent  # noqa: B018  # started
    configure(None)
    assert store._agent is None  # closed with the registry it belonged to
    assert isinstance(open_store(load_text("").state), MemoryStore)


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("state: {backend: redis, url: 'http://x'}", "state: url: expected redis://"),
        ("state: {backend: mongo}", "state.backend"),
        ("state: {prefix: 'a{b}'}", "state.prefix"),
        ("state: {command_timeout: 0}", "state.command_timeout"),
        ("state: {on_store_failure: open}", "state.on_store_failure"),
        ("state: {cluster: maybe}", "state.cluster"),
        (
            "state: {backend: redis, url: 'redis+cluster://h:1', cluster: false}",
            "cluster: false contradicts the url's +cluster:// scheme",
        ),
        (
            "state: {backend: redis, url: 'unix:///run/redis.sock', cluster: true}",
            "cluster: true needs a TCP url",
        ),
        ("state: {tls: {verfy: true}}", "did you mean 'verify'"),
        ("resilience: {policies: {x: {on_store_failure: maybe}}}", "on_store_failure"),
        ("resilience: {policies: {x: {bulkhead: {lease: 0}}}}", "lease"),
    ],
)
def test_bad_state_settings_are_named(fragment: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(fragment, filename="buttress.yaml")
    assert message in str(caught.value)
    assert "buttress.yaml:1:" in str(caught.value)


def test_the_redis_password_is_masked_when_the_config_is_shown() -> None:
    config = load_text("state: {backend: redis, url: 'redis://app:hunter2@127.0.0.1:6379/0'}")
    shown = config.model_dump_json()
    assert "hunter2" not in shown
    assert "***" in shown
    assert "hunter2" not in open_store(config.state).describe()


def test_store_errors_and_mode_are_metrics(own_redis: OwnRedis) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.install()
    store = RedisStore(own_redis.url, prefix="metrics", command_timeout=0.2, retry_interval=5)
    limiter = RateLimiter.gcra(rate=5, name="api", store=store, on_store_failure="allow")
    metrics.track(limiter)
    try:
        limiter.try_acquire("k")
        assert (
            registry.get_sample_value(
                "buttress_state_store_mode", {"policy": "api", "mode": "shared"}
            )
            == 1.0
        )
        own_redis.stop()
        for _ in range(10):
            limiter.try_acquire("k")
        assert (
            registry.get_sample_value(
                "buttress_state_store_mode", {"policy": "api", "mode": "allow"}
            )
            == 1.0
        )
        # one failed attempt; the other nine calls did not ask Redis (retry_interval 5 s)
        assert (
            registry.get_sample_value("buttress_state_store_errors_total", {"policy": "api"}) == 1.0
        )
    finally:
        metrics.uninstall()
        store.close()
