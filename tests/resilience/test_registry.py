"""Named policies from the resilience: section of buttress.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import buttress.resilience as resilience
from buttress.config import load_text
from buttress.errors import ConfigError
from buttress.resilience import CircuitBreaker, RateLimiter, Retry, Timeout, registry

CONFIG = """
resilience:
  defaults:
    retry: {attempts: 3, backoff: exponential}
    circuit_breaker: {failure_rate: 50, minimum_calls: 5, wait: 60s}
  policies:
    database: {retry: {attempts: 2}, circuit_breaker: {wait: 5s}, timeout: {seconds: 2s}}
    cache: {retry: {enabled: false}}
    external_api:
      retry: {attempts: 5, jitter: full}
      rate_limit: {algorithm: gcra, rate: 10, per: 1s, burst: 5}
"""


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    registry.configure(None)
    yield
    registry.configure(None)


def test_defaults_merge_with_overrides() -> None:
    """A named policy takes the defaults, overridden field by field, in the standard order."""
    registry.configure(load_text(CONFIG, env={}))
    database = resilience.policy("database")
    assert [d["kind"] for d in database.describe()] == ["Retry", "CircuitBreaker", "Timeout"]
    retry, breaker, timeout = database.policies
    assert isinstance(retry, Retry)
    assert isinstance(breaker, CircuitBreaker)
    assert isinstance(timeout, Timeout)
    assert retry.options.attempts == 2
    assert (breaker.options.wait, breaker.options.minimum_calls) == (5.0, 5)
    assert timeout.seconds == 2.0
    assert breaker.name == "database.circuit_breaker"


def test_disabled_kind_and_extra_kinds() -> None:
    """enabled: false drops a default; a policy can add kinds the defaults lack."""
    registry.configure(load_text(CONFIG, env={}))
    assert [d["kind"] for d in resilience.policy("cache").describe()] == ["CircuitBreaker"]
    api = resilience.policy("external_api")
    limiter = api.policies[-1]
    assert isinstance(limiter, RateLimiter)
    assert limiter.algorithm.limit == 5


def test_same_object_every_time_so_state_is_shared() -> None:
    """policy(name) returns one shared pipeline: a breaker opened by one caller is open for all."""
    registry.configure(load_text(CONFIG, env={}))
    assert resilience.policy("database") is resilience.policy("database")


def test_unknown_name_lists_the_configured_ones() -> None:
    """An unknown name is an error listing what is configured."""
    registry.configure(load_text(CONFIG, env={}))
    with pytest.raises(KeyError, match="configured: cache, database, external_api"):
        resilience.policy("databse")


def test_loaded_from_buttress_yaml_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without configure(), the first policy() call reads buttress.yaml."""
    (tmp_path / "buttress.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUTTRESS_CONFIG", raising=False)
    assert resilience.policy("database").call(lambda: 7) == 7


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (
            "db: {circuit_breaker: {failure_rate: 150}}",
            "b.yaml:3:42 resilience.policies.db.circuit_breaker.failure_rate: policy 'db', "
            "circuit_breaker: circuit breaker failure_rate=150.0: expected a percentage in "
            "(0, 100]",
        ),
        ("db: {retry: {atempts: 2}}", "unknown key 'atempts' (did you mean 'attempts'?)"),
        (
            "db: {retry: {attempts: 0}}",
            "b.yaml:3:28 resilience.policies.db.retry.attempts: policy 'db', retry: retry "
            "attempts=0: expected an integer >= 1",
        ),
        ("db: {circuit_breaker: {wait: 10s, max_wait: 5s}}", "policy 'db', circuit_breaker: "),
        ("db: {rate_limit: {per: 1s}}", "rate_limit needs `rate`"),
        ("db: {rate_limit: {algorithm: magic, rate: 5}}", "algorithm: Input should be"),
        ("db: {timeout: {hard: true}}", "timeout needs `seconds`"),
        ("'bad name!': {retry: {}}", "policy name 'bad name!'"),
    ],
)
def test_bad_policy_config_fails_at_load(policy: str, fragment: str) -> None:
    """Invalid policy settings fail when the file is loaded, naming the place."""
    with pytest.raises(ConfigError) as info:
        load_text(f"resilience:\n  policies:\n    {policy}\n", filename="b.yaml", env={})
    assert fragment in str(info.value)
    assert str(info.value).startswith("b.yaml:")


def test_describe_shows_each_policys_effective_settings() -> None:
    """describe() gives the settings in force, defaults merged: what the YAML asked for and
    what it left to the defaults."""
    registry.configure(load_text(CONFIG, env={}))
    retry, breaker, timeout = resilience.policy("database").describe()
    assert retry["settings"]["attempts"] == 2
    assert retry["settings"]["backoff"]["kind"] == "ExponentialBackoff"
    assert breaker["settings"]["wait"] == 5.0
    assert breaker["settings"]["minimum_calls"] == 5  # from the defaults
    assert breaker["settings"]["failure_rate"] == 50.0
    assert timeout["settings"] == {"seconds": 2.0, "hard": False}
    limiter = resilience.policy("external_api").describe()[-1]
    assert limiter["settings"]["algorithm"]["kind"] == "GCRA"
    assert limiter["settings"]["algorithm"]["burst"] == 5.0


def test_a_transport_with_an_unknown_policy_name_fails_when_built() -> None:
    """A misspelt policy name in a ResilientTransport fails at construction, listing the
    configured names, not at the first request."""
    from buttress.resilience.integrations.httpx import AsyncResilientTransport, ResilientTransport

    registry.configure(load_text(CONFIG, env={}))
    for transport in (ResilientTransport, AsyncResilientTransport):
        with pytest.raises(KeyError, match="configured: cache, database, external_api"):
            transport({"*": "external_apii"})
        with pytest.raises(TypeError, match="expected a policy or a policy name"):
            transport({"api.example": 42})  # type: ignore[dict-item]
    built = ResilientTransport({"api.example": "database", "*": "cache"})
    assert built._policy_for("api.example") is resilience.policy("database")
    assert built._policy_for("other.example") is resilience.policy("cache")
