"""What the degradation domain reports on the event bus (see :mod:`buttress.events`).

The configuration's ``health.degradation.hooks`` (``module:function``) and
``DegradationController.add_hook`` are subscriptions to :class:`LevelChanged`.
"""

from __future__ import annotations

from dataclasses import dataclass

from buttress.events import DomainEvent

__all__ = ["FlagChanged", "LevelChanged", "OverrideCleared", "OverrideSet", "RequestShed"]


@dataclass(frozen=True, slots=True)
class LevelChanged(DomainEvent):
    """The level in force went from ``old`` to ``new``; ``cause`` is ``automatic`` (with the
    triggers that hold in ``reasons``), ``override``, ``override_ended`` or ``fleet`` (another
    replica's level)."""

    old: str
    new: str
    cause: str
    reasons: tuple[str, ...]
    reason: str = ""  # an override's reason
    actor: str = ""


@dataclass(frozen=True, slots=True)
class OverrideSet(DomainEvent):
    """An operator held ``level`` for ``seconds`` (the automatic level runs on underneath)."""

    level: str
    seconds: float
    reason: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class OverrideCleared(DomainEvent):
    """The override holding ``level`` was cleared (by ``actor``) before it expired."""

    level: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class FlagChanged(DomainEvent):
    """Feature ``feature`` was turned on (``enabled`` True) or off by a change of level to
    ``level``."""

    feature: str
    enabled: bool
    level: str


@dataclass(frozen=True, slots=True)
class RequestShed(DomainEvent):
    """A request was answered 503 without reaching the application: ``why`` is ``feature``,
    ``concurrency`` or ``cpu``."""

    path: str
    priority: str
    why: str
