"""Events: what policies report, as frozen dataclasses, to listeners.

A listener is any callable taking one event. Attach it to one policy
(``breaker.add_listener(fn)``) or to every policy (:func:`subscribe`). Events are built only
when some listener will receive them: with none attached, reporting costs nothing.
A listener that raises is logged once and never breaks the call it observes.

Every event is also a :class:`buttress.events.DomainEvent`: :func:`bridge` (or
``resilience.events_to_bus: true`` in buttress.yaml) forwards the rarer ones (:data:`BRIDGED`:
breaker state changes, rejections, retry give-ups, fallbacks, store mode changes) to the
domain event bus, where ``buttress.events.subscribe(CircuitStateChanged, handler)`` receives
them. The bridge stands in the policies' path only while the bus has a subscriber for one of
those events; otherwise a policy pays what it pays with no listener at all.

A policy asks ``self._listeners or events.global_listeners`` before building an event:
:data:`global_listeners` is the public, read-only tuple of the listeners added with
:func:`subscribe` (read it as ``events.global_listeners``: it is replaced, never mutated).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import buttress.events as _bus
from buttress.events import DomainEvent

__all__ = [
    "BRIDGED",
    "Bridge",
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
    "bridge",
    "bridged",
    "global_listeners",
    "subscribe",
    "unsubscribe",
]

log = logging.getLogger("buttress.resilience")


@dataclass(frozen=True, slots=True)
class Event(DomainEvent):
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

global_listeners: tuple[Listener, ...] = ()
"""The listeners of every policy (:func:`subscribe`); read-only, replaced on each change."""
_broken: set[int] = set()
_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    """Deliver every policy's events to ``listener`` (exporters use this)."""
    global global_listeners
    with _lock:
        if listener not in global_listeners:
            global_listeners = (*global_listeners, listener)


def unsubscribe(listener: Listener) -> None:
    """Stop delivering events to a listener added with :func:`subscribe`."""
    global global_listeners
    with _lock:
        global_listeners = tuple(x for x in global_listeners if x != listener)


def emit(listeners: tuple[Listener, ...], event: Event) -> None:
    """Deliver ``event`` to a policy's listeners and the global ones; never raises."""
    for listener in (*listeners, *global_listeners):
        try:
            listener(event)
        except Exception:
            if id(listener) not in _broken:
                _broken.add(id(listener))
                log.exception("resilience event listener %r failed (reported once)", listener)


# -- the bridge to the domain event bus ------------------------------------------------------

BRIDGED: frozenset[type[Event]] = frozenset(
    {CircuitStateChanged, CallRejected, RetryGaveUp, FallbackUsed, StateStoreModeChanged}
)
"""The policy events :func:`bridge` forwards to the bus (the frequent ones, retries scheduled
and timeouts, stay with the policies' own listeners)."""

_bridges = 0  # bridge() handles open
_stop_watching: Callable[[], None] | None = None
_bridge_lock = threading.RLock()


def _forward(event: Event) -> None:
    """The global listener the bridge installs: a bridged event goes on the bus."""
    if type(event) in BRIDGED:
        _bus.emit(event)


def _follow_bus() -> None:
    """Stand in the policies' path exactly while the bus has a subscriber for a bridged
    event (called by the bus after each change of its subscriptions)."""
    with _bridge_lock:
        wanted = _bridges > 0 and any(_bus.has_subscribers(t) for t in BRIDGED)
        if wanted:
            subscribe(_forward)
        else:
            unsubscribe(_forward)


def bridged() -> bool:
    """Is the bridge forwarding now (open, and someone on the bus listens)?"""
    return _forward in global_listeners


class Bridge:
    """An open :func:`bridge`; :meth:`close` (or leaving the ``with`` block) undoes it."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open = True

    def close(self) -> None:
        """Stop forwarding (once the last open bridge is closed); closing twice is harmless."""
        global _bridges, _stop_watching
        with _bridge_lock:
            if not self._open:
                return
            self._open = False
            _bridges -= 1
            if _bridges == 0 and _stop_watching is not None:
                _stop_watching()
                _stop_watching = None
            _follow_bus()

    def __enter__(self) -> Bridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def bridge() -> Bridge:
    """Forward the policies' :data:`BRIDGED` events to the domain event bus
    (:mod:`buttress.events`) until the returned :class:`Bridge` is closed. Opt-in, and free
    while unused: the forwarding listener is attached to the policies only while the bus has
    a subscriber for one of those events (a subscriber of ``DomainEvent`` counts). Bridges
    nest: forwarding stops when the last one is closed."""
    global _bridges, _stop_watching
    with _bridge_lock:
        _bridges += 1
        if _stop_watching is None:
            _stop_watching = _bus.watch(_follow_bus)  # calls _follow_bus() now
        else:
            _follow_bus()
    return Bridge()
