"""What the health domain reports on the event bus (see :mod:`buttress.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from buttress.events import DomainEvent

__all__ = ["CheckStatusChanged"]


@dataclass(frozen=True, slots=True)
class CheckStatusChanged(DomainEvent):
    """A check's status moved from ``old`` (None: its first result) to ``new`` (``up``,
    ``degraded``, ``down``); ``detail`` is the result's detail (no secrets)."""

    check: str
    old: str | None
    new: str
    detail: str
    critical: bool
