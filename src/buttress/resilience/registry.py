"""Named policies built from the ``resilience:`` section of buttress.yaml.

``buttress.resilience.policy("database")`` returns the pipeline configured for ``database``;
the same object every time, so its breaker, limiter and bulkhead are shared by every caller in
the process. The registry is loaded from the configuration on first use (``--config``,
``$BUTTRESS_CONFIG`` or ``./buttress.yaml``), or set with :func:`configure`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from buttress.resilience.budget import RetryBudget
from buttress.resilience.bulkhead import Bulkhead
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.errors import ResilienceError
from buttress.resilience.pipeline import Pipeline
from buttress.resilience.rate_limit import RateLimiter
from buttress.resilience.retry import Retry
from buttress.resilience.timeout import Timeout
from buttress.state._base import OnStoreFailure, StateStore

if TYPE_CHECKING:
    from pydantic import BaseModel

    from buttress.config import ButtressConfig, ResilienceConfig

__all__ = ["PolicyRegistry", "build_pipeline", "configure", "policy"]

_KINDS = ("retry", "circuit_breaker", "timeout", "bulkhead", "rate_limit")


class UnknownPolicyError(ResilienceError, KeyError):
    """No policy of that name is configured."""

    def __str__(self) -> str:
        return str(self.args[0])


def _merged(config: ResilienceConfig, name: str, kind: str) -> dict[str, Any] | None:
    base: BaseModel | None = getattr(config.defaults, kind)
    spec = config.policies.get(name)
    own: BaseModel | None = getattr(spec, kind) if spec is not None else None
    if base is None and own is None:
        return None
    values: dict[str, Any] = {}
    for part in (base, own):
        if part is not None:
            values.update(part.model_dump(exclude_none=True))
    if values.pop("enabled", True) is False:
        return None
    return values


def _sharing(
    config: ResilienceConfig, name: str, store: StateStore | None, mode: OnStoreFailure
) -> tuple[StateStore | None, OnStoreFailure]:
    spec = config.policies.get(name)
    shared = True
    for part in (config.defaults, spec):
        if part is not None:
            if part.shared is not None:
                shared = part.shared
            if part.on_store_failure is not None:
                mode = part.on_store_failure
    return (store if shared else None), mode


def build_pipeline(
    config: ResilienceConfig,
    name: str,
    store: StateStore | None = None,
    on_store_failure: OnStoreFailure = "local",
) -> Pipeline | None:
    """Build the pipeline for ``name`` (``None`` when no policy kind applies to it). With a
    shared ``store``, its breaker, limiter, bulkhead and retry budget keep their state there
    (unless the policy says ``shared: false``).

    Raises:
        ValueError: a setting combination the policies refuse, naming the policy and kind.
    """
    store, mode = _sharing(config, name, store, on_store_failure)
    parts: list[Any] = []
    for kind in _KINDS:
        values = _merged(config, name, kind)
        if values is None:
            continue
        try:
            parts.append(_build(kind, f"{name}.{kind}", values, store, mode))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"policy {name!r}, {kind}: {exc}") from None
    return Pipeline.standard(*parts, name=name) if parts else None


def _build(
    kind: str, name: str, v: dict[str, Any], store: StateStore | None, mode: OnStoreFailure
) -> Any:
    shared: dict[str, Any] = {"store": store, "on_store_failure": mode}
    # the explicit choice: a shared store builds the policies' shared variants
    sharing = store is not None and store.shared
    if kind == "retry":
        budget = None
        if "budget_ratio" in v or "budget_min_per_second" in v:
            budget = (RetryBudget.shared if sharing else RetryBudget)(
                ratio=v.pop("budget_ratio", 0.2),
                min_per_second=v.pop("budget_min_per_second", 10.0),
                name=f"{name}_budget",
                **shared,
            )
        return Retry(name=name, budget=budget, **v)
    if kind == "circuit_breaker":
        return (CircuitBreaker.shared if sharing else CircuitBreaker)(name=name, **v, **shared)
    if kind == "timeout":
        if "seconds" not in v:
            raise ValueError("timeout needs `seconds`")
        return Timeout(v.pop("seconds"), name=name, **v)
    if kind == "bulkhead":
        return (Bulkhead.shared if sharing else Bulkhead)(name=name, **v, **shared)
    algorithm = v.pop("algorithm", "token_bucket")
    if "rate" not in v:
        raise ValueError("rate_limit needs `rate`")
    rate, per, burst = v.pop("rate"), v.pop("per", 1.0), v.pop("burst", None)
    if algorithm in ("token_bucket", "gcra"):
        return getattr(RateLimiter, algorithm)(rate=rate, per=per, burst=burst, name=name, **shared)
    if algorithm == "leaky_bucket":
        return RateLimiter.leaky_bucket(rate=rate, per=per, capacity=burst, name=name, **shared)
    if algorithm == "fixed_window":
        return RateLimiter.fixed_window(limit=rate, window=per, name=name, **shared)
    exact = algorithm == "sliding_window"
    return RateLimiter.sliding_window(limit=rate, window=per, exact=exact, name=name, **shared)


class PolicyRegistry:
    """Named pipelines from a configuration, built once and shared."""

    def __init__(
        self,
        config: ResilienceConfig,
        store: StateStore | None = None,
        on_store_failure: OnStoreFailure = "local",
    ) -> None:
        self.config = config
        self.store = store
        self.on_store_failure = on_store_failure
        self._built: dict[str, Pipeline] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The configured policy names."""
        return sorted(self.config.policies)

    def get(self, name: str) -> Pipeline:
        """The pipeline named ``name``.

        Raises:
            UnknownPolicyError: no such policy (the message lists the configured ones).
        """
        built = self._built.get(name)
        if built is not None:
            return built
        with self._lock:
            if name not in self._built:
                if name not in self.config.policies:
                    known = ", ".join(self.names()) or "none"
                    raise UnknownPolicyError(
                        f"unknown resilience policy {name!r}; configured: {known} "
                        "(declare it under resilience.policies in buttress.yaml)"
                    )
                pipeline = build_pipeline(self.config, name, self.store, self.on_store_failure)
                if pipeline is None:
                    raise UnknownPolicyError(
                        f"resilience policy {name!r} has no policy enabled (and no defaults apply)"
                    )
                self._built[name] = pipeline
            return self._built[name]


