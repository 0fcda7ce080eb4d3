"""Prometheus metrics for resilience policies.

::

    from prometheus_client import REGISTRY
    from buttress.resilience.instrumentation.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics(REGISTRY)     # or a CollectorRegistry of your own
    metrics.install()                          # counts every policy's events
    db = metrics.instrument(policy("database"))  # calls, outcomes and latency of this pipeline
    metrics.track(db)                          # breaker state, bulkhead depth, limiter keys

Counters come from the event path (rejections by kind, retries, give-ups, timeouts, fallbacks,
breaker transitions, state-store errors); gauges (breaker state, bulkhead depth, limiter keys,
state-store mode) are read from the tracked policies when Prometheus scrapes; call counts and
the latency histogram come from :meth:`PrometheusMetrics.instrument`, which is the
only part that adds work to every call, and only to the calls it wraps. Metric names live in
:mod:`buttress.metric_names`.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress import metric_names as names
from buttress.resilience import events
from buttress.resilience._policy import Policy
from buttress.resilience.bulkhead import Bulkhead
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.errors import RejectedError
from buttress.resilience.pipeline import Pipeline
from buttress.resilience.rate_limit import RateLimiter

__all__ = ["PrometheusMetrics"]

T = TypeVar("T")
_STATES = ("closed", "open", "half_open", "forced_open", "forced_closed", "disabled")
_MODES = ("shared", "local", "allow", "deny")


class _StateCollector(Collector):
    def __init__(self) -> None:
        self.policies: weakref.WeakSet[Policy] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            names.BREAKER_STATE, "1 for the breaker's current state", labels=["policy", "state"]
        )
        active = GaugeMetricFamily(
            names.BULKHEAD_ACTIVE, "Calls running in the bulkhead", labels=["policy"]
        )
        queued = GaugeMetricFamily(
            names.BULKHEAD_QUEUED, "Calls waiting for a bulkhead slot", labels=["policy"]
        )
        keys = GaugeMetricFamily(
            names.RATE_LIMITER_KEYS, "Keys the rate limiter tracks", labels=["policy"]
        )
        mode = GaugeMetricFamily(
            names.STATE_STORE_MODE,
            "1 for the mode of a policy with shared state: shared, or its on_store_failure mode",
            labels=["policy", "mode"],
        )
        for policy in list(self.policies):
            current_mode = policy.store_mode
            if current_mode != "memory":
                for m in _MODES:
                    mode.add_metric([policy.name, m], 1.0 if m == current_mode else 0.0)
            if isinstance(policy, CircuitBreaker):
                current = policy.state
                for s in _STATES:
                    state.add_metric([policy.name, s], 1.0 if s == current else 0.0)
            elif isinstance(policy, Bulkhead):
                active.add_metric([policy.name], policy.active)
                queued.add_metric([policy.name], policy.queued)
            elif isinstance(policy, RateLimiter):
                keys.add_metric([policy.name], len(policy))
        yield from (state, active, queued, keys, mode)


class _Instrumented(Policy):
    """Times and counts the calls of one policy (or pipeline)."""

    def __init__(self, inner: Policy, metrics: PrometheusMetrics) -> None:
        self._init_policy(inner.name, "instrumented", ())
        self.inner = inner
        self._calls = metrics.calls
        self._duration = metrics.duration.labels(inner.name)
        self._ok = metrics.calls.labels(inner.name, "success")

    def _outcome(self, exc: BaseException) -> None:
        kind = "rejected" if isinstance(exc, RejectedError) else "failure"
        self._calls.labels(self.name, kind).inc()

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            result = self.inner.call(fn, *args, **kwargs)
        except BaseException as exc:
            self._duration.observe(time.perf_counter() - started)
            self._outcome(exc)
            raise
        self._duration.observe(time.perf_counter() - started)
        self._ok.inc()
        return result

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            result = await self.inner.acall(fn, *args, **kwargs)
        except BaseException as exc:
            self._duration.observe(time.perf_counter() - started)
            self._outcome(exc)
            raise
        self._duration.observe(time.perf_counter() - started)
        self._ok.inc()
        return result


class PrometheusMetrics:
    """Resilience metrics on a Prometheus registry; also an event listener."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.calls = Counter(
            names.RESILIENCE_CALLS,
            "Calls through an instrumented policy, by outcome",
            ["policy", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            names.RESILIENCE_CALL_DURATION,
            "Duration of calls through an instrumented policy, seconds",
            ["policy"],
            registry=registry,
        )
        self.rejections = Counter(
            names.RESILIENCE_REJECTIONS,
            "Calls a policy refused to run",
            ["policy", "kind"],
            registry=registry,
        )
        self.retries = Counter(
            names.RESILIENCE_RETRIES, "Retries scheduled", ["policy"], registry=registry
        )
        self.give_ups = Counter(
            names.RESILIENCE_RETRY_GIVE_UPS,
            "Retry loops that stopped, by reason",
            ["policy", "reason"],
            registry=registry,
        )
        self.timeouts = Counter(
            names.RESILIENCE_TIMEOUTS,
            "Calls that exceeded their timeout",
            ["policy"],
            registry=registry,
        )
        self.fallbacks = Counter(
            names.RESILIENCE_FALLBACKS, "Answers given by a fallback", ["policy"], registry=registry
        )
        self.transitions = Counter(
            names.BREAKER_TRANSITIONS,
            "Circuit-breaker state changes",
            ["policy", "from_state", "to_state"],
            registry=registry,
        )
        self.store_errors = Counter(
            names.STATE_STORE_ERRORS,
            "Calls to a shared state store that failed or timed out, by policy",
            ["policy"],
            registry=registry,
        )
        self._state = _StateCollector()
        registry.register(self._state)

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.CallRejected):
            self.rejections.labels(event.policy, event.kind).inc()
        elif isinstance(event, events.RetryScheduled):
            self.retries.labels(event.policy).inc()
        elif isinstance(event, events.RetryGaveUp):
            self.give_ups.labels(event.policy, event.reason).inc()
        elif isinstance(event, events.TimedOut):
            self.timeouts.labels(event.policy).inc()
        elif isinstance(event, events.FallbackUsed):
            self.fallbacks.labels(event.policy).inc()
        elif isinstance(event, events.CircuitStateChanged):
            self.transitions.labels(event.policy, event.old, event.new).inc()
        elif isinstance(event, events.StateStoreFailed):
            self.store_errors.labels(event.policy).inc()

    def install(self) -> None:
        """Receive every policy's events (``events.subscribe``)."""
        events.subscribe(self)

    def uninstall(self) -> None:
        """Stop receiving events."""
        events.unsubscribe(self)

    def track(self, *policies: Policy) -> None:
        """Report these policies' state gauges (pipelines are walked); held weakly."""
        for policy in policies:
            if isinstance(policy, _Instrumented):
                policy = policy.inner
            if isinstance(policy, Pipeline):
                self.track(*policy.policies)
            else:
                self._state.policies.add(policy)

    def instrument(self, policy: Policy) -> Policy:
        """A policy that behaves like ``policy`` and also counts its calls and times them."""
        self.track(policy)
        return _Instrumented(policy, self)
