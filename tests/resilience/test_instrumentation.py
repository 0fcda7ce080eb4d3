"""Prometheus metrics and OpenTelemetry span events from the resilience event path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from buttress.resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    RateLimiter,
    Retry,
)
from buttress.resilience.instrumentation.otel import OTelEvents
from buttress.resilience.instrumentation.prometheus import PrometheusMetrics


@pytest.fixture
def metrics() -> Iterator[PrometheusMetrics]:
    exporter = PrometheusMetrics(CollectorRegistry())
    exporter.install()
    yield exporter
    exporter.uninstall()


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


def test_events_become_counters_and_state_gauges(metrics: PrometheusMetrics) -> None:
    """Retries, rejections and breaker transitions are counted; state is read at scrape time."""
    breaker = CircuitBreaker(name="db.cb", minimum_calls=2, window_size=2, wait=60)
    pipeline = Pipeline(Retry(name="db.retry", attempts=3, delay=0), breaker, name="db")
    metrics.track(pipeline)

    def down() -> None:
        raise ConnectionError

    with pytest.raises(CircuitOpenError):
        pipeline.call(down)
    assert value(metrics, "buttress_resilience_retries_total", policy="db.retry") == 2
    assert (
        value(metrics, "buttress_resilience_rejections_total", policy="db.cb", kind="circuit_open")
        == 1
    )
    assert (
        value(
            metrics,
            "buttress_circuit_breaker_transitions_total",
            policy="db.cb",
            from_state="closed",
            to_state="open",
        )
        == 1
    )
    assert value(metrics, "buttress_circuit_breaker_state", policy="db.cb", state="open") == 1
    assert value(metrics, "buttress_circuit_breaker_state", policy="db.cb", state="closed") == 0
    assert b"buttress_circuit_breaker_state" in generate_latest(metrics.registry)


def test_instrumented_calls_outcomes_and_latency(metrics: PrometheusMetrics) -> None:
    """instrument() counts calls by outcome and observes their duration."""
    limiter = RateLimiter.fixed_window(limit=2, window=3600, name="api")
    api = metrics.instrument(limiter)
    api.call(int)
    with pytest.raises(ZeroDivisionError):
        api.call(lambda: 1 / 0)
    with pytest.raises(Exception, match="rate limit"):
        api.call(int)
    for outcome in ("success", "failure", "rejected"):
        assert value(metrics, "buttress_resilience_calls_total", policy="api", outcome=outcome) == 1
    assert value(metrics, "buttress_resilience_call_duration_seconds_count", policy="api") == 3
    assert value(metrics, "buttress_rate_limiter_keys", policy="api") == 1


def test_bulkhead_gauges(metrics: PrometheusMetrics) -> None:
    """Bulkhead depth is exported."""
    bulkhead = Bulkhead(name="pool", max_concurrent=3)
    metrics.track(bulkhead)
    with bulkhead.slot():
        assert value(metrics, "buttress_bulkhead_active_calls", policy="pool") == 1
    assert value(metrics, "buttress_bulkhead_active_calls", policy="pool") == 0


def test_otel_span_events() -> None:
    """Policy events are recorded on the current span, with the policy named."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    listener = OTelEvents()
    listener.install()
    try:
        with tracer.start_as_current_span("checkout"):
            retry = Retry(name="pay.retry", attempts=2, delay=0)
            with pytest.raises(ConnectionError):
                retry.call(_down)
    finally:
        listener.uninstall()
    (span,) = exporter.get_finished_spans()
    names = [e.name for e in span.events]
    assert names == ["buttress.retry.scheduled", "buttress.retry.gave_up"]
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["buttress.policy"] == "pay.retry"
    assert span.events[0].attributes["buttress.attempt"] == 1


def _down() -> None:
    raise ConnectionError("down")
