"""OpenTelemetry span events for resilience policies (``otel`` extra).

``OTelEvents().install()`` adds each policy event to the span current when it happens, e.g.
``buttress.retry.scheduled`` with ``buttress.policy``, ``buttress.attempt`` and
``buttress.wait_s``; state changes and rejections likewise. No span is created: the events
annotate the caller's own trace.
"""

from __future__ import annotations

from dataclasses import fields

from opentelemetry import trace

from buttress.resilience import events

__all__ = ["OTelEvents"]

_NAMES = {
    events.CircuitStateChanged: "buttress.circuit_breaker.state_changed",
    events.CallRejected: "buttress.call.rejected",
    events.RetryScheduled: "buttress.retry.scheduled",
    events.RetryGaveUp: "buttress.retry.gave_up",
    events.TimedOut: "buttress.timeout",
    events.FallbackUsed: "buttress.fallback.used",
}


class OTelEvents:
    """An event listener that records events on the current span."""

    def __call__(self, event: events.Event) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attributes: dict[str, str | float | int | bool] = {}
        for field in fields(event):
            value = getattr(event, field.name)
            key = "buttress.policy" if field.name == "policy" else f"buttress.{field.name}"
            if value is None:
                continue
            if isinstance(value, BaseException):
                attributes[key] = f"{type(value).__name__}: {value}"
            elif isinstance(value, str | float | int | bool):
                attributes[key] = value
        span.add_event(_NAMES.get(type(event), "buttress.event"), attributes)

    def install(self) -> None:
        """Receive every policy's events."""
        events.subscribe(self)

    def uninstall(self) -> None:
        """Stop receiving events."""
        events.unsubscribe(self)
