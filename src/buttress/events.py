"""The domain event bus: typed, process-wide, cheap when nobody listens.

Every domain's events are frozen dataclasses deriving from :class:`DomainEvent`, declared in
its own ``events.py`` (``buttress.backup.events``, ``buttress.health.events``,
``buttress.degradation.events``, ``buttress.jobs.events``; the resilience policies' events,
``buttress.resilience.events``, reach the bus through its opt-in ``bridge()``).

    from buttress import events
    from buttress.degradation.events import LevelChanged

    def page(event: LevelChanged) -> None: ...

    sub = events.subscribe(LevelChanged, page)   # page() gets every LevelChanged from now on
    events.unsubscribe(sub)                      # or: with events.subscribe(...): ...

A handler subscribed to a class gets the events of that class and of its subclasses:
``subscribe(DomainEvent, h)`` gets every event. :func:`emit` looks up the handlers of an event's
class once and keeps the answer until the subscriptions change, so emitting to nobody costs a
dictionary lookup. Handlers run in the emitter's thread, in subscription order; a handler
that raises is logged once (per subscription) and never breaks the work that reported the
event, nor the handlers after it. Subscribing and emitting are thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = [
    "DomainEvent",
    "Handler",
    "Subscription",
    "emit",
    "has_subscribers",
    "subscribe",
    "unsubscribe",
    "watch",
]

log = logging.getLogger("buttress.events")


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every domain event."""


E = TypeVar("E", bound=DomainEvent)

Handler = Callable[[E], object]


class Subscription(Generic[E]):
    """One handler subscribed to one event class (what :func:`subscribe` returns). A context
    manager: leaving the ``with`` block unsubscribes."""

    __slots__ = ("_reported", "event_type", "handler")

    def __init__(self, event_type: type[E], handler: Callable[[E], object]) -> None:
        self.event_type = event_type
        self.handler = handler
        self._reported = False  # its failure was logged

    @property
    def active(self) -> bool:
        """Still subscribed?"""
        return self in _subscriptions

    def __enter__(self) -> Subscription[E]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        unsubscribe(self)

    def __repr__(self) -> str:
        return f"Subscription({self.event_type.__qualname__}, {self.handler!r})"


# Copy-on-write: emit() reads these without the lock, and sees one consistent value of each.
_subscriptions: tuple[Subscription[Any], ...] = ()
_dispatch: dict[type[DomainEvent], tuple[Subscription[Any], ...]] = {}
_watchers: tuple[Callable[[], None], ...] = ()
_lock = threading.RLock()  # a watcher may subscribe (the resilience bridge does not, but may)


def _check_type(event_type: object) -> None:
    if not (isinstance(event_type, type) and issubclass(event_type, DomainEvent)):
        raise TypeError(
            f"events.subscribe: the first argument must be a DomainEvent class, got "
            f"{event_type!r} (subscribe(LevelChanged, handler); DomainEvent gets every event)"
        )


def subscribe(event_type: type[E], handler: Callable[[E], object]) -> Subscription[E]:
    """Deliver every event of ``event_type`` (and of its subclasses) to ``handler``, from now
    until :func:`unsubscribe`. Each call is its own subscription (subscribing a handler twice
    delivers twice).

    Raises:
        TypeError: ``event_type`` is not a :class:`DomainEvent` class, or ``handler`` is not
            callable.
    """
    global _subscriptions, _dispatch
    _check_type(event_type)
    if not callable(handler):
        raise TypeError(f"events.subscribe: the handler must be callable, got {handler!r}")
    sub = Subscription(event_type, handler)
    with _lock:
        _subscriptions = (*_subscriptions, sub)
        _dispatch = {}
        watchers = _watchers
    _notify(watchers)
    return sub


def unsubscribe(subscription: Subscription[Any]) -> None:
    """Stop a subscription (unsubscribing twice is harmless)."""
    global _subscriptions, _dispatch
    with _lock:
        if subscription not in _subscriptions:
            return
        _subscriptions = tuple(s for s in _subscriptions if s is not subscription)
        _dispatch = {}
        watchers = _watchers
    _notify(watchers)


def _resolve(cls: type[DomainEvent]) -> tuple[Subscription[Any], ...]:
    """The subscriptions an event of class ``cls`` reaches, cached until the next change."""
    with _lock:
        found = tuple(s for s in _subscriptions if issubclass(cls, s.event_type))
        _dispatch[cls] = found
        return found


def emit(event: DomainEvent) -> None:
    """Deliver ``event`` to the handlers of its class and of its bases; never raises (a
    handler's exception is logged, once per subscription)."""
    subs = _dispatch.get(type(event))
    if subs is None:
        subs = _resolve(type(event))
    for sub in subs:
        try:
            sub.handler(event)
        except Exception:
            if not sub._reported:
                sub._reported = True
                log.exception(
                    "event handler %r for %s failed (reported once)",
                    sub.handler,
                    type(event).__qualname__,
                )


def has_subscribers(event_type: type[DomainEvent]) -> bool:
    """Would an event of exactly ``event_type`` reach any handler now?"""
    subs = _dispatch.get(event_type)
    if subs is None:
        subs = _resolve(event_type)
    return bool(subs)


def watch(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback()`` after every change of the subscriptions (and once now); returns
    the function that stops it. Bridges use this to stay out of a hot path until someone
    subscribes to what they forward."""
    global _watchers
    with _lock:
        _watchers = (*_watchers, callback)

    def stop() -> None:
        global _watchers
        with _lock:
            _watchers = tuple(w for w in _watchers if w is not callback)

    _notify((callback,))
    return stop


def _notify(watchers: tuple[Callable[[], None], ...]) -> None:
    for callback in watchers:
        try:
            callback()
        except Exception:
            log.exception("event bus watcher %r failed", callback)