_default: PolicyRegistry | None = None
_default_lock = threading.Lock()


def _from_config(config: ButtressConfig) -> PolicyRegistry:
    from buttress.state import open_store

    store = open_store(config.state)
    return PolicyRegistry(config.resilience, store, config.state.on_store_failure)


def configure(config: ButtressConfig | ResilienceConfig | None) -> PolicyRegistry | None:
    """Set the process's registry from a configuration (``None`` forgets it, so the next
    :func:`policy` call loads buttress.yaml again). A whole :class:`ButtressConfig` brings its
    ``state:`` store (Redis: policies shared across processes); a ``ResilienceConfig`` alone
    keeps state in the process. The previous registry's store is closed. Returns the new one.
    """
    global _default
    from buttress.config import ButtressConfig

    with _default_lock:
        old = _default
        if config is None:
            _default = None
        elif isinstance(config, ButtressConfig):
            _default = _from_config(config)
        else:
            _default = PolicyRegistry(config)
        if old is not None and old.store is not None:
            old.store.close()
        return _default


def policy(name: str) -> Pipeline:
    """The configured pipeline called ``name`` (loads buttress.yaml on first use).

    Raises:
        UnknownPolicyError: no policy of that name is configured.
        ConfigError: the configuration file is invalid.
    """
    global _default
    registry = _default
    if registry is None:
        from buttress.config import load

        with _default_lock:
            if _default is None:
                _default = _from_config(load())
            registry = _default
    return registry.get(name)
