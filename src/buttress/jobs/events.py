"""What the job runner reports on the event bus (see :mod:`buttress.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from buttress.events import DomainEvent

__all__ = ["JobRunEnded"]


@dataclass(frozen=True, slots=True)
class JobRunEnded(DomainEvent):
    """Run ``run_id`` of job ``key`` ended in this replica: ``outcome`` is ``succeeded`` or
    ``failed`` (``error`` says why, redacted), or ``timed_out`` (it ran past its timeout and
    has now returned); ``seconds`` from its start (after its wait for a slot)."""

    key: str
    run_id: int
    outcome: str
    seconds: float
    error: str = ""
