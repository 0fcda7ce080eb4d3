"""Events: what policies report, as frozen dataclasses, to listeners.

A listener is any callable taking one event. Attach it to one policy
(``breaker.add_listener(fn)``) or to every policy (:func:`subscribe`). Events are built only
when some listener will receive them: with none attached, reporting costs nothing.
A listener that raises is logged once and never breaks the call it observes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CallRejected",
    "CircuitStateChanged",
    "Event",
    "FallbackUsed",
    "Listener",
    "RetryGaveUp",
    "RetryScheduled",
    "StateStoreFailed",
    "StateStoreModeChanged",
    "TimedOut",
    "subscribe",
    "unsubscribe",
]

log = logging.getLogger("buttress.resilience")


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: ``policy`` is the name of the policy that reports it."""

    policy: str


@dataclass(frozen=True, slots=True)
class CircuitStateChanged(Event):
    """A breaker moved from ``old`` to ``new`` state; ``reason`` says why."""

    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallRejected(Event):
    """A call was not run: ``kind`` is ``circuit_open``, ``rate_limited`` or ``bulkhead_full``."""

    kind: str
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` failed; the next one starts after ``wait`` seconds."""

    attempt: int
    wait: float
    caused_by: BaseException | None
    result: object = None


@dataclass(frozen=True, slots=True)
class RetryGaveUp(Event):
    """Retrying stopped after ``attempts`` attempts; ``reason`` is ``attempts``, ``deadline``,
    ``budget`` or ``not_retryable``."""

    attempts: int
    reason: str
    caused_by: BaseException | None


@dataclass(frozen=True, slots=True)
class TimedOut(Event):
    """A call exceeded its ``timeout`` (seconds)."""

    timeout: float


@dataclass(frozen=True, slots=True)
class FallbackUsed(Event):
    """The primary failed; fallback number ``index`` (0-based) produced the answer."""

    index: int
    caused_by: BaseException | None


@dataclass(frozen=True, slots=True)
class StateStoreFailed(Event):
    """The policy's shared state store did not answer; ``error`` says why (no secrets)."""

    error: str


@dataclass(frozen=True, slots=True)
class StateStoreModeChanged(Event):
    """The policy switched between ``shared`` state and its ``on_store_failure`` mode
    (``local``, ``allow`` or ``deny``)."""

    old: str
    new: str


Listener = Callable[[Event], None]

_global: list[Listener] = []
_broken: set[int] = set()


def subscribe(listener: Listener) -> None:
    """Deliver every policy's events to ``listener`` (exporters use this)."""
    if listener not in _global:
        _global.append(listener)


def unsubscribe(listener: Listener) -> None:
    """Stop delivering events to a listener added with :func:`subscribe`."""
    if listener in _global:
        _global.remove(listener)


def emit(listeners: tuple[Listener, ...], event: Event) -> None:
    """Deliver ``event`` to a policy's listeners and the global ones; never raises."""
    for listener in (*listeners, *_global):
        try:
            listener(event)
        except Exception:
            if id(listener) not in _broken:
                _broken.add(id(listener))
                log.exception("resilience event listener %r failed (reported once)", listener)
