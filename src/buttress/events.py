"""Domain events (backups, and the domains after them): frozen dataclasses delivered to the
listeners subscribed here. The server's metrics and logs are listeners; so are tests.

Resilience policies keep their own per-policy path (:mod:`buttress.resilience.events`) because
it sits on every call's hot path; this one carries rarer, heavier facts. A listener that raises
is logged once and never breaks the work that reported the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DomainEvent", "Listener", "emit", "subscribe", "unsubscribe"]

log = logging.getLogger("buttress.events")


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every domain event."""


Listener = Callable[[DomainEvent], None]

_listeners: list[Listener] = []
_broken: set[int] = set()
_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    """Deliver every domain event to ``listener`` from now on."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def emit(event: DomainEvent) -> None:
    """Deliver ``event`` to every listener; never raises."""
    for listener in tuple(_listeners):
        try:
            listener(event)
        except Exception:
            if id(listener) not in _broken:
                _broken.add(id(listener))
                log.exception("event listener %r failed (reported once)", listener)
