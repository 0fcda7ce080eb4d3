"""Named policies built from the ``resilience:`` section of buttress.yaml.

``buttress.resilience.policy("database")`` returns the pipeline configured for ``database``;
the same object every time, so its breaker, limiter and bulkhead are shared by every caller in
the process. The registry is loaded from the configuration on first use (``--config``,
``$BUTTRESS_CONFIG`` or ``./buttress.yaml``), or set with :func:`configure`.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from buttress.resilience.budget import RetryBudget
from buttress.resilience.bulkhead import Bulkhead
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.errors import ResilienceError
from buttress.resilience.events import Bridge, bridge
from buttress.resilience.pipeline import Pipeline
from buttress.resilience.rate_limit import RateLimiter
from buttress.resilience.retry import Retry
from buttress.resilience.timeout import Timeout
from buttress.state._base import OnStoreFailure, StateStore

if TYPE_CHECKING:
    from pydantic import BaseModel

    from buttress.config import ButtressConfig, ResilienceConfig

__all__ = [
    "PolicyRegistry",
    "build_pipeline",
    "check_config",
    "configure",
    "current",
    "for_config",
    "policy",
]

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


def check_config(config: ResilienceConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Every setting combination of ``resilience:`` that a policy refuses, each with the path
    of the setting in buttress.yaml (the validation step of :mod:`buttress.config`; the limits
    are the policies' own, checked once in their options dataclasses).

    Each named policy is built as :func:`build_pipeline` would; with no named policy the
    defaults are built kind by kind (a kind needing a value its policies would give, a
    timeout's ``seconds``, a limiter's ``rate``, is not judged alone).
    """
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name in config.policies or [None]:
        for kind in _KINDS:
            values = _merged(config, name or "", kind)
            if values is None or (name is None and kind in _NEEDS and _NEEDS[kind] not in values):
                continue
            label = f"policy {name!r}" if name is not None else "defaults"
            try:
                _build(kind, f"{name or 'defaults'}.{kind}", values, None, "local")
            except (ValueError, TypeError) as exc:
                found.append((_setting(config, name, kind, str(exc)), f"{label}, {kind}: {exc}"))
    return found


_NEEDS = {"timeout": "seconds", "rate_limit": "rate"}
_FIELD = re.compile(r"\b([a-z_]+)=")


def _setting(
    config: ResilienceConfig, name: str | None, kind: str, message: str
) -> tuple[str | int, ...]:
    """The path of the setting ``message`` is about: in the policy's entry when it set it,
    else in ``defaults`` (the kind itself when the message names no field)."""
    spec = config.policies.get(name) if name is not None else None
    own: BaseModel | None = getattr(spec, kind) if spec is not None else None
    base: BaseModel | None = getattr(config.defaults, kind)
    match = _FIELD.search(message)
    field = match.group(1) if match else None
    present = own if own is not None else base
    fields = type(present).model_fields if present is not None else {}
    if field is not None and field not in fields and f"budget_{field}" in fields:
        field = f"budget_{field}"  # the retry budget's own names, prefixed in the YAML
    policy: tuple[str | int, ...] = ("resilience", "policies", name) if name else ()
    defaults: tuple[str | int, ...] = ("resilience", "defaults")
    for part, where in ((own, policy), (base, defaults)):
        if part is not None and where and field in part.model_fields_set:
            return (*where, kind, str(field))
    return (*(policy if own is not None else defaults), kind)


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
_default_bridge: Bridge | None = None  # resilience.events_to_bus of the process's registry


def _follow_events_to_bus(registry: PolicyRegistry | None) -> None:
    """Open the bridge to the event bus while the process's registry asks for it (with
    ``_default_lock`` held)."""
    global _default_bridge
    wanted = registry is not None and registry.config.events_to_bus
    if wanted and _default_bridge is None:
        _default_bridge = bridge()
    elif not wanted and _default_bridge is not None:
        _default_bridge.close()
        _default_bridge = None


def _from_config(config: ButtressConfig) -> PolicyRegistry:
    from buttress.state import open_store

    store = open_store(config.state)
    return PolicyRegistry(config.resilience, store, config.state.on_store_failure)


def current() -> PolicyRegistry | None:
    """The process's registry, when :func:`configure` or :func:`policy` has set it up."""
    return _default


def for_config(config: ButtressConfig) -> PolicyRegistry:
    """The process's registry (:func:`configure`, :func:`policy`) when it was built from this
    configuration's ``resilience:`` section, else a new one built from ``config`` (with its
    ``state:`` store), which the caller keeps: what the control plane shows and forces."""
    registry = _default
    if registry is not None and registry.config == config.resilience:
        return registry
    return _from_config(config)


def configure(config: ButtressConfig | ResilienceConfig | None) -> PolicyRegistry | None:
    """Set the process's registry from a configuration (``None`` forgets it, so the next
    :func:`policy` call loads buttress.yaml again). A whole :class:`ButtressConfig` brings its
    ``state:`` store (Redis: policies shared across processes); a ``ResilienceConfig`` alone
    keeps state in the process. The previous registry's store is closed. Returns the new one.

    Raises:
        ConfigError: a policy refuses its settings (each named with its place in the file).
    """
    global _default
    from buttress.config import ButtressConfig, Problem, validate

    if config is not None:  # a configuration built in code has not been through load()
        whole = config if isinstance(config, ButtressConfig) else ButtressConfig(resilience=config)
        found = [Problem(path, message) for path, message in check_config(whole.resilience)]
        validate(whole, checks=[lambda _config, /, *, check_files: found])
    with _default_lock:
        old = _default
        if config is None:
            _default = None
        elif isinstance(config, ButtressConfig):
            _default = _from_config(config)
        else:
            _default = PolicyRegistry(config)
        _follow_events_to_bus(_default)
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
        from buttress.config_checks import register_domain_checks

        register_domain_checks()  # the file's policies are checked as the CLI checks them
        with _default_lock:
            if _default is None:
                _default = _from_config(load())
                _follow_events_to_bus(_default)
            registry = _default
    return registry.get(name)
